"""The Dockfile the telemetry sink tests build their sinks from: the echo graph as agent
``probe`` with API-key auth; each test adds its own ``observability`` block."""

from __future__ import annotations

from typing import Any

PROBE_DOCUMENT: dict[str, Any] = {
    "version": "1.1",
    "agent": {"name": "probe", "entrypoint": "echo.graph:build_graph", "framework": "langgraph"},
    "model": {"provider": "openai", "name": "gpt-4o-mini"},
    "io_schema": {
        "input": {"type": "object", "properties": {"text": {"type": "string"}}},
        "output": {"type": "object", "properties": {"text": {"type": "string"}}},
    },
    "auth": {"mode": "api_key", "api_keys": {"enabled": True}},
    "expose": {"rest": True},
    "metadata": {"version": "2.3.0"},
}
