"""The canonical form every prompt-injection detector reads.

An attacker hides a phrase from a pattern by writing it differently, not by changing what
it says to the model: full-width or mathematical letters, Cyrillic and Greek look-alikes,
a combining accent or a Braille blank after every letter, zero-width and tag characters,
letters spaced, dotted or hyphenated apart, leetspeak. :func:`canonical` undoes all of
these, in this order:

1. tag characters (U+E0020–U+E007E) read as the ASCII they spell ("ASCII smuggling");
2. NFKD, then every combining mark (categories Mn, Me), format character (Cf), the invisible
   characters of :mod:`~agentdock_plugins.policies.invisible` (variation selectors, Hangul
   fillers, ...) and the Braille blank U+2800 dropped, then NFKC (recomposing Hangul);
3. case folded;
4. confusables folded to ASCII: every character that Unicode's confusables data (shipped by
   the ``confusable-homoglyphs`` package) lists as a look-alike of an ASCII letter or digit;
5. letter-separated words joined: ``i g n o r e``, ``i.g.n.o.r.e``, ``i-g-n-o-r-e`` (a run
   of single characters set apart by one repeated separator, three or more with spaces, two
   or more with punctuation); a wider gap
   between two runs stays a space;
6. leetspeak folded inside words that hold letters: ``0 1 3 4 5 7 @ $`` read as
   ``o i e a s t a s`` (``h3ll0`` is ``hello``; ``2024`` and ``A-1001`` are left alone).

The form is lossy on purpose (accents go, Cyrillic ``о`` becomes ``o``): the detectors'
phrases are put through the same function when they are compiled, so both sides agree.
Pure-ASCII text, the common case, skips steps 1–4 after one ``str.isascii`` check.
"""

from __future__ import annotations

import os
import re
import unicodedata
from collections.abc import Callable, Mapping
from functools import lru_cache
from itertools import islice
from typing import Any

import confusable_homoglyphs
import re2

from agentdock_plugins.policies import injection_confusables, injection_unstable
from agentdock_plugins.policies.invisible import INVISIBLE, char_class

__all__ = [
    "CONTINUATION",
    "LEET",
    "byte_table",
    "canonical",
    "confusable_table",
    "strip_hidden",
    "strip_hidden_clean",
]

#: Leetspeak digits and symbols, read as letters inside a word that holds letters.
LEET = str.maketrans(
    {"0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t", "@": "a", "$": "s"}
)
_TAGS = {cp: cp - 0xE0000 for cp in range(0xE0020, 0xE007F)}
#: Planes whose marks and format characters are dropped (others hold none in use).
_SCANNED = (*range(0x0, 0x20000), *range(0xE0000, 0xE0200))


def _ranges(codes: set[int]) -> list[tuple[int, int]]:
    ranges: list[tuple[int, int]] = []
    for code in sorted(codes):
        if ranges and ranges[-1][1] == code - 1:
            ranges[-1] = (ranges[-1][0], code)
        else:
            ranges.append((code, code))
    return ranges


def marks_and_format() -> list[tuple[int, int]]:
    """The combining marks and format characters (``Mn``, ``Me``, ``Cf``) of the planes
    in use, as ranges of consecutive code points: computed over 130k code points (some
    15 ms), so stored in :mod:`~agentdock_plugins.policies.injection_unstable` for the
    running Unicode version."""
    return _ranges(
        {code for code in _SCANNED if unicodedata.category(chr(code)) in {"Mn", "Me", "Cf"}}
    )


def stored_ranges(table: str) -> list[tuple[int, int]]:
    """The ranges of a table of :mod:`~agentdock_plugins.policies.injection_unstable`."""
    ranges: list[tuple[int, int]] = []
    for cell in table.split():
        first, _, last = cell.partition("-")
        ranges.append((int(first, 16), int(last or first, 16)))
    return ranges


#: Whether the stored tables are of the running Python's Unicode version (else every text
#: is normalised whole, and the marks are found at import).
_TABLE_CURRENT = unicodedata.unidata_version == injection_unstable.UNIDATA_VERSION


def _hidden_codes() -> dict[int, None]:
    codes = dict.fromkeys(INVISIBLE)
    codes[0x2800] = None  # Braille pattern blank: looks like a space, is a letter
    marks = stored_ranges(injection_unstable.MARKS) if _TABLE_CURRENT else marks_and_format()
    for first, last in marks:
        codes.update(dict.fromkeys(range(first, last + 1)))
    # Tags not read as ASCII (the cancel tag and the language tag) are dropped too.
    for code in range(0xE0000, 0xE0080):
        codes.setdefault(code, None)
    return codes


_HIDDEN = _hidden_codes()


