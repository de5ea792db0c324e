"""Card numbers: the checks a number must pass, and how a run of digit groups is read.

A card number is written in groups set apart by spaces, tabs, a line break, dashes, dots,
commas, colons, tildes, middle dots or invisible characters, in the issuer's grouping
(4-4-4-4, 4-6-5) or any other (pairs, 4-8-4). So are serial numbers, dates with times and
lists of figures; what tells a card apart:

* its digits: 13 to 19, a Luhn check digit, not one digit repeated, and a prefix that cards
  of that length are issued with (:func:`card_ok`);
* its shape: a first group of 4 digits, middle ones of 4 to 8 and a last one of 1 to 6, as
  issuers group them (4-4-4-4, 4-6-5, 4-8-4), set apart by any separators, mixed
  punctuation too (``4111-1111.1111/1111``) but not spaces alone between punctuated groups
  (``2387-0000-1247 2089-01-01`` is a part number and a date); or three groups or more of
  one size of two digits or more, the last up to 8 (``41 11 11 11 11 11 11 11``,
  ``37828 22463 10005``), all set apart by the same separator, which is then not a comma or a
  full stop, nor spaces or apostrophes between groups of three (``41 111 111 111 111 111``
  is a figure written with thousands separators). A comma or semicolon followed by a space
  separates a list's items, never a card's groups (``1111-1118-2111, 998-0000``, ``IDs
  4440, 1664, 3107, 2866``). Numbers of other sizes side by side (an
  order number and a Unix time, ``36 19990104 2000``) are not a card, and groups of one to
  three digits set apart differently are dates and times (``30.12.2024 23:59:59``);
* where it ends: the run of groups must not go on past it. A group of the same length as
  the card's edge group, joined by a separator the card uses, continues the run (a 24-digit
  serial ``4111 1111 1111 1111 1111 1111``, or one whose last 16 digits are a card), unless
  it is a year after the card (``4111-1111-1111-1111-2025``), an expiry date that ends the
  run (``4111 1111 1111 1111 1225``: a month, then the year's last two digits) or another
  card (two cards in a row); a year before a card is as often a reference's first group. A group
  of another length (an expiry date ``12/25``, a security code ``123``) or one joined by
  another separator (``, `` between two cards) ends the card.

Long runs of digit groups, where every group start is a candidate, are read together by
:mod:`~agentdock_plugins.policies.card_runs`.
"""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from collections.abc import Sequence
from itertools import accumulate

from agentdock_plugins.policies.invisible import INVISIBLE_CLASS

__all__ = [
    "CARD",
    "GAP",
    "INVISIBLE_KIND",
    "PUNCT",
    "SPACE",
    "YEAR",
    "CardRun",
    "card_end",
    "card_ok",
    "gap_kind",
    "issued",
    "luhn_ok",
    "shape_ok",
]

#: What may surround a separator between the groups of a number, or be one: whitespace
#: (any Unicode space folds to ``" "``) and invisible characters.
SPACE = f"\\s{INVISIBLE_CLASS}"
#: Punctuation read as a separator between the groups of a number (any dash folds to ``-``,
#: full-width forms to ASCII).
PUNCT = "\\-_./,:;~|\\\\'\u2019\u00b7\u2022\u2027\u2219\u22c5\u30fb\uff65"
#: One separator: a run of up to eight spaces, or one or two punctuation characters with
#: up to three spaces on each side (``-``, ``" - "``, ``", "``).
GAP = f"(?:[{SPACE}]{{1,8}}|[{SPACE}]{{0,3}}[{PUNCT}]{{1,2}}[{SPACE}]{{0,3}})"

_GROUP_END = "(?![0-9A-Za-z]|_(?![0-9]))"
#: A run of digit groups that holds 13 digits or more (the look-ahead skips shorter ones
#: cheaply): up to ten groups, the first of 2 to 19 digits (no card's first group is
#: shorter), the others up to 16. A group glued
#: to a letter or ``_`` belongs to a token (``9f4111…ab``), so the run stops before it; the first
#: digit follows no letter, digit, ``_`` or ``+`` (a phone number) and is not a decimal.
CARD = (
    r"[0-9](?<![A-Za-z0-9_+][0-9])(?<![0-9][.,][0-9])[0-9]"
    rf"(?=(?:[{SPACE}{PUNCT}]{{0,8}}[0-9]){{11}})"
    rf"[0-9]{{0,17}}+{_GROUP_END}(?:{GAP}[0-9]{{1,16}}+{_GROUP_END}){{0,9}}+"
)

