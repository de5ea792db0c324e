"""Telemetry events: the envelope every sink receives, and W3C trace context.

Every event is a plain dict (the schemas live in ``contracts/events/``)::

    {"event": "run_end", "version": "1.0", "timestamp": "2026-11-25T16:40:00.123456Z",
     "agent": "echo", "run_id": "…32 hex…", "trace_id": "…32 hex…", "span_id": "…16 hex…",
     "data": {...}}

Events are built only when at least one sink is configured, and never hold the input, the
output or a credential. A run's trace id continues an incoming ``traceparent`` header, or is
the run id (also 32 hex) when there is none, so no extra randomness is spent per request.
"""

from __future__ import annotations

import hashlib
import itertools
import os
import re
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

__all__ = [
    "EVENT_NAMES",
    "EVENT_VERSION",
    "TraceContext",
    "envelope",
    "new_run_id",
    "new_span_id",
    "parse_traceparent",
]

EVENT_VERSION = "1.0"
EVENT_NAMES = (
    "run_start",
    "run_end",
    "tool_event",
    "node_event",
    "model_event",
    "policy_event",
    "error_event",
    "auth_event",
)

# version "00"-"fe", 32 hex trace id, 16 hex parent id, 2 hex flags; lower-case per the spec.
_TRACEPARENT = re.compile(r"([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})")
_ZERO_TRACE = "0" * 32
_ZERO_SPAN = "0" * 16


class TraceContext:
    """The trace a run belongs to: its trace id and the caller's span, if any."""

    __slots__ = ("parent_span_id", "sampled", "trace_id")

    def __init__(self, trace_id: str, parent_span_id: str | None, sampled: bool = True) -> None:
        self.trace_id = trace_id
        self.parent_span_id = parent_span_id
        #: The caller's ``sampled`` flag: samplers that follow the parent keep or drop with it.
        self.sampled = sampled


def parse_traceparent(value: str | None) -> TraceContext | None:
    """The caller's trace from a W3C ``traceparent`` header; ``None`` when absent or invalid.

    A malformed header is ignored (the run starts a new trace), as the W3C spec asks.
    """
    if not value or len(value) < 55:
        return None
    match = _TRACEPARENT.match(value.strip())
    if match is None:
        return None
    version, trace_id, parent, flags = match.groups()
    if version == "ff" or trace_id == _ZERO_TRACE or parent == _ZERO_SPAN:
        return None
    if version == "00" and len(value.strip()) != 55:
        return None
    return TraceContext(trace_id, parent, sampled=bool(int(flags, 16) & 1))


class _Ids:
    """Unpredictable ids without a system call per id.

    ``os.urandom`` (and so ``uuid4``) releases the GIL; on the event loop's thread, while
    worker threads run synchronous graphs, taking it back costs up to a switch interval
    (measured: ~450 µs a request). A keyed BLAKE2b over a counter needs no system call and
    keeps ids unguessable (they name streams a caller may resume). Forked children re-key.
    """

    def __init__(self) -> None:
        self._rekey()
        os.register_at_fork(after_in_child=self._rekey)

    def _rekey(self) -> None:
        self._key = os.urandom(32)
        self._counter = itertools.count()

    def hex(self, size: int) -> str:
        number = next(self._counter).to_bytes(8, "little")
        return hashlib.blake2b(number, key=self._key, digest_size=size).hexdigest()


_IDS = _Ids()


def new_run_id() -> str:
    """A fresh run id: 32 hex digits, unguessable, never repeated within a process."""
    return _IDS.hex(16)


def new_span_id() -> str:
    """A fresh, non-zero 16-hex span id."""
    while True:
        span = _IDS.hex(8)
        if span != _ZERO_SPAN:
            return span


class _Clock:
    """UTC ISO-8601 timestamps with microseconds; the part up to the second is cached."""

    __slots__ = ("cached",)

    def __init__(self) -> None:
        self.cached: tuple[int, str] = (-1, "")

    def __call__(self, unix_nano: int | None = None) -> str:
        nanos = unix_nano if unix_nano is not None else time.time_ns()
        second, rest = divmod(nanos, 1_000_000_000)
        cached_second, prefix = self.cached  # one tuple: safe to share between threads
        if second != cached_second:
            prefix = datetime.fromtimestamp(second, UTC).strftime("%Y-%m-%dT%H:%M:%S")
            self.cached = (second, prefix)
        return f"{prefix}.{rest // 1000:06d}Z"


_timestamp = _Clock()


def envelope(
    name: str,
    agent: str,
    data: Mapping[str, Any],
    *,
    run_id: str | None = None,
    trace_id: str | None = None,
    span_id: str | None = None,
    unix_nano: int | None = None,
) -> dict[str, Any]:
    """One event in the common envelope."""
    return {
        "event": name,
        "version": EVENT_VERSION,
        "timestamp": _timestamp(unix_nano),
        "agent": agent,
        "run_id": run_id,
        "trace_id": trace_id,
        "span_id": span_id,
        "data": dict(data),
    }
