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
    raise TypeError(f"{type(obj).__name__} is not JSON serialisable")


_encoder = msgspec.json.Encoder(enc_hook=_enc_hook)

#: Encode one value as JSON bytes (raises TypeError for values JSON cannot hold).
encode_json = _encoder.encode

_EVENT = {
    kind: f"event: {kind}\nid: ".encode() for kind in ("start", "token", "event", "end", "error")
}


def sse_frame(item: StreamItem) -> bytes:
    """``event: <kind>\\nid: <n>\\ndata: <json>\\n\\n``."""
    return b"%s%d\ndata: %s\n\n" % (_EVENT[item.event], item.id, encode_json(item.data))


def sse_comment(text: str = "ping") -> bytes:
    """A comment line (a heartbeat); clients ignore it."""
    return f": {text}\n\n".encode()
