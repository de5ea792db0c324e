"""Bounded label values: what keeps a Prometheus label set from growing without end.

Tool names come from what a model asked for, error types and policy names from plugins; a
label takes each value only while fewer than ``limit`` distinct values were seen (and, when
an allow-list is given, only values on it). Anything else becomes ``"other"``. A value that
is not a plain identifier (spaces, quotes, more than 64 characters) is never a label.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

__all__ = ["OTHER", "LabelCap", "route_label"]

OTHER = "other"
_SAFE = re.compile(r"[A-Za-z0-9_.:\-]{1,64}")

#: The server's route templates; any other path is counted as ``"other"``.
_ROUTES = {
    path: path
    for path in (
        "/invoke",
        "/stream",
        "/ws/stream",
        "/schema",
        "/health",
        "/ready",
        "/openapi.json",
        "/docs",
        "/metrics",
        "/mcp",
    )
}
_ROUTES["/mcp/"] = "/mcp"  # MCP clients are given the endpoint with its trailing slash

#: A2A's routes name the agent in the path: they are counted by their templates.
_A2A = "/a2a/"
A2A_ROUTE = "/a2a/{agent}"
A2A_CARD_ROUTE = "/a2a/{agent}/.well-known/agent-card.json"
_CARD_TAIL = "/.well-known/agent-card.json"


def route_label(path: str) -> str:
    """The route template for a request path, never the raw path."""
    label = _ROUTES.get(path)
    if label is not None:
        return label
    if path.startswith(_A2A):
        return _a2a_label(path[len(_A2A) :])
    return OTHER


def _a2a_label(rest: str) -> str:
    """``/a2a/{agent}`` (with or without a trailing slash) or its agent card's template,
    else ``"other"`` (the agent is one path segment)."""
    agent = rest[:-1] if rest.endswith("/") else rest
    if agent and "/" not in agent:
        return A2A_ROUTE
    agent = rest[: -len(_CARD_TAIL)] if rest.endswith(_CARD_TAIL) else ""
    return A2A_CARD_ROUTE if agent and "/" not in agent else OTHER


class LabelCap:
    """Maps raw values to at most ``limit`` label values plus ``"other"``."""

    __slots__ = ("_allowed", "_limit", "_seen")

    def __init__(self, limit: int, allowed: Iterable[str] | None = None) -> None:
        if limit < 1:
            raise ValueError(f"limit must be >= 1, got {limit}")
        self._limit = limit
        self._allowed = frozenset(allowed) if allowed is not None else None
        self._seen: dict[str, str] = {}

    def __call__(self, value: object) -> str:
        if not isinstance(value, str):
            return OTHER
        label = self._seen.get(value)
        if label is not None:
            return label
        if (
            len(self._seen) >= self._limit
            or (self._allowed is not None and value not in self._allowed)
            or _SAFE.fullmatch(value) is None
        ):
            return OTHER
        self._seen[value] = value
        return value

    def __len__(self) -> int:
        return len(self._seen)
