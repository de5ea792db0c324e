"""``/ws/stream`` against a real uvicorn server on 127.0.0.1: who may open it, how large a
message may be, how many connections may be open, and how long one may idle.

The caller is authenticated from the upgrade request, before the socket is accepted;
refusals are HTTP responses with the error envelope; credentials may ride in the
subprotocol list for browsers, and are never echoed.
"""

from __future__ import annotations

import base64
import json
import socket
import time
from collections.abc import Iterator
from typing import Any

import pytest
from agentdock_plugins.litestar.limits import ServerLimits
from litestar.testing import TestClient
from scripted_server import EXPIRED_KEY, GOOD_KEY, VIEWER_KEY, Scripted, scripted_spec
from served import serving
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import ClientConnection, connect

LIMIT = 4096


def b64url(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def ws(port: int, **options: Any) -> ClientConnection:
    return connect(f"ws://127.0.0.1:{port}/ws/stream", proxy=None, open_timeout=10, **options)


def refused(port: int, **options: Any) -> tuple[int, dict[str, Any], Any]:
    """The status, the JSON body and the headers of a refused handshake."""
    with pytest.raises(InvalidStatus) as caught:
        ws(port, **options).close()
    response = caught.value.response
    assert response.headers["content-type"] == "application/json"
    return response.status_code, json.loads(response.body or b"{}"), response.headers


def run(connection: ClientConnection, text: str) -> list[dict[str, Any]]:
    connection.send(json.dumps({"input": {"text": text}}))
    frames = [json.loads(connection.recv(timeout=30))]
    while frames[-1]["event"] not in ("end", "error"):
        frames.append(json.loads(connection.recv(timeout=30)))
    return frames


def closed_with(connection: ClientConnection) -> int:
    """The close code the server sent (waits for it)."""
    with pytest.raises(ConnectionClosed) as caught:
        while True:
            connection.recv(timeout=30)
    assert caught.value.rcvd is not None, "the connection ended without a close frame"
    return caught.value.rcvd.code


@pytest.fixture
def scripted() -> Scripted:
    return Scripted(limits=ServerLimits(max_body_bytes=LIMIT))


@pytest.fixture
def port(scripted: Scripted) -> Iterator[int]:
    with serving(scripted.app, ServerLimits(max_body_bytes=LIMIT)) as bound:
        yield bound


# -- the handshake -------------------------------------------------------------------------------


def test_a_handshake_without_credentials_is_refused_before_any_frame_is_read(
    scripted: Scripted, port: int
) -> None:
    # A client that does not wait for the 101: its first run request follows the upgrade.
    frame = json.dumps({"input": {"text": "run me"}}).encode()
    mask = b"\x01\x02\x03\x04"
    masked = bytes(b ^ mask[i % 4] for i, b in enumerate(frame))
    upgrade = (
        f"GET /ws/stream HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
        "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
        "Sec-WebSocket-Version: 13\r\n\r\n"
    ).encode()
    with socket.create_connection(("127.0.0.1", port), timeout=30) as raw:
        raw.sendall(upgrade + bytes([0x81, 0x80 | len(frame)]) + mask + masked)
        answer = b""
        while chunk := raw.recv(65536):
            answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 401"), head
    assert b"www-authenticate: " in head.lower()
    assert json.loads(body)["error"] == "Unauthorized"
    assert scripted.agent.runs == 0
    # Counted as every refused credential is.
    assert scripted.recorder.wait_for_auth_failures(1)[0]["reason"] == "missing"


@pytest.mark.parametrize(
    ("key", "status", "name"),
    [
        ("adk_unknown", 401, "Unauthorized"),
        (EXPIRED_KEY, 498, "TokenExpired"),
        ("revoked", 499, "KeyRevoked"),
        (VIEWER_KEY, 403, "Forbidden"),
    ],
)
def test_bad_credentials_are_refused_with_the_envelope(
    scripted: Scripted, port: int, key: str, status: int, name: str
) -> None:
    scripted.keys.revoked.add("revoked")
    got, body, _ = refused(port, additional_headers={"x-api-key": key})
    assert (got, body["error"], body["code"]) == (status, name, status)
    if status == 403:
        assert body["detail"] == "role 'viewer' lacks permission 'invoke'"
    assert scripted.agent.runs == 0
    assert len(scripted.recorder.wait_for_auth_failures(1)) == 1


def test_credentials_in_headers_open_the_stream(scripted: Scripted, port: int) -> None:
    for headers in ({"x-api-key": GOOD_KEY}, {"authorization": f"Bearer {GOOD_KEY}"}):
        with ws(port, additional_headers=headers) as connection:
            frames = run(connection, "a b")
        assert [f["event"] for f in frames] == ["start", "token", "end"]
        assert frames[1]["data"]["text"] == "A B"


@pytest.mark.parametrize("carrier", ["agentdock.bearer.", "agentdock.api-key."])
def test_credentials_in_a_subprotocol_are_never_echoed(
    scripted: Scripted, port: int, carrier: str, caplog: pytest.LogCaptureFixture
) -> None:
    offered = ["agentdock", carrier + b64url(GOOD_KEY)]
    with ws(port, subprotocols=offered) as connection:
        assert connection.subprotocol == "agentdock"
        answered = connection.response
        assert answered is not None
        assert answered.headers.get_all("Sec-WebSocket-Protocol") == ["agentdock"]
        assert all(GOOD_KEY not in value for value in answered.headers.values())
        assert [f["event"] for f in run(connection, "hi")] == ["start", "token", "end"]
    assert GOOD_KEY not in caplog.text
    assert GOOD_KEY not in json.dumps(scripted.recorder.events)


@pytest.mark.parametrize(
    ("options", "status"),
    [
        # The browser would fail a connection that answers none of what it offered.
        ({"subprotocols": ["agentdock.bearer." + b64url(GOOD_KEY)]}, 400),
        (
            {
                "subprotocols": ["agentdock", "agentdock.api-key." + b64url(GOOD_KEY)],
                "additional_headers": {"x-api-key": GOOD_KEY},
            },
            400,
        ),
        (
            {
                "subprotocols": [
                    "agentdock",
                    "agentdock.api-key." + b64url(GOOD_KEY),
                    "agentdock.bearer." + b64url(GOOD_KEY),
                ]
            },
            400,
        ),
        ({"subprotocols": ["agentdock", "agentdock.bearer.not*base64"]}, 401),
        ({"subprotocols": ["agentdock", "agentdock.bearer." + b64url("adk_unknown")]}, 401),
        ({"subprotocols": ["agentdock", "agentdock.bearer." + "A" * 8000]}, 401),
    ],
)
def test_misused_credential_subprotocols_are_refused(
    scripted: Scripted, port: int, options: dict[str, Any], status: int
) -> None:
    got, body, _ = refused(port, **options)
    assert (got, body["code"]) == (status, status)
    assert GOOD_KEY not in json.dumps(body)
    assert scripted.agent.runs == 0


def test_a_stream_that_is_not_exposed_is_404() -> None:
    with serving(Scripted(scripted_spec(streaming="sse")).app) as bound:
        got, body, _ = refused(bound, additional_headers={"x-api-key": GOOD_KEY})
    assert (got, body["error"]) == (404, "NotFound")


# -- messages ------------------------------------------------------------------------------------


def test_a_message_up_to_the_body_limit_is_served(port: int) -> None:
    padding = LIMIT - len(json.dumps({"input": {"text": ""}}))
    message = json.dumps({"input": {"text": "x" * padding}})
    assert len(message) == LIMIT
    with ws(port, additional_headers={"x-api-key": GOOD_KEY}) as connection:
        connection.send(message)
        assert json.loads(connection.recv(timeout=30))["event"] == "start"


@pytest.mark.parametrize("compression", [None, "deflate"])
def test_a_message_past_the_body_limit_closes_1009(
    scripted: Scripted, port: int, compression: str | None
) -> None:
    # Compressed, 1 MiB of one letter is a few hundred bytes on the wire: the limit holds
    # for what it inflates to.
    size = LIMIT + 1 if compression is None else 1024 * 1024
    with ws(
        port, additional_headers={"x-api-key": GOOD_KEY}, compression=compression
    ) as connection:
        if compression:
            assert connection.protocol.extensions, "permessage-deflate was not negotiated"
        connection.send(json.dumps({"input": {"text": "y" * size}}))
        assert closed_with(connection) == 1009
    assert scripted.agent.runs == 0


def test_a_huge_frame_is_refused_from_its_header(port: int) -> None:
    # The header announces 16 MiB; none of the payload is ever sent.
    with ws(port, additional_headers={"x-api-key": GOOD_KEY}) as connection:
        header = bytes([0x81, 0x80 | 127]) + (16 * 1024 * 1024).to_bytes(8, "big") + b"mask"
        connection.socket.sendall(header)
        assert closed_with(connection) == 1009


def test_the_handler_checks_the_size_where_the_server_does_not() -> None:
    # The ASGI test client enforces nothing: the handler's own check answers.
    from litestar.exceptions import WebSocketDisconnect

    scripted = Scripted(limits=ServerLimits(max_body_bytes=64))
    with (
        TestClient(scripted.app) as client,
        client.websocket_connect("/ws/stream", headers={"x-api-key": GOOD_KEY}) as connection,
    ):
        connection.send_text(json.dumps({"input": {"text": "é" * 40}}))
        with pytest.raises(WebSocketDisconnect) as caught:
            connection.receive_text()
    assert caught.value.code == 1009
    assert scripted.agent.runs == 0


# -- connections ---------------------------------------------------------------------------------


def test_open_connections_are_limited_and_freed() -> None:
    key = {"additional_headers": {"x-api-key": GOOD_KEY}}
    with (
        serving(Scripted(limits=ServerLimits(ws_max_connections=2)).app) as bound,
        ws(bound, **key),
    ):
        with ws(bound, **key):
            got, body, _ = refused(bound, **key)
            assert (got, body["error"]) == (503, "ServiceUnavailable")
            assert "2 WebSocket connections" in body["detail"]
            # A caller without credentials is refused for that, and holds no place.
            assert refused(bound)[0] == 401
        deadline = time.monotonic() + 30
        while True:
            try:
                third = ws(bound, **key, legacy=True)
                break
            except InvalidStatus:
                assert time.monotonic() < deadline, "the closed connection's place never freed"
                time.sleep(0.05)
        with third:
            assert [f["event"] for f in run(third, "x")][-1] == "end"


def test_an_idle_connection_is_closed_but_a_long_run_is_not() -> None:
    with (
        serving(Scripted(limits=ServerLimits(ws_idle_timeout=0.5)).app) as bound,
        ws(bound, additional_headers={"x-api-key": GOOD_KEY}) as connection,
    ):
        # The run takes a second, twice the idle timeout: a run is not idleness.
        assert [f["event"] for f in run(connection, "slow")][-1] == "end"
        assert closed_with(connection) == 1001


def test_a_key_revoked_while_connected_closes_1008(scripted: Scripted, port: int) -> None:
    with ws(port, additional_headers={"x-api-key": GOOD_KEY}) as connection:
        assert run(connection, "first")[-1]["event"] == "end"
        scripted.keys.revoked.add(GOOD_KEY)
        connection.send(json.dumps({"input": {"text": "second"}}))
        refusal = json.loads(connection.recv(timeout=30))
        assert (refusal["event"], refusal["data"]["error"]) == ("error", "KeyRevoked")
        assert closed_with(connection) == 1008
