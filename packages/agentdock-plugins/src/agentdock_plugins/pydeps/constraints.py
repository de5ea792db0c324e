"""The versions a bundle or an image may install: the tested set, not the newest.

Without constraints, a build resolves the newest versions the package index offers that
day, so the same inputs give different artifacts on different days and ship versions the
project never ran its tests with. Two sources pin them:

* AgentDock's own lock: the workspace's ``uv.lock`` when AgentDock runs from a source
  checkout (exported with ``uv export --frozen``: nothing resolves), else the versions
  installed next to the running AgentDock (an index install: what runs here is what ships);
* the agent's lock, when its project has one: ``uv.lock`` (exported the same way),
  ``pylock.toml`` (PEP 751), or a requirements file carrying ``--hash`` pins. A name the
  agent pins takes the agent's version: its lock was made for its code.

The result is one constraints file passed to ``uv pip compile --constraint``. Its
``digest`` hashes the lock files as read, so working out whether a build is up to date
runs no uv command.
"""

from __future__ import annotations

import hashlib
import re
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from agentdock.deployment.errors import BuildFailed, InvalidDeployInput

from agentdock_plugins.pydeps.dists import AGENTDOCK_DISTS, normalize_name, source_dir
from agentdock_plugins.pydeps.requirements import AgentRequirements
from agentdock_plugins.pydeps.uvtool import run_uv

__all__ = [
    "Constraints",
    "LockSource",
    "agent_lock",
    "agentdock_lock",
    "constraints_for",
    "lock_pins",
]

_PIN = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*(?:\[[^\]]*\])?\s*===?\s*([^\s;\\]+)")
_OWN = frozenset({*(normalize_name(n) for n in AGENTDOCK_DISTS), "agentdock-cli"})


@dataclass(frozen=True, slots=True)
class LockSource:
    """One lock: its kind (``uv.lock``, ``pylock.toml``, ``requirements``, ``environment``),
    the file (``None`` for the running environment) and the SHA-256 of its content."""

    kind: str
    path: Path | None
    sha256: str
    text: str = ""  # the pins of an ``environment`` source, computed once


