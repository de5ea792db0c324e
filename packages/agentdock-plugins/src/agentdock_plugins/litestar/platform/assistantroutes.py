"""The Platform API's assistant routes: the agent is its one assistant, searched, read,
drawn and described.
"""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, get, post

from agentdock_plugins.litestar.platform.bodies import AssistantSearch, decode_body
from agentdock_plugins.litestar.platform.context import Platform
from agentdock_plugins.litestar.platform.records import matches
from agentdock_plugins.litestar.platform.replies import PathPart, body_of, headers_of, json_reply

__all__ = ["assistant_handlers"]


def assistant_handlers(p: Platform) -> list[Any]:
    """The handlers of ``/assistants``, sharing ``p`` (built once)."""

    @post("/assistants/search", status_code=200)
    async def assistants_search(request: Request[Any, Any, Any]) -> Response[bytes]:
        headers = headers_of(request)
        await p.authorize(headers)
        query = decode_body(await body_of(request, headers), AssistantSearch)
        hit = (
            query.graph_id in (None, p.name)
            and query.name in (None, p.name)
            and matches(p.assistant["metadata"], query.metadata)
        )
        found = [p.assistant] if hit else []
        return json_reply(found[query.offset : query.offset + max(query.limit, 0)])

    @get("/assistants/{assistant_id:str}")
    async def assistant_get(
        request: Request[Any, Any, Any], assistant_id: PathPart
    ) -> Response[bytes]:
        await p.known_assistant(headers_of(request), assistant_id)
        return json_reply(p.assistant)

    @get("/assistants/{assistant_id:str}/graph")
    async def assistant_graph(
        request: Request[Any, Any, Any], assistant_id: PathPart
    ) -> Response[bytes]:
        await p.known_assistant(headers_of(request), assistant_id)
        xray = request.query_params.get("xray") or "false"
        return json_reply(p.drawn_graph(xray))

    @get("/assistants/{assistant_id:str}/schemas")
    async def assistant_schemas(
        request: Request[Any, Any, Any], assistant_id: PathPart
    ) -> Response[bytes]:
        await p.known_assistant(headers_of(request), assistant_id)
        return json_reply(p.schemas())

    return [
        assistants_search,
        assistant_get,
        assistant_graph,
        assistant_schemas,
    ]
