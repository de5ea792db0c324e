"""Invisible format characters: which they are, and text with them taken out.

A zero-width space inside ``bob@exa\u200bmple.com`` or ``AKIA\u200bIOSFODNN7EXAMPLE`` is not
seen by a reader, who reads the value whole, but it breaks any pattern written for the
value. The prompt-injection scorer deletes these characters before scoring; the PII
recognisers cannot (the redactor cuts spans out of the original text, so offsets must hold),
and instead match a second, compacted copy when the text holds any: :func:`compact` returns
that copy and, for each of its characters, the offset of that character in the original,
so a span found in it maps back to the original span that covers the same characters and
every invisible one between them.

What counts as invisible: the soft hyphen, the combining grapheme joiner, the Arabic letter
mark, the Hangul fillers, the Khmer inherent vowels, the Mongolian free variation selectors
and vowel separator, the zero-width space, non-joiner and joiner, the left-to-right and
right-to-left marks, embeddings, overrides and isolates, the word joiner and the invisible
operators, the byte order mark, the variation selectors and the language tag characters.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Iterable
from itertools import accumulate
from operator import add

__all__ = [
    "INVISIBLE",
    "INVISIBLE_CLASS",
    "Offsets",
    "char_class",
    "compact",
    "has_invisible",
    "visible_start",
]

#: Code points of the invisible format characters (tags aside, see :data:`TAGS`).
INVISIBLE: tuple[int, ...] = (
    0x00AD, 0x034F, 0x061C, 0x115F, 0x1160, 0x17B4, 0x17B5, *range(0x180B, 0x1810),
    *range(0x200B, 0x2010), *range(0x202A, 0x202F), *range(0x2060, 0x2070),
    0x3164, *range(0xFE00, 0xFE10), 0xFEFF, 0xFFA0,
    0xE0000, 0xE0001, *range(0xE007F, 0xE0080), *range(0xE0100, 0xE01F0),
)  # fmt: skip
#: The language tag characters that spell ASCII (U+E0020 to U+E007E): the injection scorer
#: reads them as the ASCII they spell; the recognisers drop them like the others.
TAGS = range(0xE0020, 0xE007F)


def char_class(codes: Iterable[int]) -> str:
    """The body of a regex character class (no brackets) matching exactly ``codes``, runs of
    consecutive code points written as ranges, each character escaped where ``re`` needs it.
    Shared with the prompt-injection normaliser, which builds its classes the same way."""
    codes = sorted(codes)
    parts: list[str] = []
    start = prev = codes[0]
    for code in [*codes[1:], -1]:
        if code == prev + 1:
            prev = code
            continue
        first, last = re.escape(chr(start)), re.escape(chr(prev))
        parts.append(first if start == prev else f"{first}-{last}")
        start = prev = code
    return "".join(parts)


INVISIBLE_CLASS = (
    char_class([code for code in INVISIBLE if code < 0x10000]) + "\U000e0000-\U000e01ef"
)
_ANY = re.compile(f"[{INVISIBLE_CLASS}]")
_RUN = re.compile(f"[{INVISIBLE_CLASS}]+")
_SPLIT = re.compile(f"([{INVISIBLE_CLASS}]+)")
_VISIBLE = re.compile(f"[^{INVISIBLE_CLASS}]")


def has_invisible(text: str) -> bool:
    """Whether ``text`` holds an invisible character (one C-level scan; none in ASCII)."""
    return not text.isascii() and _ANY.search(text) is not None


def compact(text: str) -> tuple[str, Offsets]:
    """``text`` without its invisible characters, and where each character kept came from.

    ``offsets[i]`` is the index in ``text`` of the compacted copy's ``i``-th character, so
    a span ``(s, e)`` of the copy covers ``text[offsets[s] : offsets[e - 1] + 1]``. The
    copy is one substitution in C; the offsets are worked out only when first read (most
    texts hold no value across invisible characters, and need none).
    """
    visible = _RUN.sub("", text)
    return visible, Offsets(text, len(visible))


class Offsets:
    """Where each character of a compacted copy came from, read off the starts of the
    visible stretches (in the copy and in the original) rather than kept one by one: built
    in C (one split, sums) on first use, however many runs of invisible characters the
    text holds."""

    __slots__ = ("_copied", "_original", "_size", "_text")

    def __init__(self, text: str, size: int) -> None:
        self._text = text
        self._size = size
        self._copied: list[int] = []
        self._original: list[int] = []

    def __len__(self) -> int:
        return self._size

    def _build(self) -> None:
        # [visible, invisible, visible, ..., visible]: one split, in C.
        parts = _SPLIT.split(self._text)
        copied = list(accumulate(map(len, parts[::2]), initial=0))
        removed = accumulate(map(len, parts[1::2]), initial=0)
        self._original = list(map(add, copied, removed))
        self._copied = copied[:-1]

    def __getitem__(self, index: int) -> int:
        if index < 0:
            index += self._size
        if not 0 <= index < self._size:
            raise IndexError(index)
        if not self._copied:
            self._build()
        # The last stretch that starts at or before ``index`` (an empty one is followed by
        # one that starts where it does).
        stretch = bisect_right(self._copied, index) - 1
        return self._original[stretch] + index - self._copied[stretch]


def visible_start(text: str, end: int, count: int, floor: int) -> int:
    """Where the last ``count`` visible characters of ``text[:end]`` begin, not before ``floor``.

    A stream holds back a tail long enough for the longest value; a value written with
    invisible characters between its own is longer than that by as many, so the tail is
    counted in visible characters. ``floor`` bounds how far back it may reach. The tail
    starts at a visible character (a value never starts with an invisible one), so a run of
    invisible characters alone is not held back at all.
    """
    start = end - count
    if start <= floor or text.isascii():
        return max(start, floor, 0)
    while True:
        hidden = len(_ANY.findall(text, start, end))
        reach = end - count - hidden
        if reach == start or reach <= floor:
            start = max(reach, floor, 0)
            break
        start = reach
    shown = _VISIBLE.search(text, start, end)
    return end if shown is None else shown.start()
