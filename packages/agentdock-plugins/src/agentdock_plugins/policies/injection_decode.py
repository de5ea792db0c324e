"""Texts hidden inside a text: encodings decoded, nested and chunked, within fixed bounds.

A model reads base64, rot13 or reversed text and follows what it says, so a detector must
read it too. :func:`views` yields the text itself, then every text found by decoding it,
and what is found inside those, depth first:

========== ==================================================================================
transform  what is decoded
========== ==================================================================================
url        ``%XX`` escapes (``%49gnore``)
html       character references and entities (``&#105;gnore``, ``&lt;|im_start|&gt;``)
escape     ``\\uXXXX`` and ``\\xXX`` escapes
hex        a run of hex digits, spaced or ``\\x``/``0x``-prefixed bytes joined
base64     a blob of the standard or URL-safe alphabet, padded or not; also *chunked*: runs
           of same-length pieces set apart by spaces, commas or line breaks, joined again
base32     a blob of ``A-Z2-7`` (upper case, ``=`` padding optional)
base85     a blob of 20 or more characters of the base85 (RFC 1924) or Ascii85 alphabets
tags       tag characters read past (they are also read as the ASCII they spell)
rot13      the whole text, when it holds a rot13 spelling of an injection key word or is
           one token (a blob rot13'd after encoding)
reversed   the whole text read backwards, when it holds a key word spelled backwards or
           is one token
========== ==================================================================================

A decoded blob is kept only when it is UTF-8 text (mostly printable), so random tokens,
hashes and ids cost a failed decode and nothing else. Bounds: :data:`MAX_DEPTH` levels (an
attack base64-encoded three times and chunked is found), :data:`MAX_VIEWS` texts in all,
:data:`MAX_DECODED` characters decoded in all, :data:`MAX_BLOBS` blobs per text, each
decoded whole up to :data:`MAX_BLOB` characters and a longer one in overlapping windows of
that size (so padding a payload past the bound does not leave it encoded; a longer run of
chunked pieces is tried line by line, :data:`MAX_LINES` lines). The decoders themselves are in
:mod:`~agentdock_plugins.policies.injection_blobs`. Every scan is a C-level regex or ``str`` method
over text already bounded, so the work per call is linear in the input and capped by these
numbers whatever the input; :class:`Budget` counts it (the tests read the count).
"""

from __future__ import annotations

import contextlib
import html
import re
import urllib.parse
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from itertools import repeat
from typing import Any

import re2

from agentdock_plugins.policies.injection_blobs import (
    B85_NOT_TEXT_STARTS,
    BLOB_NOT_TEXT_STARTS,
    MAX_BLOB,
    MAX_WINDOWS,
    ROT13,
    WINDOW_STEP,
    b85_text,
    b85ish,
    decode_b85,
    decode_blob,
    decode_chunked,
    decode_chunked_windows,
    decode_windows,
    hex_text,
)
from agentdock_plugins.policies.injection_normal import (
    CONTINUATION,
    byte_table,
    canonical,
    strip_hidden,
    strip_hidden_clean,
)
from agentdock_plugins.policies.invisible import char_class

__all__ = [
    "KEY_WORDS",
    "MAX_BLOB",
    "MAX_BLOBS",
    "MAX_DECODED",
    "MAX_DEPTH",
    "MAX_LINES",
    "MAX_VIEWS",
    "Budget",
    "decode_once",
    "views",
]

MAX_DEPTH = 4
MAX_VIEWS = 24
MAX_DECODED = 65_536
MAX_BLOBS = 8
#: Lines of a run of chunked pieces longer than a blob that are tried one by one.
MAX_LINES = 64

#: Words an injection is written around; rot13 and reversed text is decoded only when it
#: holds one of them so spelled (one regex scan, instead of scoring every text twice more).
KEY_WORDS = (
    "ignore", "instruction", "previous", "prompt", "system", "reveal", "disregard",
    "forget", "override", "jailbreak", "anything now", "developer", "bypass", "pretend",
    "unrestricted", "guidelines", "rules", "secret", "password",
)  # fmt: skip
#: Texts up to this length are put in canonical form before key words are looked for.
_CANONICAL_KEYS = 4096
#: The most telling key words, looked for with ``in`` (a few substring tests are cheaper
#: than one regex alternation over the text).
_STEMS = (
    "instruct", "prompt", "ignor", "system", "disregard", "reveal", "jailbr", "anything",
    "forget", "guideline", "previous",
)  # fmt: skip
#: rot13 and reversal commute: rot13 of reversed stems leads to reversed text next.
_ROT13_STEMS = tuple(w.translate(ROT13) for w in _STEMS) + tuple(
    w[::-1].translate(ROT13) for w in _STEMS
)
_REVERSED_STEMS = tuple(w[::-1] for w in _STEMS)
#: Whether a text holds any stem of either list: one RE2 pass over its UTF-8 bytes (22
#: substring tests of 4 KB cost some 57 µs, the pass 14); only where it finds one are the
#: lists tested one by one, to tell rot13 from reversed.
_TURNED_STEMS = re2.compile("|".join(_ROT13_STEMS + _REVERSED_STEMS).encode())

