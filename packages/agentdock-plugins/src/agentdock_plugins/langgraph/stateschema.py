"""The JSON Schema of a graph's state, as ``assistants.get_schemas`` gives it.

``graph.get_output_jsonschema()`` asks pydantic for the state class whole, which it refuses
for a ``typing.TypedDict`` before Python 3.12 (the state class of most graphs, the examples'
included), and it describes the output channels, not the state. LangGraph Platform builds
the state schema one channel at a time, each from the type its updates take, a channel
pydantic cannot describe becoming ``Any``; this does the same, so the schema is there for
every graph and names every channel a thread's ``values`` may hold.
"""

from __future__ import annotations

from typing import Any

from langchain_core.utils.pydantic import create_model

__all__ = ["state_jsonschema"]


def state_jsonschema(graph: Any) -> dict[str, Any] | None:
    """The schema of ``graph``'s state channels (``None`` when it has none, not a graph)."""
    names = getattr(graph, "stream_channels_list", None)
    channels = getattr(graph, "channels", None)
    if not names or not isinstance(channels, dict):
        return None
    fields: dict[str, Any] = {}
    for name in names:
        kind = getattr(channels.get(name), "UpdateType", Any)
        try:
            create_model(name, __root__=(kind, None)).model_json_schema()
        except Exception:  # a type pydantic cannot describe: any value
            kind = Any
        fields[name] = (kind, None)
    schema: dict[str, Any] = create_model(graph.get_name("State"), **fields).model_json_schema()
    return schema
