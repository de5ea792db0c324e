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
import re
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
    """The text that hex ``digits`` spell; a word before or after the run that is itself a
    hex pair (``ab 49 67 ...``) is left out when the whole run is not text."""
    for part in (digits, digits[2:], digits[:-2], digits[2:-2]):
        out = texty(bytes.fromhex(part))
        if out is not None:
            return out
    return None


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
    as the last (a chunked blob written backwards)."""
    pieces = _CHUNK_SEP.split(run.strip())
    # The pieces between the ends all have one width, or this is prose (one pass).
    middle = pieces[3:-3]
    if middle and len(set(map(len, middle))) > 1:
        return
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


_BLOBBY = re.compile(r"[a-z][A-Z]|[A-Za-z][0-9]|[0-9][A-Za-z]|[+/]")


def decode_chunked(run: str) -> tuple[str, str] | None:
    """``(transform, text)`` of a chunked blob; one rot13'd or written backwards as a
    whole gives its turned reading, decoded at the next level."""
    # Pieces of a blob mix cases and digits; words of prose seldom do (one scan).
    if len(_BLOBBY.findall(run)) * 2 < run.count(" ") + run.count("\n") + 1:
        return None
    for joined in _chunks(run):
        if len(joined) > MAX_BLOB:
            return None
        decoded = decode_blob(joined)
        if decoded is not None:
            return decoded
        if decode_blob(joined.translate(ROT13)) is not None:
            return "rot13", run.translate(ROT13)
    backwards = run[::-1]
    for joined in _chunks(backwards):
        if len(joined) <= MAX_BLOB and (
            decode_blob(joined) is not None or decode_blob(joined.translate(ROT13)) is not None
        ):
            return "reversed", backwards
    return None