_ANY_TAG = re.compile("[\U000e0020-\U000e007e]")
_NO_TAGS = dict.fromkeys(range(0xE0000, 0xE0080))
_URLENC = re.compile(r"%[0-9A-Fa-f]{2}")
_URL_RUN = re.compile(r"(?:%[0-9A-Fa-f]{2})+")
#: Character references and ``%XX`` escapes written backwards (``;501#&``, ``94%``).
_REVERSED_ENTITY = re.compile(r";(?:[0-9]{1,7}|[0-9A-Fa-f]{1,6}[xX])#&")
_REVERSED_URLENC = re.compile(r"[0-9A-Fa-f]{2}%")
#: The same over UTF-8 bytes: RE2 is handed bytes (``surrogatepass``), since a ``str`` with a
#: lone surrogate (JSON may carry one) cannot be encoded for it.
_REVERSED_URLENC_ANY = re2.compile(_REVERSED_URLENC.pattern.encode())
_ENTITY = re.compile(r"&(?:#[0-9]{1,7}|#[xX][0-9A-Fa-f]{1,6}|[A-Za-z][A-Za-z0-9]{1,31});")
_UESC = re.compile(r"(?:\\u[0-9A-Fa-f]{4}|\\x[0-9A-Fa-f]{2})+")
#: One blob: 16 or more characters of the base64 alphabets (hex and base32 are subsets).
_BLOB = re.compile(r"[A-Za-z0-9+/_-]{16,}={0,6}")
_BLOB_CHARS = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/_-")
_RUN = b"a" * 16
#: Pieces of a chunked blob: two or more runs set apart by spaces, commas or line breaks.
_CHUNKED = re.compile(
    r"(?<![A-Za-z0-9+/=_-])={0,6}(?:[A-Za-z0-9+/_-]{2,64}={0,6}[ \t\r\n,;|]{1,4}){2,}"
    r"[A-Za-z0-9+/_-]{1,64}={0,6}(?![A-Za-z0-9+/=_-])"
)
#: Blob characters (and ``=``) ``a``, chunk separators a space, the rest ``x``: three pieces
#: of one width in a row (``aaaaaaaa aaaaaaaa aaaaaaaa``) are where a chunked blob may be,
#: found in one pass over bytes (prose seldom has three words of one length in a row, each
#: mixing cases or digits, as :func:`_mixed` also asks).
_PIECES = bytes(
    97 if (i in _BLOB_CHARS or i == 61) else 32 if i in b" \t\r\n,;|" else 120 for i in range(256)
)
#: "Three runs of ``a`` of one width, 4 to 64, set apart by one to four spaces", one branch
#: per width: RE2 (a DFA, no back-references) finds it in one pass, some 7 µs for 4 KB where
#: ``re``'s ``(?<!a)(a{4,64}+)[ ]{1,4}\1[ ]{1,4}\1(?!a)`` took 48.
_EVEN_PIECES = re2.compile(
    b"(?:^|[^a])(?:"
    + b"|".join(b"a{%d} {1,4}a{%d} {1,4}a{%d}" % (n, n, n) for n in range(4, 65))
    + b")(?:[^a]|$)"
)


#: Shapes (see ``injection_normal``): upper case ``U``, lower case ``l``, digits ``d``. Prose
#: seldom has a lower case letter before an upper case one *and* a letter next to a digit;
#: base64 nearly always has both, base32 many upper case letters next to digits.
_CASES = byte_table(
    {b"ABCDEFGHIJKLMNOPQRSTUVWXYZ": 85, b"abcdefghijklmnopqrstuvwxyz": 108, b"0123456789": 100},
    32,
)
#: Hex digits ``h``, their separators ``s``: four spaced pairs (``hhshhshhshh``).
_HEXES = byte_table({b"0123456789abcdefABCDEF": 104, b" ,:": 115}, 32)
#: Anything but white space ``x`` (the ASCII characters ``str.split`` cuts at are spaces):
#: a run of 16 is where a token long enough to be a blob is.
_TOKENS = byte_table({b" \t\r\n\x0b\x0c\x1c\x1d\x1e\x1f": 32}, 120)
#: Hex digits rot13'd (``a-f`` read as ``n-s``) and their separators.
_ROT_HEXES = byte_table({b"0123456789abcdefnopqrsABCDEFNOPQRS": 104, b" ,:": 115}, 32)
_ROT_HEX_BYTES = re.compile(r"(?:[0-9a-fn-sA-FN-S]{2}[ ,:]?){8,}")
_ROT_HEX_LETTER = re.compile("[n-sN-S]")
#: Hex bytes written one by one: ``\x69\x67``, ``0x69 0x67``, ``69 67 6e``.
_HEX_BYTES = re.compile(r"(?:(?:\\x|0x)?[0-9A-Fa-f]{2}[ ,:]?){8,}")
_HEX_SEP = re.compile(r"\\x|0x|[ ,:]")
#: The two as RE2 patterns over UTF-8 bytes, which find the same runs (no look-arounds or
#: back-references; both engines take the leftmost match, first alternative first):
#: ``re`` spent some 7 ms on 100 KB of base64, where every few characters begin a run of
#: hex digits that it tries to extend.
_HEX_BYTES_RE2 = re2.compile(_HEX_BYTES.pattern.encode())
_ROT_HEX_BYTES_RE2 = re2.compile(_ROT_HEX_BYTES.pattern.encode())
#: A base85 candidate: a long token with characters outside the base64 alphabet.
_B85 = re.compile(r"(?:<~)?[!-~]{20,}(?:~>)?")
#: A URL: not a base85 blob, though it holds characters of that alphabet.
_URL_START = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://")
_B64_ONLY = re.compile(r"[A-Za-z0-9+/=_-]+")


@dataclass(slots=True)
class Budget:
    """What one text may still cost: views yielded and characters decoded."""

    views: int = MAX_VIEWS
    decoded: int = MAX_DECODED
    #: Characters every decoder scanned, in all (for the tests' bound on work).
    scanned: int = 0
    transforms: list[str] = field(default_factory=list)
    #: Canonical forms computed during this call: the decoders look for key words in a
    #: text's canonical form, and the rules then read the same text's.
    canonical_forms: dict[str, tuple[str, bool]] = field(default_factory=dict)
    #: A blob over :data:`MAX_BLOB` whose windows decode to text held more than the windows
    #: and this budget could read: a payload padded past the reader (rule
    #: ``unread_encoded``).
    unread: bool = False

    #: Texts :func:`views` found clean (see
    #: :func:`~agentdock_plugins.policies.injection_normal.strip_hidden_clean`): their
    #: canonical form is computed without scanning them for hidden characters again.
    clean: set[str] = field(default_factory=set)

    def canonical(self, text: str) -> tuple[str, bool]:
        """:func:`~agentdock_plugins.policies.injection_normal.canonical`, once per text."""
        found = self.canonical_forms.get(text)
        if found is None:
            found = self.canonical_forms[text] = canonical(text, text in self.clean)
        return found

    def take(self, text: str) -> bool:
        if self.views <= 0 or len(text) > self.decoded:
            return False
        self.views -= 1
        self.decoded -= len(text)
        return True