#: ``re`` checks a class's BMP part in a bitmap but each astral range one by one for every
#: character of the text, so classes here are their BMP part and the whole astral range;
#: an astral match is then looked up (:func:`_search`, :func:`_drop`).
_ASTRAL = "\U00010000-\U0010ffff"
#: A run of them: ``sub`` then replaces each run once (a text of marks alone is one
#: replacement, not one per character).
_HIDDEN_BMP_CLASS = char_class([c for c in _HIDDEN if c < 0x10000])
_HIDDEN_BMP = re.compile(f"[{_HIDDEN_BMP_CLASS}]+")
#: A hidden character or a combining mark in NFC text: an accent on a letter that has a
#: precomposed form is composed by NFC and so not found (``é`` in French is no disguise).
_HIDDEN_CHAR = re.compile(f"[{_HIDDEN_BMP_CLASS}{_ASTRAL}]")
_ANY_ASTRAL = re.compile(f"[{_ASTRAL}]")


def _search(pattern: re.Pattern[str], text: str, members: Mapping[int, object]) -> bool:
    """Whether ``text`` holds a character of ``pattern``'s class that is in ``members``."""
    for match in pattern.finditer(text):
        code = ord(match.group())
        if code < 0x10000 or code in members:
            return True
    return False


def _drop_all(text: str) -> str:
    """``text`` without its hidden characters and combining marks: every run of them in the
    BMP replaced at once, then (where an astral character is left) a ``translate``."""
    text = _HIDDEN_BMP.sub("", text)
    if _ANY_ASTRAL.search(text) is not None:
        text = text.translate(_HIDDEN)
    return text


#: Distinct hidden characters dropped one ``str.replace`` at a time before
#: :func:`_drop_all` does the rest.
_MAX_DROPS = 8


def _drop(text: str) -> str:
    """:func:`_drop_all`'s answer, cheaper where marks are sparse and few: NFKD text of the
    accented languages holds a few distinct marks, each alone after its letter, and one
    ``str.replace`` per mark (a C-level scan) costs less than a ``sub`` that builds the text
    again around every one (4 KB of the corpus's ten languages: some 70 µs, the
    replacements some 45). Where hidden characters come in runs (two in a row), make up a
    sixteenth of the text or are of many kinds, ``sub`` replaces each run at once and
    :func:`_drop_all` takes over (100 KB of marks and blanks, one run, cost some 190 µs
    there and 790 replaced character by character)."""
    find = _HIDDEN_CHAR.search
    match = find(text)
    steps = 0
    while match is not None:
        char = match.group()
        at = match.start()
        steps += 1
        if (
            steps > _MAX_DROPS
            or ord(char) >= 0x10000  # an astral character, hidden or not
            or ord(text[at + 1 : at + 2] or "a") in _HIDDEN
        ):
            return _drop_all(text)
        size = len(text)
        text = text.replace(char, "")
        if (size - len(text)) << 4 > size:
            return _drop_all(text)
        match = find(text, at)
    return text


def _stripped_all(text: str) -> str:
    """``text`` with compatibility forms decomposed, marks and hidden characters dropped,
    the rest composed again."""
    return unicodedata.normalize("NFKC", _drop(unicodedata.normalize("NFKD", text)))


def unstable_ranges() -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
    """``(unstable, costly)``: two sets of code points, as ranges of consecutive ones.

    Unstable: the characters that NFKD or NFKC may change or join to what precedes them:
    one that decomposes (canonically or by compatibility), a combining mark (canonical
    combining class other than 0), the second of a canonical decomposition (it may compose
    with the character before it: an accent, a Tamil or Kannada length mark) and the Hangul
    vowel and trailing consonant jamo (a syllable absorbs them). Every other character is a
    starter that is NFKC_QC=Yes and NFC_QC=Yes: NFKC of a text is NFKC of what precedes it
    followed by NFKC of the rest (Unicode Standard Annex #15), and so is NFKD.

    Costly: the characters whose NFKD holds one that may compose with what precedes it and
    is not a mark that :func:`_drop` takes away (Hangul syllables and jamo, Indic two-part
    vowels): where one is left after NFKD, CPython's NFKC composes the whole text again.

    Computed over every code point (some 0.3 s); stored in
    :mod:`~agentdock_plugins.policies.injection_unstable` for the running Unicode version.
    """
    composing = set(range(0x1161, 0x1176)) | set(range(0x11A8, 0x11C3))
    unstable: set[int] = set()
    for code in range(0x110000):
        char = chr(code)
        parts = unicodedata.decomposition(char).split()
        if parts:
            unstable.add(code)
            if len(parts) == 2 and not parts[0].startswith("<"):
                composing.add(int(parts[1], 16))
        elif unicodedata.combining(char):
            unstable.add(code)
    unstable |= composing
    kept = {code for code in composing if unicodedata.category(chr(code)) not in {"Mn", "Me"}}
    costly = set(kept)
    for code in [*unstable, *range(0xAC00, 0xD7A4)]:  # and Hangul syllables
        if any(ord(char) in kept for char in unicodedata.normalize("NFKD", chr(code))):
            costly.add(code)
    return _ranges(unstable), _ranges(costly)


