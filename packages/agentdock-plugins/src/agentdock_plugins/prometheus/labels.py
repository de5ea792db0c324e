"""Bounded label values: what keeps a Prometheus label set from growing without end.

Tool names come from what a model asked for, error types and policy names from plugins; a
label takes each value only while fewer than ``limit`` distinct values were seen (and, when
an allow-list is given, only values on it). Anything else becomes ``"other"``. A value that
is not a plain identifier (spaces, quotes, more than 64 characters) is never a label.
Request paths are counted by the template of the route that answers them
(:func:`route_label`): the ids in a path never become labels.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

__all__ = ["OTHER", "ROUTE_TEMPLATES", "LabelCap", "route_label"]

OTHER = "other"
_SAFE = re.compile(r"[A-Za-z0-9_.:\-]{1,64}")

#: Every route an agent's server answers, as its template (a Litestar route's path with the
#: parameters' types left out; A2A's agent is ``{agent}``). A request is counted under the
#: template of the route that answers it, whichever parameters its path carries; any other
#: path is counted as ``"other"``.
ROUTE_TEMPLATES: tuple[str, ...] = (
    # AgentDock's own routes
    "/invoke",
    "/stream",
    "/ws/stream",
    "/schema",
    "/health",
    "/ready",
    "/openapi.json",
    "/docs",
    "/docs/assets/{name}",
    "/metrics",
    # MCP and A2A
    "/mcp",
    "/a2a/{agent}",
    "/a2a/{agent}/.well-known/agent-card.json",
    # LangServe
    "/langserve/{agent}/invoke",
    "/langserve/{agent}/batch",
    "/langserve/{agent}/stream",
    # The LangGraph Platform API
    "/assistants/search",
    "/assistants/{assistant_id}",
    "/assistants/{assistant_id}/graph",
    "/assistants/{assistant_id}/schemas",
    "/threads",
    "/threads/search",
    "/threads/{thread_id}",
    "/threads/{thread_id}/state",
    "/threads/{thread_id}/state/checkpoint",
    "/threads/{thread_id}/state/{checkpoint_id}",
    "/threads/{thread_id}/history",
    "/threads/{thread_id}/runs",
    "/threads/{thread_id}/runs/wait",
    "/threads/{thread_id}/runs/stream",
    "/threads/{thread_id}/runs/crons",
    "/threads/{thread_id}/runs/{run_id}",
    "/threads/{thread_id}/runs/{run_id}/join",
    "/threads/{thread_id}/runs/{run_id}/stream",
    "/threads/{thread_id}/runs/{run_id}/cancel",
    "/runs",
    "/runs/wait",
    "/runs/stream",
    "/runs/crons",
    "/runs/crons/search",
    "/runs/crons/count",
    "/runs/crons/{cron_id}",
    "/store/items",
    "/store/items/search",
    "/store/namespaces",
)


class _Node:
    """One path segment of the templates with parameters: its fixed next segments, the
    parameter that may follow instead, and the template that ends here (if one does)."""

    __slots__ = ("fixed", "label", "param")

    def __init__(self) -> None:
        self.fixed: dict[str, _Node] = {}
        self.param: _Node | None = None
        self.label: str | None = None


def _tables(templates: Iterable[str]) -> tuple[dict[str, str], _Node, int]:
    """The fixed routes by path (with and without a trailing slash), the tree of the routes
    with parameters (its root's one child is ``""``, what precedes a path's first slash), and
    the most segments a route has."""
    fixed: dict[str, str] = {}
    root = _Node()
    most = 0
    for template in templates:
        segments = template.split("/")[1:]
        most = max(most, len(segments))
        if "{" not in template:
            fixed[template] = fixed[template + "/"] = template
            continue
        node = root
        for segment in segments:
            if segment.startswith("{"):
                node.param = node.param or _Node()
                node = node.param
            else:
                node = node.fixed.setdefault(segment, _Node())
        node.label = template
    top = _Node()
    top.fixed[""] = root
    return fixed, top, most


_FIXED, _TREE, _MOST = _tables(ROUTE_TEMPLATES)
#: More slashes than this in one path: ``"other"`` without splitting it.
_MOST_SLASHES = 32


def route_label(path: str) -> str:
    """The template of the route that answers ``path``, never the raw path; ``"other"``
    for a path no route answers.

    Matched as Litestar's router matches, so a route's label is where its requests went:
    slashes at either end and repeated ones are ignored; a path is one of the fixed routes,
    or else goes down the routes with parameters one segment at a time, a fixed segment
    before a parameter and never back (one difference: a path of more than
    :data:`_MOST_SLASHES` slashes is ``"other"``). A fixed route's path costs one dict
    lookup; any other path one split (into at most :data:`_MOST` + 2 pieces) and a dict
    lookup per segment, up to the first that no route has there."""
    label = _FIXED.get(path)
    if label is not None:
        return label
    segments = path.split("/", _MOST + 1)
    if len(segments) > _MOST + 1 or segments.count("") != 1:
        return _uneven_label(path)
    return _walk(_TREE, segments)


def _walk(node: _Node, segments: list[str]) -> str:
    """The template reached by going down from ``node`` one segment at a time, a fixed
    segment before a parameter; ``"other"`` where no route goes on."""
    for segment in segments:
        child = node.fixed.get(segment) or node.param
        if child is None:
            return OTHER
        node = child
    return node.label or OTHER


def _uneven_label(path: str) -> str:
    """:func:`route_label` of a path with empty segments (``//``, a trailing ``/``) or too
    many segments: Litestar reads it without its empty segments. A path of more than
    :data:`_MOST_SLASHES` slashes is ``"other"`` unread (no route is that deep)."""
    if path.count("/") > _MOST_SLASHES:
        return OTHER
    segments = [s for s in path.split("/") if s]
    if len(segments) > _MOST:
        return OTHER
    label = _FIXED.get("/" + "/".join(segments))
    if label is not None:
        return label
    return _walk(_TREE.fixed[""], segments)


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
