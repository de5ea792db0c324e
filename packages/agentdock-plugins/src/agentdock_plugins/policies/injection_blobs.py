"""Blobs decoded: hex, base32, base64 (chunked too) and base85 tokens to the text they hold.

The byte-level decoders of :mod:`~agentdock_plugins.policies.injection_decode`, which finds
the candidate blobs in a text and bounds the work. Each decoder here returns
``(transform, text)`` or ``None``; a decoded blob is kept only when it is UTF-8 text, mostly
printable (:func:`texty`), so random tokens, hashes and ids cost a failed decode and
nothing else.
"""

from __future__ import annotations

import base64
import binascii
import codecs
import re
from collections import Counter
from collections.abc import Callable, Iterator

from agentdock_plugins.policies.injection_blob_starts import (
    A85_NOT_TEXT,
    B64_NOT_TEXT,
    B85_NOT_TEXT,
    B85_NOT_TEXT_STARTS,
    BLOB_NOT_TEXT_STARTS,
)
from agentdock_plugins.policies.injection_normal import CONTINUATION, strip_hidden

__all__ = [
    "B85_NOT_TEXT_STARTS",
    "BLOB_NOT_TEXT_STARTS",
    "MAX_BLOB",
    "ROT13",
    "b85_alphabet",
    "b85_text",
    "b85ish",
    "decode_b85",
    "decode_blob",
    "decode_chunked",
    "decode_chunked_windows",
    "decode_windows",
    "hex_text",
    "texty",
]

#: Longest blob decoded whole, in characters; a longer one is decoded in windows of this
#: size, :data:`WINDOW_STEP` apart (each a whole number of every encoding's quanta).
MAX_BLOB = 16_384
#: Windows overlap by half, so a payload of up to half a window, encoded, lies whole in one
#: of them however much is put before it; 8,192 stays a multiple of four through five
#: layers of base64 (a window of an outer layer starts on a quantum of the next).
WINDOW_STEP = MAX_BLOB // 2
#: Windows read per blob at most (the budget of decoded text usually ends it sooner).
MAX_WINDOWS = 8
ROT13 = str.maketrans(
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ",
    "nopqrstuvwxyzabcdefghijklmNOPQRSTUVWXYZABCDEFGHIJKLM",
)
_HEX = re.compile(r"(?:[0-9A-Fa-f]{2})+")
#: Bytes before hex-spelled text that may be left out (words before it read as hex pairs).
_HEX_LEAD = 32
_UTF8 = codecs.getincrementaldecoder("utf-8")
#: ASCII control bytes but tab and line breaks: the unprintable ASCII characters.
_CONTROLS = bytes(b for b in (*range(0x20), 0x7F) if b not in b"\t\n\r")
#: What ``surrogateescape`` reads a byte that is not UTF-8 as.
_ESCAPED = re.compile("[\udc80-\udcff]")
_B32 = re.compile(r"[A-Z2-7]+=*")
#: Characters of a long base32 blob decoded first, to see whether it spells text.
_PROBE = 64
_CHUNK_SEP = re.compile(r"[ \t\r\n,;|]+")
#: The URL-safe alphabet's two characters read as the standard one's.
_URLSAFE = bytes.maketrans(b"-_", b"+/")


def texty(raw: bytes, *, cut: bool = False) -> str | None:
    """``raw`` as text, if it is UTF-8 and mostly printable; else ``None``. ``cut``: ``raw``
    was cut out of longer bytes, so a character split at either end is left out."""
    if cut:
        raw = raw.lstrip(CONTINUATION)
        try:
            text = _UTF8().decode(raw, final=False)
        except UnicodeDecodeError:
            return None
    else:
        # Bytes that are not UTF-8 read as lone surrogates U+DC80-U+DCFF, which UTF-8 never
        # spells: refused without raising (most blobs tried are not text, and an exception
        # cost as much as the rest of the try).
        text = raw.decode("utf-8", "surrogateescape")
        if not text.isascii() and _ESCAPED.search(text) is not None:
            return None
    text = strip_hidden(text)
    if len(text) < 4:
        return None
    if text.isprintable():
        return text if any(c.isalnum() for c in text) else None
    if text.isascii():
        # Control bytes counted in C: a run of NULs is refused without a loop per byte.
        shown = len(text) - len(raw) + len(raw.translate(None, _CONTROLS))
    else:
        shown = sum(1 for c in text if c.isprintable() or c in "\n\r\t")
    if shown < len(text) * 0.95 or not any(c.isalnum() for c in text):
        return None
    return text


