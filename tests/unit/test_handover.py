"""A runtime serving handed-down sockets (``agentdock_plugins.litestar.handover``): the
stable address is accepted on only once the supervisor says ``promote``, a connection
that waited for it meanwhile is answered, promoting twice changes nothing, and a draining
runtime answers what comes on a kept-alive connection (closing it) instead of dropping it."""

from __future__ import annotations

import http.client
import os
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from agentdock_plugins.litestar import handover
from agentdock_plugins.litestar.running import _Server, server_config

POLL = 0.01


class App:
    """A plain ASGI app that answers ``ok`` and notes the port each request came in on."""

    def __init__(self) -> None:
        self.ports: list[int] = []

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                kind = message["type"].rsplit(".", 1)[-1]
                await send({"type": f"lifespan.{kind}.complete"})
                if kind == "shutdown":
                    return
        self.ports.append(scope["server"][1])
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})


def _listening() -> socket.socket:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    return sock


def _poll(predicate: Any, timeout: float = 20.0) -> Any:
    deadline = time.monotonic() + timeout
    while not (value := predicate()):
        assert time.monotonic() < deadline, "condition never held"
        time.sleep(POLL)
    return value


class Runtime:
    """A server on its own socket with a standby one and a control channel, in a thread."""

    def __init__(self) -> None:
        self.app = App()
        self.own = _listening()
        self.stable = _listening()  # the supervisor's copy: it outlives the runtime
        self.control, theirs = socket.socketpair()
        self.server = _Server(server_config(self.app, host="127.0.0.1", port=0))
        self.server.handover = handover.Handover(
            served=[self.own.dup()], standby=self.stable.dup(), control=theirs
        )
        self.thread = threading.Thread(
            target=self.server.run, kwargs={"sockets": self.server.handover.served}, daemon=True
        )
        self.control.settimeout(10)

    @property
    def own_port(self) -> int:
        return int(self.own.getsockname()[1])

    @property
    def stable_port(self) -> int:
        return int(self.stable.getsockname()[1])

    def promote(self) -> str:
        self.control.sendall(b"promote\n")
        return self.control.recv(64).decode()


@pytest.fixture
def runtime() -> Iterator[Runtime]:
    rt = Runtime()
    rt.thread.start()
    _poll(lambda: rt.server.started)
    yield rt
    rt.server.should_exit = True
    rt.thread.join(20)
    for sock in (rt.own, rt.stable, rt.control):
        sock.close()


def test_the_stable_socket_is_served_only_once_promoted(runtime: Runtime) -> None:
    waiting = socket.create_connection(("127.0.0.1", runtime.stable_port))
    waiting.sendall(b"GET /early HTTP/1.1\r\nhost: x\r\n\r\n")
    assert httpx.get(f"http://127.0.0.1:{runtime.own_port}/", trust_env=False).text == "ok"
    assert runtime.app.ports == [runtime.own_port]  # nothing came through the stable one
    assert runtime.promote() == "serving\n"
    waiting.settimeout(10)
    answer = waiting.recv(4096)
    assert answer.startswith(b"HTTP/1.1 200"), answer  # it waited in the backlog: answered
    waiting.close()
    assert runtime.promote() == "serving\n"  # idempotent: still one server on it
    assert len(runtime.server.servers) == 2
    resp = httpx.get(f"http://127.0.0.1:{runtime.stable_port}/", trust_env=False)
    assert resp.text == "ok" and runtime.app.ports.count(runtime.stable_port) == 2


def test_a_runtime_whose_supervisor_is_gone_shuts_down(runtime: Runtime) -> None:
    """Unsupervised, it would keep the agent's address where no deploy can take it over."""
    assert runtime.promote() == "serving\n"
    runtime.control.close()  # what the supervisor's death does to its end
    runtime.thread.join(30)
    assert not runtime.thread.is_alive()
    assert runtime.server.should_exit


def test_a_draining_runtime_answers_on_kept_alive_connections_and_closes_them(
    runtime: Runtime,
) -> None:
    assert runtime.promote() == "serving\n"
    kept = http.client.HTTPConnection("127.0.0.1", runtime.stable_port, timeout=10)
    kept.request("GET", "/before")
    first = kept.getresponse()
    assert first.read() == b"ok" and first.getheader("connection") is None  # kept alive

    runtime.server.should_exit = True  # what SIGTERM does
    _poll(lambda: not any(s.is_serving() for s in runtime.server.servers))
    assert runtime.thread.is_alive()  # still draining: the kept-alive connection is open

    # A connection nobody accepts any more waits for a successor: not reset.
    queued = socket.create_connection(("127.0.0.1", runtime.stable_port))
    kept.request("GET", "/during")
    second = kept.getresponse()
    assert second.status == 200 and second.read() == b"ok"
    assert second.getheader("connection") == "close"
    runtime.thread.join(20)
    assert not runtime.thread.is_alive()
    successor, _ = runtime.stable.accept()  # the socket's other holder takes it
    successor.close()
    queued.close()
    kept.close()


def test_a_promotion_while_shutting_down_is_refused(runtime: Runtime) -> None:
    keep = http.client.HTTPConnection("127.0.0.1", runtime.own_port, timeout=10)
    keep.request("GET", "/")
    keep.getresponse().read()  # holds the drain open
    runtime.server.should_exit = True
    _poll(lambda: not any(s.is_serving() for s in runtime.server.servers))
    reply = runtime.promote()
    assert reply.startswith("error:") and "shutting down" in reply
    keep.close()


def test_inherited_reads_and_removes_the_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    own, stable = _listening(), _listening()
    ours, theirs = socket.socketpair()
    fds = [os.dup(s.fileno()) for s in (own, stable, theirs)]
    monkeypatch.setenv(handover.LISTEN_FD_ENV, f"{fds[0]},{fds[1]}")
    monkeypatch.setenv(handover.CONTROL_FD_ENV, str(fds[2]))
    got = handover.inherited()
    assert got is not None and got.standby is None and got.control is not None
    assert [s.getsockname() for s in got.served] == [own.getsockname(), stable.getsockname()]
    assert handover.LISTEN_FD_ENV not in os.environ and handover.CONTROL_FD_ENV not in os.environ
    for sock in (*got.served, got.control, own, stable, ours, theirs):
        sock.close()
    assert handover.inherited() is None


def test_the_entrypoint_reads_the_sockets_the_server_plugin_serves(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A promoted runtime that restarts is handed its own socket and the stable one: the
    entrypoint finds its own (the first) there and binds nothing, and the variable stays
    for the server plugin."""
    from agentdock_runtime import listen

    own, stable = _listening(), _listening()
    handed = f"{own.fileno()},{stable.fileno()}"
    monkeypatch.setenv(handover.LISTEN_FD_ENV, handed)
    found = listen.inherited()
    assert found is not None
    with found:
        assert found.getsockname() == own.getsockname()
    assert os.environ[handover.LISTEN_FD_ENV] == handed
    own.close()
    stable.close()