def _write_unstable_table() -> None:
    """Write :mod:`~agentdock_plugins.policies.injection_unstable` for the running Python's
    Unicode version (``python -m agentdock_plugins.policies.injection_normal``)."""
    import textwrap
    from pathlib import Path

    unstable, costly = unstable_ranges()

    def rows(ranges: list[tuple[int, int]]) -> str:
        cells = [f"{a:04X}" if a == b else f"{a:04X}-{b:04X}" for a, b in ranges]
        return textwrap.fill(" ".join(cells), 96) + "\n"

    Path(__file__).with_name("injection_unstable.py").write_text(
        '"""Code points that NFKD or NFKC may change or join to the character before them,\n'
        "those that make CPython's NFKC compose a whole text again (see\n"
        ":func:`~agentdock_plugins.policies.injection_normal.unstable_ranges`) and the\n"
        "combining marks and format characters (``marks_and_format`` there), for one\n"
        "Unicode version, as hexadecimal code points and ranges of them (a string: no\n"
        "tuples to build at import).\n"
        "Generated by ``python -m agentdock_plugins.policies.injection_normal``; a test checks\n"
        'it against the running Python\'s Unicode data."""\n\n'
        f'UNIDATA_VERSION = "{unicodedata.unidata_version}"\n'
        f'UNSTABLE = """\n{rows(unstable)}"""\n'
        f'COSTLY = """\n{rows(costly)}"""\n'
        f'MARKS = """\n{rows(marks_and_format())}"""\n'
    )


def _range_class(table: str) -> str:
    """The body of a regex character class matching the BMP part of a stored table."""
    return "".join(
        f"{re.escape(chr(first))}-{re.escape(chr(min(last, 0xFFFF)))}"
        for first, last in stored_ranges(table)
        if first < 0x10000
    )


@lru_cache(maxsize=1)
def _hidden_or_costly() -> re.Pattern[str]:
    """A hidden character, an astral one or a costly one (see :func:`unstable_ranges`):
    where the first is a costly one, :func:`canonical` goes on looking with
    :data:`_HIDDEN_CHAR`. Compiled at first use (some 1.8 ms: the class holds every Hangul
    syllable), not at import."""
    costly = _range_class(injection_unstable.COSTLY) if _TABLE_CURRENT else ""
    return re.compile(f"[{_HIDDEN_BMP_CLASS}{costly}{_ASTRAL}]")


#: Characters of a text :func:`strip_hidden_clean` looks at with ``re`` before RE2 reads all.
_PROBE = 256


@lru_cache(maxsize=1)
def _hidden_char_re2() -> Any:
    """:data:`_HIDDEN_CHAR`'s class for RE2 over UTF-8 (the module is untyped): ``re`` tries
    its class at every character (4 KB of the corpus's nine other languages: some 29 µs),
    RE2's DFA reads the 11 KB of their UTF-8 in some 12 (with the encoding, 15). Compiled
    at first use."""
    return re2.compile(f"[{_HIDDEN_BMP_CLASS}{_ASTRAL}]")


@lru_cache(maxsize=1)
def _costly_re2() -> Any:
    """The costly characters (see :func:`unstable_ranges`) for RE2 over UTF-8, or ``None``
    where the stored table is of another Unicode version (then none is costly). Compiled
    at first use."""
    if not _TABLE_CURRENT:
        return None
    return re2.compile(f"[{_range_class(injection_unstable.COSTLY)}]")


def _holds(pattern: Any, fallback: re.Pattern[str], text: str) -> bool:
    """Whether ``text`` holds a character of RE2 ``pattern``'s class, read in its UTF-8;
    ``fallback`` (``re``, the same class) reads a text that holds a lone surrogate (no
    UTF-8 for RE2)."""
    try:
        raw = text.encode("utf-8")
    except UnicodeEncodeError:
        return fallback.search(text) is not None
    return pattern.search(raw) is not None


