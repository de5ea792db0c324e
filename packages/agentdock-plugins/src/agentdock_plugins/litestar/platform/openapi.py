"""The Platform API's, LangServe's, MCP's and A2A's routes in the agent's OpenAPI
document (``/openapi.json``), those the agent serves (``expose.protocols``).

Bodies and answers are described loosely (JSON objects), as the Platform's clients need
no more; every route names its errors with the one envelope, ``Error``.
"""

from __future__ import annotations

import re
from typing import Any, NamedTuple

__all__ = ["PLATFORM_TAG", "PLATFORM_TAG_TEXT", "platform_paths", "protocol_paths"]

PLATFORM_TAG = "LangGraph Platform API"
PLATFORM_TAG_TEXT = (
    "The subset of the LangGraph Platform API that langgraph-sdk and RemoteGraph use, "
    "LangServe's invoke, batch and stream for RemoteRunnable, MCP (Streamable HTTP) and A2A "
    "(JSON-RPC), as the Dockfile's expose.protocols picks them; every run goes through the "
    "agent's pipeline."
)
TAG = PLATFORM_TAG
_ERROR = {"$ref": "#/components/schemas/Error"}
_OBJECT: dict[str, Any] = {"type": "object"}
_ARRAY: dict[str, Any] = {"type": "array", "items": {"type": "object"}}
_ANY: dict[str, Any] = {}
_SSE = {
    "description": "Server-Sent Events",
    "content": {"text/event-stream": {"schema": {"type": "string"}}},
}
_STRING: dict[str, Any] = {"type": "string"}
#: The headers of an answer that names the run it started or follows (as ``/invoke``'s).
RUN_HEADERS: dict[str, Any] = {
    "x-run-id": {"description": "The run's id", "schema": _STRING},
    "x-trace-id": {
        "description": "The run's W3C trace id (the caller's, when it sent a traceparent)",
        "schema": _STRING,
    },
}
#: The same headers on an error, which names a run only when one had started (a refused
#: caller, a body of the wrong shape or a busy thread starts none).
ERROR_RUN_HEADERS: dict[str, Any] = {
    "x-run-id": {
        "description": "The run's id, when the refusal or failure is a run's",
        "schema": _STRING,
    },
    "x-trace-id": {
        "description": "The run's W3C trace id, when the refusal or failure is a run's",
        "schema": _STRING,
    },
}


def _param(name: str, where: str = "path") -> dict[str, Any]:
    return {"name": name, "in": where, "required": where == "path", "schema": {"type": "string"}}


def _op(
    op_id: str,
    summary: str,
    *,
    params: tuple[str, ...] = (),
    query: tuple[str, ...] = (),
    body: bool = False,
    answer: dict[str, Any] | None = None,
    status: str = "200",
    ids: bool = False,
    error_ids: bool = False,
) -> dict[str, Any]:
    """One operation; ``ids``: its answer names the run (``x-run-id``, ``x-trace-id``);
    ``error_ids``: so may its errors (a run refused or failed answers with the envelope)."""
    responses: dict[str, Any] = {}
    if status == "204":
        responses["204"] = {"description": "Done"}
    elif answer is _SSE:
        responses["200"] = _SSE
    elif status == "200":
        responses["200"] = {
            "description": "OK",
            "content": {"application/json": {"schema": answer if answer is not None else _OBJECT}},
        }
    if ids and "200" in responses:
        responses["200"] = {**responses["200"], "headers": RUN_HEADERS}
    # Every refusal is the one envelope: 400, 401, 403, 404, 409 (a busy, existing or
    # stateless thread), 415, 422, 429, 498, 499, 500, 501, 503, 504.
    responses["default"] = {
        "description": "An error, as the error envelope",
        "content": {"application/json": {"schema": _ERROR}},
    }
    if error_ids:
        responses["default"] = {**responses["default"], "headers": ERROR_RUN_HEADERS}
    operation: dict[str, Any] = {
        "tags": [TAG],
        "summary": summary,
        "operationId": op_id,
        "parameters": [_param(p) for p in params] + [_param(q, "query") for q in query],
        "responses": responses,
    }
    if body:
        operation["requestBody"] = {
            "required": False,
            "content": {"application/json": {"schema": _OBJECT}},
        }
    return operation


