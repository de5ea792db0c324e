"""``/ws/stream``: runs over one WebSocket, one JSON text frame per stream item.

**Handshake.** The caller is authenticated from the upgrade request, before the connection
is accepted: not one frame is read, decoded or buffered by the application before that.
Credentials come from

* the ``x-api-key`` or ``Authorization: Bearer`` header, as on every other route; or
* for browsers, which cannot set headers on a WebSocket, the subprotocol list (the scheme
  of the Kubernetes API server): the client offers ``agentdock`` and one of
  ``agentdock.bearer.<credential>`` (sent on as ``Authorization: Bearer``) or
  ``agentdock.api-key.<credential>`` (as ``x-api-key``), the credential base64url-encoded
  without padding. The server answers with ``agentdock`` alone, never the credential::

      new WebSocket(url, ["agentdock", "agentdock.bearer." + base64url(token)])

The handshake counts as one request against the caller's rate limit, and failures are
counted in telemetry like those of any route. A middleware that measures requests is told
how the handshake was answered (``101``, or the refusal's status) through the scope
(:data:`agentdock.capabilities.WS_HANDSHAKE`), so the frames pass it untouched. A refused
handshake is answered with the HTTP response the same failure gets on ``/invoke`` (status,
error envelope, ``WWW-Authenticate`` or ``Retry-After``) instead of ``101``: 400 (a
credential both in a header and in a subprotocol, several credential subprotocols, or one
without ``agentdock`` beside it), 401, 403, 429, 498, 499, 503 (shutting down, or
:attr:`~.limits.ServerLimits.ws_max_connections` open already). An ASGI server without the
WebSocket denial-response extension answers 403. A browser reports any refusal as a failed
connection (close code 1006).

**Runs.** The client sends ``{"input": {...}, "thread_id": "..."}`` (``thread_id``
optional); the server answers with ``{"event": KIND, "id": N, "data": {...}}`` frames,
``start`` to ``end`` or ``error``, the same items as the SSE stream; ``end`` and ``error``
also name the run's trace (``trace_id``, as ``start`` does and ``x-trace-id`` on the HTTP
routes). Each frame's caller is admitted again before the frame is read, as ``/invoke``
admits a request before its body (a revoked key stops working on an open connection): a
frame refused there (401, 403, 429, 498, 499) starts no run, and its ``error`` frame names
none. A frame that is not such an object (not JSON, no ``input``, a ``thread_id`` that is
not a string) from an admitted caller is a run refused at its input, as a malformed body
is on ``/invoke``: one ``error`` frame holding the error envelope with the run's
``run_id`` and ``trace_id``, the run reported and counted against the rate limit. The
connection stays open for the next run. Runs go one at a time: the next frame is read when
the current run has ended, and the server stops reading the socket meanwhile, so at most
one message waits per connection. When the client disconnects mid-run, the run is
cancelled.

**Close codes.**

====== ===========================================================================
1001   idle: no frame and no run for ``ws_idle_timeout`` seconds
1008   the credentials stopped being valid: a run was refused 401, 498 or 499 (its
       ``error`` frame is sent first)
1009   a message larger than ``max_body_bytes``, compressed or not: uvicorn closes
       from the frame's header, before reading it; this handler checks again for
       servers that do not
1012   the server is shutting down (uvicorn)
====== ===========================================================================
"""

from __future__ import annotations

import asyncio
import binascii
import contextlib
from collections.abc import AsyncGenerator, Callable, Mapping
from typing import Any, cast

from agentdock.capabilities import WS_HANDSHAKE
from agentdock_runtime import (
    MalformedJSONError,
    Pipeline,
    RuntimeHTTPError,
    ServiceUnavailable,
    StreamItem,
    Unauthorized,
)
from agentdock_runtime.iomodels import decode_json
from litestar.exceptions import WebSocketDisconnect

from agentdock_plugins.auth.credentials import MAX_CREDENTIAL_BYTES
from agentdock_plugins.litestar.encoding import encode_json
from agentdock_plugins.litestar.errors import error_parts
from agentdock_plugins.litestar.invoke import Receive, Scope, Send, request_headers

__all__ = [
    "CLOSE_CREDENTIALS",
    "CLOSE_IDLE",
    "CLOSE_TOO_BIG",
    "SUBPROTOCOL",
    "ConnectionSlots",
    "handshake_credentials",
    "refuse",
    "ws_endpoint",
]

#: The subprotocol the server answers with when the client offers it.
SUBPROTOCOL = "agentdock"
#: Subprotocol prefixes that carry a credential, and the header each stands for.
_CARRIERS = (("agentdock.bearer.", "authorization"), ("agentdock.api-key.", "x-api-key"))

