"""Rules on the filesystem: host paths baked into code, and writes outside the directories
a container declares for data."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator

from agentdock.readiness import AgentSources, Hit, Level, SourceFile
from agentdock.readiness.astutil import call_name, calls, const_str, kwarg, string_constants

__all__ = ["HostPath", "WriteOutsideDataDir"]

_HOST_PATH = re.compile(r"^(/home/[^/\s]+|/Users/[^/\s]+|/root/|[A-Za-z]:\\\\|~/|/mnt/[a-z]/)")
_VOLUME = re.compile(r"^\s*VOLUME\s+(.+)$", re.IGNORECASE)
#: Directories a container may write without declaring them.
_SCRATCH = ("/tmp/", "/var/tmp/", "/dev/")  # noqa: S108 (paths compared, never used)
_WRITE_MODES = frozenset("wax+")


class HostPath:
    """An absolute path of a developer's machine (``/home/user/…``, ``/Users/…``, ``C:\\…``,
    ``~/…``) is hard-coded: it does not exist in the container."""

    id = "host-path"
    level = Level.MEDIUM
    category = "paths"
    kinds = frozenset({"python"})
    fix = "read the directory from the environment (os.getenv('DATA_DIR', '/app/data'))"

    def check(self, source: SourceFile) -> Iterator[Hit]:
        for node in string_constants(source):
            assert isinstance(node.value, str)
            match = _HOST_PATH.match(node.value)
            if match:
                yield Hit(node.lineno, f"host path {match.group(1)!r}… hard-coded")


class WriteOutsideDataDir:
    """Code writes to a literal absolute path that no ``VOLUME`` of the agent's Dockerfile
    declares (and that is not ``/tmp``): the data is lost with the container, or the write
    fails as a non-root user."""

    id = "write-outside-data-dir"
    level = Level.LOW
    category = "paths"
    kinds: frozenset[str] = frozenset()
    fix = "write under a declared data directory (VOLUME /app/data) read from DATA_DIR"

    def check(self, source: SourceFile) -> Iterator[Hit]:
        return iter(())

    def check_agent(self, agent: AgentSources) -> Iterator[Hit]:
        volumes: list[str] = []
        for dockerfile in agent.of_kind("dockerfile"):
            for text in dockerfile.lines:
                match = _VOLUME.match(text)
                if match:
                    raw = match.group(1).strip().strip("[]")
                    volumes += [v.strip().strip("\"'").rstrip("/") + "/" for v in raw.split()]
        allowed = tuple(volumes) + _SCRATCH
        for source in agent.of_kind("python"):
            for called, call in calls(source):
                path = _written_path(called, call)
                if path and path.startswith("/") and not path.startswith(allowed):
                    yield Hit(
                        call.lineno, f"writes {path!r}, outside any declared volume", file=source
                    )


def _written_path(name: str, call: ast.Call) -> str | None:
    last = name.rsplit(".", 1)[-1]
    if name == "open" and call.args:
        mode = const_str(call.args[1]) if len(call.args) > 1 else const_str(kwarg(call, "mode"))
        if mode and _WRITE_MODES & set(mode):
            return const_str(call.args[0])
        return None
    if last in ("makedirs", "mkdir") and call.args and name in ("os.makedirs", "os.mkdir"):
        return const_str(call.args[0])
    if last in ("write_text", "write_bytes", "mkdir") and isinstance(call.func, ast.Attribute):
        inner = call.func.value
        if (
            isinstance(inner, ast.Call)
            and call_name(inner) in ("Path", "pathlib.Path")
            and inner.args
        ):
            return const_str(inner.args[0])
    return None
