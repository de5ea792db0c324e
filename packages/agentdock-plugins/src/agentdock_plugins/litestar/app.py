"""The Litestar application for one compiled pipeline, built once at start-up.

Routes: ``POST /invoke``, ``GET /stream?input=<json>`` and ``POST /stream`` (Server-Sent
Events; ``Last-Event-ID`` resumes a recent stream, see :mod:`.sse`), ``/ws/stream``
(WebSocket, see :mod:`.ws`), ``GET /schema``, ``GET /health``, ``GET /ready`` (503 while
shutting down, or while the auth provider's ``readiness()`` names a reason),
``GET /openapi.json`` and ``GET /docs`` (Swagger UI, public like the document it shows: it
holds no data, and its "Authorize" button carries the caller's key or token to "Try it
out"; ``expose.docs: false`` leaves it out). The Dockfile's ``expose`` picks the run routes:
``rest: true`` serves ``/invoke``; ``streaming: sse`` serves ``/stream``, ``websocket``
serves ``/ws/stream``, ``none`` neither. A route it leaves out is not built at all (404 with
the error envelope, absent from the OpenAPI document), decided here once. Handlers take the
raw request and hand its bytes to the pipeline, which decodes them with msgspec; everything
else (schemas, the OpenAPI document, CORS) is computed here, once.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Annotated, Any, cast

from agentdock.spec.models import MetricsCfg11
from agentdock_runtime import MalformedJSONError, Pipeline, RuntimeHTTPError, ServiceUnavailable
from agentdock_runtime.iomodels import decode_json
from agentdock_runtime.version import served_version
from litestar import HttpMethod, Litestar, Request, Response, WebSocket, get, post, route, websocket
from litestar.config.cors import CORSConfig
from litestar.params import PathParameter
from litestar.response import Stream

from agentdock_plugins.litestar.encoding import encode_json
from agentdock_plugins.litestar.errors import EXCEPTION_HANDLERS, JSON
from agentdock_plugins.litestar.fastpath import ASGIApp, invoke_fast_path
from agentdock_plugins.litestar.invoke import (
    InvokeRoute,
    Scope,
    request_headers,
    thread_id,
)
from agentdock_plugins.litestar.limits import DEFAULT_MAX_BODY_BYTES, ServerLimits
from agentdock_plugins.litestar.openapi import (
    declared_schemas,
    openapi_document,
    swagger_asset,
    swagger_html,
)
from agentdock_plugins.litestar.platform import served_protocols, serves_platform
from agentdock_plugins.litestar.platform.a2a import a2a_handlers
from agentdock_plugins.litestar.platform.admitted import body_admitted
from agentdock_plugins.litestar.platform.langserve import langserve_handlers
from agentdock_plugins.litestar.platform.mcp import mcp_handlers
from agentdock_plugins.litestar.platform.routes import platform_routes
from agentdock_plugins.litestar.platform.waitroute import WaitRoute
from agentdock_plugins.litestar.sse import StreamReplay, sse_stream
from agentdock_plugins.litestar.ws import ConnectionSlots, refuse, ws_endpoint

if TYPE_CHECKING:
    from agentdock.spec import DockSpec

__all__ = ["DEFAULT_HEARTBEAT_SEC", "DEFAULT_MAX_BODY_BYTES", "create_app"]

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
    # Litestar's scope is a TypedDict; the fast path reads plain ASGI mappings.
    return request_headers(cast("Scope", request.scope))


def _thread_id(headers: Mapping[str, str], request: Request[Any, Any, Any]) -> str | None:
    return thread_id(headers, request.scope["query_string"])


class _Serving:
    """Whether the application still takes runs (false once shutting down), and since when
    it serves."""

    __slots__ = ("ready", "started")

    def __init__(self) -> None:
        self.ready = True
        self.started = time.monotonic()

    def is_ready(self) -> bool:
        return self.ready

    def refuse_when_stopping(self) -> None:
        if not self.ready:
            raise ServiceUnavailable("the runtime is shutting down")


def create_app(
    pipeline: Pipeline,
    spec: DockSpec,
    *,
    limits: ServerLimits | None = None,
    heartbeat_sec: float = DEFAULT_HEARTBEAT_SEC,
    debug: bool = False,
    replay: StreamReplay | None = None,
) -> Litestar:
    """The ASGI application serving ``pipeline`` as described by ``spec``.

    :param limits: the request body limit (413 past it), which is also the WebSocket
        message limit, and the WebSocket connection limits (default: :class:`ServerLimits`).
    :param heartbeat_sec: seconds between ``: ping`` comments on an idle stream.
    :param replay: the window of recent stream frames for ``Last-Event-ID`` (default: one
        with the bounds of :mod:`.sse`).
    :raises ValueError: ``expose`` leaves no route that runs the agent.
    """
    limits = limits if limits is not None else ServerLimits()
    replay = replay if replay is not None else StreamReplay()
    rest = bool(spec.expose.rest)
    streaming = spec.expose.streaming
    if not rest and streaming == "none":
        # Validation refuses such a Dockfile (4010); a spec built around it gets here.
        raise ValueError("expose.rest is false and expose.streaming is none: no route runs it")
    serving = _Serving()
    # An auth provider that needs something before it can verify anyone (an issuer's keys)
    # offers ``readiness()``: None when ready, else the reason; sorted with the pipeline.
    readiness = pipeline.capabilities.auth.readiness

    handlers = _info_handlers(pipeline, spec, serving, readiness)
    protocol_handlers, wait_route = _protocol_handlers(pipeline, spec, heartbeat_sec)
    handlers += protocol_handlers
    route = InvokeRoute(pipeline, serving.is_ready)
    if rest:
        handlers.append(_invoke_handler(pipeline, route))
    if streaming == "sse":
        handlers.append(_stream_handler(pipeline, serving, replay, heartbeat_sec))
    handlers += _metrics_handlers(pipeline, spec)
    handlers += _ws_handlers(pipeline, streaming, limits, serving)
    middleware = list(pipeline.capabilities.sinks.middleware)

    async def on_startup() -> None:
        if readiness is not None:
            readiness()  # starts what the provider needs (fetching keys), never waits for it

    async def on_shutdown() -> None:
        serving.ready = False
        await pipeline.aclose()

    cors_config = _cors_config(spec.expose.cors)
    application = Litestar(
        route_handlers=handlers,
        exception_handlers=EXCEPTION_HANDLERS,
        on_startup=[on_startup],
        on_shutdown=[on_shutdown],
        cors_config=cors_config,
        openapi_config=None,
        # A library leaves logging alone: Litestar's default would take over the root logger.
        logging_config=None,
        request_max_body_size=limits.max_body_bytes,
        debug=debug,
    )
    if rest or wait_route is not None:
        # The fast path speaks plain ASGI (its own types, not Litestar's TypedDicts).
        application.asgi_handler = cast(
            Any,
            invoke_fast_path(
                cast("ASGIApp", application.asgi_handler),
                pipeline,
                max_body_bytes=limits.max_body_bytes,
                is_ready=serving.is_ready,
                cors=cors_config is not None,
                invoke=rest,
                wait=wait_route,
            ),
        )
    # Around the whole application, not the routes: 404s and 405s are requests too.
    for wrap in middleware:
        application.asgi_handler = wrap(application.asgi_handler)
    return application


def _protocol_handlers(
    pipeline: Pipeline, spec: DockSpec, heartbeat_sec: float
) -> tuple[list[Any], WaitRoute | None]:
    """The client protocols served beside the agent's own routes (``expose.protocols``);
    one switched off is not built. Also the Platform's ``runs.wait`` routes for the fast
    path, when the Platform API is served."""
    protocols = served_protocols(
        spec,
        secured=getattr(pipeline, "authenticated", True),
        langgraph=serves_platform(pipeline, spec),
    )
    handlers: list[Any] = []
    wait_route: WaitRoute | None = None
    if "langgraph" in protocols:
        platform, wait_route = platform_routes(pipeline, spec, heartbeat_sec=heartbeat_sec)
        handlers += platform
    if "langserve" in protocols:
        handlers += langserve_handlers(pipeline, spec, heartbeat_sec=heartbeat_sec)
    if "mcp" in protocols:
        handlers += mcp_handlers(pipeline, spec)
    if "a2a" in protocols:
        handlers += a2a_handlers(pipeline, spec)
    return handlers, wait_route


def _invoke_handler(pipeline: Pipeline, route: InvokeRoute) -> Any:
    """``POST /invoke`` as a Litestar route, for what the fast path hands on."""

    @post("/invoke", status_code=200)
    async def invoke(request: Request[Any, Any, Any]) -> Response[bytes]:
        headers = _headers(request)
        route.admit()
        body, headers = await body_admitted(pipeline, request, headers)
        content, run_headers = await route.run(body, headers, request.scope["query_string"])
        return Response(content=content, media_type=JSON, headers=run_headers)

    return invoke


def _stream_handler(
    pipeline: Pipeline, serving: _Serving, replay: StreamReplay, heartbeat_sec: float
) -> Any:
    """``GET`` and ``POST /stream``: Server-Sent Events, resumed with ``Last-Event-ID``."""

    async def _open_stream(
        payload: bytes | Mapping[str, Any] | str,
        headers: Mapping[str, str],
        request: Request[Any, Any, Any],
    ) -> Stream:
        items = pipeline.stream(payload, headers=headers, thread_id=_thread_id(headers, request))
        # Refusals before the run starts (auth, input, pre policies) keep their HTTP status.
        first = await anext(items)
        run_id = str(first.data.get("run_id", ""))
        return Stream(
            sse_stream(first, items, heartbeat=heartbeat_sec, replay=replay),  # type: ignore[arg-type]
            media_type="text/event-stream",
            headers={
                **_SSE_HEADERS,
                "x-run-id": run_id,
                "x-trace-id": str(first.data.get("trace_id") or run_id),
            },
        )

    async def _resume(headers: Mapping[str, str], last_event_id: str) -> Stream:
        """The frames after ``Last-Event-ID`` from the replay window (409 when it cannot)."""
        identity = await pipeline.authorize(headers, "invoke")
        subject = identity.get("sub")
        recording, after = replay.lookup(last_event_id, None if subject is None else str(subject))
        return Stream(
            replay.follow(recording, after, heartbeat=heartbeat_sec),
            media_type="text/event-stream",
            headers={
                **_SSE_HEADERS,
                "x-run-id": recording.run_id,
                "x-trace-id": recording.trace_id or recording.run_id,
            },
        )

    # One handler for both methods, so ``OPTIONS /stream`` lists both in ``Allow``.
    @route("/stream", http_method=[HttpMethod.GET, HttpMethod.POST], status_code=200)
    async def stream(request: Request[Any, Any, Any]) -> Stream:
        serving.refuse_when_stopping()
        headers = _headers(request)
        last_event_id = headers.get("last-event-id")
        if last_event_id:
            return await _resume(headers, last_event_id)
        if request.method == HttpMethod.POST:
            body, admitted = await body_admitted(pipeline, request, headers)
            return await _open_stream(body, admitted, request)
        # As a body is: the caller is admitted (401, 403, 429) before its input is judged,
        # and a refused caller starts no run; the run takes the admission (counted once).
        # An input that cannot be read is refused as a run, as a malformed body is: with its
        # run id, counted among the runs.
        caller = await pipeline.admit(headers)
        raw = request.query_params.get("input")
        if raw is None:
            missing = RuntimeHTTPError(
                400, "BadRequest", "the input query parameter is required", path="input"
            )
            await pipeline.refuse_input(missing, headers=caller)
        try:
            value = decode_json(raw)
        except MalformedJSONError:
            malformed = MalformedJSONError(
                "the input query parameter is not valid JSON", path="input"
            )
            await pipeline.refuse_input(malformed, headers=caller)
        payload: bytes | Mapping[str, Any] | str = value if type(value) is dict else raw
        return await _open_stream(payload, caller, request)

    return stream


def _info_handlers(
    pipeline: Pipeline, spec: DockSpec, serving: _Serving, readiness: Any
) -> list[Any]:
    """``/schema``, ``/health``, ``/ready``, ``/openapi.json`` and, unless ``expose.docs`` is
    false, ``/docs`` with its assets: bodies computed here, once."""
    agent_name = spec.agent.name
    version = served_version(spec)
    input_schema, output_schema, defs = declared_schemas(spec)
    # PRD 5.6 (C): the declared schemas under ``input_schema`` and ``output_schema``.
    schema_body = {"input_schema": input_schema, "output_schema": output_schema}
    if defs:
        schema_body["$defs"] = defs
    schema_bytes = encode_json(schema_body)
    openapi_bytes = encode_json(
        openapi_document(spec, secured=getattr(pipeline, "authenticated", True))
    )
    docs_html = swagger_html(agent_name)
    ready_bytes = encode_json({"status": "ready", "agent": agent_name})

    @get("/schema")
    async def schema() -> Response[bytes]:
        return Response(content=schema_bytes, media_type=JSON)

    @get("/health")
    async def health() -> Response[bytes]:
        body: dict[str, Any] = {
            "status": "healthy" if serving.ready else "stopping",
            "version": version,
            "agent": agent_name,
            "uptime_seconds": round(time.monotonic() - serving.started, 3),
        }
        if pipeline.plugin_errors:  # names only: why is in the log, not on a public route
            body["plugin_errors"] = list(pipeline.plugin_errors)
        return Response(content=encode_json(body), media_type=JSON)

    @get("/ready")
    async def ready() -> Response[bytes]:
        serving.refuse_when_stopping()
        if readiness is not None:
            reason = readiness()
            if reason is not None:
                raise ServiceUnavailable(reason)
        return Response(content=ready_bytes, media_type=JSON)

    @get("/openapi.json")
    async def openapi() -> Response[bytes]:
        return Response(content=openapi_bytes, media_type=JSON)

    @get("/docs")
    async def docs(request: Request[Any, Any, Any]) -> Response[str]:
        # Public like /openapi.json: a browser cannot send the API's credentials to load a
        # page. ``/docs/`` reaches here too (Litestar ignores the slash), where the page's
        # relative links would miss: the browser is sent to ``/docs`` (under any prefix).
        raw_path = request.scope.get("raw_path") or request.scope["path"].encode()
        if raw_path.endswith(b"/"):
            return Response(content="", status_code=301, headers={"location": "../docs"})
        return Response(content=docs_html, media_type="text/html")

    @get("/docs/assets/{name:str}")
    async def docs_asset(name: Annotated[str, PathParameter()]) -> Response[bytes]:
        asset = swagger_asset(name)
        if asset is None:
            raise RuntimeHTTPError(404, "NotFound", "no such asset", path=name)
        body, media_type = asset
        return Response(
            content=body, media_type=media_type, headers={"cache-control": "max-age=86400"}
        )

    handlers: list[Any] = [schema, health, ready, openapi]
    if getattr(spec.expose, "docs", True):
        handlers += [docs, docs_asset]
    return handlers


def _metrics_handlers(pipeline: Pipeline, spec: DockSpec) -> list[Any]:
    """``GET /metrics`` when a telemetry sink renders metrics (none otherwise)."""
    exporter = pipeline.capabilities.sinks.metrics
    if exporter is None:
        return []
    metrics_cfg = spec.observability.metrics
    # ``public`` is Dockfile 1.1's (MetricsCfg11); a 1.0 spec's /metrics always asks.
    public_metrics = isinstance(metrics_cfg, MetricsCfg11) and metrics_cfg.public

    @get("/metrics")
    async def metrics(request: Request[Any, Any, Any]) -> Response[bytes]:
        if not public_metrics:
            await pipeline.authorize(_headers(request), "view_metrics")
        # Multiprocess collection reads files: off the event loop.
        body, content_type = await asyncio.to_thread(exporter.render_metrics)
        return Response(content=body, media_type=content_type)

    return [metrics]


def _ws_handlers(
    pipeline: Pipeline, streaming: str, limits: ServerLimits, serving: _Serving
) -> list[Any]:
    """``/ws/stream``: the WebSocket endpoint, or a 404 for every way of asking for it."""
    if streaming == "websocket":
        slots = ConnectionSlots(limits.ws_max_connections)

        @websocket("/ws/stream")
        async def ws_stream(socket: WebSocket[Any, Any, Any]) -> None:
            asgi: Any = socket  # its typed scope and callables, as plain ASGI ones
            await ws_endpoint(
                asgi.scope,
                asgi.receive,
                asgi.send,
                pipeline=pipeline,
                slots=slots,
                max_bytes=limits.max_body_bytes,
                idle_timeout=limits.ws_idle_timeout,
                is_ready=serving.is_ready,
            )

        return [ws_stream]
    not_served = RuntimeHTTPError(
        404, "NotFound", f"no route for /ws/stream (expose.streaming is {streaming})"
    )

    @websocket("/ws/stream")
    async def ws_not_served(socket: WebSocket[Any, Any, Any]) -> None:
        asgi: Any = socket
        await refuse(asgi.scope, asgi.send, not_served)

    # A plain HTTP request to the path is told the same (not 405: there is no route).
    @route("/ws/stream", http_method=list(HttpMethod), include_in_schema=False)
    async def ws_not_served_http() -> None:
        raise not_served

    return [ws_not_served, ws_not_served_http]


def _cors_config(cors: Any) -> CORSConfig | None:
    """Litestar's CORS settings from ``expose.cors`` (``None``: no origin is allowed)."""
    if cors is None or not cors.origins:
        return None
    return CORSConfig(
        allow_origins=list(cors.origins),
        allow_methods=list(cors.methods) or ["GET", "POST"],
        allow_headers=_ALLOWED_HEADERS,
        expose_headers=["x-run-id", "x-trace-id"],
    )