#: Texts with up to this many ``%`` have the characters before each looked at in Python.
_FEW_PERCENTS = 16
_HEX_DIGITS = frozenset("0123456789abcdefABCDEF")


def _url_backwards(text: str) -> bool:
    """Whether ``text`` holds ``%XX`` escapes written backwards (``D3%``), as many as or more
    than the forward ones (in its first 4,096 characters). Most texts hold none: RE2 says so
    in one pass (some 15 µs for 4 KB, ``re`` 20), or, where the text holds a few ``%``, a look
    at the two characters before each; where one is found, ``re`` counts them."""
    head = text[:4096]
    percents = head.count("%")
    if percents <= _FEW_PERCENTS:
        at = head.find("%", 2)
        while at >= 0 and not (head[at - 2] in _HEX_DIGITS and head[at - 1] in _HEX_DIGITS):
            at = head.find("%", at + 1)
        if at < 0:
            return False
    elif _REVERSED_URLENC_ANY.search(head.encode("utf-8", "surrogatepass")) is None:
        return False
    backwards = len(_REVERSED_URLENC.findall(text, 0, 4096))
    return backwards >= 2 and backwards >= len(_URLENC.findall(text, 0, 4096))


#: Common English words: prose holds some; the same prose rot13'd or written backwards holds
#: none, but its rot13 or reversed reading does.
_COMMON = frozenset((
    "the", "and", "you", "your", "to", "of", "is", "in", "all", "me", "this", "that", "what",
    "it", "my", "for", "with", "are", "now", "be", "not", "on", "do", "from", "will", "any",
    "an", "as", "at", "by", "or", "so", "if", "no",
))  # fmt: skip
_COMMON_ROT13 = frozenset(w.translate(ROT13) for w in _COMMON) - _COMMON
_COMMON_REVERSED = frozenset(w[::-1] for w in _COMMON) - _COMMON
_LETTERS_RUN = re.compile("[a-z]{3,}")


def _turned_prose(lower: str) -> tuple[bool, bool]:
    """Whether lower-case ``lower`` reads as rot13'd, or reversed, prose: of its words (three
    letters or more: hex pairs read as leetspeak make two-letter ones; in its first 2,000
    characters) at most one is a common English word, and once turned, more are (one where
    none was)."""
    words: list[str] = []
    common = 0
    end = 0
    for match in _LETTERS_RUN.finditer(lower, 0, _PROSE_SPAN):
        word = match.group()
        if word in _COMMON:
            common += 1
            if common > 1:
                return False, False  # prose as written: most texts end here, a few words in
        words.append(word)
        if len(words) == _FIRST_WORDS:
            end = match.end()
            break
    else:
        end = -1
    if end >= 0 and _ANY_LISTED.search(_letter_words(lower[end:_PROSE_SPAN])) is not None:
        # Past its first words, a text that has not shown itself to be English prose is
        # read in C: its other words listed by ``findall`` and counted with ``map`` (one
        # match object and one loop step a word cost 4 KB of other languages some 60 µs).
        # Where none of them is a word of the three lists, they change none of the counts
        # (``words`` holds 16 already): one RE2 pass says so, where listing the words of
        # 2,000 characters of other languages cost some 30 µs and counting them 12.
        rest = _LETTERS_RUN.findall(lower, end, _PROSE_SPAN)
        common += sum(map(_COMMON.__contains__, rest))
        if common > 1:
            return False, False
        words += rest
    if len(words) < 4:
        return False, False
    enough = 2 if common else 1
    rot13 = sum(map(_COMMON_ROT13.__contains__, words)) >= enough
    backwards = sum(map(_COMMON_REVERSED.__contains__, words)) >= enough
    return rot13, backwards


#: :func:`_turned_prose` reads a text's first characters, and its first words one by one.
_PROSE_SPAN = 2000
_FIRST_WORDS = 16
#: Lower case letters kept, every other byte a space: a text's UTF-8 so shaped holds its
#: words (as :data:`_LETTERS_RUN` finds them) set apart by spaces.
_LETTER_BYTES = bytes(i if 97 <= i <= 122 else 32 for i in range(256))
#: A word of three letters or more of the three lists, whole (``_LETTERS_RUN`` words are
#: three letters or more: a two-letter one never counts).
_ANY_LISTED = re2.compile(
    b" (?:"
    + b"|".join(
        w.encode() for w in sorted(_COMMON | _COMMON_ROT13 | _COMMON_REVERSED) if len(w) > 2
    )
    + b") "
)


def _letter_words(text: str) -> bytes:
    """``text``'s UTF-8 shaped by :data:`_LETTER_BYTES`, a space before and after (UTF-8's
    continuation bytes deleted: a character that is not ASCII is one space, and RE2 reads
    a third of the bytes of text in other scripts)."""
    return (
        b" " + text.encode("utf-8", "surrogatepass").translate(_LETTER_BYTES, CONTINUATION) + b" "
    )


#: Bytes past ASCII made spaces: with UTF-8's continuation bytes deleted, a character that is
#: not ASCII is one space.
_ASCII_BYTES = bytes(i if i < 128 else 32 for i in range(256))


def _narrow(text: str) -> bytes:
    """``text``'s UTF-8, each character that is not ASCII one space: where ASCII words (the
    stems of :data:`_TURNED_STEMS`) are looked for, they are found as in the UTF-8, and RE2
    reads a byte per character (4 KB of the corpus's nine other languages in canonical form
    are 11 KB of UTF-8: some 8 µs fewer)."""
    raw = text.encode("utf-8", "surrogatepass")
    return raw if len(raw) == len(text) else raw.translate(_ASCII_BYTES, CONTINUATION)


