"""JSON encoding for responses, stream frames and error envelopes (msgspec, built once)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import msgspec
from agentdock_runtime import StreamItem

__all__ = ["encode_json", "sse_comment", "sse_frame"]


def _enc_hook(obj: Any) -> Any:
    if isinstance(obj, Mapping):
        return dict(obj)
    # Pydantic models (LangChain messages in a graph's state updates, for one).
    dump = getattr(obj, "model_dump", None)
    if callable(dump):
        try:
            return dump(mode="json")
        except Exception as exc:
            raise TypeError(f"{type(obj).__name__} is not JSON serialisable") from exc
    raise TypeError(f"{type(obj).__name__} is not JSON serialisable")


_encoder = msgspec.json.Encoder(enc_hook=_enc_hook)

#: Encode one value as JSON bytes (raises TypeError for values JSON cannot hold).
encode_json = _encoder.encode

_EVENT = {
    kind: f"event: {kind}\nid: ".encode() for kind in ("start", "token", "event", "end", "error")
}


def sse_frame(item: StreamItem, run_id: str) -> bytes:
    """``event: <kind>\\nid: <run_id>:<n>\\ndata: <json>\\n\\n``.

    The id names the run and the frame, so a client that reconnects with ``Last-Event-ID``
    can be sent the frames it missed.
    """
    return b"%s%s:%d\ndata: %s\n\n" % (
        _EVENT[item.event],
        run_id.encode("ascii", "replace"),
        item.id,
        encode_json(item.data),
    )


def sse_comment(text: str = "ping") -> bytes:
    """A comment line (a heartbeat); clients ignore it."""
    return f": {text}\n\n".encode()
