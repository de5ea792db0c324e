"""Durations written by people (``30d``, ``1h``, ``90s``) as seconds."""

from __future__ import annotations

import re

__all__ = ["MAX_SECONDS", "DurationError", "parse_duration"]

_DURATION = re.compile(r"^\s*([1-9][0-9]{0,8})\s*(s|m|h|d|w)\s*$")
_UNIT = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
#: The longest duration accepted (100 years): dates past it cannot be shown or stored.
MAX_SECONDS = 100 * 365 * 86400


class DurationError(ValueError):
    """A duration that is not ``<positive integer><s|m|h|d|w>``."""


def parse_duration(text: str) -> int:
    """``"30d"`` → 2592000; raises :class:`DurationError` with a one-line cause."""
    match = _DURATION.match(text)
    if match is None:
        raise DurationError(
            f"invalid duration {text!r}: expected a positive integer and a unit s, m, h, d or w "
            "(e.g. 30d, 1h)"
        )
    seconds = int(match.group(1)) * _UNIT[match.group(2)]
    if seconds > MAX_SECONDS:
        raise DurationError(f"invalid duration {text!r}: at most 100 years")
    return seconds