def hex_text(digits: str) -> str | None:
    """The text that hex ``digits`` spell. When the whole run is not text, a pair after it
    and the bytes before it that cannot begin UTF-8 text are left out, and the bytes after
    it that cannot end UTF-8 text: words that read as hex (``ab``, ``aaaa``) put before
    spaced bytes, or after them once the run is written backwards, are not a way past
    decoding."""
    data = bytes.fromhex(digits)
    ends = dict.fromkeys((len(data), len(data) - 1, _text_end(data)))
    for start in dict.fromkeys((0, 1, _text_start(data))):
        for end in ends:
            out = texty(data[start:end])
            if out is not None:
                return out
    return None


def _text_start(data: bytes) -> int:
    """The first of ``data``'s first :data:`_HEX_LEAD` bytes where UTF-8 can begin (0 when
    none can): each try decodes a 64-byte window, so the search is bounded."""
    for start in range(min(_HEX_LEAD, len(data))):
        try:
            _UTF8().decode(data[start : start + 64], final=False)
        except UnicodeDecodeError:
            continue
        return start
    return 0


def _text_end(data: bytes) -> int:
    """The last of ``data``'s last :data:`_HEX_LEAD` ends where UTF-8 can end (its length
    when none can): each try decodes the 64 bytes before it, those that continue a
    character cut at the window's start left out."""
    for end in range(len(data), max(len(data) - _HEX_LEAD, 0), -1):
        try:
            data[max(end - 64, 0) : end].lstrip(CONTINUATION).decode("utf-8")
        except UnicodeDecodeError:
            continue
        return end
    return len(data)


#: Characters that are all base64 (either alphabet), no ``=``.
_B64_DATA = re.compile(r"[A-Za-z0-9+/_-]+")


def decode_blob(blob: str, *, cut: bool = False) -> tuple[str, str] | None:
    """``(transform, text)`` a blob decodes to, trying hex, base32, then base64. ``cut``:
    the blob is a window of a longer one (see :func:`texty`)."""
    blob = blob.strip()
    core = blob.rstrip("=")
    try:
        if _HEX.fullmatch(blob) and len(blob) >= 16:
            out = texty(bytes.fromhex(blob), cut=cut)
            if out is not None:
                return "hex", out
        # base32 is decoded in Python: a long blob whose first 64 characters do not spell
        # text is not decoded further.
        if _B32.fullmatch(blob) and (
            len(core) <= _PROBE or texty(base64.b32decode(core[:_PROBE]), cut=True) is not None
        ):
            padded = core + "=" * (-len(core) % 8)
            out = texty(base64.b32decode(padded), cut=cut)
            if out is not None:
                return "base32", out
        # Refused before decoding (a failed try cost some 2 µs, most of it in Python): base64
        # one character past whole quanta, which ``a2b_base64`` refuses, and base64 whose
        # first two bytes cannot begin UTF-8 (``B64_NOT_TEXT``), which :func:`texty` refuses
        # (a blob cut out of a longer one may begin mid-character).
        if (len(core) % 4 == 1 or (not cut and core[:2] in B64_NOT_TEXT)) and (
            _B64_DATA.fullmatch(core) is not None
        ):
            return None
        data = (core + "=" * (-len(core) % 4)).encode("ascii")
        # ``base64.b64decode`` with ``altchars=b"-_"`` (not validated) or validated, called
        # without its wrapper's conversions (a blob is ASCII; non-ASCII raises ValueError).
        if "-" in blob or "_" in blob:
            raw = binascii.a2b_base64(data.translate(_URLSAFE))
        else:
            raw = binascii.a2b_base64(data, strict_mode=True)
        out = texty(raw, cut=cut)
        if out is not None:
            return "base64", out
    except (ValueError, binascii.Error):
        return None
    return None


