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
from scripted_server import Scripted
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