@lru_cache(maxsize=2)
def _windows(hidden: bool = True) -> re.Pattern[str]:
    """In the text reversed, a run of unstable characters (and of ``hidden`` ones) and the
    character after it (before it in the text: the one it may compose with). Astral
    characters are all taken as unstable (see :data:`_ASTRAL`). Captured: ``split`` hands
    the windows over in C. The pattern starts with the class itself (``[u][u]*``, not
    ``[u]+``): ``re`` then skips to a character of it in one loop (4 KB of Korean: some
    29 µs, not 60). Compiled at first use (some 2.5 ms), not at import."""
    body = _range_class(injection_unstable.UNSTABLE) + (_HIDDEN_BMP_CLASS if hidden else "")
    unstable = f"[{body}{_ASTRAL}]"
    return re.compile(f"({unstable}{unstable}*.?)", re.DOTALL)


def _windowed(text: str, windows: re.Pattern[str], normalise: Callable[[str], str]) -> str:
    """``normalise(text)``, computed over the ``windows`` of ``text`` alone (see
    :func:`_stripped`), or over the whole text where it holds a NUL."""
    if not _TABLE_CURRENT or "\x00" in text:
        return normalise(text)
    parts = windows.split(text[::-1])
    if len(parts) == 1:
        return text
    # Set apart by NUL (no window holds one), normalised in one call, put back in place.
    parts[1::2] = normalise("\x00".join(parts[1::2])[::-1])[::-1].split("\x00")
    return "".join(parts)[::-1]


def _stripped(text: str, costly: bool = False) -> str:
    """:func:`_stripped_all`'s answer; where ``text`` holds a costly character (see
    :func:`unstable_ranges`), computed over windows of it alone.

    A character that is neither unstable nor hidden is a starter that NFKD and NFKC leave
    as it is, that nothing before it composes with, and that is not dropped: the text can be
    cut before it and each piece normalised alone. CPython's ``normalize`` decomposes and
    composes again the whole text where one character is not NFKC_QC=Yes (after NFKD, every
    Korean syllable; 4 KB of text in the corpus's nine other languages cost some 130 µs
    there). A window is a run of unstable or hidden characters with the character before
    it; the windows, set apart by NUL, are normalised in one call and put back in place,
    all in C: the text is reversed so that the character before a run is the one after it
    (``re`` finds a run fast where the pattern starts with its class). Text without a
    costly character is normalised whole: each ``normalize`` is a fast check or a plain
    decomposition there, cheaper than the windows where accents are many (French prose)."""
    if not costly:
        return _stripped_all(text)
    return _windowed(text, _windows(), _stripped_all)


def _plain_costly(text: str) -> tuple[bool, str]:
    """``(whether NFC takes a character of text apart into a hidden one, the stripped
    form)``, for a costly text (see :func:`unstable_ranges`) with neither hidden nor
    astral characters, over one set of windows (see :func:`_stripped`): NFC too changes
    only the windows (its unstable characters are among NFKC's), and NFKD of the NFC form is
    NFKD of the text. Where NFC composes much (100 KB of distinct HTML references decode to
    12,800 characters of every script; NFC of them cost some 2 ms) it reads the windows
    alone; and the hidden characters are looked for in them alone (all are in windows)."""
    if not _TABLE_CURRENT or "\x00" in text:
        nfc = unicodedata.normalize("NFC", text)
        return nfc != text and _search(_HIDDEN_CHAR, nfc, _HIDDEN), _stripped_all(nfc)
    parts = _windows().split(text[::-1])
    if len(parts) == 1:
        return False, text
    windows = "\x00".join(parts[1::2])[::-1]
    nfc = unicodedata.normalize("NFC", windows)
    hidden = nfc != windows and _search(_HIDDEN_CHAR, nfc, _HIDDEN)
    parts[1::2] = _stripped_all(nfc)[::-1].split("\x00")
    return hidden, "".join(parts)[::-1]


def computed_confusable_table() -> dict[int, str]:
    """:func:`confusable_table` computed from the ``confusable-homoglyphs`` package's copy of
    Unicode's confusables data (a JSON decode and a loop over its 9,600 entries: some 20 ms,
    so stored in :mod:`~agentdock_plugins.policies.injection_confusables`)."""
    from confusable_homoglyphs.utils import load

    table: dict[int, str] = {}
    for char, glyphs in load("confusables.json").items():
        if len(char) != 1 or char.isascii():
            continue
        candidates = [g["c"] for g in glyphs if len(g["c"]) == 1 and g["c"].isascii()]
        letters = [c for c in candidates if c.isalpha()]
        digits = [c for c in candidates if c.isdigit()]
        pick = (letters or digits or [None])[0]
        if pick is not None:
            table[ord(char)] = pick.lower()
    return table


