"""Filtering runtime log lines by level: ``agentdock logs --level``, the control plane's
Logs tab and ``/controller/logs`` keep the same lines.

A runtime writes one of two shapes (:mod:`agentdock_runtime.logconfig`): JSON lines with a
``level`` key, or text lines ``HH:MM:SS.mmm LEVEL logger message``. A line of neither shape
(a traceback's continuation, a print) takes the level of the line before it, so a filter
keeps an error with its traceback.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable

__all__ = ["LEVEL", "LEVELS", "LEVEL_NAMES", "LevelFilter", "at_least"]

#: Levels in order, as the runtime writes them (``WARNING`` is read as ``WARN``).
LEVELS = ("DEBUG", "INFO", "WARN", "ERROR", "CRITICAL")
#: The names a level is given by (any case).
LEVEL_NAMES = ("debug", "info", "warn", "warning", "error", "critical")
#: A level as the API takes it (any case).
LEVEL = r"^(?i:debug|info|warn|warning|error|critical)$"
_RANK = {name: n for n, name in enumerate(LEVELS)} | {"WARNING": 2}
_TEXT = re.compile(r"^\d\d:\d\d:\d\d\.\d{3} (DEBUG|INFO|WARN|WARNING|ERROR|CRITICAL)\b")


def _rank(line: str) -> int | None:
    """The level of a line, or None when it names none."""
    if line.startswith("{"):
        try:
            level = json.loads(line).get("level")
        except (ValueError, AttributeError):
            return None
        return _RANK.get(level.upper()) if isinstance(level, str) else None
    found = _TEXT.match(line)
    return _RANK[found.group(1)] if found else None


class LevelFilter:
    """Keeps the lines at a level or above, one at a time (the followed log's filter),
    remembering the level of the last line that named one."""

    __slots__ = ("_current", "_floor")

    def __init__(self, level: str) -> None:
        self._floor = _RANK[level.upper()]
        self._current: int | None = None

    def keep(self, line: str) -> bool:
        rank = _rank(line)
        self._current = rank if rank is not None else self._current
        return self._current is not None and self._current >= self._floor


def at_least(lines: Iterable[str], level: str) -> list[str]:
    """The lines at ``level`` or above (a line without a level follows the one before)."""
    kept = LevelFilter(level)
    return [line for line in lines if kept.keep(line)]
