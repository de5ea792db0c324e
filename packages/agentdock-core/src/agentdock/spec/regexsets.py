"""Character sets read from a parse tree, and what two of them have in common: how the
backtracking analysis of :mod:`.regexanalysis` tells that two branches or a repeat and what
follows it can match the same character."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

from agentdock.spec.regexparse import (
    _REPRESENTATIVES,
)

# --------------------------------------------------------------------------- character sets


@dataclass(frozen=True, slots=True)
class _CharClass:
    """One set of characters from the parse tree: literals, ranges and categories."""

    items: tuple[tuple[str, int, int], ...]
    negate: bool = False
    icase: bool = False
    ascii: bool = False

    def points(self) -> Iterator[int]:
        for kind, lo, hi in self.items:
            if kind == "lit":
                yield lo
            elif kind == "range":
                yield from (lo - 1, lo, hi, hi + 1)

    def contains(self, cp: int) -> bool:
        candidates = _case_variants(cp) if self.icase else (cp,)
        hit = any(self._raw(c) for c in candidates)
        return hit != self.negate

    def _raw(self, cp: int) -> bool:
        for kind, lo, hi in self.items:
            if kind == "lit":
                if cp == lo:
                    return True
            elif kind == "range":
                if lo <= cp <= hi:
                    return True
            elif kind == "cat":
                if _in_category(lo, cp, self.ascii):
                    return True
            else:
                return True
        return False


_CATEGORIES = {
    "CATEGORY_DIGIT": 1,
    "CATEGORY_NOT_DIGIT": -1,
    "CATEGORY_SPACE": 2,
    "CATEGORY_NOT_SPACE": -2,
    "CATEGORY_WORD": 3,
    "CATEGORY_NOT_WORD": -3,
}


def _in_category(category: int, cp: int, ascii_only: bool) -> bool:
    if category == 0:
        return True
    ch = chr(cp)
    kind = abs(category)
    if ascii_only and cp >= 128:
        member = False
    elif kind == 1:
        member = ch.isdecimal()
    elif kind == 2:
        member = ch.isspace()
    else:
        member = ch.isalnum() or ch == "_"
    return member if category > 0 else not member


def _case_variants(cp: int) -> tuple[int, ...]:
    ch = chr(cp)
    out = {cp}
    for variant in (ch.lower(), ch.upper(), ch.lower().upper(), ch.upper().lower(), ch.casefold()):
        if len(variant) == 1:
            out.add(ord(variant))
    return tuple(out)


@dataclass(frozen=True, slots=True)
class _FirstSet:
    """Characters a match can start with: a union of classes, or possibly anything."""

    anything: bool = False
    classes: tuple[_CharClass, ...] = ()

    def __or__(self, other: _FirstSet) -> _FirstSet:
        if self.anything or other.anything:
            return _ANYTHING
        if not other.classes:
            return self
        if not self.classes:
            return other
        return _FirstSet(False, tuple(dict.fromkeys(self.classes + other.classes)))

    @property
    def empty(self) -> bool:
        return not self.anything and not self.classes

    def contains(self, cp: int) -> bool:
        return self.anything or any(c.contains(cp) for c in self.classes)

    def points(self) -> Iterator[int]:
        for c in self.classes:
            yield from c.points()


_ANYTHING = _FirstSet(anything=True)
_NOTHING = _FirstSet()


def _witnesses(sets: Iterable[_FirstSet]) -> list[int]:
    points: set[int] = set(range(128))
    points.update(_REPRESENTATIVES)
    for s in sets:
        points.update(p for p in s.points() if 0 <= p <= 0x10FFFF)
    return sorted(points)


def _common_char(sets: Sequence[_FirstSet]) -> int | None:
    """A character at least two of ``sets`` can start with, if one is found among witnesses."""
    live = [s for s in sets if not s.empty]
    if len(live) < 2:
        return None
    seen = 0
    witnesses = _witnesses(live)
    for s in live:
        mask = 0
        for bit, cp in enumerate(witnesses):
            if s.contains(cp):
                mask |= 1 << bit
        both = mask & seen
        if both:
            return witnesses[(both & -both).bit_length() - 1]
        seen |= mask
    return None