@lru_cache(maxsize=1)
def confusable_table() -> dict[int, str]:
    """Non-ASCII code point → the ASCII letter or digit it is confusable with (lower case).

    From Unicode's confusables data as the ``confusable-homoglyphs`` package ships it: a
    character that looks like several ASCII characters maps to the first letter among them
    (else the first digit). Read from the table stored for the installed version of the
    package, computed from its data where that is another version
    (:func:`computed_confusable_table`).
    """
    if (
        confusable_homoglyphs.__version__ != injection_confusables.SOURCE_VERSION
        or "CONFUSABLE_DATA" in os.environ  # the package reads another data directory
    ):
        return computed_confusable_table()
    table: dict[int, str] = {}
    for line in injection_confusables.CONFUSABLES.split("\n"):
        if line:
            table.update(dict.fromkeys(map(ord, line[1:]), line[0]))
    return table


def _write_confusable_table() -> None:
    """Write :mod:`~agentdock_plugins.policies.injection_confusables` for the installed
    ``confusable-homoglyphs`` (``python -m agentdock_plugins.policies.injection_normal``)."""
    from pathlib import Path

    by_form: dict[str, list[int]] = {}
    for code, ascii_form in computed_confusable_table().items():
        by_form.setdefault(ascii_form, []).append(code)
    lines = []
    for ascii_form, codes in sorted(by_form.items()):
        escaped = [f"\\u{c:04x}" if c < 0x10000 else f"\\U{c:08x}" for c in sorted(codes)]
        row = ascii_form
        for cell in escaped:
            if len(row) + len(cell) > 96:
                lines.append(row)
                row = ascii_form
            row += cell
        lines.append(row)
    body = "\n".join(lines)
    Path(__file__).with_name("injection_confusables.py").write_text(
        '"""Unicode\'s confusables data as the prompt-injection normaliser reads it: each line an\n'
        "ASCII letter or digit, then (as escapes) the non-ASCII characters confusable with it\n"
        "(see :func:`~agentdock_plugins.policies.injection_normal.confusable_table`), for one\n"
        "version of the ``confusable-homoglyphs`` package (a string: no JSON to decode at\n"
        "import, some 20 ms).\n"
        "Generated by ``python -m agentdock_plugins.policies.injection_normal`` from\n"
        f"confusable-homoglyphs {confusable_homoglyphs.__version__}; a test checks it against the\n"
        "installed package's data. Where another version is installed, the table is computed\n"
        'from its data instead."""\n\n'
        f'SOURCE_VERSION = "{confusable_homoglyphs.__version__}"\n'
        f'CONFUSABLES = """\n{body}\n"""\n'
    )


#: Hidden characters that NFC leaves as they are: no marks, none with a canonical
#: decomposition, and (a test checks it against the Unicode data) none in another
#: character's, nor a Hangul jamo. A text holding one is disguised whatever NFC makes of
#: the rest, so NFC is not computed for it: a text of marks makes NFC costly (100 KB of
#: U+0301, U+2800 and U+200B cost some 8 ms, NFKD 0.2), and NFKD of the text is NFKD of
#: its NFC form.
_INERT = [
    code
    for code in _HIDDEN
    if code < 0x10000
    and not 0x1100 <= code <= 0x11FF
    and unicodedata.category(chr(code)) not in {"Mn", "Me"}
    and not unicodedata.decomposition(chr(code))
]
_INERT_CHAR = re.compile(f"[{char_class(_INERT)}]")
#: A tag character or an inert hidden one, in one scan (most texts hold neither).
_TAG_OR_INERT = re.compile(f"[{char_class(_INERT)}\U000e0000-\U000e007f]")

_CONFUSABLE = confusable_table()
#: Any character of the table: text without one (most text in any script) is not copied.
_CONFUSABLE_CHAR = re.compile(f"[{char_class([c for c in _CONFUSABLE if c < 0x10000])}{_ASTRAL}]")
_ANY_TAG = re.compile("[\U000e0000-\U000e007f]")

#: A run of single word characters set apart by one repeated separator: three or more
#: set apart by spaces, two or more by punctuation (``d.o``, ``a-n``).
_SPACED = re.compile(
    r"(?<![^\W_])(?:[^\W_](?P<space> )[^\W_](?:(?P=space)[^\W_])+"
    r"|[^\W_](?P<sep>[.\-_*·•/|+~,:;])[^\W_](?:(?P=sep)[^\W_])*)(?![^\W_])"
)
#: A word holding leetspeak characters: from the first place in a run of ``[a-z0-9@$]`` where
#: letters (``@``, ``$`` count) lead to a leetspeak character, to the run's end. Captured, so
#: that ``split`` hands the words over in C (a callback per word costs more). Written as
#: ``([a-z@$]*[0134573@$][a-z0-9@$]*)`` it split the same words, but tried every letter of
#: a run again (quadratic in a run's length: 6 ms for 100 KB of chunked base64). A word
#: starts only where no ``[a-z@$]`` precedes it (one there would have started it), and
#: possessive runs take the same characters the backtracking ones ended with.
_LEETY = re.compile(r"((?<![a-z@$])(?:[a-z]*+[@$]|[a-z@$]*+[0134573])[a-z0-9@$]*+)")


