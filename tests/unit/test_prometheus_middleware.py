"""The metrics ASGI middleware: route templates, statuses, in-flight, pass-through scopes."""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import Iterator
from typing import Any

import agentdock_plugins.litestar.app as litestar_app
import pytest
from agentdock.capabilities import CLIENT_GONE, WS_HANDSHAKE
from agentdock_plugins.prometheus.labels import OTHER, ROUTE_TEMPLATES, route_label
from agentdock_plugins.prometheus.sink import PrometheusSink
from agentdock_runtime.asgiclient import client
from hypothesis import given, settings
from hypothesis import strategies as st
from litestar import Litestar
from litestar.exceptions import MethodNotAllowedException, NotFoundException
from litestar.utils import normalize_path
from unit.runtime.test_pipeline import GOOD, Agent, build, make_spec


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


def test_lifespan_scopes_pass_through_uncounted() -> None:
    sink = PrometheusSink()
    app = App()
    wrapped = sink.asgi_middleware(app)
    asyncio.run(call(wrapped, "", kind="lifespan"))
    assert app.seen == ["lifespan"]
    assert b"agentdock_http_requests_total{" not in sink.render_metrics()[0]


class Socket:
    """A WebSocket route: answers the handshake ``status`` through the scope's callable
    (or never, with ``None``), then sends ``frames`` frames; it may raise after that."""

    def __init__(self, status: int | None, frames: int = 0, *, fail: bool = False) -> None:
        self.status, self.frames, self.fail = status, frames, fail
        self.sends: list[Any] = []

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        self.sends.append(send)
        if self.status is not None:
            scope[WS_HANDSHAKE](self.status)
            scope[WS_HANDSHAKE](self.status)  # a second call is not counted again
        for n in range(self.frames):
            await send({"type": "websocket.send", "text": str(n)})
        if self.fail:
            raise RuntimeError("boom")


def test_a_websocket_handshake_is_counted_as_the_route_answers_it() -> None:
    sink = PrometheusSink()

    async def main() -> None:
        for status in (101, 101, 401, 429):
            app = Socket(status, frames=3)
            sent = await call(sink.asgi_middleware(app), "/ws/stream", kind="websocket")
            assert len(sent) == 3
        # Not answered by the route: a close before accepting (403), or a failure (500).
        await call(sink.asgi_middleware(Socket(None)), "/somewhere", kind="websocket")
        with pytest.raises(RuntimeError):
            await call(
                sink.asgi_middleware(Socket(None, fail=True)), "/ws/stream", kind="websocket"
            )
        # A failure once the handshake was answered changes nothing.
        with pytest.raises(RuntimeError):
            await call(sink.asgi_middleware(Socket(101, fail=True)), "/ws/stream", kind="websocket")

    asyncio.run(main())
    counted = {
        (route, code): value(
            sink, "agentdock_http_requests_total", route=route, method="GET", status=code
        )
        for route, code in (
            ("/ws/stream", "101"),
            ("/ws/stream", "401"),
            ("/ws/stream", "429"),
            ("/ws/stream", "500"),
            (OTHER, "403"),
        )
    }
    assert counted == {
        ("/ws/stream", "101"): 3,
        ("/ws/stream", "401"): 1,
        ("/ws/stream", "429"): 1,
        ("/ws/stream", "500"): 1,
        (OTHER, "403"): 1,
    }
    assert sink.registry.get_sample_value("agentdock_http_requests_in_flight") == 0


def test_a_websockets_frames_pass_through_unwrapped() -> None:
    """No cost per frame: the route gets the server's own ``send``."""
    sink = PrometheusSink()
    app = Socket(101, frames=2)
    server_sends: list[Any] = []

    async def send(message: Any) -> None:
        server_sends.append(message)

    async def receive() -> dict[str, Any]:
        return {"type": "websocket.connect"}

    scope = {"type": "websocket", "path": "/ws/stream", "headers": []}
    asyncio.run(sink.asgi_middleware(app)(scope, receive, send))
    assert app.sends == [send]
    assert len(server_sends) == 2


