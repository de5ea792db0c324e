"""SSE resume: ``Last-Event-ID: <run_id>:<n>`` replays the frames after ``n`` from the
bounded window of recent streams, without running the agent again; what the window cannot
serve is a 409 envelope."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator, Mapping
from typing import Any

import pytest
from agentdock import hookimpl, make_plugin_manager
from agentdock.run import RunContext, RunResult, StreamEvent, Usage
from agentdock.spec.models import DockSpec11
from agentdock_plugins import litestar as litestar_plugin
from agentdock_plugins.litestar import litestar_server
from agentdock_plugins.litestar.sse import StreamReplay, parse_event_id
from agentdock_runtime import RuntimeHTTPError, Unauthorized, compile_pipeline
from litestar.testing import TestClient

#: A caller's W3C trace, continued by the runs it starts.
CALLER_TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
CALLER = {"traceparent": f"00-{CALLER_TRACE}-00f067aa0ba902b7-01"}


class CountingAgent:
    """Streams one token per word of ``text``; counts its runs."""

    def __init__(self) -> None:
        self.runs = 0

    async def invoke(self, payload: Mapping[str, Any], context: RunContext) -> RunResult:
        self.runs += 1
        return RunResult({"text": payload["text"].upper()}, Usage(1, 1))

    async def stream(
        self, payload: Mapping[str, Any], context: RunContext
    ) -> AsyncIterator[StreamEvent]:
        self.runs += 1
        for word in payload["text"].split():
            yield StreamEvent("token", {"text": word})
            if word == "hang":
                await asyncio.Event().wait()


def _spec() -> Any:
    text = {"type": "object", "required": ["text"], "properties": {"text": {"type": "string"}}}
    return DockSpec11.model_validate(
        {
            "version": "1.1",
            "agent": {"name": "counting", "entrypoint": "app:graph", "framework": "counting"},
            "model": {"provider": "custom", "name": "none"},
            "io_schema": {"input": text, "output": text},
            "auth": {"mode": "api_key", "api_keys": {"enabled": True}},
            "expose": {"rest": True, "streaming": "sse", "port": 8080},
        }
    )


class KeyAuth:
    """``x-api-key: <name>`` is the caller ``<name>``."""

    def authenticate(self, headers: Mapping[str, str]) -> Mapping[str, Any]:
        key = headers.get("x-api-key")
        if not key:
            raise Unauthorized("missing API key")
        return {"sub": key, "role": "developer"}


def _app(agent: CountingAgent, replay: StreamReplay | None = None, *, auth: bool = False) -> Any:
    class Plugin:
        @hookimpl
        def agentdock_register_adapters(self, register: Any) -> None:
            register("counting", lambda entry, spec: agent)

        @hookimpl
        def agentdock_register_auth_providers(self, register: Any) -> None:
            register("api_key", lambda spec: KeyAuth())

    manager = make_plugin_manager(plugins=[("counting", Plugin()), litestar_plugin])
    spec = _spec()
    pipeline = compile_pipeline(spec, entry=None, plugins=manager, insecure_no_auth=not auth)
    if auth:
        pipeline._access = None  # roles are not what this test is about
    return litestar_server(spec, replay=replay).app(pipeline)


def frames(text: str) -> list[tuple[str, str, dict[str, Any]]]:
    """``(event, id, data)`` of every frame."""
    out = []
    for block in text.split("\n\n"):
        if not block.strip() or block.startswith(":"):
            continue
        fields = dict(line.split(": ", 1) for line in block.splitlines())
        out.append((fields["event"], fields["id"], json.loads(fields["data"])))
    return out


@pytest.fixture
def agent() -> CountingAgent:
    return CountingAgent()


@pytest.fixture
def client(agent: CountingAgent) -> Iterator[TestClient[Any]]:
    with TestClient(_app(agent)) as test_client:
        yield test_client


def test_ids_name_the_run_and_the_frame(client: TestClient[Any]) -> None:
    response = client.post("/stream", json={"text": "a b"})
    run_id = response.headers["x-run-id"]
    assert [f[1] for f in frames(response.text)] == [f"{run_id}:{n}" for n in (1, 2, 3, 4)]


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_resume_replays_the_frames_after_the_id(
    client: TestClient[Any], agent: CountingAgent, method: str
) -> None:
    first = client.post("/stream", json={"text": "one two three"}, headers=CALLER)
    assert first.headers["x-trace-id"] == CALLER_TRACE
    sent = frames(first.text)
    assert [f[0] for f in sent] == ["start", "token", "token", "token", "end"]
    assert agent.runs == 1
    headers = {"last-event-id": sent[1][1]}
    if method == "GET":
        resumed = client.get("/stream", params={"input": '{"text": "x"}'}, headers=headers)
    else:
        resumed = client.post("/stream", json={"text": "x"}, headers=headers)
    assert resumed.status_code == 200, resumed.text
    assert resumed.headers["content-type"].startswith("text/event-stream")
    assert resumed.headers["x-run-id"] == first.headers["x-run-id"]
    assert resumed.headers["x-trace-id"] == CALLER_TRACE  # the run's trace, as first sent
    assert frames(resumed.text) == sent[2:]
    assert agent.runs == 1


def test_resume_needs_no_input(client: TestClient[Any], agent: CountingAgent) -> None:
    sent = frames(client.get("/stream", params={"input": '{"text": "a"}'}).text)
    resumed = client.get("/stream", headers={"last-event-id": sent[0][1]})
    assert frames(resumed.text) == sent[1:]
    at_end = client.get("/stream", headers={"last-event-id": sent[-1][1]})
    assert at_end.status_code == 200 and frames(at_end.text) == []
    assert agent.runs == 1


@pytest.mark.parametrize(
    "event_id",
    ["3", "", "nope", "0123456789abcdef0123456789abcdef:2", "run:-1", "run:99999999999"],
)
def test_unknown_or_malformed_id_is_409(client: TestClient[Any], event_id: str) -> None:
    response = client.get(
        "/stream", params={"input": '{"text": "a"}'}, headers={"last-event-id": event_id}
    )
    if not event_id:
        # An empty Last-Event-ID is no resume: a fresh run.
        assert response.status_code == 200
        return
    assert response.status_code == 409, response.text
    body = response.json()
    assert body["error"] == "StreamNotResumable" and body["code"] == 409
    assert body["path"] == "Last-Event-ID"


def test_id_past_the_end_is_409(client: TestClient[Any]) -> None:
    run_id = client.post("/stream", json={"text": "a"}, headers=CALLER).headers["x-run-id"]
    response = client.get("/stream", headers={"last-event-id": f"{run_id}:9"})
    assert response.status_code == 409
    assert response.json()["run_id"] == run_id
    assert response.headers["x-run-id"] == run_id
    assert response.headers["x-trace-id"] == CALLER_TRACE


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_frames_expire_after_the_ttl(agent: CountingAgent) -> None:
    clock = Clock()
    replay = StreamReplay(ttl_sec=60, clock=clock)
    with TestClient(_app(agent, replay)) as client:
        sent = frames(client.post("/stream", json={"text": "a"}).text)
        clock.now += 59
        assert client.get("/stream", headers={"last-event-id": sent[0][1]}).status_code == 200
        clock.now += 2
        expired = client.get("/stream", headers={"last-event-id": sent[0][1]})
        assert expired.status_code == 409
        assert len(replay) == 0


def test_window_keeps_at_most_max_runs(agent: CountingAgent) -> None:
    replay = StreamReplay(max_runs=2)
    with TestClient(_app(agent, replay)) as client:
        ids = [frames(client.post("/stream", json={"text": "a"}).text)[0][1] for _ in range(3)]
        assert len(replay) == 2
        assert client.get("/stream", headers={"last-event-id": ids[0]}).status_code == 409
        for event_id in ids[1:]:
            assert client.get("/stream", headers={"last-event-id": event_id}).status_code == 200


def test_window_keeps_the_latest_frames(agent: CountingAgent) -> None:
    replay = StreamReplay(max_frames=3)
    with TestClient(_app(agent, replay)) as client:
        sent = frames(client.post("/stream", json={"text": "a b c d"}).text)
        assert len(sent) == 6
        # Frames 4, 5, 6 are held: resuming after 3 works, after 2 does not.
        assert frames(client.get("/stream", headers={"last-event-id": sent[2][1]}).text) == sent[3:]
        gap = client.get("/stream", headers={"last-event-id": sent[1][1]})
        assert gap.status_code == 409
        assert "no longer held" in gap.json()["detail"]


def test_parse_event_id() -> None:
    assert parse_event_id("abc:12") == ("abc", 12)
    assert parse_event_id("a:b:3") == ("a:b", 3)
    for bad in ("12", ":3", "abc:", "abc:x", "abc:-1"):
        with pytest.raises(RuntimeHTTPError) as raised:
            parse_event_id(bad)
        assert raised.value.status == 409


def test_a_live_stream_is_followed_then_an_interrupted_one_says_so() -> None:
    async def scenario() -> tuple[list[bytes], list[bytes]]:
        replay = StreamReplay()
        rec = replay.start("run1")
        for n, event in ((1, "start"), (2, "token")):
            rec.add(n, f"id: run1:{n}\n\n".encode(), event)
        received: list[bytes] = []

        async def reader() -> None:
            async for chunk in replay.follow(rec, 1, heartbeat=5):
                received.append(chunk)

        task = asyncio.create_task(reader())
        await asyncio.sleep(0.01)
        assert received == [b"id: run1:2\n\n"]
        rec.add(3, b"id: run1:3\n\n", "end")
        replay.finish(rec)
        await asyncio.wait_for(task, 1)

        cut = replay.start("run2")
        cut.add(1, b"id: run2:1\n\n", "start")
        replay.finish(cut)
        interrupted = [chunk async for chunk in replay.follow(cut, 0, heartbeat=5)]
        return received, interrupted

    received, interrupted = asyncio.run(scenario())
    assert received == [b"id: run1:2\n\n", b"id: run1:3\n\n"]
    assert interrupted[0] == b"id: run2:1\n\n"
    event, event_id, data = frames(interrupted[1].decode())[0]
    assert (event, event_id) == ("error", "run2:2")
    assert data["error"] == "StreamInterrupted" and data["code"] == 409
    assert data["run_id"] == "run2"


def test_resume_after_the_client_went_away(agent: CountingAgent) -> None:
    """The run is cancelled with its client; a resume gets what was sent, then the reason."""
    app = _app(agent)

    async def scenario() -> tuple[bytes, bytes]:
        sent: list[dict[str, Any]] = []
        got_token = asyncio.Event()
        requested = False

        async def receive() -> dict[str, Any]:
            nonlocal requested
            if not requested:
                requested = True
                return {"type": "http.request", "body": b'{"text": "go hang"}'}
            await got_token.wait()
            return {"type": "http.disconnect"}

        async def send(message: dict[str, Any]) -> None:
            sent.append(message)
            if b"event: token" in message.get("body", b"") and b'"hang"' in message["body"]:
                got_token.set()

        def scope(headers: list[tuple[bytes, bytes]]) -> dict[str, Any]:
            return {
                "type": "http",
                "asgi": {"version": "3.0"},
                "http_version": "1.1",
                "method": "POST",
                "scheme": "http",
                "path": "/stream",
                "raw_path": b"/stream",
                "root_path": "",
                "query_string": b"",
                "headers": [(b"content-type", b"application/json"), (b"host", b"t"), *headers],
                "server": ("t", 80),
                "client": ("127.0.0.1", 5000),
                "state": {},
            }

        await asyncio.wait_for(app(scope([]), receive, send), timeout=5)
        first = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
        start_id = frames(first.decode())[0][1]

        resumed: list[dict[str, Any]] = []
        done = asyncio.Event()

        async def receive_once() -> dict[str, Any]:
            # As a server does: the client is gone once the whole response was sent.
            await done.wait()
            return {"type": "http.disconnect"}

        async def record(message: dict[str, Any]) -> None:
            resumed.append(message)
            if message["type"] == "http.response.body" and not message.get("more_body"):
                done.set()

        await asyncio.wait_for(
            app(scope([(b"last-event-id", start_id.encode())]), receive_once, record), 5
        )
        assert resumed[0]["status"] == 200
        again = b"".join(m.get("body", b"") for m in resumed if m["type"] == "http.response.body")
        return first, again

    first, again = asyncio.run(scenario())
    sent = frames(first.decode())
    assert [f[0] for f in sent] == ["start", "token", "token"]
    replayed = frames(again.decode())
    assert replayed[:2] == sent[1:]
    event, event_id, data = replayed[2]
    assert event == "error" and data["error"] == "StreamInterrupted"
    assert event_id == f"{data['run_id']}:4"
    assert agent.runs == 1


def test_window_keeps_the_latest_bytes_of_a_run(agent: CountingAgent) -> None:
    replay = StreamReplay(max_bytes=300)
    with TestClient(_app(agent, replay)) as client:
        sent = frames(client.post("/stream", json={"text": "a b c d e f g h"}).text)
        assert len(sent) == 10
        (rec,) = replay._runs.values()
        assert rec.size <= 300 and len(rec.frames) < 10
        assert rec.size == sum(len(frame) for _, frame in rec.frames)
        oldest = rec.frames[0][0]
        gap = client.get("/stream", headers={"last-event-id": sent[oldest - 3][1]})
        assert gap.status_code == 409
        kept = client.get("/stream", headers={"last-event-id": sent[oldest - 2][1]})
        assert frames(kept.text) == sent[oldest - 1 :]


def test_only_the_caller_who_started_a_stream_may_resume_it(agent: CountingAgent) -> None:
    with TestClient(_app(agent, auth=True)) as client:
        started = client.post("/stream", json={"text": "a b"}, headers={"x-api-key": "ann"})
        sent = frames(started.text)
        first = sent[0][1]
        other = client.get("/stream", headers={"last-event-id": first, "x-api-key": "bob"})
        assert other.status_code == 409
        assert other.json()["error"] == "StreamNotResumable"
        assert "unknown" in other.json()["detail"]
        anonymous = client.get("/stream", headers={"last-event-id": first})
        assert anonymous.status_code == 401
        same = client.get("/stream", headers={"last-event-id": first, "x-api-key": "ann"})
        assert frames(same.text) == sent[1:]
        assert agent.runs == 1
