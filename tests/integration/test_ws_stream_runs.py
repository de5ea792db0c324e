"""``/ws/stream`` as the other run routes are: its handshake counted among the HTTP requests,
a malformed frame refused as a run (as a malformed body is on ``/invoke``), and its ``end``
frame naming the run's trace.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator, Mapping
from typing import Any

import pytest
from agentdock_plugins.prometheus.sink import PrometheusSink
from litestar.testing import TestClient
from scripted_server import GOOD_KEY, VIEWER_KEY, Scripted, scripted_spec
from served import serving
from websockets.exceptions import InvalidStatus
from websockets.sync.client import ClientConnection, connect

KEY = {"x-api-key": GOOD_KEY}
TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"


def _metered(scripted: Scripted) -> PrometheusSink:
    """A Prometheus sink's middleware around ``scripted``'s app, as ``create_app`` puts it."""
    sink = PrometheusSink()
    scripted.app.asgi_handler = sink.asgi_middleware(scripted.app.asgi_handler)
    return sink


def _count(sink: PrometheusSink, status: str, route: str = "/ws/stream") -> float:
    labels = {"route": route, "method": "GET", "status": status}
    return sink.registry.get_sample_value("agentdock_http_requests_total", labels) or 0.0


def _ws(port: int, **options: Any) -> ClientConnection:
    return connect(f"ws://127.0.0.1:{port}/ws/stream", proxy=None, open_timeout=10, **options)


def _refused(port: int, **options: Any) -> int:
    with pytest.raises(InvalidStatus) as caught:
        _ws(port, **options).close()
    return caught.value.response.status_code


def _frames(receive: Any) -> list[dict[str, Any]]:
    frames = [json.loads(receive())]
    while frames[-1]["event"] not in ("end", "error"):
        frames.append(json.loads(receive()))
    return frames


def _run_ends(scripted: Scripted, count: int) -> list[Mapping[str, Any]]:
    """The ``run_end`` events once ``count`` arrived (the sink is fed in the background)."""
    deadline = time.monotonic() + 30
    while True:
        ends = [e for e in list(scripted.recorder.events) if e["event"] == "run_end"]
        if len(ends) >= count:
            return ends
        assert time.monotonic() < deadline, f"only {len(ends)} run_end events arrived"
        time.sleep(0.02)


# -- the handshake in agentdock_http_requests_total ---------------------------------------------


def test_the_handshake_is_counted_with_its_route_and_status() -> None:
    scripted = Scripted(scripted_spec(auth=_limited("3/m")))
    sink = _metered(scripted)
    with serving(scripted.app) as port:
        with _ws(port, additional_headers=KEY) as connection:
            # Counted once the handshake is answered, before any frame, while it is open.
            assert _count(sink, "101") == 1
            connection.send(json.dumps({"input": {"text": "a"}}))
            assert _frames(lambda: connection.recv(timeout=30))[-1]["event"] == "end"
        assert _refused(port) == 401
        assert _refused(port, additional_headers={"x-api-key": VIEWER_KEY}) == 403
        # The limit of 3 a minute: the handshake and the run took 2, this handshake the third.
        with _ws(port, additional_headers=KEY):
            pass
        assert _refused(port, additional_headers=KEY) == 429
        deadline = time.monotonic() + 30
        while _count(sink, "429") < 1:  # counted as the server sends the refusal's last byte
            assert time.monotonic() < deadline
            time.sleep(0.02)
    assert {code: _count(sink, code) for code in ("101", "401", "403", "429")} == {
        "101": 2,
        "401": 1,
        "403": 1,
        "429": 1,
    }
    # Frames are no requests: nothing else is counted, in flight or under another label.
    text = sink.render_metrics()[0].decode()
    assert text.count("agentdock_http_requests_total{") == 4
    assert 'route="other"' not in text
    assert sink.registry.get_sample_value("agentdock_http_requests_in_flight") == 0
    duration = sink.registry.get_sample_value(
        "agentdock_http_request_duration_seconds_count", {"route": "/ws/stream", "method": "GET"}
    )
    assert duration == 5


def _limited(rate: str) -> dict[str, Any]:
    return {
        "mode": "api_key",
        "api_keys": {"enabled": True},
        "rate_limits": {"developer": rate},
    }


def test_a_refusal_without_the_denial_extension_is_counted_as_the_403_sent() -> None:
    """The test client has no WebSocket denial response: the server answers 403."""
    scripted = Scripted()
    sink = _metered(scripted)
    with TestClient(scripted.app) as client:
        with pytest.raises(Exception), client.websocket_connect("/ws/stream") as socket:  # noqa: B017
            socket.receive_text()
        with client.websocket_connect("/ws/stream", headers=KEY) as socket:
            socket.send_text(json.dumps({"input": {"text": "a"}}))
            assert _frames(socket.receive_text)[-1]["event"] == "end"
    assert (_count(sink, "403"), _count(sink, "101")) == (1, 1)


# -- malformed frames are runs refused at their input -------------------------------------------

MALFORMED = [
    ("{garbage", "MalformedJSONError", 400, None),
    (json.dumps([1]), "BadRequest", 400, "input"),
    (json.dumps({"text": "no input"}), "BadRequest", 400, "input"),
    (json.dumps({"input": {"text": "a"}, "thread_id": 3}), "BadRequest", 400, "thread_id"),
    # An integer wider than 64 bits is named by its path, as on /invoke.
    (
        '{"input": {"text": "a", "n": 99999999999999999999999}}',
        "MalformedJSONError",
        400,
        "input.n",
    ),
    ('{"input": {"n": ' + "[" * 200 + "]" * 200 + "}}", "MalformedJSONError", 400, None),
]


def test_a_malformed_frame_is_a_run_refused_at_its_input() -> None:
    scripted = Scripted()
    with (
        TestClient(scripted.app) as client,
        client.websocket_connect("/ws/stream", headers=KEY) as socket,
    ):
        refusals = []
        for text, name, code, path in MALFORMED:
            socket.send_text(text)
            frame = json.loads(socket.receive_text())
            assert frame["event"] == "error"
            data = frame["data"]
            assert (data["error"], data["code"], data.get("path")) == (name, code, path)
            refusals.append(data["run_id"])
            assert len(data["trace_id"]) == 32  # the run's trace, as x-trace-id names it
        # The connection stays open for the next run.
        socket.send_text(json.dumps({"input": {"text": "still open"}}))
        assert _frames(socket.receive_text)[-1]["event"] == "end"
        ends = _run_ends(scripted, len(MALFORMED) + 1)
    assert len(set(refusals)) == len(MALFORMED)
    by_run = {e["run_id"]: e["data"] for e in ends}
    for run_id in refusals:
        assert (by_run[run_id]["status"], by_run[run_id]["mode"]) == ("error", "stream")
    assert scripted.agent.runs == 1


def test_a_malformed_frame_counts_once_against_the_rate_limit() -> None:
    scripted = Scripted(scripted_spec(auth=_limited("3/m")))
    with (
        TestClient(scripted.app) as client,
        client.websocket_connect("/ws/stream", headers=KEY) as socket,
    ):
        # 1: the handshake; 2: the malformed frame; 3: a run; 4: refused.
        socket.send_text("{garbage")
        assert json.loads(socket.receive_text())["data"]["error"] == "MalformedJSONError"
        socket.send_text(json.dumps({"input": {"text": "a"}}))
        assert _frames(socket.receive_text)[-1]["event"] == "end"
        socket.send_text(json.dumps({"input": {"text": "b"}}))
        refusal = json.loads(socket.receive_text())
    assert (refusal["event"], refusal["data"]["code"]) == ("error", 429)


def test_a_malformed_frame_of_a_caller_no_longer_admitted_gets_the_admission_refusal() -> None:
    scripted = Scripted()
    with (
        TestClient(scripted.app) as client,
        client.websocket_connect("/ws/stream", headers=KEY) as socket,
    ):
        scripted.keys.revoked.add(GOOD_KEY)
        socket.send_text("{garbage")
        refusal = json.loads(socket.receive_text())
        assert (refusal["event"], refusal["data"]["error"]) == ("error", "KeyRevoked")
        with pytest.raises(Exception):  # noqa: B017 - the close frame: 1008
            socket.receive_text()
    assert scripted.agent.runs == 0


# -- the end frame names the trace --------------------------------------------------------------


@pytest.fixture
def port() -> Iterator[int]:
    with serving(Scripted().app) as bound:
        yield bound


def test_the_end_frame_carries_the_trace_id_of_the_run(port: int) -> None:
    with _ws(port, additional_headers=KEY) as connection:
        connection.send(json.dumps({"input": {"text": "a"}}))
        frames = _frames(lambda: connection.recv(timeout=30))
    start, end = frames[0]["data"], frames[-1]["data"]
    assert end["trace_id"] == start["trace_id"]
    assert end["run_id"] == start["run_id"]
    assert set(end) == {"run_id", "trace_id", "usage", "output"}


def test_the_end_frame_carries_the_callers_trace(port: int) -> None:
    traceparent = f"00-{TRACE}-00f067aa0ba902b7-01"
    with _ws(port, additional_headers={**KEY, "traceparent": traceparent}) as connection:
        for _ in range(2):  # every run of the connection
            connection.send(json.dumps({"input": {"text": "a"}}))
            end = _frames(lambda: connection.recv(timeout=30))[-1]
            assert (end["event"], end["data"]["trace_id"]) == ("end", TRACE)


# -- a frame refused by the admission starts no run ---------------------------------------------


def test_a_frame_refused_by_the_rate_limit_starts_no_run() -> None:
    """As on HTTP, where a 429 starts no run: no run id, no run reported."""
    scripted = Scripted(scripted_spec(auth=_limited("3/m")))
    with (
        TestClient(scripted.app) as client,
        client.websocket_connect("/ws/stream", headers=KEY) as socket,
    ):
        # 1: the handshake; 2 and 3: runs; then refused, and the connection stays open.
        for text in ("a", "b"):
            socket.send_text(json.dumps({"input": {"text": text}}))
            assert _frames(socket.receive_text)[-1]["event"] == "end"
        refusals = []
        for _ in range(3):
            socket.send_text(json.dumps({"input": {"text": "c"}}))
            refusals.append(json.loads(socket.receive_text()))
        # A malformed frame of a refused caller gets the same refusal, and no run either.
        socket.send_text("{garbage")
        refusals.append(json.loads(socket.receive_text()))
    # The app has shut down: every queued event was delivered.
    for refusal in refusals:
        assert refusal["event"] == "error"
        assert (refusal["data"]["error"], refusal["data"]["code"]) == ("RateLimitExceeded", 429)
        assert "run_id" not in refusal["data"]
        assert "trace_id" not in refusal["data"]
    events = list(scripted.recorder.events)
    assert [e["data"]["status"] for e in events if e["event"] == "run_end"] == ["ok", "ok"]
    assert len(scripted.recorder.auth_failures()) == len(refusals)
    assert scripted.agent.runs == 2


def test_a_frame_refused_after_its_key_was_revoked_starts_no_run() -> None:
    scripted = Scripted()
    with (
        TestClient(scripted.app) as client,
        client.websocket_connect("/ws/stream", headers=KEY) as socket,
    ):
        scripted.keys.revoked.add(GOOD_KEY)
        socket.send_text(json.dumps({"input": {"text": "a"}}))
        refusal = json.loads(socket.receive_text())
        with pytest.raises(Exception):  # noqa: B017 - the close frame: 1008
            socket.receive_text()
    assert (refusal["event"], refusal["data"]["error"]) == ("error", "KeyRevoked")
    assert "run_id" not in refusal["data"]
    assert [e for e in scripted.recorder.events if e["event"] == "run_end"] == []


def test_an_error_frame_of_a_run_names_the_callers_trace(port: int) -> None:
    traceparent = f"00-{TRACE}-00f067aa0ba902b7-01"
    with _ws(port, additional_headers={**KEY, "traceparent": traceparent}) as connection:
        connection.send("{garbage")
        refusal = json.loads(connection.recv(timeout=30))
    assert refusal["event"] == "error"
    assert (refusal["data"]["code"], refusal["data"]["trace_id"]) == (400, TRACE)
    assert refusal["data"]["run_id"]
