"""What a PII recogniser is made of: scouts, parts and recognisers, and the shapes of the
functions a part carries (``confirm``, ``seek``, ``sweep``).

Apart from the recognisers themselves (:mod:`~agentdock_plugins.policies.recognisers`) so that
their checks (:mod:`~agentdock_plugins.policies.pii_checks`), their searches
(:mod:`~agentdock_plugins.policies.pii_seeks`) and the redaction engine can name these types
without importing the table of recognisers.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from agentdock_plugins.policies.runs import Stretch

__all__ = ["LOOKBACK", "Confirm", "Part", "Recogniser", "Scout", "Seek", "Sweep"]

#: Most characters before a candidate that a confirmation reads (keywords for a bare SSN,
#: an AWS secret key or a version number).
LOOKBACK = 56

Confirm = Callable[[str, int, int], int]
Seek = Callable[[str, int], "re.Match[str] | None"]
Sweep = Callable[[str, int, int, "Stretch | None", int, int], list[tuple[int, int]]]


@dataclass(frozen=True, slots=True)
class Scout:
    """Parts searched together, in one pass, and how a long run of their candidates is
    taken as a whole.

    Every match of a scout's parts lies inside one match of ``region`` that starts where a
    part matches, and its regex and confirmation read a bounded neighbourhood of it, so a
    region longer than :data:`~agentdock_plugins.policies.runs.LONG` is swept at once
    (:func:`~agentdock_plugins.policies.runs.sweep`) instead of candidate by candidate.
    """

    name: str
    region: str


@dataclass(frozen=True, slots=True)
class Part:
    """One shape of a recogniser: its regex (on folded text) and how a candidate is confirmed.

    ``seek``, when given, is built from the compiled regex and must return exactly what
    ``regex.search(text, pos)`` would, or skip only candidates ``confirm`` would refuse.
    Parts with the same ``scout`` are searched together, in one pass: their regexes joined
    as one alternation, which ``re`` scans as fast as one of them when they all start with
    the same character class (``re`` factors it out and skips ahead to it).
    """

    pattern: str
    confirm: Confirm
    #: Lower-case substrings of which every match contains one (a cheap prefilter), for
    #: parts whose regex starts with a class (one that starts with a literal is as fast to
    #: search as the prefilter is to check).
    literals: tuple[str, ...] | None = None
    seek: Callable[[re.Pattern[str]], Seek] | None = None
    scout: Scout | None = None
    #: Characters past the end of its longest match that ``confirm`` may read (whether a
    #: run of groups goes on): a stream holds back that many more.
    ahead: int = 0
    #: ``sweep(text, start, end, stretch, reach, lookback)``: its confirmed matches that
    #: start in a stretch of a long region of its scout, found together (see
    #: :class:`~agentdock_plugins.policies.runs.Member`).
    sweep: Sweep | None = None


@dataclass(frozen=True, slots=True)
class Recogniser:
    """One kind of PII: its name (the Dockfile's), its marker and its parts."""

    name: str
    marker: str
    parts: tuple[Part, ...]
