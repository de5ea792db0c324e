"""The metrics ASGI middleware: route templates, statuses, in-flight, pass-through scopes."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from agentdock.capabilities import CLIENT_GONE
from agentdock_plugins.prometheus.sink import PrometheusSink


class App:
    """A bare ASGI app answering ``status``; it can wait for a signal before answering."""

    def __init__(self, status: int = 200, *, fail: bool = False) -> None:
        self.status = status
        self.fail = fail
        self.seen: list[str] = []
        self.release: asyncio.Event | None = None
        self.entered: asyncio.Event | None = None

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        self.seen.append(scope["type"])
        if scope["type"] != "http":
            return
        if self.entered is not None:
            self.entered.set()
        if self.release is not None:
            await self.release.wait()
        if self.fail:
            raise RuntimeError("boom")
        await send({"type": "http.response.start", "status": self.status, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})


async def call(app: Any, path: str, method: str = "POST", kind: str = "http") -> list[Any]:
    sent: list[Any] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Any) -> None:
        sent.append(message)

    await app({"type": kind, "path": path, "method": method, "headers": []}, receive, send)
    return sent


def value(sink: PrometheusSink, name: str, **labels: str) -> float | None:
    return sink.registry.get_sample_value(name, labels)


def test_mcp_and_a2a_requests_have_their_own_route_labels() -> None:
    """MCP's endpoint and A2A's (whose path names the agent) are counted by their route
    templates, never ``other`` and never the raw path."""
    sink = PrometheusSink()
    app = sink.asgi_middleware(App(200))

    async def main() -> None:
        await call(app, "/mcp")
        await call(app, "/mcp/")
        await call(app, "/a2a/echo/")
        await call(app, "/a2a/chat")
        await call(app, "/a2a/echo/.well-known/agent-card.json", "GET")
        await call(app, "/a2a/echo/extra/segments")

    asyncio.run(main())
    count = "agentdock_http_requests_total"
    assert value(sink, count, route="/mcp", method="POST", status="200") == 2
    assert value(sink, count, route="/a2a/{agent}", method="POST", status="200") == 2
    card = "/a2a/{agent}/.well-known/agent-card.json"
    assert value(sink, count, route=card, method="GET", status="200") == 1
    assert value(sink, count, route="other", method="POST", status="200") == 1
    text = sink.render_metrics()[0]
    assert b"/a2a/echo" not in text and b"/a2a/chat" not in text


def test_requests_are_counted_by_route_template_method_and_status() -> None:
    sink = PrometheusSink()
    ok, refused = sink.asgi_middleware(App(200)), sink.asgi_middleware(App(401))

    async def main() -> None:
        await call(ok, "/invoke")
        await call(ok, "/invoke")
        await call(refused, "/stream", "GET")
        await call(ok, "/users/1234/secret-path")
        await call(ok, "/invoke", "BREW")

    asyncio.run(main())
    assert (
        value(sink, "agentdock_http_requests_total", route="/invoke", method="POST", status="200")
        == 2
    )
    assert (
        value(sink, "agentdock_http_requests_total", route="/stream", method="GET", status="401")
        == 1
    )
    assert (
        value(sink, "agentdock_http_requests_total", route="other", method="POST", status="200")
        == 1
    )
    assert (
        value(sink, "agentdock_http_requests_total", route="/invoke", method="other", status="200")
        == 1
    )
    assert (
        value(sink, "agentdock_http_request_duration_seconds_count", route="/invoke", method="POST")
        == 2
    )
    assert b"secret-path" not in sink.render_metrics()[0]


def test_in_flight_gauge_rises_during_a_request_and_falls_after() -> None:
    sink = PrometheusSink()
    app = App()
    wrapped = sink.asgi_middleware(app)

    async def main() -> None:
        app.release, app.entered = asyncio.Event(), asyncio.Event()
        task = asyncio.create_task(call(wrapped, "/invoke"))
        await app.entered.wait()
        assert value(sink, "agentdock_http_requests_in_flight") == 1
        app.release.set()
        await task

    asyncio.run(main())
    assert value(sink, "agentdock_http_requests_in_flight") == 0


def test_an_app_that_raises_is_counted_as_500_and_the_error_propagates() -> None:
    sink = PrometheusSink()
    wrapped = sink.asgi_middleware(App(fail=True))
    with pytest.raises(RuntimeError):
        asyncio.run(call(wrapped, "/invoke"))
    assert (
        value(sink, "agentdock_http_requests_total", route="/invoke", method="POST", status="500")
        == 1
    )
    assert value(sink, "agentdock_http_requests_in_flight") == 0


def test_a_request_whose_client_went_away_is_counted_under_the_servers_mark() -> None:
    """The server marks the scope (``CLIENT_GONE``) when the connection closed before the
    response: no response or a 5xx after that is the client's doing, not a server error."""
    sink = PrometheusSink()

    class Gone:
        def __init__(self, status: int | None, mark: int | None) -> None:
            self.status, self.mark = status, mark

        async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
            if self.mark is not None:
                scope[CLIENT_GONE] = self.mark
            if self.status is not None:
                await send({"type": "http.response.start", "status": self.status, "headers": []})
                await send({"type": "http.response.body", "body": b""})

    async def main() -> None:
        for status, mark in ((None, 499), (500, 499), (None, 408), (200, 499), (None, None)):
            await call(sink.asgi_middleware(Gone(status, mark)), "/invoke")

    asyncio.run(main())
    counted = {
        code: value(
            sink, "agentdock_http_requests_total", route="/invoke", method="POST", status=code
        )
        for code in ("499", "408", "500", "200")
    }
    # An answer that started before the client left keeps its status.
    assert counted == {"499": 2, "408": 1, "500": 1, "200": 1}


def test_websocket_and_lifespan_scopes_pass_through_uncounted() -> None:
    sink = PrometheusSink()
    app = App()
    wrapped = sink.asgi_middleware(app)

    async def main() -> None:
        await call(wrapped, "/ws/stream", kind="websocket")
        await call(wrapped, "", kind="lifespan")

    asyncio.run(main())
    assert app.seen == ["websocket", "lifespan"]
    assert b"agentdock_http_requests_total{" not in sink.render_metrics()[0]
