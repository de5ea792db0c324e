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
from collections.abc import Iterator

from agentdock_plugins.policies.injection_normal import strip_hidden

__all__ = [
    "MAX_BLOB",
    "ROT13",
    "b85ish",
    "decode_b85",
    "decode_blob",
    "decode_chunked",
    "hex_text",
    "texty",
]

#: Longest blob decoded, in characters.
MAX_BLOB = 16_384
ROT13 = str.maketrans(
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ",
    "nopqrstuvwxyzabcdefghijklmNOPQRSTUVWXYZABCDEFGHIJKLM",
)
_HEX = re.compile(r"(?:[0-9A-Fa-f]{2})+")
#: Bytes before hex-spelled text that may be left out (words before it read as hex pairs).
_HEX_LEAD = 32
_UTF8 = codecs.getincrementaldecoder("utf-8")
_B32 = re.compile(r"[A-Z2-7]+=*")
_CHUNK_SEP = re.compile(r"[ \t\r\n,;|]+")


def texty(raw: bytes) -> str | None:
    """``raw`` as text, if it is UTF-8 and mostly printable; else ``None``."""
    try:
        text = strip_hidden(raw.decode("utf-8"))
    except UnicodeDecodeError:
        return None
    if len(text) < 4:
        return None
    shown = sum(1 for c in text if c.isprintable() or c in "\n\r\t")
    if shown < len(text) * 0.95 or not any(c.isalnum() for c in text):
        return None
    return text


def hex_text(digits: str) -> str | None:
    """The text that hex ``digits`` spell. When the whole run is not text, a pair after it
    and the bytes before it that cannot begin UTF-8 text are left out: words that read as
    hex (``ab``, ``aaaa``) put before spaced bytes are not a way past decoding."""
    data = bytes.fromhex(digits)
    for start in dict.fromkeys((0, 1, _text_start(data))):
        for part in (data[start:], data[start:-1]):
            out = texty(part)
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


def decode_blob(blob: str) -> tuple[str, str] | None:
    """``(transform, text)`` a blob decodes to, trying hex, base32, then base64."""
    blob = blob.strip()
    core = blob.rstrip("=")
    try:
        if _HEX.fullmatch(blob) and len(blob) >= 16:
            out = texty(bytes.fromhex(blob))
            if out is not None:
                return "hex", out
        if _B32.fullmatch(blob):
            padded = core + "=" * (-len(core) % 8)
            out = texty(base64.b32decode(padded))
            if out is not None:
                return "base32", out
        padded = core + "=" * (-len(core) % 4)
        altchars = b"-_" if ("-" in blob or "_" in blob) else None
        out = texty(base64.b64decode(padded, altchars=altchars, validate=altchars is None))
        if out is not None:
            return "base64", out
    except (ValueError, binascii.Error):
        return None
    return None


_ALNUM = re.compile("[A-Za-z0-9]")
_WORDISH = re.compile("[a-z]{4,}")


def b85ish(token: str) -> bool:
    """Whether ``token`` may be a base85 blob: a quarter of that alphabet is punctuation, so
    a blob of varied bytes holds many kinds of it; one of few kinds of bytes (hex digits,
    say) is not mostly runs of lower case letters as a word of prose or code is
    (``FeedParser.feed()``)."""
    if len(set(token)) < 10:
        return False  # a run of dashes or a repeated pattern: no blob of 16 or more characters
    symbols = _ALNUM.sub("", token)
    if len(symbols) >= len(token) * 0.12 and len(set(symbols)) >= 4:
        return True
    return sum(map(len, _WORDISH.findall(token))) < len(token) * 0.4


def decode_b85(token: str) -> tuple[str, str] | None:
    body = token.removeprefix("<~").removesuffix("~>")
    for name, decode in (("base85", base64.b85decode), ("base85", base64.a85decode)):
        try:
            out = texty(decode(body.encode("ascii")))
        except (ValueError, binascii.Error, UnicodeEncodeError):
            continue
        if out is not None:
            return name, out
    return None


def _chunks(run: str) -> Iterator[str]:
    """Ways to read a run of pieces as one blob cut at a fixed width: the pieces joined,
    a word or two before or after the blob left out. The first piece may be short as well
    as the last (a chunked blob written backwards). Last, the longest stretch of pieces of
    the most common width, with a shorter piece on either end: any number of words put
    before or after the blob are left out."""
    pieces = _CHUNK_SEP.split(run.strip())
    # The pieces between the ends all have one width, or this is prose (one pass).
    middle = pieces[3:-3]
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
                        yield joined
    yield from _stretch(pieces)


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


def _aligned_first(readings: Iterator[str]) -> list[str]:
    """``readings`` with those whose length is a whole number of base64 quanta (four
    characters; base32's eight and padded blobs are too) first: a word put after a blob
    (``ca``) joined to it may still decode, unpadded, with a stray byte at the end that
    hides what the blob holds (hex that is no longer only hex digits)."""
    found = list(readings)
    return sorted(found, key=lambda joined: len(joined) % 4 != 0)


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