CLOSE_IDLE = 1001
CLOSE_CREDENTIALS = 1008
CLOSE_TOO_BIG = 1009
#: A run refused with one of these: the connection's credentials are no longer good.
_CREDENTIALS_GONE = frozenset({401, 498, 499})
#: The frames that end a run: each names the run's trace besides its id.
_TRACED = frozenset({"end", "error"})
#: Base64url text of the largest credential accepted.
_MAX_ENCODED = (MAX_CREDENTIAL_BYTES * 4 + 2) // 3
_DENIAL = "websocket.http.response"
_JSON = (b"content-type", b"application/json")


class ConnectionSlots:
    """Open WebSocket connections of one application, against their limit."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.open = 0

    def take(self) -> bool:
        if self.open >= self.limit:
            return False
        self.open += 1
        return True

    def give_back(self) -> None:
        self.open -= 1


def _bad_request(detail: str) -> RuntimeHTTPError:
    return RuntimeHTTPError(400, "BadRequest", detail, path="Sec-WebSocket-Protocol")


def _decode_credential(encoded: str) -> str:
    if not encoded or len(encoded) > _MAX_ENCODED:
        raise Unauthorized("the credential subprotocol is empty or too large")
    padded = encoded.replace("-", "+").replace("_", "/") + "=" * (-len(encoded) % 4)
    try:
        value = binascii.a2b_base64(padded, strict_mode=True).decode("ascii")
    except (binascii.Error, UnicodeDecodeError):
        raise Unauthorized("the credential subprotocol is not base64url text") from None
    if not value.isprintable() or not value.strip():
        raise Unauthorized("the credential subprotocol holds no credential")
    return value.strip()


def handshake_credentials(scope: Scope) -> tuple[dict[str, str], str | None]:
    """The headers to authenticate (a subprotocol's credential moved into its header, the
    ``Sec-WebSocket-Protocol`` header dropped), and the subprotocol to answer with.

    :raises RuntimeHTTPError: 400 for ambiguous credentials, 401 for an undecodable one.
    """
    headers = request_headers(scope)
    headers.pop("sec-websocket-protocol", None)
    offered: list[str] = list(scope.get("subprotocols") or ())
    answer = SUBPROTOCOL if SUBPROTOCOL in offered else None
    carried = [
        (header, protocol[len(prefix) :])
        for protocol in offered
        for prefix, header in _CARRIERS
        if protocol.startswith(prefix)
    ]
    if not carried:
        return headers, answer
    if len(carried) > 1:
        raise _bad_request("offer one credential subprotocol, not several")
    if "authorization" in headers or "x-api-key" in headers:
        raise _bad_request("credentials both in a header and in a subprotocol: send one")
    if answer is None:
        raise _bad_request(f"a credential subprotocol needs {SUBPROTOCOL!r} offered beside it")
    header, encoded = carried[0]
    value = _decode_credential(encoded)
    headers[header] = f"Bearer {value}" if header == "authorization" else value
    return headers, answer


async def refuse(scope: Scope, send: Send, error: RuntimeHTTPError) -> None:
    """Answer the handshake with ``error``'s status and envelope instead of accepting it."""
    if _DENIAL not in (scope.get("extensions") or {}):
        await send({"type": "websocket.close", "code": CLOSE_CREDENTIALS, "reason": error.name})
        _answered(scope, 403)  # what the server answers a close before accepting
        return
    status, body, extra = error_parts(error)
    headers = [
        _JSON,
        (b"content-length", str(len(body)).encode()),
        *((k.encode("latin-1"), v.encode("latin-1")) for k, v in extra.items()),
    ]
    start = {"type": "websocket.http.response.start", "status": status, "headers": headers}
    await send(start)
    await send({"type": "websocket.http.response.body", "body": body})
    _answered(scope, status)


def _answered(scope: Scope, status: int) -> None:
    """Tell a middleware that measures requests how the handshake was answered."""
    told = scope.get(WS_HANDSHAKE)
    if told is not None:
        told(status)


def _frame(event: str, item_id: int, data: Mapping[str, Any]) -> str:
    return encode_json({"event": event, "id": item_id, "data": data}).decode()