class _Route(NamedTuple):
    """One operation of the Platform API or LangServe: where, what, and what it answers."""

    path: str
    method: str
    op_id: str
    summary: str
    body: bool = False
    answer: dict[str, Any] | None = None
    status: str = "200"
    query: tuple[str, ...] = ()
    #: Its answer names a run (``x-run-id``, ``x-trace-id``).
    ids: bool = False


#: A path's parameters, as its ``{name}`` segments name them.
_PATH_PARAM = re.compile(r"\{(\w+)\}")
_NO_CRONS = "Crons (not supported: 501)"

#: The operations in the document's order (a path's methods in the order listed).
_ROUTES = (
    _Route(
        "/assistants/search",
        "post",
        "platform_assistants_search",
        "Search assistants",
        body=True,
        answer=_ARRAY,
    ),
    _Route("/assistants/{assistant_id}", "get", "platform_assistant_get", "An assistant"),
    _Route(
        "/assistants/{assistant_id}/graph",
        "get",
        "platform_assistant_graph",
        "An assistant's graph",
    ),
    _Route(
        "/assistants/{assistant_id}/schemas",
        "get",
        "platform_assistant_schemas",
        "An assistant's schemas",
    ),
    _Route("/threads", "post", "platform_thread_create", "Create a thread", body=True),
    _Route(
        "/threads/search",
        "post",
        "platform_thread_search",
        "Search threads",
        body=True,
        answer=_ARRAY,
    ),
    _Route("/threads/{thread_id}", "get", "platform_thread_get", "A thread"),
    _Route(
        "/threads/{thread_id}",
        "delete",
        "platform_thread_delete",
        "Delete a thread",
        status="204",
    ),
    _Route("/threads/{thread_id}/state", "get", "platform_state_get", "A thread's latest state"),
    _Route(
        "/threads/{thread_id}/state",
        "post",
        "platform_state_update",
        "Update a thread's state",
        body=True,
    ),
    _Route(
        "/threads/{thread_id}/state/{checkpoint_id}",
        "get",
        "platform_state_at",
        "A thread's state at a checkpoint",
    ),
    _Route(
        "/threads/{thread_id}/state/checkpoint",
        "post",
        "platform_state_checkpoint",
        "A thread's state at a checkpoint",
        body=True,
    ),
    _Route(
        "/threads/{thread_id}/history",
        "get",
        "platform_history_get",
        "A thread's past states",
        answer=_ARRAY,
    ),
    _Route(
        "/threads/{thread_id}/history",
        "post",
        "platform_history",
        "A thread's past states",
        body=True,
        answer=_ARRAY,
    ),
    _Route(
        "/runs/wait",
        "post",
        "platform_runs_wait",
        "Run, answer the final values",
        body=True,
        answer=_ANY,
        ids=True,
    ),
    _Route(
        "/runs/stream",
        "post",
        "platform_runs_stream",
        "Run, streaming",
        body=True,
        answer=_SSE,
        ids=True,
    ),
    _Route("/runs", "post", "platform_runs_create", "Start a background run", body=True, ids=True),
    _Route(
        "/threads/{thread_id}/runs/wait",
        "post",
        "platform_thread_runs_wait",
        "Run on a thread, answer the final values",
        body=True,
        answer=_ANY,
        ids=True,
    ),
    _Route(
        "/threads/{thread_id}/runs/stream",
        "post",
        "platform_thread_runs_stream",
        "Run on a thread, streaming",
        body=True,
        answer=_SSE,
        ids=True,
    ),
    _Route(
        "/threads/{thread_id}/runs",
        "post",
        "platform_thread_runs_create",
        "Start a background run on a thread",
        body=True,
        ids=True,
    ),
    _Route(
        "/threads/{thread_id}/runs",
        "get",
        "platform_runs_list",
        "A thread's runs",
        answer=_ARRAY,
    ),
    _Route("/threads/{thread_id}/runs/{run_id}", "get", "platform_run_get", "A run"),
    _Route(
        "/threads/{thread_id}/runs/{run_id}/join",
        "get",
        "platform_run_join",
        "Wait for a run's end",
        answer=_ANY,
        ids=True,
    ),
    _Route(
        "/threads/{thread_id}/runs/{run_id}/stream",
        "get",
        "platform_run_join_stream",
        "Follow a run's events",
        answer=_SSE,
        ids=True,
    ),
    _Route(
        "/threads/{thread_id}/runs/{run_id}/cancel",
        "post",
        "platform_run_cancel",
        "Cancel a run",
        status="204",
    ),
    _Route(
        "/store/items", "put", "platform_store_put", "Put a store item", body=True, status="204"
    ),
    _Route(
        "/store/items",
        "get",
        "platform_store_get",
        "A store item",
        query=("namespace", "key", "refresh_ttl"),
    ),
    _Route(
        "/store/items",
        "delete",
        "platform_store_delete",
        "Delete a store item",
        body=True,
        status="204",
    ),
    _Route("/store/items/search", "post", "platform_store_search", "Search store items", body=True),
    _Route(
        "/store/namespaces", "post", "platform_store_namespaces", "List store namespaces", body=True
    ),
    _Route("/runs/crons", "post", "platform_crons_create", _NO_CRONS, body=True, status="501"),
    _Route(
        "/threads/{thread_id}/runs/crons",
        "post",
        "platform_thread_crons_create",
        _NO_CRONS,
        body=True,
        status="501",
    ),
    _Route(
        "/langserve/{agent}/invoke",
        "post",
        "langserve_invoke",
        "LangServe: run once",
        body=True,
        ids=True,
    ),
    _Route(
        "/langserve/{agent}/batch",
        "post",
        "langserve_batch",
        "LangServe: run each input (metadata.run_ids names the runs, in order)",
        body=True,
    ),
    _Route(
        "/langserve/{agent}/stream",
        "post",
        "langserve_stream",
        "LangServe: run, streaming",
        body=True,
        answer=_SSE,
        ids=True,
    ),
    _Route(
        "/runs/crons/search", "post", "platform_crons_search", _NO_CRONS, body=True, status="501"
    ),
    _Route("/runs/crons/count", "post", "platform_crons_count", _NO_CRONS, body=True, status="501"),
    _Route(
        "/runs/crons/{cron_id}", "patch", "platform_cron_update", _NO_CRONS, body=True, status="501"
    ),
    _Route("/runs/crons/{cron_id}", "delete", "platform_cron_delete", _NO_CRONS, status="501"),
)