@dataclass(frozen=True, slots=True)
class Constraints:
    """AgentDock's lock and the agent's (either may be missing), and their joint digest."""

    agentdock: LockSource | None
    agent: LockSource | None

    @property
    def digest(self) -> str:
        """Changes with either lock's content; empty text when there is neither."""
        digest = hashlib.sha256()
        for source in (self.agentdock, self.agent):
            part = f"{source.kind}:{source.sha256}" if source else "-"
            digest.update(part.encode() + b"\0")
        return digest.hexdigest()

    def lines(self) -> list[str]:
        """The constraint lines: the agent's pins replace AgentDock's for the same name."""
        theirs = _by_name(pins_of(self.agent)) if self.agent else {}
        ours = _by_name(pins_of(self.agentdock)) if self.agentdock else {}
        merged = {**ours, **theirs}
        return [line for name in sorted(merged) for line in merged[name]]

    def write(self, path: Path) -> Path:
        """Write :meth:`lines` to ``path`` (a ``--constraint`` file) and return it."""
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("\n".join(self.lines()) + "\n", encoding="utf-8")
        return path


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _by_name(lines: Iterable[str]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for line in lines:
        match = _PIN.match(line)
        if match is None:
            continue
        name = normalize_name(match.group(1))
        if name not in _OWN:
            out.setdefault(name, []).append(line.strip())
    return out


def agentdock_lock() -> LockSource:
    """AgentDock's lock: the workspace ``uv.lock`` of a source checkout, else the versions
    installed in the running environment."""
    try:
        src = source_dir(metadata.distribution("agentdock-core"))
    except metadata.PackageNotFoundError:
        src = None
    for parent in src.parents if src is not None else ():
        lock = parent / "uv.lock"
        if lock.is_file() and (parent / "pyproject.toml").is_file():
            return LockSource("uv.lock", lock, _sha256(lock))
    pins = sorted(
        {
            f"{normalize_name(d.metadata['Name'])}=={d.version}"
            for d in metadata.distributions()
            if d.metadata["Name"]
        }
    )
    text = "\n".join(pins)
    return LockSource("environment", None, hashlib.sha256(text.encode()).hexdigest(), text)


def agent_lock(project_dir: Path, agent: AgentRequirements) -> LockSource | None:
    """The agent's lock: ``uv.lock`` or ``pylock.toml`` in its project, else its
    requirements file when that carries hashes (a ``pip-compile --generate-hashes`` lock)."""
    root = Path(project_dir)
    for kind in ("uv.lock", "pylock.toml"):
        path = root / kind
        if path.is_file():
            return LockSource(kind, path, _sha256(path))
    if agent.file is not None and "--hash" in agent.text:
        return LockSource("requirements", agent.file, _sha256(agent.file))
    return None


def pins_of(source: LockSource) -> list[str]:
    """The ``name==version`` lines (markers kept) of one lock.

    :raises InvalidDeployInput: the agent's lock cannot be read.
    :raises BuildFailed: ``uv export`` refuses a ``uv.lock``.
    """
    if source.kind == "environment":
        return source.text.splitlines()
    assert source.path is not None
    if source.kind == "uv.lock":
        return _export_uv_lock(source.path)
    if source.kind == "pylock.toml":
        return _pylock_pins(source.path)
    return lock_pins(source.path.read_text("utf-8"))


def lock_pins(text: str) -> list[str]:
    """The pins of a requirements lock (``name==version``, continuation lines joined)."""
    joined = re.sub(r"\\\r?\n", " ", text)
    out = []
    for raw in joined.splitlines():
        line = raw.split(" #", 1)[0].strip()
        match = _PIN.match(line)
        if match and not line.startswith(("-", "#")):
            marker = line.split(";", 1)[1].split("--hash", 1)[0].strip() if ";" in line else ""
            pin = f"{match.group(1)}=={match.group(2)}"
            out.append(f"{pin} ; {marker}" if marker else pin)
    return out


def _export_uv_lock(lock: Path) -> list[str]:
    project = lock.parent
    args = ["export", "--frozen", "--no-hashes", "--no-header", "--no-annotate"]
    args += ["--no-dev", "--all-extras", "--no-emit-project", "--project", str(project)]
    if "[manifest]" in lock.read_text("utf-8"):  # a workspace: every member's requirements
        args += ["--all-packages", "--no-emit-workspace"]
    result = run_uv(args, step="constraints", cwd=project)
    if result.returncode != 0:
        tail = "; ".join(result.lines[-2:]) or f"exit status {result.returncode}"
        raise BuildFailed(f"cannot read the lock {lock}: {tail}", hint="run `uv lock` there")
    return [ln for ln in result.lines if _PIN.match(ln)]


def _pylock_pins(path: Path) -> list[str]:
    try:
        data = tomllib.loads(path.read_text("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise InvalidDeployInput(
            f"pylock.toml cannot be parsed: {exc}", path="pylock.toml"
        ) from None
    packages = data.get("packages")
    if not isinstance(packages, list):
        raise InvalidDeployInput("pylock.toml has no [[packages]] table", path="pylock.toml")
    out = []
    for i, package in enumerate(packages):
        name = package.get("name") if isinstance(package, dict) else None
        version = package.get("version") if isinstance(package, dict) else None
        if not isinstance(name, str) or not isinstance(version, str):
            raise InvalidDeployInput(
                "a locked package needs a name and a version", path=f"pylock.toml packages[{i}]"
            )
        marker = package.get("marker")
        pin = f"{name}=={version}"
        out.append(f"{pin} ; {marker}" if isinstance(marker, str) and marker else pin)
    return out


def constraints_for(project_dir: Path, agent: AgentRequirements) -> Constraints:
    """AgentDock's lock and the agent's, for a build of the project at ``project_dir``."""
    return Constraints(agentdock_lock(), agent_lock(project_dir, agent))
