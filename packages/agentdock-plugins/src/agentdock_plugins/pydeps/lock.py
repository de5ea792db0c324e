"""A hash-checked lock of an agent's third-party dependencies, resolved by uv on the host."""

from __future__ import annotations

import re
import tempfile
from collections.abc import Sequence
from pathlib import Path

from agentdock.deployment.artifacts import Progress, no_progress
from agentdock.deployment.errors import BuildFailed

from agentdock_plugins.pydeps.constraints import Constraints
from agentdock_plugins.pydeps.dists import AgentDockDists
from agentdock_plugins.pydeps.requirements import AgentRequirements
from agentdock_plugins.pydeps.uvtool import run_uv

__all__ = ["compile_lock", "lock_for", "unresolvable", "uv_platform"]

#: Docker platforms and the uv platform whose wheels they run: manylinux 2.28 covers
#: Debian bookworm (glibc 2.36) and every current manylinux wheel on PyPI.
_UV_PLATFORMS = {
    "linux/amd64": "x86_64-manylinux_2_28",
    "linux/x86_64": "x86_64-manylinux_2_28",
    "linux/arm64": "aarch64-manylinux_2_28",
    "linux/arm64/v8": "aarch64-manylinux_2_28",
    "linux/aarch64": "aarch64-manylinux_2_28",
}

_BECAUSE = [
    re.compile(r"no versions of ([A-Za-z0-9][A-Za-z0-9._\-\[\]]*)"),
    re.compile(r"([A-Za-z0-9][A-Za-z0-9._\-\[\]]*) was not found in the package registry"),
    re.compile(r"only ([A-Za-z0-9][A-Za-z0-9._\-\[\]]*)\s*[<>=!~]"),
    re.compile(r"Because ([A-Za-z0-9][A-Za-z0-9._\-\[\]]*)[<>=!~ ]"),
    re.compile(r"Package `([^`]+)` not found"),
    re.compile(r"Failed to (?:download|fetch|build)[^`]*`([^`]+)`"),
]


def uv_platform(docker_platform: str) -> str:
    """The ``--python-platform`` of uv for a Docker platform (``linux/amd64``).

    :raises BuildFailed: a platform without manylinux wheels.
    """
    try:
        return _UV_PLATFORMS[docker_platform.lower()]
    except KeyError:
        known = ", ".join(sorted(_UV_PLATFORMS))
        raise BuildFailed(
            f"no Python wheels platform for {docker_platform}", hint=f"use one of {known}"
        ) from None


def unresolvable(lines: Sequence[str]) -> tuple[str | None, str]:
    """The dependency uv could not resolve, and uv's one-line explanation.

    uv explains a failed resolution as "Because there are no versions of X ...", "X was
    not found in the package registry", or "only X<=1.0 is available"; the first name found
    is the one to report.
    """
    text = [ln.strip(" ×╰─▶│") for ln in lines if ln.strip()]
    explanation = next(
        (t[t.index("Because") :] for t in text if "Because" in t),
        next((t for t in text if "not found" in t.lower()), text[-1] if text else ""),
    )
    joined = "\n".join(text)
    for pattern in _BECAUSE:
        match = pattern.search(joined)
        if match:
            return match.group(1).rstrip(".,"), explanation
    return None, explanation


def compile_lock(
    requirements: Sequence[str],
    output: Path,
    *,
    python_version: str | None = None,
    python_platform: str | None = None,
    python: str | None = None,
    requirement_files: Sequence[Path] = (),
    constraints: Constraints | None = None,
    progress: Progress = no_progress,
    cwd: Path | None = None,
) -> Path:
    """Resolve ``requirements`` (specifiers) and ``requirement_files`` into a lock with
    ``--generate-hashes`` at ``output``, for ``python`` (an interpreter: the local builder
    passes the running one) or for ``python_version`` and ``python_platform`` (another
    machine: ``"3.11"``, ``uv_platform("linux/amd64")``), held to the versions of
    ``constraints`` (AgentDock's lock and the agent's) when given.

    :raises BuildFailed: the resolution failed; the cause names the dependency.
    """
    output.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="agentdock-lock-") as tmp:
        infile = Path(tmp) / "requirements.in"
        body = [*requirements, *(f"-r {Path(f).resolve()}" for f in requirement_files)]
        infile.write_text("\n".join(body) + "\n", encoding="utf-8")
        constraint_args = []
        if constraints is not None:
            constraint_file = constraints.write(Path(tmp) / "constraints.txt")
            constraint_args = ["--constraint", str(constraint_file)]
        args = [
            "pip",
            "compile",
            "--generate-hashes",
            "--no-header",
            "--no-annotate",
            "--quiet",
            "--output-file",
            str(output),
            *constraint_args,
        ]
        if python is not None:
            args += ["--python", python]
        if python_version is not None:
            args += ["--python-version", python_version]
        if python_platform is not None:
            args += ["--python-platform", python_platform]
        args.append(str(infile))
        progress("resolve", f"resolving {len(body)} requirement line(s) with uv")
        result = run_uv(args, step="resolve", progress=progress, cwd=cwd)
    if result.returncode != 0:
        name, why = unresolvable(result.lines)
        cause = (
            f"cannot resolve dependency {name}: {why}"
            if name
            else f"cannot resolve the dependencies: {why}"
        )
        raise BuildFailed(
            cause, hint="check the name and version, or the package index settings (UV_*)"
        )
    return output


def lock_for(
    agent: AgentRequirements,
    dists: AgentDockDists,
    output: Path,
    *,
    python_version: str | None = None,
    python_platform: str | None = None,
    python: str | None = None,
    constraints: Constraints | None = None,
    progress: Progress = no_progress,
    cwd: Path | None = None,
) -> Path:
    """:func:`compile_lock` of the agent's requirements plus AgentDock's third-party ones."""
    files = [agent.file] if agent.file is not None else []
    return compile_lock(
        [*agent.lines, *dists.requirements],
        output,
        python_version=python_version,
        python_platform=python_platform,
        python=python,
        requirement_files=files,
        constraints=constraints,
        progress=progress,
        cwd=cwd,
    )
