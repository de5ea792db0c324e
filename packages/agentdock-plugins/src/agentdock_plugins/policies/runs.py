"""Long runs of digit groups: where their shape repeats, and where their text repeats too.

Hostile text is made of a unit written over and over (``41 41 41 …``, ``4111 4111 …``,
``1.2.3.4 1.2.3.4 …``): every group start is a candidate for the digit-led recognisers, and
confirming each one costs a call into Python, so a mebibyte of it cost seconds. The redactor
instead takes a long run of groups as a whole, and this module tells it, with C-level work
only (one ``str.translate``, one regex with a back-reference, string comparisons), where the
run is made of one repeated unit:

* a *stretch* is a repetition of one unit of one to six digit groups, each followed by its
  separator, identical in everything but the digits: found on a copy of the text in which
  every digit is ``0``, as a unit followed by copies of itself (``(unit)\\1{7,}``);
* a stretch whose text itself repeats after a few units (``41 41 …``, ``4111 1111 1111
  1111 4111 …``) has a *period*: a confirmation reads a bounded neighbourhood of its
  candidate, so every candidate one period further on is confirmed alike, and only one
  period of candidates needs confirming (:func:`periodic_starts`).

A stretch whose digits do not repeat (random groups of four) still has one shape; the card
recogniser reads that shape once per position in the unit (``cards.py``).

:func:`sweep` finds every confirmed match of a scout's parts in a long run that way; the
redactor calls it for runs longer than :data:`LONG` and tries each candidate of a shorter
one as it comes.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["Member", "Stretch", "stretches", "sweep"]

#: Every ASCII digit as ``0``: the shape of a run of groups, whatever its digits.
_MASK = str.maketrans("123456789", "000000000")
#: One to six digit groups of up to 20 digits, each with a separator of up to 8 characters,
#: repeated at least 8 times in all; the smallest such unit (lazy), from a group's start.
_STRETCH = re.compile(r"(?<!0)((?:0{1,20}+[^0]{1,8}+){1,6}?)\1{7,}")
_GROUP = re.compile(r"0+")
#: Units after which a stretch's text may repeat (tried in this order).
_PERIODS = (1, 2, 3, 4, 5, 6, 8, 10, 12, 16)
#: A text period is sought only up to this many characters (candidates of one period are
#: confirmed one by one).
_MAX_PERIOD = 2048


@dataclass(frozen=True, slots=True)
class Stretch:
    """Repeats of one unit of digit groups and separators, from ``start`` to ``end``."""

    start: int
    #: Where the last unit's separator ends.
    end: int
    #: Characters per unit.
    unit: int
    #: Where each of the unit's groups starts, from the unit's start.
    offsets: tuple[int, ...]
    #: Each of the unit's groups' size in digits.
    sizes: tuple[int, ...]
    #: Each group's separator (the text after it, up to the next group), as written.
    separators: tuple[str, ...]
    #: Characters after which the text itself repeats (a multiple of ``unit``), or 0.
    period: int

    @property
    def repeats(self) -> int:
        return (self.end - self.start) // self.unit


def stretches(text: str, start: int, end: int, least: int = 0) -> list[Stretch]:
    """The stretches in ``text[start:end]`` (a run of digit groups), in order.

    ``least``: only stretches of at least that many characters.
    """
    masked = text[start:end].translate(_MASK)
    found: list[Stretch] = []
    for match in _STRETCH.finditer(masked):
        if match.end() - match.start() < least:
            continue
        unit = match.group(1)
        size = len(unit)
        offsets: list[int] = []
        sizes: list[int] = []
        separators: list[str] = []
        at = start + match.start()
        for group in _GROUP.finditer(unit):
            offsets.append(group.start())
            sizes.append(group.end() - group.start())
        ends = [*offsets[1:], size]
        for offset, length, stop in zip(offsets, sizes, ends, strict=True):
            separators.append(text[at + offset + length : at + stop])
        first, last = at, start + match.end()
        found.append(
            Stretch(
                first,
                last,
                size,
                tuple(offsets),
                tuple(sizes),
                tuple(separators),
                _period(text, first, last, size),
            )
        )
    return found


def _period(text: str, start: int, end: int, unit: int) -> int:
    """The fewest characters (whole units) after which ``text[start:end]`` repeats, or 0."""
    length = end - start
    for units in _PERIODS:
        period = units * unit
        if period > _MAX_PERIOD or 2 * period > length:
            break
        if text[start : end - period] == text[start + period : end]:
            return period
    return 0


#: Runs of at least this many characters are swept (:func:`sweep`).
LONG = 96


@dataclass(frozen=True, slots=True)
class Member:
    """One part of a scout, as a sweep uses it."""

    #: Its rule's index (reported with each match).
    index: int
    regex: re.Pattern[str]
    confirm: Callable[[str, int, int], int]
    #: Most characters past a candidate's start that its regex and confirmation read.
    reach: int
    #: ``sweep(text, start, end, stretch, reach, lookback)``: its confirmed matches that
    #: start in ``text[start:end]`` (``stretch``: the one the range lies in, or ``None``),
    #: as ``(start, end)``; ``None``: each match of its regex is confirmed in turn.
    sweep: Sweep | None = None


Sweep = Callable[[str, int, int, "Stretch | None", int, int], list[tuple[int, int]]]


def sweep(
    text: str,
    start: int,
    end: int,
    members: tuple[Member, ...],
    lookback: int,
    found: list[tuple[int, int, int]],
) -> None:
    """Every confirmed match of ``members`` that starts in ``text[start:end]`` (a run where
    every match of theirs that starts there ends), as ``(start, -end, index)`` in
    ``found``. ``lookback``: most characters before a candidate its confirmation reads.

    Inside a stretch whose text repeats (past ``lookback`` from its start, and a member's
    ``reach`` from its end), one period of candidates is confirmed and the rest are copies;
    elsewhere each candidate is confirmed (by the member's own sweep where it has one,
    which may read the stretch's shape).
    """
    runs = stretches(text, start, end, LONG)
    for member in members:
        at = start
        for stretch in runs:
            low = max(at, stretch.start + lookback)
            high = stretch.end - member.reach
            if stretch.period and high - low >= 2 * stretch.period:
                _each(text, at, low, member, stretch, lookback, found)
                _copies(text, low, high, stretch, member, lookback, found)
                at = high
            _each(text, at, stretch.end, member, stretch, lookback, found)
            at = max(at, stretch.end)
        _each(text, at, end, member, None, lookback, found)


def _each(
    text: str,
    start: int,
    end: int,
    member: Member,
    stretch: Stretch | None,
    lookback: int,
    found: list[tuple[int, int, int]],
) -> None:
    """The member's confirmed matches that start in ``text[start:end]``."""
    if start >= end:
        return
    index = member.index
    if member.sweep is not None:
        spans = member.sweep(text, start, end, stretch, member.reach, lookback)
        found.extend((at, -stop, index) for at, stop in spans)
        return
    regex, confirm = member.regex, member.confirm
    # Matches that start before ``end`` end before ``end + reach``: the search stops there.
    limit = end + member.reach
    at = start
    while (match := regex.search(text, at, limit)) is not None:
        at = match.start()
        if at >= end:
            break
        stop = confirm(text, at, match.end())
        if stop > at:
            found.append((at, -stop, index))
        at += 1


def _copies(
    text: str,
    start: int,
    end: int,
    stretch: Stretch,
    member: Member,
    lookback: int,
    found: list[tuple[int, int, int]],
) -> None:
    """The member's confirmed matches in ``text[start:end]``, which repeats every period
    with everything its confirmations read: those of the first period, copied."""
    period = stretch.period
    first: list[tuple[int, int, int]] = []
    _each(text, start, start + period, member, stretch, lookback, first)
    for at, negative_stop, index in first:
        length = -negative_stop - at
        found.extend((p, -(p + length), index) for p in range(at, end, period))
