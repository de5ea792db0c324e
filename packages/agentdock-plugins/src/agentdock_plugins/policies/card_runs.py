"""Card numbers in long runs of digit groups: every card in a run, found together.

Hostile text (``4111 4111 4111 …``) makes every group start a candidate; confirming each one
with :func:`~agentdock_plugins.policies.cards.card_end` costs a call into Python per group.
:func:`card_sweep` takes a long run whole: only the group starts whose shape can open a card
(:data:`SHAPED`) are tried, and where the run repeats one unit
(:class:`~agentdock_plugins.policies.runs.Stretch`) the starts of one period are read and the
rest follow from them. Its results are the ones candidate-by-candidate confirmation gives.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from agentdock_plugins.policies.cards import (
    CARD,
    GAP,
    CardRun,
    card_end,
    gap_kind,
    issued,
)
from agentdock_plugins.policies.runs import Stretch

__all__ = ["SHAPED", "card_sweep"]

_CARD = re.compile(CARD)
#: Where a card may start, by the shape of the groups there (what :func:`shape_ok` needs of
#: a card's first two groups): a first group of 13 digits or more; a first group of 4 then
#: a middle one of 4 to 8 and a third; or two groups of one size then a third. Every card
#: starts where this matches; :data:`CARD` also matches at most other group starts.
SHAPED = (
    r"[0-9](?<![A-Za-z0-9_+][0-9])(?<![0-9][.,][0-9])(?=[0-9]{12}"
    rf"|[0-9]{{3}}(?:{GAP})[0-9]{{4,8}}(?![0-9])(?:{GAP})[0-9]"
    + "".join(
        rf"|[0-9]{{{size - 1}}}(?:{GAP})[0-9]{{{size}}}(?![0-9])(?:{GAP})[0-9]"
        for size in range(2, 17)
    )
    + ")"
)
_SHAPED = re.compile(SHAPED)
#: A group that may be a year (see :data:`YEAR`), at the start of a group.
_YEAR_GROUP = re.compile(r"1(?<![0-9]1)9[0-9]{2}(?![0-9])|2(?<![0-9]2)0[0-9]{2}(?![0-9])")
#: A group that may be an expiry date (see :data:`EXPIRY`), at the start of a group.
_EXPIRY_GROUP = re.compile(r"0(?<![0-9]0)[1-9][0-9]{2}(?![0-9])|1(?<![0-9]1)[0-2][0-9]{2}(?![0-9])")


def _issued_pairs(size: int) -> frozenset[str]:
    """The first two digits of the numbers of ``size`` digits that cards are issued with."""
    return frozenset(
        f"{pair:02d}"
        for pair in range(100)
        if any(issued(f"{pair:02d}{more:02d}" + "0" * (size - 4)) for more in range(100))
    )


_ISSUED_PAIRS = {size: _issued_pairs(size) for size in range(13, 20)}
#: The first two digits of every card, whatever its length (a card's first group has two
#: digits or more).
_ANY_PAIR = frozenset().union(*_ISSUED_PAIRS.values())


@dataclass(frozen=True, slots=True)
class _Phase:
    """What a card needs at one group of a stretch's unit, read from the shape alone."""

    #: The first two digits it may start with (those of the lengths its first card may be).
    pairs: frozenset[str]
    #: Groups after it (counted from it) of which one must be a year, or ``None``.
    years: tuple[int, ...] | None


#: The phases of the units seen (a handful of shapes recur), by sizes and separators.
_PHASES: dict[tuple[tuple[int, ...], tuple[str, ...]], tuple[_Phase | None, ...]] = {}


