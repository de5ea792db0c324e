"""When a synchronous policy runs in a worker thread instead of on the event loop.

Policies such as redaction are synchronous and cost time in proportion to the text they
read: on the event loop, a large body blocks every other request (``/health`` included)
while it is checked. A thread round trip costs 30 to 100 µs, about what redacting a 4 KB
input with every recogniser on costs, so small values stay on the loop and only values
above :data:`OFFLOAD_CHARS` characters of text go to a thread. At 16 KiB the round trip is
a fifth or less of the redaction's own cost (10 patterns and 7 PII recognisers on prose:
about 0.5 to 0.7 ms at 16 KiB, 2 ms at 64 KiB), and one policy call holds the loop for at
most about 20 ms even on hostile text (figures: ``benchmarks/policy_hostile.py``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["OFFLOAD_CHARS", "is_large", "text_size"]

#: Values with more characters of text than this have their synchronous policies run in a
#: worker thread.
OFFLOAD_CHARS = 16 * 1024


def text_size(value: Any, limit: int = OFFLOAD_CHARS) -> int:
    """The characters of the strings in ``value`` (keys and values, at any depth), counted
    until they pass ``limit``: a small value is walked whole, a large one only so far."""
    total = 0
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            total += len(item)
            if total > limit:
                return total
        elif isinstance(item, Mapping):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list | tuple):
            stack.extend(item)
    return total


def is_large(value: Any, raw: bytes | bytearray | memoryview | str | None = None) -> bool:
    """Whether ``value`` (decoded from ``raw``, when it was) has more than
    :data:`OFFLOAD_CHARS` characters of text; a raw body's length is taken as is."""
    if raw is not None:
        return len(raw) > OFFLOAD_CHARS
    return text_size(value) > OFFLOAD_CHARS