def decode_once(text: str, budget: Budget) -> Iterator[tuple[str, str]]:
    """``(transform, text)`` for every text found in ``text`` one level down."""
    budget.scanned += len(text)
    raw = text.encode("utf-8", "surrogatepass")
    # Key words are looked for in canonical form (look-alikes and spaced letters in rot13
    # or reversed text too), in texts of a prompt's length; longer ones in lower case.
    lower = budget.canonical(text)[0] if len(text) <= _CANONICAL_KEYS else text.lower()
    # Escapes written backwards, as many as the forward ones: the forward ones are chance
    # (``02%0c`` holds ``%0c``), so the text backwards is read first (views are read depth
    # first, within a budget that a junk decoding would spend).
    url_backwards = "%" in text and _url_backwards(text)
    if url_backwards:
        yield "reversed", text[::-1]
    if "%" in text and _URLENC.search(text):
        # Escapes that do not spell UTF-8 are not URL encoding (a rot13'd ``%R2``, say).
        with contextlib.suppress(UnicodeDecodeError):
            out = _URL_RUN.sub(_unquote_run, text)
            if out != text:
                yield "url", out
    if "&" in text and _ENTITY.search(text):
        out = _unescape_html(text)
        if out != text:
            yield "html", out
    if "\\" in text and _UESC.search(text):
        try:
            unescaped: str | None = _UESC.sub(_unescape, text)
        except UnicodeError:
            unescaped = None
        if unescaped is not None:
            yield "escape", unescaped
    rot13, backwards = _turned_prose(lower)
    stems = _TURNED_STEMS.search(_narrow(lower)) is not None
    if rot13 or (stems and any(stem in lower for stem in _ROT13_STEMS)):
        yield "rot13", text.translate(ROT13)
    if (
        backwards
        or (stems and any(stem in lower for stem in _REVERSED_STEMS))
        or ("#&" in text and _REVERSED_ENTITY.search(text) is not None)
    ) and not url_backwards:
        yield "reversed", text[::-1]
    tokens = _long_tokens(text, raw)
    reads = _Reads()
    yield from _blobs(text, raw, budget, tokens, reads)
    # A token may be a blob rot13'd or reversed after encoding.
    if tokens:
        yield from _turned_tokens(tokens, reads)


_Decoded = tuple[str, str] | None


class _Reads:
    """The decoders' answers for the tokens of one text: they depend on the token alone,
    so a token repeated in the text, or read again as a rot13 or reversed token, is
    decoded once (4 KB of code holds a few identifiers twice or more, each some 3 µs to
    try)."""

    __slots__ = ("_b85ish", "_base85", "_blob")

    def __init__(self) -> None:
        self._blob: dict[str, _Decoded] = {}
        self._base85: dict[str, _Decoded] = {}
        self._b85ish: dict[str, bool] = {}

    def blob(self, token: str) -> _Decoded:
        """:func:`~agentdock_plugins.policies.injection_blobs.decode_blob`."""
        if token in self._blob:
            return self._blob[token]
        found = self._blob[token] = decode_blob(token)
        return found

    def base85(self, token: str) -> _Decoded:
        """:func:`~agentdock_plugins.policies.injection_blobs.decode_b85`."""
        if token in self._base85:
            return self._base85[token]
        found = self._base85[token] = decode_b85(token)
        return found

    def b85ish(self, token: str) -> bool:
        """:func:`~agentdock_plugins.policies.injection_blobs.b85ish`."""
        found = self._b85ish.get(token)
        if found is None:
            found = self._b85ish[token] = b85ish(token)
        return found


_SIXTEEN = b"x" * 16
#: Text that is not ASCII, up to this many bytes, is cut around its runs of 16 characters
#: (at most :data:`_MAX_RUNS` of them) rather than split whole.
_RUNS_TEXT = 16_384
_MAX_RUNS = 16


def _long_tokens(text: str, raw: bytes) -> list[str]:
    """The tokens of ``text`` (as ``str.split`` cuts them) long enough to be a blob, 16
    characters or more. ``raw`` (its UTF-8) is shaped in one C-level pass, spaces and the
    rest; ASCII text, where a byte is a character, is then cut only around the runs of 16
    (``bytes.find``; splitting 4 KB of prose into its 600 words cost 23 µs, this 9).

    Other text is shaped with UTF-8's continuation bytes deleted, one byte per character
    (a run of 16 there is one of 16 characters; shaped first as it is, to see whether a run
    of 16 bytes was there, it cost 4 KB of other languages some 8 µs more), and cut the same
    way; each run (set apart by ASCII spaces, which ``str.split`` cuts at too) that is not
    ASCII is split, since ``str.split`` also cuts at other spaces (``\u3000``, ``\xa0``).
    4 KB of other languages, split whole, cost some 44 µs, cut around their runs 23. A
    longer text, or one with many runs (words of 16 characters or more), is split whole."""
    plain = text.isascii()
    if plain or len(raw) > _RUNS_TEXT:
        shape = raw.translate(_TOKENS)
        at = shape.find(_SIXTEEN)
        if at < 0:
            return []
        if not plain:
            return [t for t in text.split() if len(t) >= 16]
    else:
        shape = raw.translate(_TOKENS, CONTINUATION)
        at = shape.find(_SIXTEEN)
    found: list[str] = []
    runs = 0
    while at >= 0:
        end = shape.find(b" ", at + 16)
        run = text[at:] if end < 0 else text[at:end]
        if plain:
            found.append(run)
        else:
            runs += 1
            if runs > _MAX_RUNS:
                return [t for t in text.split() if len(t) >= 16]
            if run.isascii():
                found.append(run)
            else:
                found += [t for t in run.split() if len(t) >= 16]
        if end < 0:
            break
        at = shape.find(_SIXTEEN, end)
    return found


def _unquoted_blob(token: str) -> bool:
    """Whether URL-decoding ``token``, again while that changes it (up to the depth limit:
    a blob's ``=`` URL-encoded twice is ``%253D``), gives a blob that decodes."""
    out = token
    for _ in range(MAX_DEPTH - 1):
        try:
            unquoted = urllib.parse.unquote(out, errors="strict")
        except UnicodeDecodeError:
            return False
        if unquoted == out:
            break
        out = unquoted
    return out != token and (decode_blob(out) is not None or decode_b85(out) is not None)