def _request(raw: str | bytes) -> tuple[Any, str | None]:
    try:
        message = decode_json(raw)
    except MalformedJSONError as error:
        if error.path is not None:  # an integer wider than 64 bits: where it is
            raise
        raise MalformedJSONError("the frame is not valid JSON") from None
    if type(message) is not dict or "input" not in message:
        raise RuntimeHTTPError(
            400, "BadRequest", 'a frame must be an object {"input": {...}}', path="input"
        )
    thread_id = message.get("thread_id")
    if thread_id is not None and not isinstance(thread_id, str):
        raise RuntimeHTTPError(400, "BadRequest", "thread_id must be a string", path="thread_id")
    value = message["input"]
    # Objects go to the pipeline as they are; anything else is re-encoded for its 422.
    return (value if type(value) is dict else encode_json(value)), thread_id


def _too_large(data: str | bytes, limit: int) -> bool:
    if len(data) > limit:
        return True
    # A character is 1 to 4 bytes of UTF-8: count exactly only when it can matter.
    return isinstance(data, str) and len(data) * 4 > limit and len(data.encode()) > limit


async def _runs(
    receive: Receive,
    send: Send,
    pipeline: Pipeline,
    headers: Mapping[str, str],
    *,
    max_bytes: int,
    idle_timeout: float,
) -> None:
    async def close(code: int, reason: str) -> None:
        await send({"type": "websocket.close", "code": code, "reason": reason})

    async def send_text(text: str) -> None:
        await send({"type": "websocket.send", "text": text})

    admit = pipeline.admit

    while True:
        try:
            async with asyncio.timeout(idle_timeout):
                message = await receive()
        except TimeoutError:
            await close(CLOSE_IDLE, "idle timeout")
            return
        kind = message["type"]
        if kind == "websocket.connect":  # queued by the server with the handshake
            continue
        if kind != "websocket.receive":
            return
        data = message.get("text")
        if data is None:
            data = message.get("bytes") or b""
        if _too_large(data, max_bytes):
            await close(CLOSE_TOO_BIG, f"a message may hold {max_bytes} bytes")
            return
        try:
            # As on /invoke, the caller is admitted (401, 403, 429, 498, 499) before the
            # frame is read: a refusal here starts no run, and its frame names none. The
            # run takes the admission as it is (the rate limit counts the frame once).
            admitted = await admit(headers)
            try:
                payload, thread_id = _request(data)
            except RuntimeHTTPError as malformed:
                # As a malformed body on /invoke: a run refused at its input (its run id in
                # the error frame, reported, counted against the rate limit).
                await pipeline.refuse_input(malformed, headers=admitted)
            # Pipeline.stream is an async generator: aclose() ends the run on disconnect.
            items = cast(
                "AsyncGenerator[StreamItem, None]",
                pipeline.stream(payload, headers=admitted, thread_id=thread_id),
            )
            async with contextlib.aclosing(items):
                start = await anext(items)  # a refusal before the run starts raises here
                trace_id = start.data.get("trace_id") or start.data.get("run_id")
                await send_text(_frame(start.event, start.id, start.data))
                async for item in items:
                    if item.event in _TRACED:  # its trace, as x-trace-id names it elsewhere
                        traced = {**item.data, "trace_id": trace_id}
                        await send_text(_frame(item.event, item.id, traced))
                    else:
                        await send_text(_frame(item.event, item.id, item.data))
        except RuntimeHTTPError as exc:
            envelope = exc.envelope()
            if exc.run_id is not None:  # a run refused: its trace, as x-trace-id names it
                envelope["trace_id"] = exc.trace_id or exc.run_id
            await send_text(_frame("error", 1, envelope))
            if exc.status in _CREDENTIALS_GONE:
                await close(CLOSE_CREDENTIALS, "the credentials are no longer valid")
                return


async def ws_endpoint(
    scope: Scope,
    receive: Receive,
    send: Send,
    *,
    pipeline: Pipeline,
    slots: ConnectionSlots,
    max_bytes: int,
    idle_timeout: float,
    is_ready: Callable[[], bool],
) -> None:
    """Authenticate the handshake, then serve runs until either side closes."""
    try:
        if not is_ready():
            raise ServiceUnavailable("the runtime is shutting down")
        headers, subprotocol = handshake_credentials(scope)
        await pipeline.authorize(headers, "invoke")
        if not slots.take():
            raise ServiceUnavailable(
                f"{slots.limit} WebSocket connections are open already; retry later"
            )
    except RuntimeHTTPError as exc:
        await refuse(scope, send, exc)
        return
    try:
        await send({"type": "websocket.accept", "subprotocol": subprotocol, "headers": []})
        _answered(scope, 101)
        with contextlib.suppress(WebSocketDisconnect, OSError):
            await _runs(
                receive,
                send,
                pipeline,
                headers,
                max_bytes=max_bytes,
                idle_timeout=idle_timeout,
            )
    finally:
        slots.give_back()