def _phases(sizes: tuple[int, ...], separators: tuple[str, ...]) -> tuple[_Phase | None, ...]:
    """For each group of a unit repeated over and over: ``None`` where no card can start,
    whatever the digits, else what the digits must be for one to start there.

    Read on a copy of the run with every digit ``0`` and a lenient :class:`CardRun` (every
    number issued and Luhn-valid, every group of four a year or none): a card needs what
    the lenient reading needs, and more.
    """
    key = (sizes, separators)
    known = _PHASES.get(key)
    if known is not None:
        return known
    unit = "".join("0" * size + sep for size, sep in zip(sizes, separators, strict=True))
    # Enough units for a window of ten groups and the group after it, after one unit (so
    # that what a candidate's regex reads before it is the run too).
    text = unit * (2 + -(-12 // len(sizes)))
    phases: list[_Phase | None] = []
    at = len(unit)
    for size, sep in zip(sizes, separators, strict=True):
        phases.append(_phase(text, at))
        at += size + len(sep)
    found = tuple(phases)
    if len(_PHASES) >= 256:
        _PHASES.clear()
    _PHASES[key] = found
    return found


def _phase(text: str, start: int) -> _Phase | None:
    match = _CARD.match(text, start)
    if match is None:
        return None
    run = CardRun(text, start, match.end(), lenient=True)
    wend = len(run.sizes) - 1
    if run.offsets[-1] < 13:
        return None
    lengths = {run.offsets[last + 1] for last in run.cards_from(0, wend)}
    if not lengths:
        return None
    pairs = frozenset().union(*(_ISSUED_PAIRS.get(size, ()) for size in lengths))
    if CardRun(text, start, match.end(), lenient=True, years=False).card_from(0, wend) >= 0:
        return _Phase(pairs, None)
    return _Phase(pairs, tuple(j for j in range(1, wend + 1) if run.sizes[j] == 4))


def card_sweep(
    text: str, start: int, end: int, stretch: Stretch | None, reach: int, lookback: int
) -> list[tuple[int, int]]:
    """Every card that starts in ``text[start:end]``, as ``(start, end)``: what confirming
    each :data:`CARD` candidate there with :func:`card_end` gives.

    ``stretch``: the run of one repeated unit that the range lies in, if any (see
    ``runs.py``); where a window of ten groups and the group after it lie inside it, each
    group of the unit is read once for its shape (:func:`_phases`) and the digits of each
    start only for what its phase needs. Elsewhere :data:`SHAPED` finds the starts. The
    candidates left are confirmed together where their matches overlap, on one
    :class:`CardRun`. ``reach``: most characters a match reads past its start; ``lookback``:
    before it.
    """
    return _confirm(text, _starts(text, start, end, stretch, reach), lookback)


def _starts(text: str, start: int, end: int, stretch: Stretch | None, reach: int) -> list[int]:
    """Where a card may start in ``text[start:end]``; every other candidate is refused."""
    if stretch is None:
        return _shaped(text, start, end, reach)
    # The stretch's groups past its first whose window and the group after it lie in it.
    count = len(stretch.sizes)
    last = stretch.repeats * count - 11
    if last < 1:
        return _shaped(text, start, end, reach)
    low, high = _group_start(stretch, 1), _group_start(stretch, last) + 1
    starts = _shaped(text, start, min(end, low), reach)
    if max(start, low) < min(end, high):
        starts += _phased(text, max(start, low), min(end, high), stretch, reach)
    return starts + _shaped(text, max(start, high), end, reach)


def _group_start(stretch: Stretch, group: int) -> int:
    count = len(stretch.sizes)
    return stretch.start + group // count * stretch.unit + stretch.offsets[group % count]


def _shaped(text: str, start: int, end: int, reach: int) -> list[int]:
    """The group starts in ``text[start:end]`` where :data:`SHAPED` matches and the first
    two digits are those of a card."""
    found: list[int] = []
    stop = end + reach
    # SHAPED matches the first digit of a group: its matches never overlap.
    for match in _SHAPED.finditer(text, start, stop):
        at = match.start()
        if at >= end:
            break
        if text[at : at + 2] in _ANY_PAIR:
            found.append(at)
    return found


def _phased(text: str, start: int, end: int, stretch: Stretch, reach: int) -> list[int]:
    """Where a card may start in ``text[start:end]``, inside a stretch: by each phase."""
    phases = _phases(stretch.sizes, stretch.separators)
    base, unit, count = stretch.start, stretch.unit, len(stretch.sizes)
    first = (start - base) // unit
    starts: list[int] = []
    years: set[int] | None = None
    for index, phase in enumerate(phases):
        if phase is None or not phase.pairs:
            continue
        offset = stretch.offsets[index]
        at = base + first * unit + offset
        if at < start:
            at += unit
        if phase.years is None:
            starts.extend(p for p in range(at, end, unit) if text[p : p + 2] in phase.pairs)
            continue
        if years is None:
            years = _years(text, stretch, start, end + reach)
        for group in {g - slot for g in years for slot in phase.years}:
            if group % count == index:
                p = base + group // count * unit + offset
                if at <= p < end and text[p : p + 2] in phase.pairs:
                    starts.append(p)
    starts.sort()
    return starts


def _confirm(text: str, starts: list[int], lookback: int) -> list[tuple[int, int]]:
    """The cards among candidate ``starts`` (in order): each cluster of candidates whose
    matches overlap is read as one :class:`CardRun`, its cards sought from each start."""
    found: list[tuple[int, int]] = []
    count = len(starts)
    index = 0
    while index < count:
        matches: list[tuple[int, int]] = []
        stop = -1
        while index < count and (stop < 0 or starts[index] < stop):
            at = starts[index]
            index += 1
            match = _CARD.match(text, at)
            if match is not None:
                matches.append((at, match.end()))
                stop = max(stop, match.end())
        if not matches:
            continue
        if len(matches) == 1:
            at, end = matches[0]
            end = card_end(text, at, end, lookback)
            if end > at:
                found.append((at, end))
            continue
        run = CardRun(text, matches[0][0], stop)
        places = run.places
        firsts = {places[2 * group + 1]: group for group in range(len(run.sizes))}
        lasts = {places[2 * group + 2]: group for group in range(len(run.sizes))}
        for at, end in matches:
            end = run.confirm(text, firsts[at], lasts[end], lookback)
            if end > at:
                found.append((at, end))
    return found


def _years(text: str, stretch: Stretch, start: int, end: int) -> set[int]:
    """The groups of ``stretch`` in ``text[start:end]`` that are years, or expiry dates
    where one can end a card (:func:`_expiry_groups`), counted from its start."""
    where = {offset: index for index, offset in enumerate(stretch.offsets)}
    count = len(stretch.sizes)
    found: set[int] = set()
    for match in _YEAR_GROUP.finditer(text, start, end):
        units, offset = divmod(match.start() - stretch.start, stretch.unit)
        index = where.get(offset)
        if index is not None:
            found.add(units * count + index)
    expiries = _expiry_groups(stretch)
    if expiries:
        for match in _EXPIRY_GROUP.finditer(text, start, end):
            units, offset = divmod(match.start() - stretch.start, stretch.unit)
            index = where.get(offset)
            if index in expiries:
                found.add(units * count + index)
    return found


def _expiry_groups(stretch: Stretch) -> frozenset[int]:
    """The groups of ``stretch``'s unit where an expiry date may end a card's run (see
    ``CardRun._expiry``): groups of four that the next group does not carry on (another
    size, or another separator than the one before), and every group of four where the
    unit has groups of two digits or fewer (a card of nine such groups may end right
    before one, at its candidate's last group, where no next group is read)."""
    sizes, count = stretch.sizes, len(stretch.sizes)
    kinds = [gap_kind(sep) for sep in stretch.separators]
    short = min(sizes) <= 2
    return frozenset(
        index
        for index in range(count)
        if sizes[index] == 4
        and (short or sizes[(index + 1) % count] != 4 or kinds[index] != kinds[index - 1])
    )