#: A run of printable ASCII long enough to be a blob.
_ASCII_RUN = re.compile("[!-~]{16,}")


#: Printable ASCII ``a``, every other byte a space: a token's UTF-8 so shaped holds a run of
#: ``n`` ``a`` where the token holds ``n`` printable ASCII characters in a row.
_PRINTABLE = bytes(97 if 0x21 <= i <= 0x7E else 32 for i in range(256))


def _has_ascii_run(token: str, length: int) -> bool:
    """Whether non-ASCII ``token`` holds ``length`` printable ASCII characters in a row: two
    C-level passes over its bytes, where a scan by ``re`` of a few thousand characters of
    other scripts (a decoded text) cost some 0.1 ms."""
    shape = token.encode("utf-8", "surrogatepass").translate(_PRINTABLE)
    return b"a" * length in shape


def _ascii_runs(tokens: list[str]) -> Iterator[str]:
    """``tokens``, each that is not ASCII followed by its runs of :data:`_ASCII_RUN`."""
    for token in tokens:
        yield token
        if not token.isascii() and _has_ascii_run(token, 16):
            yield from (m.group() for m in _ASCII_RUN.finditer(token))


#: Tokens of base32 characters alone.
_B32_ONLY = re.compile("[A-Z2-7]+")


def _no_turned_blob(token: str) -> bool:
    """Whether no reading of ``token`` (of base64 characters: reversed, rot13'd, both)
    decodes as a blob, known without decoding (:func:`_turned_tokens`' test of the token
    itself does not count where no reading decodes): ``=`` only at the end of each, a
    reading one character past whole base64 quanta and not base32 (nor hex, being of odd
    length), or one that begins so that it decodes to nothing
    (:data:`~agentdock_plugins.policies.injection_blobs.BLOB_NOT_TEXT_STARTS`); rot13 and
    reversal keep a token's length and its base32 characters."""
    if "=" in token:
        return False
    if len(token) % 4 == 1 and _B32_ONLY.fullmatch(token) is None:
        return True
    heads = token[:-3:-1] + token[:2]  # the reversed reading's first two, then the token's
    turned = heads.translate(ROT13)
    never = BLOB_NOT_TEXT_STARTS
    return heads[:2] in never and turned[:2] in never and turned[2:] in never


def _b85_readable(token: str) -> bool:
    """Whether ``token`` or one of its readings (reversed, rot13'd, both) may decode as
    base85 (:func:`~agentdock_plugins.policies.injection_blobs.b85_text`): when none may,
    none decodes, and :func:`_turned_tokens` asks no more (``b85ish`` costs more)."""
    # The first two characters of each reading, looked up first (most tokens of prose and
    # code end there): a reading that begins so is refused by ``b85_text`` too.
    heads = token[:2] + token[:-3:-1]
    turned = heads.translate(ROT13)
    never = B85_NOT_TEXT_STARTS
    if (heads[:2] not in never and b85_text(token)) or (
        heads[2:] not in never and b85_text(token[::-1])
    ):
        return True
    if turned[:2] in never and turned[2:] in never:
        return False
    rot13 = token.translate(ROT13)
    return (turned[:2] not in never and b85_text(rot13)) or (
        turned[2:] not in never and b85_text(rot13[::-1])
    )


def _turned_tokens(tokens: list[str], reads: _Reads) -> Iterator[tuple[str, str]]:
    """Tokens that decode once rot13'd or reversed (as a blob of the alphabet they are
    written in, or with more ``%XX`` escapes than before): each such reading (at most
    :data:`MAX_BLOBS` tokens tried). rot13 and reversal keep a token's alphabet, so a token
    is decoded only the way its alphabet allows. A token that is not ASCII is read for its
    escapes, and its runs of 16 or more printable ASCII characters as tokens: a letter glued
    to a blob written backwards (``éA5GV...``) does not hide it."""
    for count, token in enumerate(_ascii_runs(tokens)):
        if count >= MAX_BLOBS:
            return
        if len(token) > MAX_BLOB or ("%" not in token and not token.isascii()):
            continue  # a token that is not ASCII is read only for its escapes (see below)
        if len(set(token)) < 5:
            continue
        decode: Callable[[str], tuple[str, str] | None] | None = None
        if _B64_ONLY.fullmatch(token):
            # A word in one case (``implementations``) is no blob; digits alone may be hex.
            plain = token.isalpha() and (token.islower() or token.isupper())
            if plain or _no_turned_blob(token):
                continue  # (a token of these characters has no ``%``)
            decode = reads.blob
        elif token.isascii() and reads.b85ish(token) and _b85_readable(token):
            # Every blob alphabet is ASCII, and rot13 and reversal keep a token's other
            # characters: a token that is not ASCII is read only for its ``%XX`` escapes.
            # ``b85ish`` first: most tokens of prose and code are no base85 (runs of lower
            # case letters), often known from ``_blobs`` already, and four readings' heads
            # and alphabets cost more (4 KB of prose with code: some 5 µs fewer).
            decode = reads.base85
        url = "%" in token
        if decode is None and not url:
            continue
        if decode is not None and decode(token) is not None:
            continue
        escapes = len(_URLENC.findall(token)) if url else 0
        rot13 = token.translate(ROT13)
        for name, turned, reading in (
            ("reversed", token[::-1], token[::-1]),
            ("rot13", rot13, rot13),
            ("rot13", rot13, rot13[::-1]),  # both: reversed at the next level
        ):
            if (decode is not None and decode(reading) is not None) or (
                url and (len(_URLENC.findall(reading)) > escapes or _unquoted_blob(reading))
            ):
                yield name, turned  # every reading that decodes: junk may decode too


def _unquote_run(match: re.Match[str]) -> str:
    """A run of ``%XX`` escapes as the UTF-8 text it spells (as ``urllib.parse.unquote``
    with ``errors="strict"`` reads it, one C-level ``fromhex`` per run instead of a Python
    step per escape)."""
    return bytes.fromhex(match.group().replace("%", "")).decode("utf-8")


