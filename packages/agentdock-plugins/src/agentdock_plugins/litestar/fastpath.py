"""``POST /invoke`` answered straight from ASGI, in front of Litestar's router.

``/invoke`` is the route every call of an agent takes, and its handler takes the raw body and
hands it to the pipeline: Litestar's routing, signature model, exception middleware and
response objects cost about a quarter of the CPU of a run of a small graph. This path reads the
body (bounded), runs the pipeline and writes the JSON response or the error envelope itself,
with the same statuses, headers and bodies as the Litestar route, which still serves every
other request: other routes and methods, and requests with an ``Origin`` when CORS is
configured (Litestar adds the CORS headers).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping, MutableMapping
from typing import Any
from urllib.parse import parse_qsl

from agentdock_runtime import (
    InternalError,
    PayloadTooLarge,
    Pipeline,
    RuntimeHTTPError,
    ServiceUnavailable,
)

from agentdock_plugins.litestar.encoding import encode_json

__all__ = ["check_json", "invoke_fast_path", "request_headers", "thread_id"]

log = logging.getLogger("agentdock.server")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

_JSON_HEADER = (b"content-type", b"application/json")


class _Disconnected(Exception):
    """The client went away before its body arrived: nothing to answer."""


#: Headers whose repeats are kept (joined) so that the auth provider refuses them.
_CREDENTIAL_HEADERS = (b"authorization", b"x-api-key")


def request_headers(scope: Scope) -> dict[str, str]:
    """The request's headers as ``{lower-case name: value}`` (ASGI names are lower-case).

    A repeated header keeps its last value, except a credential header: its values are
    joined with ``", "`` (as RFC 9110 §5.3 combines field lines), which no key or token
    contains, so the auth provider sees several credentials and refuses the request instead
    of silently using the last. Only a request with a repeated header pays for the check.
    """
    raw = scope["headers"]
    headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in raw}
    if len(headers) != len(raw):
        for name in _CREDENTIAL_HEADERS:
            values = [v.decode("latin-1") for k, v in raw if k == name]
            if len(values) > 1:
                headers[name.decode()] = ", ".join(values)
    return headers


def thread_id(headers: Mapping[str, str], query_string: bytes) -> str | None:
    """The conversation id: ``x-thread-id``, else the first ``thread_id`` query parameter."""
    thread = headers.get("x-thread-id")
    if thread:
        return thread
    if query_string:
        for name, value in parse_qsl(query_string.decode("latin-1"), keep_blank_values=True):
            if name == "thread_id":
                return value or None
    return None


def check_json(headers: Mapping[str, str]) -> None:
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


def _header_list(values: Mapping[str, str]) -> list[tuple[bytes, bytes]]:
    return [(k.encode("latin-1"), v.encode("latin-1")) for k, v in values.items()]


async def _respond(send: Send, status: int, body: bytes, extra: list[tuple[bytes, bytes]]) -> None:
    headers = [_JSON_HEADER, (b"content-length", str(len(body)).encode()), *extra]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def _respond_error(send: Send, error: RuntimeHTTPError) -> None:
    extra = dict(error.headers)
    if error.run_id is not None:
        extra["x-run-id"] = error.run_id
        extra["x-trace-id"] = error.trace_id or error.run_id
    await _respond(send, error.status, encode_json(error.envelope()), _header_list(extra))


def invoke_fast_path(
    app: ASGIApp,
    pipeline: Pipeline,
    *,
    max_body_bytes: int,
    is_ready: Callable[[], bool],
    cors: bool,
) -> ASGIApp:
    """``app`` with ``POST /invoke`` answered before it (see the module's docstring).

    :param is_ready: false once the runtime is shutting down (503, as the Litestar route).
    :param cors: CORS is configured: requests with an ``Origin`` header go to ``app``.
    """
    invoke = pipeline.invoke

    async def handle(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != "/invoke" or scope["method"] != "POST":
            await app(scope, receive, send)
            return
        headers = request_headers(scope)
        if cors and "origin" in headers:
            await app(scope, receive, send)
            return
        try:
            if not is_ready():
                raise ServiceUnavailable("the runtime is shutting down")
            check_json(headers)
            body = await _read_body(receive, headers, max_body_bytes)
            result = await invoke(
                body, headers=headers, thread_id=thread_id(headers, scope["query_string"])
            )
            content = encode_json(result.output)
        except RuntimeHTTPError as exc:
            await _respond_error(send, exc)
            return
        except _Disconnected:
            return
        except Exception as exc:
            log.error("POST /invoke raised %s", type(exc).__name__, exc_info=exc)
            await _respond_error(send, InternalError("the server failed to handle the request"))
            return
        run_id = result.run_id.encode("latin-1")
        trace_id = result.trace_id.encode("latin-1") if result.trace_id else run_id
        await _respond(send, 200, content, [(b"x-run-id", run_id), (b"x-trace-id", trace_id)])

    return handle
