"""How the tables of :mod:`agentdock_plugins.policies.injection_blob_starts` are computed,
and the script that writes that module again::

    uv run --frozen python tests/blob_start_tables.py

The module holds the tables spelled out, since computing them costs some 15 ms at import
(every start of a server that checks for prompt injection); the tests check that what it
holds is what these functions compute."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

B64_DIGITS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
B64_VALUES = {c: v for v, c in enumerate(B64_DIGITS)} | {"-": 62, "_": 63}
B85_DIGITS = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz!#$%&()*+-;<=>?@^_`{|}~"
A85_DIGITS = "".join(map(chr, range(33, 118)))
MODULE = (
    Path(__file__).resolve().parents[1]
    / "packages/agentdock-plugins/src/agentdock_plugins/policies/injection_blob_starts.py"
)


def utf8_starts() -> bytes:
    """``table[b0 << 8 | b1]`` is 1 where the bytes ``b0 b1`` may begin UTF-8 text as
    Python's decoder reads it (no overlong forms, surrogates or code points past U+10FFFF;
    the tests check it against the decoder), else 0."""
    ascii_first = bytes(1 if b1 < 0x80 or 0xC2 <= b1 <= 0xF4 else 0 for b1 in range(256))
    table = bytearray(ascii_first * 0x80 + bytes(0x80 << 8))
    seconds = {0xE0: (0xA0, 0xBF), 0xED: (0x80, 0x9F), 0xF0: (0x90, 0xBF), 0xF4: (0x80, 0x8F)}
    for b0 in range(0xC2, 0xF5):
        low, high = seconds.get(b0, (0x80, 0xBF))
        table[b0 << 8 | low : (b0 << 8 | high) + 1] = bytes([1]) * (high - low + 1)
    return bytes(table)


def b64_not_text(starts: bytes) -> frozenset[str]:
    """Two characters that begin no base64 (standard or URL-safe) of UTF-8 text: the first
    byte they spell and the first four bits of the second (the third character gives the
    other four) begin no UTF-8, whatever the rest is."""
    return frozenset(
        c0 + c1
        for c0, v0 in B64_VALUES.items()
        for c1, v1 in B64_VALUES.items()
        if starts.find(1, v0 << 10 | v1 << 4, (v0 << 10 | v1 << 4) + 16) < 0
    )


def blob_not_text_starts(b64: frozenset[str]) -> frozenset[str]:
    """Of those, the ones that begin no hex (a character that is no hex digit) and no
    base32 (one not of ``A-Z2-7``) either."""
    hexdigits = "0123456789abcdefABCDEF"
    base32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
    return (
        b64
        - frozenset(a + b for a in hexdigits for b in hexdigits)
        - frozenset(a + b for a in base32 for b in base32)
    )


def b85_pairs_not_text(starts: bytes) -> list[int]:
    """The pairs of base85 digits, by value (``85 * first + second``), that begin no group
    whose first two bytes may begin UTF-8 text: a group is a number below 85**5, its first
    two digits leave a range of 85**3 in which every number overflows 32 bits or has first
    two bytes that begin no UTF-8. Both base85 alphabets spell a group's number so."""
    group = 85**3
    return [
        n
        for n in range(85 * 85)
        if starts.find(1, n * group >> 16, ((n + 1) * group - 1 >> 16) + 1) < 0
    ]


def digit_pairs(digits: str, values: list[int]) -> frozenset[str]:
    return frozenset(digits[n // 85] + digits[n % 85] for n in values)


def b85_not_text_starts(b85: frozenset[str], a85: frozenset[str]) -> frozenset[str]:
    """Two printable ASCII characters that begin no token ``b85_text`` lets through (for
    each alphabet, a refused pair or a character outside it); ``<~``, which may be cut off
    before the body, is left out."""
    printable = map(chr, range(33, 127))
    every = frozenset(a + b for a in printable for b in map(chr, range(33, 127)))
    return (
        every
        - (frozenset(a + b for a in B85_DIGITS for b in B85_DIGITS) - b85)
        - (frozenset(a + b for a in A85_DIGITS + "z" for b in A85_DIGITS + "z") - a85)
        - {"<~"}
    )


def tables() -> dict[str, frozenset[str]]:
    """Each table of the module, by name, as computed here."""
    starts = utf8_starts()
    b64 = b64_not_text(starts)
    values = b85_pairs_not_text(starts)
    b85, a85 = digit_pairs(B85_DIGITS, values), digit_pairs(A85_DIGITS, values)
    return {
        "B64_NOT_TEXT": b64,
        "BLOB_NOT_TEXT_STARTS": blob_not_text_starts(b64),
        "B85_NOT_TEXT": b85,
        "A85_NOT_TEXT": a85,
        "B85_NOT_TEXT_STARTS": b85_not_text_starts(b85, a85),
    }


_DOCS = {
    "B64_NOT_TEXT": "Two characters that begin no base64 (standard or URL-safe) of UTF-8 text.",
    "BLOB_NOT_TEXT_STARTS": (
        "Of those, the ones that begin no hex and no base32 either: a blob of base64\n"
        "#: characters that begins so decodes to nothing (``decode_blob``, not cut)."
    ),
    "B85_NOT_TEXT": "Two base85 (RFC 1924) digits that begin no group of UTF-8 text.",
    "A85_NOT_TEXT": "Two Ascii85 digits that begin no group of UTF-8 text.",
    "B85_NOT_TEXT_STARTS": (
        "Two printable ASCII characters that begin no token ``b85_text`` lets through."
    ),
}

_HEAD = '''"""Beginnings that no encoded UTF-8 text has: the decoders of
:mod:`~agentdock_plugins.policies.injection_blobs` pass over a blob or base85 token that
begins with one of these pairs without decoding it.

Written by ``tests/blob_start_tables.py`` (run it to write this file again), which
computes them from the bytes that may begin UTF-8 text; the tests check every table against
that computation and against the decoders themselves. Each table is spelled as its pairs
one after another, read into a set at import (well under a millisecond, where computing
them took some 15 ms).
"""

from __future__ import annotations

import re

__all__ = [
    "A85_NOT_TEXT",
    "B64_NOT_TEXT",
    "B85_NOT_TEXT",
    "B85_NOT_TEXT_STARTS",
    "BLOB_NOT_TEXT_STARTS",
]

_PAIR = re.compile("..", re.DOTALL)


def _pairs(spelled: str) -> frozenset[str]:
    return frozenset(_PAIR.findall(spelled))
'''


def render() -> str:
    """The module's source."""
    parts = [_HEAD]
    for name, pairs in tables().items():
        spelled = "".join(sorted(pairs))
        lines = [repr(spelled[i : i + 76]) for i in range(0, len(spelled), 76)]
        body = "\n".join(f"    {line}" for line in lines)
        parts.append(f"\n#: {_DOCS[name]}\n{name} = _pairs(\n{body}\n)\n")
    return "".join(parts)


if __name__ == "__main__":
    MODULE.write_text(render())
    subprocess.run([sys.executable, "-m", "ruff", "format", str(MODULE)], check=False)
    print(f"wrote {MODULE}")
