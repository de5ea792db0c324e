"""Look-alike characters folded to ASCII, one character for one, for the PII recognisers.

A card number typed with full-width digits (``４１１１``), an address with a full-width at
sign (``bob＠example.com``) or an IPv4 address written with ideographic full stops
(``10。1。2。3``) is the same value to a reader; the recognisers match ASCII shapes, so they
run on :func:`fold`'s copy of the text, where every such character is replaced by its ASCII
form, and the redactor cuts the spans they find out of the original text.

Folding is one character for one, so the folded copy has the original's length and its
offsets are the original's: no offset map to build or consult, and a stream's hold-back is
the same in both. What folds:

* every character whose NFKC form is a single ASCII character: full-width forms, the
  no-break, thin and ideographic spaces, mathematical letters and digits, circled digits,
  superscripts, small form variants (``﹫``, ``﹒``) and the like;
* every decimal digit of any script (Arabic-Indic, Devanagari, ...) to its ASCII digit;
* the full stops NFKC leaves alone: ideographic ``。`` (U+3002), half-width ``｡`` (U+FF61)
  and the vertical form U+FE12, to ``.``;
* hyphens and dashes (U+2010 to U+2015, the minus sign U+2212 and their small and vertical
  forms) to ``-``.

A character whose NFKC form is several characters (``⑴``, ``ﬁ``, ``½``) is left as it is,
and so are invisible format characters (zero-width space, joiners, soft hyphen): the
recognisers accept those between the groups of a number instead (see ``recognisers.py``).
Pure-ASCII text, the common case, is returned as is after one ``str.isascii`` check; other
text costs a scan for look-alikes and a ``str.replace`` per distinct one found.
"""

from __future__ import annotations

import array
import re
import sys
import unicodedata

from agentdock_plugins.policies.invisible import INVISIBLE, has_invisible

__all__ = ["fold", "fold_checked", "fold_table"]

#: Full stops that NFKC does not map to ``.``.
_FULL_STOPS = "\u3002\uff61\ufe12"
#: Hyphens, dashes and minus signs read as ``-`` (U+2011, U+FE58, U+FE31, U+FE32 NFKC-map
#: to one of the others, which NFKC leaves alone).
_DASHES = "\u2010\u2011\u2012\u2013\u2014\u2015\u2212\ufe58\ufe31\ufe32"
#: Unicode blocks (by their first code point >> 8) that hold every character whose NFKC
#: form is one ASCII character; ``tests/unit/test_lookalikes.py`` checks this against the
#: whole code space of the running Python.
_NFKC_BLOCKS = (
    0x00, 0x01, 0x02, 0x03, 0x1D, 0x1F, 0x20, 0x21, 0x24, 0x2C, 0x30, 0xA7,
    0xFB, 0xFE, 0xFF, 0x107, 0x1D4, 0x1D5, 0x1D6, 0x1D7, 0x1F1, 0x1FB,
)  # fmt: skip
#: Decimal digits live in planes 0 and 1 only.
_DIGIT_PLANES_END = 0x20000


def _build() -> dict[str, str]:
    table: dict[str, str] = {}
    for block in _NFKC_BLOCKS:
        for code in range(max(block << 8, 0x80), (block + 1) << 8):
            char = chr(code)
            nfkc = unicodedata.normalize("NFKC", char)
            if len(nfkc) == 1 and nfkc < "\x80":
                table[char] = nfkc
    # Decimal digits of every script: ``re``'s ``\d`` knows them all, in C.
    codes = array.array("I", range(0x80, 0xD800)) + array.array(
        "I", range(0xE000, _DIGIT_PLANES_END)
    )
    every = codes.tobytes().decode("utf-32-le" if sys.byteorder == "little" else "utf-32-be")
    for digit in re.findall(r"\d", every):
        table.setdefault(digit, str(unicodedata.decimal(digit)))
    table.update(dict.fromkeys(_FULL_STOPS, "."))
    table.update(dict.fromkeys(_DASHES, "-"))
    return table


_TABLE = _build()
#: The same, for ``str.translate``.
_BY_CODE = {ord(char): ascii_form for char, ascii_form in _TABLE.items()}
#: Distinct characters folded one ``str.replace`` at a time before one ``str.translate``
#: pass is cheaper (a text of many distinct look-alikes, or of many emoji).
_MAX_STEPS = 16


def _class(chars: list[str]) -> str:
    """A regex character class of ``chars`` (sorted), written as ranges."""
    parts: list[str] = []
    codes = sorted(map(ord, chars))
    start = prev = codes[0]
    for code in [*codes[1:], -1]:
        if code == prev + 1:
            prev = code
            continue
        parts.append(
            re.escape(chr(start))
            if start == prev
            else f"{re.escape(chr(start))}-{re.escape(chr(prev))}"
        )
        start = prev = code
    return "".join(parts)


# One class: the foldable characters of the BMP (``re`` checks those in a two-level bitmap)
# and every astral character as one range (a list of astral ranges would be checked one by
# one for every character of the text); an astral match is looked up in the table.
_BMP_FOLDABLE = _class([c for c in _TABLE if c < chr(0x10000)])
_FOLDABLE = re.compile(f"[{_BMP_FOLDABLE}\U00010000-\U0010ffff]")
#: The same, and the invisible characters of the BMP (the astral ones are in it already):
#: :func:`fold_checked` learns whether a text holds any in the same scan.
_FOLDABLE_OR_HIDDEN = re.compile(
    f"[{_BMP_FOLDABLE}{_class([chr(c) for c in INVISIBLE if c < 0x10000])}\U00010000-\U0010ffff]"
)


def fold_table() -> dict[str, str]:
    """A copy of the folding table: original character to its ASCII form."""
    return dict(_TABLE)


def fold(text: str) -> str:
    """``text`` with every look-alike replaced by its ASCII form; same length, same offsets.

    Each distinct look-alike costs one ``str.replace`` over the text, so a text full of
    ideographic full stops costs about what a text with one does; past a few distinct ones
    (or astral characters without an ASCII form, such as emoji), one ``str.translate``
    pass does the rest, so no text costs more than that pass.
    """
    return fold_checked(text)[0]


def fold_checked(text: str) -> tuple[str, bool]:
    """:func:`fold`'s copy of ``text``, and whether it holds invisible characters.

    One scan does both: it looks for look-alikes and invisible characters together until it
    finds the first invisible one, then for look-alikes alone. Pure-ASCII text costs one
    ``str.isascii`` check.
    """
    if text.isascii():
        return text, False
    hidden = False
    pattern = _FOLDABLE_OR_HIDDEN
    match = pattern.search(text)
    steps = 0
    while match is not None:
        steps += 1
        if steps > _MAX_STEPS:
            folded = text.translate(_BY_CODE)
            return folded, hidden or has_invisible(folded)
        char = match.group()
        ascii_form = _TABLE.get(char)
        if ascii_form is None:  # invisible, or an astral character with no ASCII form
            if not hidden and has_invisible(char):
                hidden = True
                pattern = _FOLDABLE
            match = pattern.search(text, match.end())
            continue
        text = text.replace(char, ascii_form)
        match = pattern.search(text, match.start() + 1)
    return text, hidden