def test_a_handshake_is_in_flight_until_answered_and_told_to_an_outer_middleware() -> None:
    inner, outer = PrometheusSink(), PrometheusSink()
    seen: list[float | None] = []

    async def route(scope: dict[str, Any], receive: Any, send: Any) -> None:
        seen.append(inner.registry.get_sample_value("agentdock_http_requests_in_flight"))
        scope[WS_HANDSHAKE](101)
        seen.append(inner.registry.get_sample_value("agentdock_http_requests_in_flight"))

    wrapped = outer.asgi_middleware(inner.asgi_middleware(route))
    asyncio.run(call(wrapped, "/ws/stream", kind="websocket"))
    assert seen == [1, 0]
    for sink in (inner, outer):
        labels = {"route": "/ws/stream", "method": "GET", "status": "101"}
        assert value(sink, "agentdock_http_requests_total", **labels) == 1
        assert value(sink, "agentdock_http_requests_total", **{**labels, "status": "403"}) is None


# -- route templates: the labels are the routes the server answers ---------------------------


@pytest.fixture(scope="module")
def served() -> Iterator[tuple[Litestar, PrometheusSink]]:
    """An agent's application with every route there is: AgentDock's own (docs, SSE,
    /metrics), the Platform API and LangServe (as for a LangGraph agent), MCP and A2A."""
    sink = PrometheusSink()
    pipeline = build(Agent(), sinks={"prometheus": sink})
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(litestar_app, "serves_platform", lambda pipeline, spec: True)
        app = litestar_app.create_app(pipeline, make_spec())
    yield app, sink


def _template(path_format: str) -> str:
    """A Litestar route's path as a label: its parameters without their types (the names
    are those of the OpenAPI document, ``{assistant_id}``, ``{agent}``)."""
    return re.sub(r"\{(\w+):\w+\}", r"{\1}", path_format)


def _litestar_label(app: Litestar, path: str) -> str:
    """The template of the route Litestar's router takes ``path`` to, else ``other``."""
    method = "GET"
    for _ in range(2):
        try:
            template: str = app.asgi_router.handle_routing(normalize_path(path), method)[4]
        except MethodNotAllowedException as refused:  # the route is there, not for GET
            method = refused.headers["allow"].split(", ")[0]
        except NotFoundException:
            return OTHER
        else:
            return _template(template)
    raise AssertionError(f"no method routes {path!r}")


def test_the_templates_are_exactly_the_routes_the_server_declares(
    served: tuple[Litestar, PrometheusSink],
) -> None:
    """Every route gets its own label and no label names a route that is not served: a
    route added to the server without its template here fails this test."""
    app = served[0]
    assert {_template(route.path_format) for route in app.routes} == set(ROUTE_TEMPLATES)
    assert len(ROUTE_TEMPLATES) == len(set(ROUTE_TEMPLATES))


def _filled(template: str, ident: str) -> str:
    return re.sub(r"\{\w+\}", ident, template)


@pytest.mark.parametrize("template", ROUTE_TEMPLATES)
def test_each_route_is_counted_by_its_template_whatever_its_ids(template: str) -> None:
    for ident in (str(uuid.uuid4()), "x", "SECRET-thread_ID.42", "%20", "{thread_id}", "é" * 300):
        path = _filled(template, ident)
        assert route_label(path) == template
        assert route_label(path + "/") == template  # the server answers it too
        assert route_label(path.replace("/", "//")) == template


@pytest.mark.parametrize(
    "path",
    [
        "/",
        "",
        "//",
        "/users/1234/secret-path",
        "/threads/t1/runs/r1/cancel/now",  # one segment too many
        "/threads/t1/runs/r1/x",
        "/threads/t1/unknown",
        "/runs/r1",  # a run is read under its thread only
        "/runs/batch",
        "/a2a/echo/extra/segments",
        "/a2a/echo/.well-known",
        "/langserve/echo",
        "/langserve/echo/stream_log",  # LangServe's routes not served here
        "/langserve/echo/input_schema",
        "/langserve/echo/playground/index.html",
        "/agents/echo/invoke",  # a host hands an agent its path without the prefix
        "/store/items/x",
        "/assistants/a/graph/x",
        "/invoke/x",
        "/Invoke",
        "/threads/" + "t/" * 5000 + "runs",  # very deep
        "/" + "x" * 100_000,  # very long
    ],
)
def test_paths_no_route_answers_are_other(
    path: str, served: tuple[Litestar, PrometheusSink]
) -> None:
    assert route_label(path) == OTHER
    assert _litestar_label(served[0], path) == OTHER