#: ``html.unescape``'s pattern of a character reference, its body captured (a test checks
#: that it is the standard library's).
_CHARREF = re.compile(r"&(#[0-9]+;?|#[xX][0-9a-fA-F]+;?|[^\t\n\f <&#;]{1,32};?)")
#: Set between references unescaped together: no reference reads past it (``&`` and ``;``
#: end every kind), none starts with it, and no reference's text contains it.
_REF_SEP = "&;"
#: Texts up to this length are unescaped by ``html.unescape`` as they are.
_HTML_SAMPLE = 4096
#: :data:`_CHARREF`, matching the same references, with the digits of a decimal one of up to
#: seven digits captured apart (group 1) and every other reference's body in group 2.
_DECIMAL_CHARREF = re.compile(
    r"&(?:#([0-9]{1,7})(?![0-9]);?|(#[0-9]+;?|#[xX][0-9a-fA-F]+;?|[^\t\n\f <&#;]{1,32};?))"
)
#: Past Unicode: a number of 0x110000 or more is read as this one.
_PAST_UNICODE = 0x110000
#: References in a long text's first ones that tell whether it repeats them.
_REF_SAMPLE = 256


def _numeric_specials() -> dict[int, str] | None:
    """The numbers that ``html.unescape`` does not read as ``chr(number)``, up to
    :data:`_PAST_UNICODE` (which stands for every larger one), with what it reads them as.
    Its rules, in its order: its table of invalid references (0, CR, and 0x80-0x9F read as
    Windows-1252) first, then surrogates and numbers past Unicode as U+FFFD, then its
    invalid code points as nothing. ``None`` where the library keeps its tables under
    other names: every reference is then read by ``html.unescape``."""
    charrefs = getattr(html, "_invalid_charrefs", None)
    codepoints = getattr(html, "_invalid_codepoints", None)
    if not isinstance(charrefs, dict) or not isinstance(codepoints, set):
        return None
    specials: dict[int, str] = dict.fromkeys(codepoints, "")
    specials.update(dict.fromkeys(range(0xD800, 0xE000), "\ufffd"))
    specials[_PAST_UNICODE] = "\ufffd"
    specials.update(charrefs)
    return specials


_NUMERIC_SPECIALS = _numeric_specials()


def _decimal_chars(digits: list[str], specials: dict[int, str]) -> list[str]:
    """What ``html.unescape`` reads each decimal reference (its digits) as, in C-level
    ``map`` calls: ``int``, then ``chr`` unless the number is one of ``specials`` (no
    Python step per reference)."""
    numbers = [*map(int, digits)]
    if max(numbers) >= _PAST_UNICODE:
        numbers = [*map(min, numbers, repeat(_PAST_UNICODE))]
        chars = map(chr, map(min, numbers, repeat(_PAST_UNICODE - 1)))
    elif specials.keys().isdisjoint(numbers):
        return [*map(chr, numbers)]
    else:
        chars = map(chr, numbers)
    return [*map(specials.get, numbers, chars)]


#: A text of decimal references alone, each ended by ``;`` (``html.unescape`` reads each
#: the same, whatever follows it).
_DECIMAL_REFS = re.compile(r"(?:&#[0-9]{1,7}+;)++")


@lru_cache(maxsize=1)
def _html_otherwise() -> re.Pattern[str] | None:
    """A character that ``html.unescape`` may read a decimal reference to otherwise than
    as itself (see :func:`_numeric_specials`), or an astral one (a noncharacter, U+1FFFE
    and the like, is looked up): where expat's reading holds one, it is not used.
    Surrogates are left out (expat refuses them), and astral characters are one range
    (``re`` tries each astral range of a class in turn for every character). Compiled at
    first use."""
    if _NUMERIC_SPECIALS is None:
        return None
    bmp = (c for c in _NUMERIC_SPECIALS if c < 0xD800 or 0xDFFF < c < 0x10000)
    return re.compile(f"[{char_class(bmp)}\U00010000-\U0010ffff]")


def _read_by_expat(text: str) -> str | None:
    """``html.unescape`` of a text whose every ``&`` opens a numeric reference and that
    holds no ``<`` and no CR, read by the standard library's XML parser in C: 100 KB of
    distinct references in some 0.5 ms, where reading their numbers with ``int`` and
    ``chr`` cost some 3 ms. The document is one element around the text: it holds no
    markup, no entity and no declaration, and its text is read as written (XML changes
    only CR and line ends with CR). ``None`` where XML refuses the text (a reference to NUL,
    most controls, a surrogate, U+FFFE or past Unicode, one without ``;`` or with ``X``,
    such a character written out, ``]]>``, a lone surrogate: the parser stops) or where
    the reading holds a character that HTML reads a reference to otherwise
    (:func:`_html_otherwise`: C1 controls as Windows-1252, noncharacters as nothing)."""
    specials, otherwise = _NUMERIC_SPECIALS, _html_otherwise()
    if specials is None or otherwise is None:
        return None
    from xml.parsers import expat  # imported where first needed

    chunks: list[str] = []
    parser = expat.ParserCreate()
    parser.buffer_text = True
    parser.CharacterDataHandler = chunks.append
    try:
        parser.Parse(f"<a>{text}</a>", True)
    except (expat.ExpatError, UnicodeError):
        return None
    read = "".join(chunks)
    for match in otherwise.finditer(read):
        if ord(match.group()) in specials:  # not an astral character in Unicode
            return None
    return read


def _decimal_reads(digits: list[str], specials: dict[int, str]) -> list[str]:
    """:func:`_decimal_chars` of ``digits``; where the first ones repeat, each distinct one
    read once."""
    sample = digits[:_REF_SAMPLE]
    if len(set(sample)) * 2 > len(sample):
        return _decimal_chars(digits, specials)
    distinct = list(dict.fromkeys(digits))
    read = dict(zip(distinct, _decimal_chars(distinct, specials), strict=True))
    return [*map(read.__getitem__, digits)]