def decode_windows(blob: str, *, b85: bool | None = None) -> Iterator[tuple[str, str]]:
    """``(transform, text)`` of each window of a blob longer than :data:`MAX_BLOB` that
    decodes: windows of :data:`MAX_BLOB` characters starting every :data:`WINDOW_STEP`
    (at most :data:`MAX_WINDOWS`), read as hex, base32 or base64, else as base85 (its step
    cut to a multiple of its five-character quanta). Padding a payload until its blob is
    over the bound does not leave it encoded; the work stays linear (each character is
    decoded at most four times). ``b85``: :func:`b85ish` of the first window, where the
    caller has it already (it costs a pass over 16 K characters)."""
    readers: list[tuple[int, Callable[..., tuple[str, str] | None]]] = []
    if _B64ISH.fullmatch(blob):
        readers.append((WINDOW_STEP, decode_blob))
    if b85 if b85 is not None else b85ish(blob[:MAX_BLOB]):
        readers.append((WINDOW_STEP - WINDOW_STEP % 5, decode_b85))
    for step, read in readers:
        found = False
        for count, start in enumerate(range(0, len(blob), step)):
            last = start + 2 * step >= len(blob)
            decoded = read(blob[start : start + 2 * step], cut=not last)
            if decoded is not None:
                found = True
                yield decoded
            elif read is decode_b85 and not found:
                break  # base85 is decoded in Python: a blob whose first window is not is left
            if last or count + 1 >= MAX_WINDOWS:
                break
        if found:
            return


def decode_chunked_windows(run: str) -> Iterator[tuple[str, str]]:
    """:func:`decode_windows` of a chunked blob longer than :data:`MAX_BLOB`: the longest
    stretch of its pieces of one width, joined (with the shorter piece after it, then
    without), so a padded payload cut into pieces is read too."""
    for joined in _stretch(_CHUNK_SEP.split(run.strip())):
        found = False
        for decoded in decode_windows(joined):
            found = True
            yield decoded
        if found:
            return


_B64ISH = re.compile(r"[A-Za-z0-9+/_-]+=*")


_ALNUM = re.compile("[A-Za-z0-9]")
#: The same as bytes, deleted from ASCII text by ``bytes.translate`` in C.
_ALNUM_BYTES = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
_WORDISH = re.compile("[a-z]{4,}")


def b85ish(token: str) -> bool:
    """Whether ``token`` may be a base85 blob: a quarter of that alphabet is punctuation, so
    a blob of varied bytes holds many kinds of it; one of few kinds of bytes (hex digits,
    say) is not mostly runs of lower case letters as a word of prose or code is
    (``FeedParser.feed()``)."""
    if len(set(token)) < 10:
        return False  # a run of dashes or a repeated pattern: no blob of 16 or more characters
    symbols: str | bytes
    if token.isascii():
        symbols = token.encode("ascii").translate(None, _ALNUM_BYTES)
    else:
        symbols = _ALNUM.sub("", token)
    if len(symbols) >= len(token) * 0.12 and len(set(symbols)) >= 4:
        return True
    # The words' characters, counted as those a substitution takes out (one C-level call).
    return len(token) - len(_WORDISH.sub("", token)) < len(token) * 0.4


#: The characters of the two base85 alphabets (RFC 1924; Ascii85 with its ``z`` and white
#: space): a token with any other is not decoded (the decoders loop in Python).
_B85_ALPHABET = re.compile(r"[0-9A-Za-z!#$%&()*+\-;<=>?@^_`{|}~]+")
_A85_ALPHABET = re.compile(r"[!-uz \t\r\n\x0b\x0c]+")