_DIGITS = re.compile(r"[0-9]+")
_SPLIT = re.compile(r"([0-9]+)")
_SPACES = re.compile(f"[{SPACE}]+")
#: The groups right before a candidate (read within the look-back).
_CHAIN_BEFORE = re.compile(rf"(?:(?<![0-9A-Za-z_])[0-9]+{GAP})+\Z")
YEAR = re.compile(r"(?:19|20)[0-9]{2}")
#: A group that may be an expiry date: its month, then the year's last two digits (MMYY).
EXPIRY = re.compile(r"(?:0[1-9]|1[0-2])[0-9]{2}")
#: The kinds of a comma or semicolon followed by a space: the separator of a list's items,
#: never of a card's groups.
_LIST_MARKS = frozenset({", ", "; "})
#: A comma or semicolon followed by a space (spaces and invisible characters around them).
_LIST_GAP = re.compile(f"[{SPACE}]*([,;])[{SPACE}]*\\s[{SPACE}]*")
#: Separators that write figures (1,234.56): cards use them only in the issuer's shape.
_FIGURE_MARKS = frozenset({",", "."})
#: Separators of figures with thousands groups of three (the first and the last group of a
#: candidate may be of another size: the figure's first, and the next number's).
_THOUSANDS_MARKS = frozenset({"", "'", "\u2019"})


def luhn_ok(candidate: str) -> bool:
    """13 to 19 digits (anything else ignored) with a valid Luhn digit, not one repeated."""
    digits = "".join(_DIGITS.findall(candidate))
    return 13 <= len(digits) <= 19 and _luhn(digits)


def _luhn(digits: str) -> bool:
    """ASCII digits with a valid Luhn digit, not one repeated: the digits' sum is taken
    over their bytes, in C (each byte is 48 more than its digit)."""
    if digits.count(digits[0]) == len(digits):
        return False
    backwards = digits[::-1]
    total = sum(backwards[::2].encode()) + sum(backwards[1::2].translate(_LUHN_DOUBLED).encode())
    return (total - 48 * len(digits)) % 10 == 0


#: A digit doubled, its two digits summed (Luhn).
_LUHN_DOUBLED = str.maketrans("0123456789", "0246813579")


def card_ok(digits: str) -> bool:
    """A card number: Luhn, and an issuer prefix that numbers of its length are given.

    13 digits: Visa (4). 14: Diners Club (30, 36, 38, 39). 15: American Express (34, 37)
    and UATP (1). 16 to 19: Mir and Mastercard (2200-2720), Diners Club and JCB (30, 35,
    36, 38, 39), Visa (4), Mastercard and Maestro (5), Discover, UnionPay, Maestro and RuPay
    (6), Troy (9792). So what is left alone, Luhn or not: millisecond, microsecond and
    nanosecond Unix times (13, 16, 19 digits starting with 1), compact date-times
    (20240115103045), ISBN-13 and EAN-13 codes, IMEIs (15 digits, Luhn-valid, 01/35/86...),
    SIM card numbers (ICCID, 89...) and anything starting with 0, 7 or 8.
    """
    return issued(digits) and luhn_ok(digits)


def issued(digits: str) -> bool:
    """Whether cards of this length are issued with this prefix (see :func:`card_ok`)."""
    size = len(digits)
    if size == 13:
        return digits[0] == "4"
    if size == 14:
        return digits[:2] in _DINERS
    if size == 15:
        return digits[:2] in _AMEX or digits[0] == "1"
    return (
        digits[0] in "456"
        or digits[:2] in _DINERS_JCB
        or "2200" <= digits[:4] <= "2720"
        or digits[:4] == "9792"
    )


_DINERS = frozenset({"30", "36", "38", "39"})
_DINERS_JCB = _DINERS | {"35"}
_AMEX = frozenset({"34", "37"})


