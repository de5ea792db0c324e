"""The Litestar application for one compiled pipeline, built once at start-up.

Routes: ``POST /invoke``, ``GET /stream?input=<json>`` and ``POST /stream`` (Server-Sent
Events), ``/ws/stream`` (WebSocket), ``GET /schema``, ``GET /health``, ``GET /ready``,
``GET /openapi.json`` and ``GET /docs``. Handlers take the raw request and hand its bytes to
the pipeline, which decodes them with msgspec; everything else (schemas, the OpenAPI
document, CORS) is computed here, once.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from agentdock_runtime import MalformedJSONError, Pipeline, RuntimeHTTPError, ServiceUnavailable
from agentdock_runtime.iomodels import decode_json
from litestar import Litestar, Request, Response, WebSocket, get, post, websocket
from litestar.config.cors import CORSConfig
from litestar.response import Stream

from agentdock_plugins.litestar.encoding import encode_json
from agentdock_plugins.litestar.errors import EXCEPTION_HANDLERS, JSON
from agentdock_plugins.litestar.openapi import declared_schemas, openapi_document, swagger_html
from agentdock_plugins.litestar.sse import sse_stream
from agentdock_plugins.litestar.ws import ws_session

__all__ = ["DEFAULT_HEARTBEAT_SEC", "DEFAULT_MAX_BODY_BYTES", "create_app"]

#: Largest request body accepted (413 past it).
DEFAULT_MAX_BODY_BYTES = 1024 * 1024
#: Seconds of silence on a stream before a ``: ping`` comment.
DEFAULT_HEARTBEAT_SEC = 15.0

_SSE_HEADERS = {"cache-control": "no-cache", "x-accel-buffering": "no"}
_ALLOWED_HEADERS = [
    "authorization",
    "content-type",
    "x-api-key",
    "x-thread-id",
    "last-event-id",
]


def _headers(request: Request[Any, Any, Any]) -> dict[str, str]:
    # ASGI header names are already lower-case.
    return {k.decode("latin-1"): v.decode("latin-1") for k, v in request.scope["headers"]}


def _thread_id(headers: Mapping[str, str], request: Request[Any, Any, Any]) -> str | None:
    thread = headers.get("x-thread-id")
    if thread:
        return thread
    if request.scope["query_string"]:
        return request.query_params.get("thread_id") or None
    return None


def _check_json(headers: Mapping[str, str]) -> None:
    """A body sent as something else than JSON is refused (415); none declared is JSON."""
    content_type = headers.get("content-type")
    if content_type is None:
        return
    media = content_type.partition(";")[0].strip().lower()
    if media == "application/json" or (
        media.startswith("application/") and media.endswith("+json")
    ):
        return
    raise RuntimeHTTPError(
        415,
        "UnsupportedMediaType",
        f"the request body must be application/json, not {media or 'empty'}",
    )


def create_app(
    pipeline: Pipeline,
    spec: Any,
    *,
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    heartbeat_sec: float = DEFAULT_HEARTBEAT_SEC,
    debug: bool = False,
) -> Litestar:
    """The ASGI application serving ``pipeline`` as described by ``spec``.

    :param max_body_bytes: the request body limit (413 past it).
    :param heartbeat_sec: seconds between ``: ping`` comments on an idle stream.
    """
    started = time.monotonic()
    state = {"ready": True}
    agent_name = spec.agent.name
    version = getattr(spec.metadata, "version", None) if spec.metadata else None
    input_schema, output_schema, defs = declared_schemas(spec)
    schema_body = {"input": input_schema, "output": output_schema}
    if defs:
        schema_body["$defs"] = defs
    schema_bytes = encode_json(schema_body)
    openapi_bytes = encode_json(openapi_document(spec))
    docs_html = swagger_html(agent_name)
    ready_bytes = encode_json({"status": "ready", "agent": agent_name})

    def _refuse_when_stopping() -> None:
        if not state["ready"]:
            raise ServiceUnavailable("the runtime is shutting down")

    @post("/invoke", status_code=200)
    async def invoke(request: Request[Any, Any, Any]) -> Response[bytes]:
        _refuse_when_stopping()
        headers = _headers(request)
        _check_json(headers)
        body = await request.body()
        result = await pipeline.invoke(
            body, headers=headers, thread_id=_thread_id(headers, request)
        )
        return Response(
            content=encode_json(result.output),
            media_type=JSON,
            headers={"x-run-id": result.run_id},
        )

    async def _open_stream(
        payload: bytes | Mapping[str, Any] | str,
        headers: dict[str, str],
        request: Request[Any, Any, Any],
    ) -> Stream:
        items = pipeline.stream(payload, headers=headers, thread_id=_thread_id(headers, request))
        # Refusals before the run starts (auth, input, pre policies) keep their HTTP status.
        first = await anext(items)
        return Stream(
            sse_stream(first, items, heartbeat=heartbeat_sec),  # type: ignore[arg-type]
            media_type="text/event-stream",
            headers={**_SSE_HEADERS, "x-run-id": str(first.data.get("run_id", ""))},
        )

    @get("/stream")
    async def stream_get(request: Request[Any, Any, Any]) -> Stream:
        _refuse_when_stopping()
        raw = request.query_params.get("input")
        if raw is None:
            raise RuntimeHTTPError(
                400, "BadRequest", "the input query parameter is required", path="input"
            )
        try:
            value = decode_json(raw)
        except MalformedJSONError:
            raise MalformedJSONError(
                "the input query parameter is not valid JSON", path="input"
            ) from None
        payload: bytes | Mapping[str, Any] | str = value if type(value) is dict else raw
        return await _open_stream(payload, _headers(request), request)

    @post("/stream", status_code=200)
    async def stream_post(request: Request[Any, Any, Any]) -> Stream:
        _refuse_when_stopping()
        headers = _headers(request)
        _check_json(headers)
        body = await request.body()
        return await _open_stream(body, headers, request)

    @get("/schema")
    async def schema() -> Response[bytes]:
        return Response(content=schema_bytes, media_type=JSON)

    @get("/health")
    async def health() -> Response[bytes]:
        body = {
            "status": "healthy" if state["ready"] else "stopping",
            "version": version,
            "agent": agent_name,
            "uptime_seconds": round(time.monotonic() - started, 3),
        }
        return Response(content=encode_json(body), media_type=JSON)

    @get("/ready")
    async def ready() -> Response[bytes]:
        if not state["ready"]:
            raise ServiceUnavailable("the runtime is shutting down")
        return Response(content=ready_bytes, media_type=JSON)

    @get("/openapi.json")
    async def openapi() -> Response[bytes]:
        return Response(content=openapi_bytes, media_type=JSON)

    @get("/docs")
    async def docs() -> Response[str]:
        return Response(content=docs_html, media_type="text/html")

    @websocket("/ws/stream")
    async def ws_stream(socket: WebSocket[Any, Any, Any]) -> None:
        await socket.accept()
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in socket.scope["headers"]}
        await ws_session(socket, pipeline, headers)

    async def on_shutdown() -> None:
        state["ready"] = False
        await pipeline.aclose()

    cors = spec.expose.cors
    cors_config = (
        CORSConfig(
            allow_origins=list(cors.origins),
            allow_methods=list(cors.methods) or ["GET", "POST"],
            allow_headers=_ALLOWED_HEADERS,
            expose_headers=["x-run-id"],
        )
        if cors is not None and cors.origins
        else None
    )

    return Litestar(
        route_handlers=[
            invoke,
            stream_get,
            stream_post,
            schema,
            health,
            ready,
            openapi,
            docs,
            ws_stream,
        ],
        exception_handlers=EXCEPTION_HANDLERS,
        on_shutdown=[on_shutdown],
        cors_config=cors_config,
        openapi_config=None,
        request_max_body_size=max_body_bytes,
        debug=debug,
    )