def b85_alphabet(token: str) -> bool:
    """Whether ``token`` is written in one of the base85 alphabets (one C-level match each:
    checked before :func:`b85ish`, which costs more)."""
    body = token.removeprefix("<~").removesuffix("~>")
    return _B85_ALPHABET.fullmatch(body) is not None or _A85_ALPHABET.fullmatch(body) is not None


def b85_text(token: str) -> bool:
    """Whether :func:`decode_b85` may find text in ``token`` (not ``cut``): it is written in
    one of the base85 alphabets, and its first two digits there may begin UTF-8 text
    (:mod:`~agentdock_plugins.policies.injection_blob_starts`). When not, the token decodes
    to nothing, known without decoding it (both decoders loop in Python) or asking
    :func:`b85ish`."""
    body = token.removeprefix("<~").removesuffix("~>")
    head = body[:2]
    return (head not in B85_NOT_TEXT and _B85_ALPHABET.fullmatch(body) is not None) or (
        head not in A85_NOT_TEXT and _A85_ALPHABET.fullmatch(body) is not None
    )


#: Characters of a long base85 body decoded first (a whole number of five-character groups).
_B85_PROBE = 640
#: Characters decoded before that: bytes that are not text mostly fail UTF-8 within them.
_B85_FIRST = 65


def _not_utf8(head: bytes, *, cut: bool) -> bool:
    """Whether bytes that begin a decoded blob already fail as UTF-8 (as :func:`texty`
    reads them): then the whole blob does too. The last four bytes are left out, since a
    group cut short at the probe's end is padded and may decode otherwise."""
    head = head[:-4]
    if cut:
        head = head.lstrip(CONTINUATION)
    try:
        _UTF8().decode(head, final=False)
    except UnicodeDecodeError:
        return True
    return False


def _probe_fails(decode: Callable[[bytes], bytes], head: str, *, cut: bool) -> bool:
    """Whether the first characters ``head`` of a body decode to bytes that already fail as
    UTF-8 (:func:`_not_utf8`): the bytes of a body's first groups begin the bytes of the
    body, so then the body fails too. A probe that does not decode (its end may be what
    fails) says nothing: the next probe, or the whole body, decides."""
    try:
        return _not_utf8(decode(head.encode("ascii")), cut=cut)
    except (ValueError, binascii.Error, UnicodeEncodeError):
        return False


def decode_b85(token: str, *, cut: bool = False) -> tuple[str, str] | None:
    """``(transform, text)`` a base85 or Ascii85 token decodes to. Both decoders loop in
    Python (a 16,384-character window cost some 20 ms): a body longer than
    :data:`_B85_PROBE` is decoded whole only when its first groups decode to bytes that may
    begin UTF-8 text (random bytes seldom do for long), looked at in its first
    :data:`_B85_FIRST` characters, then in the first :data:`_B85_PROBE`."""
    body = token.removeprefix("<~").removesuffix("~>")
    for name, decode, alphabet, not_text in (
        ("base85", base64.b85decode, _B85_ALPHABET, B85_NOT_TEXT),
        ("base85", base64.a85decode, _A85_ALPHABET, A85_NOT_TEXT),
    ):
        if alphabet.fullmatch(body) is None or (not cut and body[:2] in not_text):
            continue
        if len(body) > _B85_PROBE and (
            _probe_fails(decode, body[:_B85_FIRST], cut=cut)
            or _probe_fails(decode, body[:_B85_PROBE], cut=cut)
        ):
            continue
        try:
            out = texty(decode(body.encode("ascii")), cut=cut)
        except (ValueError, binascii.Error, UnicodeEncodeError):
            continue
        if out is not None:
            return name, out
    return None


