"""Installing a lock and AgentDock's wheels, into a virtual environment or a directory."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from agentdock.deployment.artifacts import Progress, no_progress
from agentdock.deployment.errors import BuildFailed

from agentdock_plugins.pydeps.dists import AgentDockDists
from agentdock_plugins.pydeps.uvtool import run_uv

__all__ = ["create_venv", "install_agentdock", "install_lock"]


def _where(
    python: Path | str | None,
    target: Path | None,
    python_version: str | None,
    python_platform: str | None,
) -> list[str]:
    if (python is None) == (target is None):
        raise ValueError("give exactly one of python (a venv's interpreter) or target")
    if python is not None:
        return ["--python", str(python)]
    args = ["--target", str(target)]
    if python_version is not None:
        args += ["--python-version", python_version]
    if python_platform is not None:
        args += ["--python-platform", python_platform]
    return args


def _check(result_code: int, lines: Sequence[str], what: str) -> None:
    if result_code != 0:
        tail = "; ".join(line.strip() for line in lines[-3:]) or f"exit status {result_code}"
        raise BuildFailed(f"cannot install {what}: {tail}")


def create_venv(
    path: Path, python: str, *, relocatable: bool = True, progress: Progress = no_progress
) -> Path:
    """A virtual environment at ``path`` for interpreter ``python``; returns its python.

    ``relocatable`` (uv's ``--relocatable``) keeps it working after the directory is
    renamed, which is how a bundle becomes complete atomically.
    """
    args = ["venv", "--quiet", "--python", python, "--no-project", str(path)]
    if relocatable:
        args.insert(1, "--relocatable")
    result = run_uv(args, step="venv", progress=progress)
    _check(result.returncode, result.lines, f"a virtual environment at {path}")
    return path / "bin" / "python"


def install_lock(
    lock: Path,
    *,
    python: Path | str | None = None,
    target: Path | None = None,
    python_version: str | None = None,
    python_platform: str | None = None,
    compile_bytecode: bool = False,
    progress: Progress = no_progress,
) -> None:
    """Install ``lock`` with ``--require-hashes --no-deps`` into the environment of
    ``python``, or into the directory ``target`` for ``python_version``/``python_platform``
    (another machine's wheels, installed on this one). ``compile_bytecode`` writes the
    ``.pyc`` files at install time, so a runtime that never writes bytecode (a read-only
    bundle or image) does not compile every module at each start."""
    _pip_install(
        ["--require-hashes", "-r", str(lock)],
        _where(python, target, python_version, python_platform),
        compile_bytecode=compile_bytecode,
        step="install",
        what="the locked dependencies",
        progress=progress,
    )


def install_agentdock(
    dists: AgentDockDists,
    *,
    python: Path | str | None = None,
    target: Path | None = None,
    python_version: str | None = None,
    python_platform: str | None = None,
    compile_bytecode: bool = False,
    progress: Progress = no_progress,
) -> None:
    """Install AgentDock's wheels (or pins) ``--no-deps``: their requirements come from the
    lock, so this step never resolves. Where and ``compile_bytecode``: as :func:`install_lock`."""
    _pip_install(
        list(dists.install_args),
        _where(python, target, python_version, python_platform),
        compile_bytecode=compile_bytecode,
        step="agentdock",
        what="AgentDock's distributions",
        progress=progress,
    )


def _pip_install(
    what_args: list[str],
    where_args: list[str],
    *,
    compile_bytecode: bool,
    step: str,
    what: str,
    progress: Progress,
) -> None:
    """``uv pip install --no-deps`` of ``what_args`` into ``where_args``; a failure raises."""
    args = ["pip", "install", "--no-deps", *what_args]
    if compile_bytecode:
        args.append("--compile-bytecode")
    result = run_uv([*args, *where_args], step=step, progress=progress)
    _check(result.returncode, result.lines, what)
