"""Finding the uv binary and running it with its output streamed as progress lines."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path

from agentdock.deployment.artifacts import Progress, no_progress
from agentdock.deployment.errors import TargetUnavailable

__all__ = ["UvResult", "find_uv", "run_uv"]

_UV_HINT = "install uv (`pip install uv`, or see https://docs.astral.sh/uv/) and try again"


def find_uv() -> str:
    """The uv binary: the one of the ``uv`` PyPI package, else ``uv`` on PATH.

    :raises TargetUnavailable: neither is there.
    """
    try:
        import uv

        found = uv.find_uv_bin()
        if found and Path(found).is_file():
            return str(found)
    except (ImportError, FileNotFoundError):
        pass
    on_path = shutil.which("uv")
    if on_path:
        return on_path
    raise TargetUnavailable("uv is not installed", hint=_UV_HINT)


class UvResult:
    """What a finished uv command printed (stdout and stderr merged, one line each)."""

    __slots__ = ("lines", "returncode")

    def __init__(self, returncode: int, lines: list[str]) -> None:
        self.returncode = returncode
        self.lines = lines


def _env() -> dict[str, str]:
    # uv reads UV_* settings (index, cache, offline) from the environment, which air-gapped
    # users rely on; an active virtual environment must not become the install target.
    env = dict(os.environ)
    for name in ("VIRTUAL_ENV", "CONDA_PREFIX", "UV_PROJECT_ENVIRONMENT", "PYTHONHOME"):
        env.pop(name, None)
    env["NO_COLOR"] = "1"
    env.setdefault("UV_NO_PROGRESS", "1")
    return env


def run_uv(
    args: Sequence[str],
    *,
    step: str,
    progress: Progress = no_progress,
    cwd: Path | None = None,
) -> UvResult:
    """Run ``uv ARGS``, passing each output line to ``progress(step, line)``.

    Returns the result whatever the exit status; callers turn a failure into the error
    that names what failed.
    """
    cmd = [find_uv(), *args]
    lines: list[str] = []
    with subprocess.Popen(
        cmd,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        errors="replace",
        cwd=cwd,
        env=_env(),
    ) as proc:
        assert proc.stdout is not None
        try:
            for raw in proc.stdout:
                line = raw.rstrip()
                if not line:
                    continue
                lines.append(line)
                progress(step, line)
        except BaseException:
            # Interrupted (Ctrl-C, a failing progress callback): uv must not go on writing
            # into a directory the caller is about to remove.
            proc.kill()
            proc.wait()
            raise
        returncode = proc.wait()
    return UvResult(returncode, lines)