def gap_kind(gap: str) -> str:
    """A separator's kind: its punctuation, spaces and invisible characters aside; ``""``
    for a separator of spaces only, :data:`INVISIBLE_KIND` for one of invisible characters
    only (which is no visible separator at all), and ``", "`` or ``"; "`` for a comma or
    semicolon followed by a space (a list's separator, :data:`_LIST_MARKS`)."""
    kind = _KINDS.get(gap)
    if kind is None:
        kind = _SPACES.sub("", gap)
        if not kind and _INVISIBLE_ONLY.fullmatch(gap):
            kind = INVISIBLE_KIND
        elif kind in (",", ";") and (listed := _LIST_GAP.fullmatch(gap)) is not None:
            kind = listed.group(1) + " "
        if len(_KINDS) < 256:
            _KINDS[gap] = kind
    return kind


#: The kind of a separator made of invisible characters only.
INVISIBLE_KIND = "\u200b"
_INVISIBLE_ONLY = re.compile(f"[{INVISIBLE_CLASS}]+")


#: Separators seen, and their kinds (most texts use a handful).
_KINDS: dict[str, str] = {}


def shape_ok(sizes: Sequence[int], kinds: Sequence[str]) -> bool:
    """Whether groups of ``sizes`` set apart by separators of ``kinds`` are written as a card."""
    if len(sizes) == 1:
        return True
    # Invisible separators are no separators to a reader: they mix with any other.
    shown = [k for k in kinds if k != INVISIBLE_KIND] or [INVISIBLE_KIND]
    kind = shown[0]
    mixed = any(k != kind for k in shown)
    if mixed and "" in shown:  # a space between punctuated groups ends a token
        return False
    if not _LIST_MARKS.isdisjoint(shown):  # a list's items
        return False
    if sizes[0] == 4 and all(4 <= s <= 8 for s in sizes[1:-1]) and sizes[-1] <= 6:
        return True
    if mixed or kind in _FIGURE_MARKS or len(sizes) < 3:
        return False
    size = sizes[0]
    if size < 2 or any(s != size for s in sizes[1:-1]) or sizes[-1] > 8:
        return False
    return not (size == 3 and kind in _THOUSANDS_MARKS)


def _continues(card_kinds: Sequence[str], edge: int, kind: str, size: int) -> bool:
    """Whether a group of ``size`` digits next to a card's edge group of ``edge`` digits,
    across a separator of ``kind``, carries the card's run of groups on."""
    return size == edge and (kind in card_kinds if card_kinds else True)