def platform_paths() -> dict[str, Any]:
    """The path items of the Platform API and of LangServe's protocol (added to the agent's
    document)."""
    paths: dict[str, Any] = {}
    for route in _ROUTES:
        operation = _op(
            route.op_id,
            route.summary,
            params=tuple(_PATH_PARAM.findall(route.path)),
            query=route.query,
            body=route.body,
            answer=route.answer,
            status=route.status,
            ids=route.ids,
            error_ids=route.ids,
        )
        paths.setdefault(route.path, {})[route.method] = operation
    return paths


def _rpc(
    op_id: str, summary: str, params: tuple[str, ...] = (), *, ids: bool = False
) -> dict[str, Any]:
    """A JSON-RPC endpoint: one message in, a JSON answer or Server-Sent Events out (with
    ``ids``, naming the run a message started; a run's refusal or failure is a JSON-RPC
    answer too, so no HTTP error names a run)."""
    operation = _op(op_id, summary, params=params, body=True, ids=ids)
    operation["responses"]["200"]["content"]["text/event-stream"] = {"schema": {"type": "string"}}
    return operation


def protocol_paths(protocols: frozenset[str]) -> dict[str, Any]:
    """The path items of the protocols served (names as in ``expose.protocols``)."""
    paths: dict[str, Any] = {}
    if protocols & {"langgraph", "langserve"}:
        for path, item in platform_paths().items():
            kind = "langserve" if path.startswith("/langserve/") else "langgraph"
            if kind in protocols:
                paths[path] = item
    if "mcp" in protocols:
        paths["/mcp"] = {
            "post": _rpc("mcp", "MCP (Streamable HTTP, stateless): the agent as one tool", ids=True)
        }
    if "a2a" in protocols:
        paths["/a2a/{agent}"] = {
            "post": _rpc(
                "a2a",
                "A2A 0.3 JSON-RPC: message/send, message/stream, tasks/get",
                ("agent",),
                ids=True,
            )
        }
        paths["/a2a/{agent}/.well-known/agent-card.json"] = {
            "get": {**_op("a2a_card", "A2A agent card", params=("agent",)), "security": []}
        }
    return paths