def byte_table(classes: dict[bytes, int], other: int) -> bytes:
    """A ``bytes.translate`` table: each byte of each key of ``classes`` maps to its value,
    every other byte to ``other`` (the decoders classify bytes with it too)."""
    table = bytearray([other]) * 256
    for chars, code in classes.items():
        for char in chars:
            table[char] = code
    return bytes(table)


_LETTERS = bytes(range(97, 123))
#: Shapes: the UTF-8 bytes of a text translated to one class letter each (a C-level pass),
#: so that what a regex would look for can first be ruled out with ``in``. Continuation
#: bytes of a multi-byte character are deleted: one character, one class letter.
CONTINUATION = bytes(range(0x80, 0xC0))
#: Letters ``a``, digits ``d``, separators ``s``: two single letters in a row, each set
#: apart (``sasas``), are in every letter-spaced word.
_UNITS = byte_table(
    {_LETTERS + bytes(range(0xC0, 0x100)): 97, b"0123456789@$": 100, b" .-_*/|+~,:;": 115}, 120
)
#: An ASCII letter next to a leetspeak character: where leetspeak may be. One RE2 pass over
#: the UTF-8 bytes (two two-byte searches of a shape of 4 KB cost some 11 µs); a byte of a
#: non-ASCII character is neither, so it parts the two as a space would.
_LEET_PAIR = re2.compile(rb"[a-z][0134573@$]|[0134573@$][a-z]")


#: ASCII text up to this length is asked :func:`_ascii_units`; a longer one is shaped (one
#: RE2 set reads the whole text, where ``in`` stops at a letter-spaced word: 100 KB of
#: spaced letters cost some 0.2 ms more).
_UNITS_TEXT = 16_384
#: A separator of :data:`_UNITS` (``s``), as an RE2 class over Latin-1 bytes.
_UNIT_SEP = rb"[ .\-_*/|+~,:;]"


def _units_set() -> Any:
    """The RE2 set of :func:`_ascii_units`: ``sasas`` in the padded :data:`_UNITS` shape of
    ASCII text (a letter ``a-z`` between separators or the text's ends, twice in a row, a
    separator between), :data:`_LEET_PAIR`, and the pattern that matches every text (its
    index missing: RE2 did not finish)."""
    options = re2.Options()
    options.encoding = re2.Options.Encoding.LATIN1
    units = re2.Set.SearchSet(options)
    spaced = rb"(?:^|" + _UNIT_SEP + rb")[a-z]" + _UNIT_SEP + rb"[a-z](?:" + _UNIT_SEP + rb"|$)"
    for index, pattern in enumerate((spaced, _LEET_PAIR.pattern, b"")):
        if units.Add(pattern) != index:
            raise RuntimeError("RE2 set indices out of step")
    units.Compile()
    return units


_UNITS_SET = _units_set()


def _ascii_units(text: str) -> tuple[bool | None, bool | None]:
    """For ASCII ``text``, whether ``sasas`` is in its padded :data:`_UNITS` shape and
    whether :data:`_LEET_PAIR` matches it, in one RE2 pass over its bytes: 4 KB of prose
    cost some 21 µs shaped, searched for ``sasas`` (``in`` is slow where ``s`` and ``a``
    are most bytes) and for a pair, the pass 16. ``(None, None)`` where RE2 did not
    finish."""
    found = _UNITS_SET.Match(text.encode("ascii"))
    if not found or 2 not in found:
        return None, None
    return 0 in found, 1 in found


def _shape(text: str, table: bytes) -> bytes:
    return text.encode("utf-8", "surrogatepass").translate(table, CONTINUATION)


#: Distinct look-alikes folded one ``str.replace`` at a time before one ``str.translate``
#: pass does the rest: ``translate`` looks every character of the text up in the table
#: (some 250 µs for 4 KB of text in the corpus's ten languages), a ``replace`` scans for
#: one character in C (a few µs), and Cyrillic prose holds a dozen or two distinct ones.
_MAX_REPLACES = 24


@lru_cache(maxsize=1)
def _confusable_runs() -> re.Pattern[str]:
    """A run of :data:`_CONFUSABLE_CHAR`'s characters, captured (compiled at first use)."""
    return re.compile(f"({_CONFUSABLE_CHAR.pattern}+)")