class CardRun:
    """The digit groups of a run and which of their prefixes are cards.

    Built once for a run of groups (a candidate's, or a whole stretch's), a card is sought
    from a group ``first`` within a window that ends at group ``wend``: the candidate's
    regex match, whose last group has no next one to carry it on. ``lenient`` runs are
    read for their shape alone, to reason about every run of one shape at once: every
    digit string counts as issued and Luhn-valid, and every group of four digits may be a
    year (with ``years=False``, none is).
    """

    __slots__ = (
        "_memo",
        "digits",
        "groups",
        "kinds",
        "lenient",
        "offsets",
        "places",
        "sizes",
        "years",
    )

    def __init__(
        self, text: str, start: int, end: int, *, lenient: bool = False, years: bool = True
    ) -> None:
        # ["", group, gap, group, ..., group, ""]: one split, in C.
        parts = _SPLIT.split(text[start:end])
        self.groups = groups = parts[1::2]
        self.sizes = sizes = list(map(len, groups))
        self.kinds = list(map(gap_kind, parts[2:-1:2]))
        self.digits = "".join(groups)
        self.offsets = [0, *accumulate(sizes)]
        #: Where each part starts in the text (group ``i`` ends where part ``2 * i + 2``
        #: starts).
        self.places = list(accumulate(map(len, parts), initial=start))
        self._memo: dict[tuple[int, int], int] = {}
        self.lenient = lenient
        self.years = years

    def end(self, index: int) -> int:
        """Where group ``index`` ends in the text."""
        return self.places[2 * index + 2]

    def _year(self, index: int) -> bool:
        if self.lenient:
            return self.years and self.sizes[index] == 4
        return YEAR.fullmatch(self.groups[index]) is not None

    def _expiry(self, index: int, wend: int) -> bool:
        """Whether group ``index`` is an expiry date (MMYY) that ends the run: no group of
        its size follows it across the separator before it (so ``4111 1111 1111 1111
        1225`` is a card and its expiry, ``4111 1111 1111 1111 1111 1111`` a serial)."""
        if self.lenient or EXPIRY.fullmatch(self.groups[index]) is None:
            return False  # a lenient run's groups of four may all be years already
        sizes, kinds = self.sizes, self.kinds
        return index >= wend or not _continues(
            (kinds[index - 1],), sizes[index], kinds[index], sizes[index + 1]
        )

    def card_from(self, first: int, wend: int, before: tuple[str, int, bool] | None = None) -> int:
        """The last group of the longest card that starts at group ``first``, ends by group
        ``wend`` and ends its run, or -1. ``before``: the separator kind and size of the
        group right before the run, and whether that group may stand next to a card (it
        ends another card)."""
        if before is None:
            known = self._memo.get((first, wend))
            if known is not None:
                return known
        found = next(
            (last for last in self._lasts(first, wend) if self._ends(first, last, wend, before)), -1
        )
        if before is None:
            self._memo[first, wend] = found
        return found

    def cards_from(self, first: int, wend: int) -> list[int]:
        """The last groups of every card that starts at group ``first``, ends by group
        ``wend`` and ends its run, longest first."""
        return [last for last in self._lasts(first, wend) if self._ends(first, last, wend, None)]

    def _lasts(self, first: int, wend: int) -> range:
        """The groups a card of 13 to 19 digits from group ``first`` may end with, by group
        ``wend``, longest first."""
        offsets = self.offsets
        base = offsets[first]
        high = min(wend, bisect_right(offsets, base + 19) - 2)
        return range(high, bisect_left(offsets, base + 13) - 2, -1)

    def _ends(self, first: int, last: int, wend: int, before: tuple[str, int, bool] | None) -> bool:
        """Whether groups ``first`` to ``last`` are a card that ends its run."""
        sizes, kinds = self.sizes, self.kinds
        digits = self.digits[self.offsets[first] : self.offsets[last + 1]]
        card_kinds = kinds[first:last]
        lenient = self.lenient
        if not lenient and not issued(digits):
            return False
        if not shape_ok(sizes[first : last + 1], card_kinds):
            return False
        if before is not None:
            kind, size, may_touch = before
            if not may_touch and _continues(card_kinds, sizes[first], kind, size):
                return False
        if not lenient and not _luhn(digits):
            return False
        return not (
            last < wend
            and _continues(card_kinds, sizes[last], kinds[last], sizes[last + 1])
            and not self._year(last + 1)
            and not self._expiry(last + 1, wend)
            and self.card_from(last + 1, wend) < 0
        )

    def ends_with_card(self) -> bool:
        """Whether the run's last groups are a card (read backwards: shape and digits)."""
        sizes, kinds, offsets = self.sizes, self.kinds, self.offsets
        last = len(sizes) - 1
        for first in range(last, -1, -1):
            count = offsets[last + 1] - offsets[first]
            if count > 19:
                break
            if (
                count >= 13
                and shape_ok(sizes[first:], kinds[first:])
                and issued(digits := self.digits[offsets[first] :])
                and _luhn(digits)
            ):
                return True
        return False

    def confirm(self, text: str, first: int, wend: int, lookback: int) -> int:
        """Where the card that starts at group ``first`` (its candidate's match ending with
        group ``wend``) ends in the text, or -1; reads up to ``lookback`` characters before
        it for the groups before it."""
        offsets = self.offsets
        if offsets[wend + 1] - offsets[first] < 13 or self.card_from(first, wend) < 0:
            return -1
        # A card here: the groups right before it may still carry it on.
        last = self.card_from(first, wend, _before(text, self.places[2 * first + 1], lookback))
        return self.end(last) if last >= 0 else -1


def _before(text: str, start: int, lookback: int) -> tuple[str, int, bool] | None:
    """The groups right before ``start`` (read within ``lookback`` characters): the
    separator kind and size of the last one, and whether they end with a card."""
    chain = _CHAIN_BEFORE.search(text, max(0, start - lookback), start)
    if chain is None:
        return None
    previous = CardRun(text, chain.start(), start)
    kind = gap_kind(text[previous.end(len(previous.sizes) - 1) : start])
    return kind, previous.sizes[-1], previous.ends_with_card()


def card_end(text: str, start: int, end: int, lookback: int) -> int:
    """Confirms a candidate :data:`CARD` match: the end of the card it starts with, or -1.

    Reads up to ``lookback`` characters before ``start`` for the groups before it.
    """
    run = CardRun(text, start, end)
    return run.confirm(text, 0, len(run.sizes) - 1, lookback)
