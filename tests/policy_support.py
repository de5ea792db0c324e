"""Shared by the policy tests: a minimal Dockfile 1.1 spec and a run context that records."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from agentdock.run import RunContext
from agentdock.spec.models import DockSpec11

__all__ = ["BASE_DOCKFILE", "ROOT", "recording_context", "spec_with"]

ROOT = Path(__file__).resolve().parents[1]

BASE_DOCKFILE: dict[str, Any] = {
    "version": "1.1",
    "agent": {"name": "policy-test", "entrypoint": "agent:graph", "framework": "langgraph"},
    "model": {"provider": "custom", "name": "offline"},
    "io_schema": {
        "input": {"type": "object", "properties": {"text": {"type": "string"}}},
        "output": {"type": "object", "properties": {"text": {"type": "string"}}},
    },
    "auth": {"mode": "api_key", "api_keys": {"enabled": True}},
    "expose": {"rest": True},
}


def spec_with(
    safety: Mapping[str, Any] | None = None, tools: Mapping[str, Any] | None = None
) -> DockSpec11:
    """A valid 1.1 spec whose ``policies`` block holds ``safety`` and ``tools``."""
    data = dict(BASE_DOCKFILE)
    policies: dict[str, Any] = {}
    if safety is not None:
        policies["safety"] = dict(safety)
    if tools is not None:
        policies["tools"] = dict(tools)
    data["policies"] = policies
    return DockSpec11.model_validate(data)


def recording_context(
    run_id: str = "r1", mode: Literal["invoke", "stream"] = "invoke"
) -> tuple[RunContext, list[tuple[str, dict[str, Any]]]]:
    """A run context whose ``emit`` appends ``(kind, data)`` to the returned list."""
    events: list[tuple[str, dict[str, Any]]] = []

    def emit(kind: str, data: Mapping[str, Any]) -> None:
        events.append((kind, dict(data)))

    return RunContext(run_id, emit=emit, mode=mode), events