@pytest.mark.parametrize(
    ("path", "template"),
    [
        # Litestar reads a path without its empty segments: these are answered, by these routes.
        ("/threads//runs", "/threads/{thread_id}"),
        ("/threads/t1//runs/", "/threads/{thread_id}/runs"),
        ("//health//", "/health"),
        # A fixed segment goes before a parameter; the router never goes back.
        ("/threads/search", "/threads/search"),
        ("/threads/search/runs", "/threads/{thread_id}/runs"),
        ("/threads/t1/state/checkpoint", "/threads/{thread_id}/state/checkpoint"),
        ("/threads/t1/state/c1", "/threads/{thread_id}/state/{checkpoint_id}"),
        ("/threads/t1/runs/crons", "/threads/{thread_id}/runs/crons"),
        ("/threads/t1/runs/wait/", "/threads/{thread_id}/runs/wait"),
        ("/runs/crons/search", "/runs/crons/search"),
        ("/assistants/search", "/assistants/search"),
        ("/mcp/", "/mcp"),
        ("/invoke/", "/invoke"),
        ("/threads/" + "t" * 100_000, "/threads/{thread_id}"),  # a long id is still an id
    ],
)
def test_paths_are_labelled_as_litestar_routes_them(
    path: str, template: str, served: tuple[Litestar, PrometheusSink]
) -> None:
    assert route_label(path) == template
    assert _litestar_label(served[0], path) == template


def test_a_path_of_more_slashes_than_any_route_has_is_other_unread() -> None:
    """Litestar would collapse them; a path of more than 32 slashes is not read at all."""
    assert route_label("/threads/t1" + "/" * 20 + "runs") == "/threads/{thread_id}/runs"
    assert route_label("/health" + "/" * 40) == OTHER
    assert route_label("/threads/t1/runs/" + "/" * 40) == OTHER


_WORDS = sorted({s for t in ROUTE_TEMPLATES for s in t.split("/") if s and "{" not in s})


@settings(max_examples=400, deadline=None)
@given(
    segments=st.lists(
        st.sampled_from(_WORDS)
        | st.text(min_size=0, max_size=12).map(lambda s: s.replace("/", "")),
        max_size=8,
    ),
    slash=st.sampled_from(["", "/"]),
)
def test_random_paths_get_the_label_of_the_route_litestar_takes_them_to(
    segments: list[str], slash: str, served: tuple[Litestar, PrometheusSink]
) -> None:
    path = "/" + "/".join(segments) + slash
    label = route_label(path)
    assert label == _litestar_label(served[0], path)
    assert label in ROUTE_TEMPLATES or label == OTHER


def test_platform_requests_are_counted_by_template_and_their_ids_never_show(
    served: tuple[Litestar, PrometheusSink],
) -> None:
    """Through the whole server: a thread's and a run's ids stay out of the metrics."""
    app, sink = served
    thread, run = f"thread-{uuid.uuid4()}", f"run-{uuid.uuid4()}"
    with client(app, base_url="http://t") as http:
        assert http.get(f"/threads/{thread}/runs/{run}", headers=GOOD).status_code == 404
        assert http.get(f"/threads/{thread}/runs/{run}/", headers=GOOD).status_code == 404
        assert http.post(f"/threads/{thread}/runs/{run}/cancel", headers=GOOD).status_code == 404
        assert http.get("/health/").status_code == 200
        assert http.get(f"/langserve/{run}/stream_log").status_code == 404
        exposition = http.get("/metrics", headers=GOOD).content
    count = "agentdock_http_requests_total"
    route = "/threads/{thread_id}/runs/{run_id}"
    assert value(sink, count, route=route, method="GET", status="404") == 2
    assert value(sink, count, route=route + "/cancel", method="POST", status="404") == 1
    assert value(sink, count, route="/health", method="GET", status="200") == 1
    assert value(sink, count, route=OTHER, method="GET", status="404") == 1
    assert thread.encode() not in exposition and run.encode() not in exposition
