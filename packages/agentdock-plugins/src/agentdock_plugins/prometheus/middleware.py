"""ASGI middleware that counts and times HTTP requests for Prometheus.

Per request it does one dict lookup for the route template, reads the status from the
``http.response.start`` message and observes the time until the app returned (for a stream,
until its last frame). Label children are resolved once per (route, method, status) and
kept, so the label lock of prometheus-client is taken once per combination, not per request.
A request that ended without a response, or with a 5xx, after its client went away (the
server marks its scope with :data:`agentdock.capabilities.CLIENT_GONE`) is counted under
that mark's status (499, or 408 for a body the server stopped waiting for), not as a 500:
a client that disconnects is no server error.

A WebSocket's handshake is a request too (a ``GET``): counted ``101`` when accepted, or
under the status of its refusal, and timed until that answer. The route tells the answer
through the callable this middleware puts in the scope
(:data:`agentdock.capabilities.WS_HANDSHAKE`), so neither ``send`` nor ``receive`` is
wrapped: the connection's frames pass through at no cost, and an open connection is no
request in flight. A handshake no route answered is counted when the application returns:
``403`` (what the server answers a close before accepting) or, when it raised, ``500``.
Lifespan scopes pass straight through.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass, field
from typing import Any

from agentdock.capabilities import CLIENT_GONE, WS_HANDSHAKE

from agentdock_plugins.prometheus.labels import OTHER, route_label

__all__ = ["HttpMetrics", "metrics_middleware"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

_METHODS = {m: m for m in ("GET", "POST", "HEAD", "OPTIONS", "PUT", "PATCH", "DELETE")}


@dataclass(slots=True)
class HttpMetrics:
    """The three HTTP metric families and their resolved children."""

    requests: Any
    duration: Any
    in_flight: Any
    _counted: dict[tuple[str, str, int], Any] = field(default_factory=dict)
    _timed: dict[tuple[str, str], Any] = field(default_factory=dict)

    def record(self, route: str, method: str, status: int, seconds: float) -> None:
        key = (route, method, status)
        counter = self._counted.get(key)
        if counter is None:
            counter = self._counted[key] = self.requests.labels(route, method, str(status))
        counter.inc()
        timed = self._timed.get((route, method))
        if timed is None:
            timed = self._timed[(route, method)] = self.duration.labels(route, method)
        timed.observe(seconds)


def metrics_middleware(app: ASGIApp, metrics: HttpMetrics) -> ASGIApp:
    """``app`` wrapped so every HTTP request is counted, timed and seen in flight."""
    in_flight = metrics.in_flight
    record = metrics.record
    clock = time.perf_counter

    async def handshake(scope: Scope, receive: Receive, send: Send) -> None:
        route = route_label(scope["path"])
        outer = scope.get(WS_HANDSHAKE)  # another middleware's, around this one
        started = 0.0
        answered = False

        def answer(status: int) -> None:
            nonlocal answered
            if answered:
                return
            answered = True
            in_flight.dec()
            record(route, "GET", status, clock() - started)
            if outer is not None:
                outer(status)

        scope[WS_HANDSHAKE] = answer
        in_flight.inc()
        started = clock()
        try:
            await app(scope, receive, send)
        except BaseException:
            answer(scope.get(CLIENT_GONE) or 500)
            raise
        answer(403)

    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            if scope["type"] == "websocket":
                await handshake(scope, receive, send)
            else:
                await app(scope, receive, send)
            return
        route = route_label(scope["path"])
        method = _METHODS.get(scope["method"], OTHER)
        status = 500

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        in_flight.inc()
        started = clock()
        try:
            await app(scope, receive, send_status)
        finally:
            in_flight.dec()
            if not 100 <= status < 500:
                # No response, a 5xx or a nonsense status: the client may have gone first.
                status = scope.get(CLIENT_GONE) or (status if 100 <= status <= 599 else 500)
            record(route, method, status, clock() - started)

    return middleware