def _unescape_html(text: str) -> str:
    """``html.unescape(text)``, without a Python call per reference in a long text.

    ``html.unescape`` calls back into Python for every reference: 100 KB of ``&#105;`` cost
    some 9 ms, of distinct references (``&#256;&#257;...``) some 7.5 ms. A long text is
    split at its references in C; decimal ones (the common kind) are read by
    :func:`_decimal_chars`, each other reference once (set apart by :data:`_REF_SEP` in one
    ``html.unescape`` call), and all are put back by C-level ``map`` calls. Where the first
    references repeat, each distinct one is read once."""
    specials = _NUMERIC_SPECIALS
    if len(text) <= _HTML_SAMPLE or specials is None:
        return html.unescape(text)
    if "<" not in text and "\r" not in text and text.count("&") == text.count("&#"):
        # Numeric references alone, in text without markup or CR: read by expat where
        # XML and HTML read it alike.
        read = _read_by_expat(text)
        if read is not None:
            return read
    if text.endswith(";") and _DECIMAL_REFS.fullmatch(text) is not None:
        # Decimal references alone, each ended by ``;``: their digits are the text split
        # at ``;&#``, with no regex split building three parts per reference.
        return "".join(_decimal_reads(text[2:-1].split(";&#"), specials))
    parts = _DECIMAL_CHARREF.split(text)
    if len(parts) == 1:
        return text
    digits, others = parts[1::3], parts[2::3]
    if others.count(None) == len(others):
        parts[1::3] = _decimal_reads(digits, specials)
        parts[2::3] = [""] * len(others)
        return "".join(parts)
    numeric = dict.fromkeys(digits)
    numeric.pop(None, None)
    if numeric:
        numeric = dict(zip(numeric, _decimal_chars(list(numeric), specials), strict=True))
    named = dict.fromkeys(others)
    named.pop(None, None)
    if named:
        rest = list(named)
        unescaped = html.unescape("&" + (_REF_SEP + "&").join(rest)).split(_REF_SEP)
        if len(unescaped) != len(rest):  # a library whose references read differently
            return html.unescape(text)
        named = dict(zip(rest, unescaped, strict=True))
    parts[1::3] = map(numeric.get, digits, repeat(""))
    parts[2::3] = map(named.get, others, repeat(""))
    return "".join(parts)


def _unescape(match: re.Match[str]) -> str:
    return match.group().encode("ascii").decode("unicode_escape")


def _mixed(raw: bytes) -> bool:
    """Whether UTF-8 ``raw`` mixes cases and digits as base64 does (see :data:`_CASES`)."""
    cases = raw.translate(_CASES)
    return (
        b"d" in cases
        and (
            (b"lU" in cases and (b"ld" in cases or b"dl" in cases or b"Ud" in cases))
            or cases.count(b"Ud") + cases.count(b"dU") >= 4
        )
    ) or cases.count(b"lU") >= 4


def _b85_candidates(tokens: list[str]) -> Iterator[str]:
    """The base85 candidates (:data:`_B85`) in the tokens of 20 characters or more. A token
    of printable ASCII characters is one whole (a token holds no space), found without a
    regex scan of it."""
    for token in tokens:
        if len(token) < 20:
            continue
        if token.isascii() and token.isprintable():
            yield token
        elif token.isascii() or _has_ascii_run(token, 20):
            yield from (m.group() for m in _B85.finditer(token))


def _runs(pattern: Any, raw: bytes) -> Iterator[str]:
    """The matches of an ASCII RE2 ``pattern`` (the module is untyped) in UTF-8 ``raw``, as
    text."""
    for match in pattern.finditer(raw):
        yield match.group().decode("ascii")


