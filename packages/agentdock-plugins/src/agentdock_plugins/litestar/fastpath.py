"""``POST /invoke`` and the Platform's ``runs.wait`` answered straight from ASGI, in front of
Litestar's router.

``/invoke`` is the route every call of an agent takes, and ``POST /runs/wait`` (and
``/threads/{id}/runs/wait``) the one a LangGraph Platform client takes; each handler takes
the raw body and hands it to the pipeline: Litestar's routing, signature model, exception
middleware and response objects cost about a quarter of the CPU of a run of a small graph.
This path admits the caller from the headers, then reads the body (bounded; its content
type and size told to an admitted caller only, as :mod:`.platform.admitted` tells them)
and writes the response itself; what each route does is shared with its Litestar handler
(:class:`.invoke.InvokeRoute`, :class:`.platform.waitroute.WaitRoute`) and errors take the
same envelope (:func:`.errors.error_parts`), so statuses, headers and bodies are the same.
The Litestar routes still serve every other request: other routes and methods, and requests
with an ``Origin`` when CORS is configured (Litestar adds the CORS headers). Middleware of
the telemetry sinks wraps this path too (it wraps the whole application).

Kept because it still measures faster: ``benchmarks/http_servers.py --graphs sync --repeat 2
--duration 5`` on the echo graph (server on one core) gave 1373 requests/s with this path and
1182 with every ``/invoke`` going through the Litestar route (1.16x), in back-to-back runs;
``benchmarks/platform_wait_split.py`` measures what it saves on ``runs.wait``.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping

from agentdock_runtime import InternalError, PayloadTooLarge, Pipeline, RuntimeHTTPError

from agentdock_plugins.litestar.errors import error_parts
from agentdock_plugins.litestar.invoke import (
    InvokeRoute,
    Receive,
    Scope,
    Send,
    check_json,
    request_headers,
)
from agentdock_plugins.litestar.platform.waitroute import NOT_WAIT, WaitRoute

__all__ = ["invoke_fast_path"]

log = logging.getLogger("agentdock.server")

ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

_JSON_HEADER = (b"content-type", b"application/json")


class _Disconnected(Exception):
    """The client went away before its body arrived: nothing to answer."""


async def _read_body(receive: Receive, headers: Mapping[str, str], limit: int) -> bytes:
    declared = headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge("the request body is too large")
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise _Disconnected
        chunk = message.get("body", b"")
        if chunk:
            size += len(chunk)
            if size > limit:
                raise PayloadTooLarge("the request body is too large")
            chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)


async def _respond(send: Send, status: int, body: bytes, extra: Mapping[str, str]) -> None:
    headers = [
        _JSON_HEADER,
        (b"content-length", str(len(body)).encode()),
        *((k.encode("latin-1"), v.encode("latin-1")) for k, v in extra.items()),
    ]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def _respond_error(send: Send, error: RuntimeHTTPError) -> None:
    await _respond(send, *error_parts(error))


def invoke_fast_path(
    app: ASGIApp,
    pipeline: Pipeline,
    *,
    max_body_bytes: int,
    is_ready: Callable[[], bool],
    cors: bool,
    invoke: bool = True,
    wait: WaitRoute | None = None,
) -> ASGIApp:
    """``app`` with ``POST /invoke`` and ``runs.wait`` answered before it (see the module's
    docstring).

    :param is_ready: false once the runtime is shutting down (503, as the Litestar route).
    :param cors: CORS is configured: requests with an ``Origin`` header go to ``app``.
    :param invoke: ``/invoke`` is served (``expose.rest``).
    :param wait: the Platform's ``runs.wait`` routes, when the Platform API is served.
    """
    route = InvokeRoute(pipeline, is_ready)
    admit = pipeline.admit

    async def handle(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST":
            await app(scope, receive, send)
            return
        path = scope["path"]
        thread: str | None = NOT_WAIT
        if path == "/invoke":
            if not invoke:
                await app(scope, receive, send)
                return
        elif wait is None or (thread := wait.thread_of(path)) == NOT_WAIT:
            await app(scope, receive, send)
            return
        headers: Mapping[str, str] = request_headers(scope)
        if cors and "origin" in headers:
            await app(scope, receive, send)
            return
        try:
            if thread == NOT_WAIT:
                route.admit()
            # The caller is admitted before a byte of the body is read; the run takes it
            # as admitted (the rate limit counts the call once).
            headers = await admit(headers)
            check_json(headers)
            body = await _read_body(receive, headers, max_body_bytes)
            if thread == NOT_WAIT:
                content, run_headers = await route.run(body, headers, scope["query_string"])
                status = 200
            else:
                assert wait is not None
                status, content, run_headers = await wait.run(body, headers, thread)
        except RuntimeHTTPError as exc:
            await _respond_error(send, exc)
            return
        except _Disconnected:
            return
        except Exception as exc:
            log.error("POST %s raised %s", path, type(exc).__name__, exc_info=exc)
            await _respond_error(send, InternalError("the server failed to handle the request"))
            return
        await _respond(send, status, content, run_headers)

    return handle