def _chunks(run: str) -> list[str]:
    """Ways to read a run of pieces as one blob cut at a fixed width: the pieces joined,
    a word or two before or after the blob left out. The first piece may be short as well
    as the last (a chunked blob written backwards). Readings of more pieces come first and,
    of as many, those whose first piece is whole: a short word before a blob (``acaa``,
    base64 of ``iƚ``) read as its first piece, with the blob's own short last piece left
    out, decodes to text that lacks the blob's end. Last, the longest stretch of pieces of
    the most common width, with a shorter piece on either end: any number of words put
    before or after the blob are left out."""
    pieces = _CHUNK_SEP.split(run.strip())
    # The pieces between the ends all have one width, or this is prose (one pass).
    middle = pieces[3:-3]
    readings: list[tuple[int, bool, str]] = []
    if not middle or len(set(map(len, middle))) == 1:
        for start in range(min(3, len(pieces))):
            for end in range(len(pieces), max(start + 1, len(pieces) - 3), -1):
                part = pieces[start:end]
                if len(part) < 2:
                    continue
                width = len(part[1]) if len(part) > 2 else max(len(part[0]), len(part[1]))
                if (
                    width >= 4
                    and all(len(p) == width for p in part[1:-1])
                    and len(part[0]) <= width
                    and len(part[-1]) <= width
                    and (len(part[0]) == width or len(part[-1]) == width)
                ):
                    joined = "".join(part)
                    if len(joined) >= 16:
                        readings.append((-len(part), len(part[0]) < width, joined))
    # At most twelve readings; the sort is stable, so ties keep the order above.
    readings.sort(key=lambda reading: reading[:2])
    return [joined for _, _, joined in readings] + list(_stretch(pieces))


def _stretch(pieces: list[str]) -> Iterator[str]:
    """The longest run of pieces of the most common width (four or more characters, three
    or more pieces), alone and with the shorter piece after and before it (one pass)."""
    if len(pieces) < 3:
        return
    width = Counter(map(len, pieces)).most_common(1)[0][0]
    if width < 4:
        return
    start = end = index = 0
    while index < len(pieces):
        stop = index
        while stop < len(pieces) and len(pieces[stop]) == width:
            stop += 1
        if stop - index > end - start:
            start, end = index, stop
        index = max(stop, index + 1)
    if end - start < 3:
        return
    after = pieces[end] if end < len(pieces) and len(pieces[end]) < width else ""
    before = pieces[start - 1] if start > 0 and len(pieces[start - 1]) < width else ""
    core = "".join(pieces[start:end])
    yield from dict.fromkeys((core + after, core, before + core))


def _aligned_first(readings: list[str]) -> list[str]:
    """``readings`` with those whose length is a whole number of base64 quanta (four
    characters; base32's eight and padded blobs are too) first: a word put after a blob
    (``ca``) joined to it may still decode, unpadded, with a stray byte at the end that
    hides what the blob holds (hex that is no longer only hex digits)."""
    return sorted(readings, key=lambda joined: len(joined) % 4 != 0)


_BLOBBY = re.compile(r"[a-z][A-Z]|[A-Za-z][0-9]|[0-9][A-Za-z]|[+/]")


def decode_chunked(run: str) -> tuple[str, str] | None:
    """``(transform, text)`` of a chunked blob; one rot13'd or written backwards as a
    whole gives its turned reading, decoded at the next level."""
    # Pieces of a blob mix cases and digits; words of prose seldom do (one scan).
    if len(_BLOBBY.findall(run)) * 2 < run.count(" ") + run.count("\n") + 1:
        return None
    for joined in _aligned_first(_chunks(run)):
        if len(joined) > MAX_BLOB:
            return None
        decoded = decode_blob(joined)
        if decoded is not None:
            return decoded
        if decode_blob(joined.translate(ROT13)) is not None:
            return "rot13", run.translate(ROT13)
    backwards = run[::-1]
    for joined in _aligned_first(_chunks(backwards)):
        if len(joined) <= MAX_BLOB and (
            decode_blob(joined) is not None or decode_blob(joined.translate(ROT13)) is not None
        ):
            return "reversed", backwards
    return None