def _translate_confusables(text: str) -> str:
    """``text.translate(confusable_table())``, the runs of look-alikes alone translated
    (set apart by NUL, in one call: no look-alike is NUL, none reads as one). ``translate``
    looks every character up in the table: in the 13,800 characters of every script that
    100 KB of distinct HTML references decode to, some 1.8 ms; their 420 look-alikes, in
    230 runs, some 0.6 ms with the split."""
    if "\x00" in text:
        return text.translate(_CONFUSABLE)
    parts = _confusable_runs().split(text)
    if len(parts) == 1:
        return text
    parts[1::2] = "\x00".join(parts[1::2]).translate(_CONFUSABLE).split("\x00")
    return "".join(parts)


def _fold_confusables(text: str) -> str:
    """``text.translate(confusable_table())``, or ``text`` itself (the same object) where it
    holds no look-alike. Each look-alike found is replaced throughout with one
    ``str.replace``; its ASCII letter is no look-alike, so the scan goes on from where it
    was found. Past :data:`_MAX_REPLACES` distinct ones, ``translate`` does the rest."""
    find = _CONFUSABLE_CHAR.search
    match = find(text)
    steps = 0
    while match is not None:
        at = match.start()
        char = match.group()
        ascii_form = _CONFUSABLE.get(ord(char))
        if ascii_form is None:  # an astral character that is no look-alike
            match = find(text, at + 1)
            continue
        steps += 1
        if steps > _MAX_REPLACES:
            return _translate_confusables(text)
        text = text.replace(char, ascii_form)
        match = find(text, at + 1)
    return text


def strip_hidden(text: str) -> str:
    """``text`` with tags read as ASCII and hidden characters dropped; case and script kept.

    What the decoders read: a base64 blob with a zero-width space inside is still a blob,
    and its case still matters.
    """
    return strip_hidden_clean(text)[0]


def strip_hidden_clean(text: str) -> tuple[str, bool]:
    """``(strip_hidden(text), whether text is clean)``: *clean* text holds no character of
    :data:`_HIDDEN_CHAR`'s class (no hidden, no astral character), and is returned as it
    is. :func:`canonical` scans a text that is not ASCII for the same class; told that it
    is clean (``clean=True``), it does not scan again (4 KB of the corpus's nine other
    languages: one scan, some 30 µs)."""
    if text.isascii():
        return text, True
    # Tag characters are hidden ones too: a text without any is returned in one scan (by
    # RE2, unless ``re`` finds one in the first characters: a long text of marks is not
    # encoded for RE2 to find its first).
    if _HIDDEN_CHAR.search(text, 0, _PROBE) is None and not _holds(
        _hidden_char_re2(), _HIDDEN_CHAR, text
    ):
        return text, True
    if not _search(_HIDDEN_CHAR, text, _HIDDEN):
        return text, False
    if _ANY_TAG.search(text) is not None:
        text = text.translate(_TAGS)
    if not _search(_HIDDEN_CHAR, text, _HIDDEN):
        return text, False
    return _drop(text), False


#: Two single characters set apart by one space, between wider gaps or the text's ends.
_SPACED_PAIR = re.compile(r"(?:(?<=  )|(?<=^ )|^)([^\W_]) ([^\W_])(?=  | ?$)", re.MULTILINE)


def _join_run(match: re.Match[str]) -> str:
    return match.group()[::2]


def _leet(text: str) -> str:
    """``text`` with leetspeak folded in the words that hold a letter."""
    parts = _LEETY.split(text)
    words = parts[1::2]
    if not words:
        return text
    # Folded in one C-level pass (a word holds no NUL), kept where a word has no letter.
    folded = "\x00".join(words).translate(LEET).split("\x00")
    parts[1::2] = [f if w.strip(_NOT_LETTERS) else w for w, f in zip(words, folded, strict=True)]
    return "".join(parts)


_NOT_LETTERS = "0123456789@$"
#: A run of the characters :data:`_LEETY` matches (a class first: ``re`` skips to one fast).
_LEET_RUN = re.compile(r"([a-z0-9@$][a-z0-9@$]*)")


def _leet_sparse(text: str) -> str:
    """:func:`_leet`'s answer, for text where letters, digits, ``@`` and ``$`` are few
    (mostly other scripts: two UTF-8 bytes a character or more). :data:`_LEETY`, which
    starts with a look-behind, is tried at every character of the text; here only at those
    of its runs, set apart by spaces (a run starts where none of its characters precedes,
    as in the text, and folding keeps each run's length). 13,800 characters of every
    script (100 KB of distinct HTML references decoded), 1,700 of them in runs: some
    0.3 ms, not 0.85."""
    parts = _LEET_RUN.split(text)
    if len(parts) == 1:
        return text
    runs = " ".join(parts[1::2])
    folded = _leet(runs)
    if folded is runs:
        return text
    parts[1::2] = folded.split(" ")
    return "".join(parts)


