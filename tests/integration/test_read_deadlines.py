"""Header and body read deadlines, against a real uvicorn server on 127.0.0.1.

A client that trickles its request a byte at a time is answered 408 with the error
envelope and cut off, while other clients are served as usual. The deadlines here are one
second; the bounds the tests wait for are generous, and no test measures time.
"""

from __future__ import annotations

import json
import select
import socket
import time
from collections.abc import Iterator

import httpx
import pytest
from agentdock_plugins.litestar.limits import ServerLimits
from agentdock_plugins.prometheus.sink import PrometheusSink
from scripted_server import Scripted, scripted_spec
from served import serving

DEADLINES = ServerLimits(header_timeout=1.0, body_timeout=1.0)
#: How long a test waits for the server to cut a connection off (far past the deadline).
PATIENCE = 60.0


@pytest.fixture(scope="module")
def port() -> Iterator[int]:
    with serving(Scripted(insecure_no_auth=True).app, DEADLINES) as bound:
        yield bound


def served_normally(port: int) -> None:
    answer = httpx.post(f"http://127.0.0.1:{port}/invoke", json={"text": "hi"}, timeout=PATIENCE)
    assert (answer.status_code, answer.json()) == (200, {"text": "HI"})


def read_to_close(raw: socket.socket) -> bytes:
    """Everything the server sends until it closes the connection (or resets it)."""
    received = b""
    try:
        while chunk := raw.recv(65536):
            received += chunk
    except ConnectionResetError:
        pass
    return received


def trickle(port: int, head: bytes, drip: bytes) -> bytes:
    """Send ``head``, then ``drip`` a byte every 0.2 s until the server answers or closes,
    while another client is served; what the server sent the trickling one."""
    with socket.create_connection(("127.0.0.1", port), timeout=PATIENCE) as raw:
        raw.sendall(head)
        served_normally(port)
        deadline = time.monotonic() + PATIENCE
        position = 0
        while not select.select([raw], [], [], 0.2)[0]:
            assert time.monotonic() < deadline, "the server never cut the trickling client off"
            try:
                raw.sendall(drip[position % len(drip) : position % len(drip) + 1])
            except OSError:
                break
            position += 1
        received = read_to_close(raw)
    served_normally(port)
    return received


def assert_408(received: bytes) -> None:
    head, _, body = received.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 408"), received
    assert b"connection: close" in head.lower()
    envelope = json.loads(body)
    assert (envelope["error"], envelope["code"]) == ("RequestTimeout", 408)
    assert "did not arrive in time" in envelope["detail"]


def test_trickled_headers_are_cut_off_while_others_are_served(port: int) -> None:
    received = trickle(port, b"POST /invoke HTTP/1.1\r\nHost: x\r\n", b"x-slow: abcdefghij\r\n")
    assert_408(received)
    assert b"headers" in received


def test_a_trickled_body_is_cut_off_while_others_are_served(port: int) -> None:
    head = (
        b"POST /invoke HTTP/1.1\r\nHost: x\r\ncontent-type: application/json\r\n"
        b"content-length: 1000\r\n\r\n"
    )
    received = trickle(port, head, b'{"text": "' + b"a" * 980)
    assert_408(received)
    assert b"body" in received


def test_a_connection_that_sends_nothing_is_closed(port: int) -> None:
    with socket.create_connection(("127.0.0.1", port), timeout=PATIENCE) as raw:
        # Closed without an answer: there was no request to answer.
        assert raw.recv(65536) == b""


def test_a_kept_alive_connection_is_timed_again_for_its_next_request(port: int) -> None:
    request = (
        b"POST /invoke HTTP/1.1\r\nHost: x\r\ncontent-type: application/json\r\n"
        b'content-length: 14\r\n\r\n{"text": "hi"}'
    )
    with socket.create_connection(("127.0.0.1", port), timeout=PATIENCE) as raw:
        raw.sendall(request)
        first = b""
        while not first.endswith(b'{"text":"HI"}'):
            first += raw.recv(65536)
        assert first.startswith(b"HTTP/1.1 200")
        raw.sendall(b"POST /invoke HTTP/1.1\r\n")
        received = read_to_close(raw)
    assert_408(received)


# -- a client that goes away is no server error ------------------------------------------------

#: The routes that read a body, each through its own path (the fast path, Litestar's).
BODY_ROUTES = ("/invoke", "/mcp", "/a2a/scripted")


@pytest.fixture(scope="module")
def measured() -> Iterator[tuple[int, PrometheusSink]]:
    """The scripted agent with MCP and A2A, behind the Prometheus middleware, as served."""
    expose = {"rest": True, "streaming": "sse", "port": 8080, "protocols": ["mcp", "a2a"]}
    sink = PrometheusSink()
    app = Scripted(scripted_spec(expose=expose), insecure_no_auth=True).app
    with serving(sink.asgi_middleware(app), DEADLINES) as bound:
        yield bound, sink


#: The route label each body route is counted under.
ROUTE_LABELS = {"/invoke": "/invoke", "/mcp": "/mcp", "/a2a/scripted": "/a2a/{agent}"}


def counted(sink: PrometheusSink, path: str, status: int) -> float:
    labels = {"route": ROUTE_LABELS[path], "method": "POST", "status": str(status)}
    return sink.registry.get_sample_value("agentdock_http_requests_total", labels) or 0.0


def half_a_body(port: int, path: str) -> socket.socket:
    raw = socket.create_connection(("127.0.0.1", port), timeout=PATIENCE)
    raw.sendall(
        f"POST {path} HTTP/1.1\r\nHost: x\r\ncontent-type: application/json\r\n"
        "content-length: 13\r\n\r\n".encode()
        + b'{"te'
    )
    return raw


def wait_counted(sink: PrometheusSink, path: str, status: int, before: float) -> None:
    deadline = time.monotonic() + PATIENCE
    while counted(sink, path, status) == before:
        assert time.monotonic() < deadline, f"{path} was never counted as {status}"
        time.sleep(0.05)


@pytest.mark.parametrize("path", BODY_ROUTES)
def test_a_client_gone_mid_body_is_counted_499_and_not_logged_as_an_error(
    measured: tuple[int, PrometheusSink], path: str, caplog: pytest.LogCaptureFixture
) -> None:
    port, sink = measured
    before = {status: counted(sink, path, status) for status in (499, 500)}
    with caplog.at_level("ERROR", logger="agentdock.server"):
        raw = half_a_body(port, path)
        time.sleep(0.2)
        raw.close()
        wait_counted(sink, path, 499, before[499])
    assert counted(sink, path, 499) == before[499] + 1
    assert counted(sink, path, 500) == before[500]
    assert not [r for r in caplog.records if r.levelname == "ERROR"], caplog.text


@pytest.mark.parametrize("path", BODY_ROUTES)
def test_a_body_cut_off_at_its_deadline_is_counted_408(
    measured: tuple[int, PrometheusSink], path: str, caplog: pytest.LogCaptureFixture
) -> None:
    port, sink = measured
    before = {status: counted(sink, path, status) for status in (408, 500)}
    with caplog.at_level("ERROR", logger="agentdock.server"):
        with half_a_body(port, path) as raw:
            assert_408(read_to_close(raw))
        wait_counted(sink, path, 408, before[408])
    assert counted(sink, path, 408) == before[408] + 1
    assert counted(sink, path, 500) == before[500]
    assert not [r for r in caplog.records if r.levelname == "ERROR"], caplog.text
