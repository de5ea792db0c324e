"""``stream_mode: events`` of a Platform run: LangChain's ``astream_events`` (v2).

``langgraph dev`` streams such a run with ``graph.astream_events(version="v2")``, the
other requested modes riding along: the root run's ``on_chain_stream`` events carry their
``(namespace, mode, chunk)`` triples, and every other event is sent as the SSE event
``events`` with the event dict as its data. AgentDock does the same, so the SDK's
``runs.stream(..., stream_mode="events")`` reads what it reads from LangGraph Platform.

Each event is made plain JSON data (messages dumped as the SDK expects, anything else
JSON cannot hold as its text) before it leaves the adapter, so that the ``post``
policies see, and redact, exactly what the client will receive. A model's streamed text
(``on_chat_model_stream``) is a ``token`` item instead, carrying the rest of its event:
the policies see it as they see ``/stream``'s tokens (a secret split across chunks is held
back and redacted whole) and the server rebuilds the event around the text they release.
The ``messages`` mode's text chunks, the same text again, are then not sent apart: the
server makes the ``messages`` event from that token too, so the policies see the text once.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

import msgspec
from agentdock.run import StreamEvent
from langchain_core.messages import AIMessage
from langchain_core.runnables import RunnableConfig

from agentdock_plugins.langchain_callbacks import message_text
from agentdock_plugins.litestar.platform.encoding import encode

__all__ = ["HIDDEN_TAG", "model_text", "plain", "stream_events"]

#: Events of runnables tagged so are internal to LangGraph: never sent.
HIDDEN_TAG = "langsmith:hidden"
_decode = msgspec.json.Decoder().decode


def plain(value: Any) -> Any:
    """``value`` as the JSON data the client will receive."""
    return _decode(encode(value))


def model_text(message: Any) -> str | None:
    """The text of a model's streamed message (no tool call chunk), else ``None``."""
    if not isinstance(message, AIMessage) or getattr(message, "tool_call_chunks", None):
        return None
    return message_text(message.content) or None


def _text_token(event: Mapping[str, Any]) -> StreamEvent | None:
    """An ``on_chat_model_stream`` event's text as a ``token`` item holding the event
    (without its chunk) under ``events``; ``None`` for a chunk without text."""
    chunk = event["data"].get("chunk")
    text = model_text(chunk)
    if text is None:
        return None
    rest = plain({**event, "data": {}})
    meta = rest.get("metadata") or {}
    data = {"text": text, "node": meta.get("langgraph_node"), "message_id": chunk.id}
    return StreamEvent("token", {**data, "ns": [], "metadata": meta, "events": rest})


async def stream_events(
    graph: Any,
    value: Any,
    config: RunnableConfig,
    modes: list[str],
    kwargs: Mapping[str, Any],
    forward: Callable[[tuple[str, ...], str, Any], Iterable[StreamEvent]],
    put: Callable[[StreamEvent], None],
    no_values: Any = None,
) -> Any:
    """Run ``graph`` with ``astream_events``: the root's mode chunks through ``forward``
    (as ``astream`` would give them), every other event as an ``events`` item, each
    handed to ``put``. The last root ``values`` chunk (the run's state), else
    ``no_values``."""
    output: Any = no_values
    async for event in graph.astream_events(
        value, config, version="v2", stream_mode=modes, subgraphs=True, **kwargs
    ):
        if HIDDEN_TAG in (event.get("tags") or ()):
            continue
        kind = event["event"]
        if kind == "on_chain_stream" and not event.get("parent_ids"):
            ns, mode, chunk = event["data"]["chunk"]
            if mode == "values" and not ns:
                output = chunk
            if mode == "messages" and model_text(chunk[0]) is not None:
                continue  # its text comes as the model's stream event's token
            for item in forward(ns, mode, chunk):
                put(item)
            continue
        token = _text_token(event) if kind == "on_chat_model_stream" else None
        put(token or StreamEvent("event", {"event": "events", "data": plain(event)}))
    return output