def canonical(text: str, clean: bool = False) -> tuple[str, bool]:
    """``(canonical form, whether a disguise was taken off)`` (see the module docstring).

    A disguise is a hidden character, a combining mark left after NFC (one that no
    precomposed letter absorbs), combining marks typed after ASCII letters (``i\u0301``), a
    look-alike folded in text that also holds ASCII letters, a letter-separated word, or
    leetspeak. ``clean``: the caller knows that ``text`` holds no character of
    :data:`_HIDDEN_CHAR`'s class (:func:`strip_hidden_clean` said so), and it is not
    looked for again; the answer is the same.
    """
    disguised = False
    if text.isascii():
        out = text.lower()
    else:
        costly = False
        found: re.Match[str] | None = None
        if clean:
            # Nothing hidden, nothing astral: only a costly character is looked for (where
            # the table is of another Unicode version, none is costly), by RE2 (text of
            # other scripts without one: some 40 µs for 4 KB by ``re``, 15 by RE2).
            costly_re2 = _costly_re2()
            costly = costly_re2 is not None and _holds(costly_re2, _hidden_or_costly(), text)
        else:
            found = _hidden_or_costly().search(text)
        if found is not None and found.group() < "\U00010000" and ord(found.group()) not in _HIDDEN:
            # Korean and other text that CPython's NFKC composes again whole: normalised
            # in windows (see ``_stripped``). The scan goes on for the other branch.
            costly = True
            found = _HIDDEN_CHAR.search(text, found.end())
        if found is None:
            # Most text: no tag, inert or hidden character and no mark (each is one of
            # ``_HIDDEN_CHAR``'s), so this one scan answers for the three of the other
            # branch, unless NFC changes the text (it may take a letter apart into one
            # and a mark).
            if costly:
                disguised, out = _plain_costly(text)
            else:
                nfc = unicodedata.normalize("NFC", text)
                if nfc != text and _search(_HIDDEN_CHAR, nfc, _HIDDEN):
                    disguised = True
                out = _stripped_all(nfc)
        else:
            inert = False
            if _TAG_OR_INERT.search(text) is not None:
                if _ANY_TAG.search(text) is not None:
                    text = text.translate(_TAGS)
                inert = _INERT_CHAR.search(text) is not None
            if inert:
                disguised = True  # an inert hidden character is in the NFC form too
                out = _stripped(text)
            else:
                nfc = unicodedata.normalize("NFC", text)
                if _search(_HIDDEN_CHAR, nfc, _HIDDEN) or _stacked(text):
                    disguised = True
                # A costly character before the first hidden or astral one counts.
                out = _stripped(nfc, costly)
        out = out.casefold()
        if not out.isascii():
            folded = _fold_confusables(out)
            if folded is not out:
                if _has_ascii_letter(out):
                    disguised = True
                out = folded
    spaced = leet = None
    if out.isascii() and len(out) <= _UNITS_TEXT:
        spaced, leet = _ascii_units(out)
    if spaced is None:
        spaced = b"sasas" in b"s" + _shape(out, _UNITS) + b"s"
    if spaced and _SPACED.search(out) is not None:
        out = _SPACED.sub(_join_run, out)
        # In text spaced letter by letter, two-letter words (``m e``, ``i s``) are spaced
        # too; elsewhere two single letters are left alone.
        out = _SPACED_PAIR.sub(_join_run, out)
        disguised = True
        leet = None  # asked of the text before its letters were joined
    raw = out.encode("utf-8", "surrogatepass")
    if leet is None:
        leet = _LEET_PAIR.search(raw) is not None
    if leet:
        folded = _leet_sparse(out) if len(raw) >= 2 * len(out) else _leet(out)
        if folded != out:
            disguised = True
            out = folded
    return out, disguised


_ASCII_LETTER = re.compile("[a-z]")
#: A combining mark right after an ASCII letter, as written (before NFC composes it).
_MARK_AFTER_LETTER = re.compile("[A-Za-z][\u0300-\u036f]")
_COMBINING = re.compile("[\u0300-\u036f]")


def _stacked(text: str) -> bool:
    """Whether combining marks follow ASCII letters three times or more: accents typed as
    separate characters on English letters are a disguise (NFC text of any language has
    its accents composed)."""
    if _COMBINING.search(text) is None:
        return False
    return sum(1 for _ in islice(_MARK_AFTER_LETTER.finditer(text), 3)) >= 3


def _has_ascii_letter(text: str) -> bool:
    return _ASCII_LETTER.search(text) is not None


if __name__ == "__main__":
    _write_unstable_table()
    _write_confusable_table()
