"""JSON and Server-Sent Events as the Platform's clients read them.

A graph's state holds what plain JSON does not (LangChain messages, ``Interrupt``
dataclasses, sets): messages are dumped as the SDK expects them, and anything else JSON
cannot hold is sent as its text rather than failing the run's response.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import msgspec
from agentdock_runtime import RuntimeHTTPError

__all__ = ["HEARTBEAT", "encode", "refused_run_ids", "run_ids", "sse_event"]

#: The comment sent on an idle stream.
HEARTBEAT = b": heartbeat\n\n"


def _enc_hook(obj: Any) -> Any:
    if isinstance(obj, Mapping):
        return dict(obj)
    if isinstance(obj, set | frozenset):
        return list(obj)
    dump = getattr(obj, "model_dump", None)
    if callable(dump):
        try:
            return dump(mode="json")
        except Exception:
            return str(obj)
    return str(obj)


_encoder = msgspec.json.Encoder(enc_hook=_enc_hook)

#: One value as JSON bytes; never raises for a graph's state.
encode = _encoder.encode


def sse_event(event: str, data: Any, event_id: int | None = None) -> bytes:
    """``event: <event>\\ndata: <json>\\n[id: <n>\\n]\\n``."""
    head = b"event: %s\ndata: %s\n" % (event.encode("utf-8", "replace"), encode(data))
    if event_id is not None:
        head += b"id: %d\n" % event_id
    return head + b"\n"


def run_ids(run_id: str, trace_id: str | None) -> dict[str, str]:
    """The headers that name a run and its trace: ``x-run-id`` and ``x-trace-id`` (the
    run's W3C trace id, the caller's when it sent a ``traceparent``; else the run id,
    which a run without a trace of its own is traced under), as ``/invoke`` sends them."""
    return {"x-run-id": run_id, "x-trace-id": trace_id or run_id}


def refused_run_ids(error: RuntimeHTTPError) -> dict[str, str]:
    """:func:`run_ids` of the run a ``RuntimeHTTPError`` ended; none when it refused the
    call before any run started."""
    return run_ids(error.run_id, error.trace_id) if error.run_id else {}