def _blobs(
    text: str, raw: bytes, budget: Budget, tokens: list[str], reads: _Reads
) -> Iterator[tuple[str, str]]:
    """The blobs in ``text`` (``raw``: its UTF-8, ``surrogatepass``) decoded."""
    found = 0
    # Text that is not ASCII is shaped with UTF-8's continuation bytes deleted, a byte per
    # character: the shapes below are searched for runs of ASCII classes, which a character
    # of another script parts whatever its length (its lead byte is of no class), and the
    # searches then read a third of the bytes (4 KB of the corpus's nine other languages are
    # 12 KB of UTF-8: some 15 µs fewer).
    cut = b"" if len(raw) == len(text) else CONTINUATION
    # Base64 of text made of hex digits or a few letters may hold no digit: then several
    # lower case letters before an upper case one are the sign.
    # A hex digit is a digit of the rot13'd shape too: where that shape has no four spaced
    # pairs, the plain one has none either (one pass over most texts, not two).
    rot_pairs = b"hhshhshhshh" in raw.translate(_ROT_HEXES, cut)
    # Hex bytes rot13'd first: the plain hex between their letters (``4r``, ``5n``) is
    # fragments, which would spend the blobs (and, read first, the views) before them.
    if rot_pairs:
        for run in _runs(_ROT_HEX_BYTES_RE2, raw):
            if found >= MAX_BLOBS:
                return
            if _ROT_HEX_LETTER.search(run) is not None:
                found += 1  # hex bytes rot13'd: the run rot13'd back is decoded next
                yield "rot13", run.translate(ROT13)
    if "0x" in text or (rot_pairs and b"hhshhshhshh" in raw.translate(_HEXES, cut)):
        for run in _runs(_HEX_BYTES_RE2, raw):
            joined = _HEX_SEP.sub("", run)
            if len(joined) < 16 or len(joined) % 2:
                continue
            if found >= MAX_BLOBS:
                return
            out = hex_text(joined)
            if out is not None:
                found += 1
                yield "hex", out
            elif hex_text(joined[::-1]) is not None:
                found += 1  # hex bytes written backwards: the run reversed is decoded next
                yield "reversed", run[::-1]
    # Pieces of one width first: the case shapes' two-byte searches cost more (some 20 µs for
    # 4 KB, one RE2 pass 10) and most texts have no such pieces.
    pieces = raw.translate(_PIECES, cut)
    if _EVEN_PIECES.search(pieces) is not None and _mixed(raw):
        for m in _CHUNKED.finditer(text):
            run = m.group()
            # A run longer than a blob may be many chunked blobs, a line each: each line
            # is tried (the first MAX_LINES), so padding does not hide the one that counts.
            parts = [run] if len(run) <= MAX_BLOB else run.splitlines()[:MAX_LINES]
            for part in dict.fromkeys(parts):  # a line repeated is decoded once
                if found >= MAX_BLOBS:
                    return
                if len(part) > MAX_BLOB:
                    # One line of pieces over the bound: read in windows.
                    room = MAX_BLOBS - found
                    if (yield from _windows(decode_chunked_windows(part), len(part), budget, room)):
                        return
                    found += 1
                    continue
                decoded = decode_chunked(part)
                if decoded is not None:
                    found += 1
                    yield decoded
    #: Blobs read as base64 (or hex, base32): not tried again as base85.
    read: set[str] = set()
    # Blob characters are ``a`` in the pieces' shape (``=`` too): where it has no run of
    # 16, there is no blob to find (one pass fewer than a shape of its own).
    if tokens and _RUN in pieces:
        # The tokens hold no white space and a blob none: one scan of them joined by spaces
        # finds each token's blobs in turn (a scan per token cost 4 KB of prose with code
        # in it some 13 µs, the one scan 4).
        # (Scanned as it is read: a text of many blobs stops at MAX_BLOBS of them.)
        for m in _BLOB.finditer(" ".join(tokens)):
            if found >= MAX_BLOBS:
                return
            blob = m.group()
            if blob[:2] in BLOB_NOT_TEXT_STARTS and len(blob) <= MAX_BLOB:
                # Decodes to nothing, known from its first two characters (prose and code
                # tried as blobs mostly begin so: ``RawTextHelpFormatter``, ``+-----+``).
                continue
            if len(blob) > MAX_BLOB:
                # Too long to decode whole: read in windows (a padded payload is found).
                if (
                    yield from _windows(decode_windows(blob), len(blob), budget, MAX_BLOBS - found)
                ):
                    return
                read.add(blob)
                found += 1
                continue
            decoded = reads.blob(blob)
            if decoded is not None:
                read.add(blob)
                found += 1
                yield decoded
    if tokens:
        for token in _b85_candidates(tokens):
            if found >= MAX_BLOBS:
                return
            if len(token) > MAX_BLOB and token not in read and b85ish(token[:MAX_BLOB]):
                room = MAX_BLOBS - found
                windows = decode_windows(token, b85=True)
                if (yield from _windows(windows, len(token), budget, room)):
                    return
                found += 1
                continue
            if (
                len(token) > MAX_BLOB
                # Tokens that begin so decode to nothing (one set look-up, before the
                # alphabets' matches and ``b85ish``).
                or token[:2] in B85_NOT_TEXT_STARTS
                # Base85 may use only base64's characters: such a token is tried unless
                # it was read as base64 already.
                or token in read
                or _URL_START.match(token)
                or not b85_text(token)
                or not reads.b85ish(token)
            ):
                continue
            decoded = reads.base85(token)
            if decoded is not None:
                found += 1
                yield decoded


def _windows(
    windows: Iterator[tuple[str, str]], length: int, budget: Budget, room: int
) -> Generator[tuple[str, str], None, bool]:
    """The decoded windows of a blob of ``length`` characters, at most ``room`` of them;
    whether the caller's room for blobs is spent. When the windows spell text (of several
    kinds of characters: not one letter again and again) and the blob holds more than the
    windows or the budget read, :attr:`Budget.unread` is set."""
    texts = 0
    for window in windows:
        out = window[1]
        texts += len(set(out[:256])) >= 8
        if len(out) > budget.decoded or budget.views <= 0 or room <= 0:
            budget.unread = budget.unread or texts > 0
            return True
        room -= 1
        yield window  # taken from the budget before the next window is decoded
    if texts and length > (MAX_WINDOWS + 1) * WINDOW_STEP:
        budget.unread = True
    return room <= 0


def views(text: str, budget: Budget | None = None) -> Iterator[tuple[tuple[str, ...], str]]:
    """``(transforms, text)``: ``text`` itself (no transforms), then every text hidden in it.

    Depth first, so a text three encodings down is reached before its siblings' contents;
    each decoded text is yielded once (a text that decodes to itself, or to one already
    seen, ends there), but one reached again by a shorter path is decoded further from there
    (a junk decoding may reach a text first, by a longer way, and eat its depth).
    """
    budget = budget if budget is not None else Budget()
    plain, clean = strip_hidden_clean(text)
    if clean and not plain.isascii():
        budget.clean.add(plain)  # (``plain`` is ``text``: its canonical form is read first)
    yield (), plain
    #: Each text seen, and the fewest transforms it was reached by.
    seen = {plain: 0}
    stack: list[tuple[tuple[str, ...], str]] = [((), plain)]
    if not text.isascii() and _ANY_TAG.search(text) is not None:
        # Tag characters sprinkled inside words are read past, too: both readings count.
        untagged = strip_hidden(text.translate(_NO_TAGS))
        if untagged not in seen and budget.take(untagged):
            seen[untagged] = 1
            yield ("tags",), untagged
            stack.append((("tags",), untagged))
    while stack:
        path, current = stack.pop()
        if len(path) >= MAX_DEPTH:
            continue
        found: list[tuple[tuple[str, ...], str]] = []
        for transform, out in decode_once(current, budget):
            out, clean = strip_hidden_clean(out)
            if clean and not out.isascii():
                budget.clean.add(out)
            known = seen.get(out)
            if (known is not None and known <= len(path) + 1) or not budget.take(out):
                continue
            seen[out] = len(path) + 1
            where = (*path, transform)
            if known is None:
                budget.transforms.append(transform)
                yield where, out
            found.append((where, out))
            if budget.views <= 0:
                return
        stack.extend(reversed(found))
