"""A throwaway ``redis-server`` for tests: one per test module, persistence off.

Load the fixture with ``pytest_plugins = ("redisserver",)`` in a test module. The server
listens on a free port of 127.0.0.1; without the binary the tests skip, unless
``AGENTDOCK_REQUIRE_SERVERS=1`` (CI) turns the skip into a failure. A test that kills its
server mid-run (an outage) starts servers of its own through the ``redis_servers`` fixture.
"""

from __future__ import annotations

import contextlib
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from processes import require_binary

__all__ = ["RedisServer", "redis_server", "redis_servers", "redis_url"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class RedisServer:
    """One ``redis-server`` process: its URL, and :meth:`kill` for an outage."""

    def __init__(
        self, proc: subprocess.Popen[bytes], port: int, password: str | None = None
    ) -> None:
        self.proc = proc
        self.port = port
        self.password = password
        auth = f":{password}@" if password else ""
        self.url = f"redis://{auth}127.0.0.1:{port}/0"

    def kill(self) -> None:
        """SIGKILL: the server is gone at once, as in a crash."""
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(timeout=10)


@contextlib.contextmanager
def redis_server(
    workdir: Path, port: int | None = None, password: str | None = None
) -> Iterator[RedisServer]:
    """A ``redis-server`` of the caller's own, stopped when the block ends; on a free port,
    or on ``port`` (a server started again where a killed one listened); with ``password``,
    one that refuses clients without it (``requirepass``)."""
    binary = require_binary("redis-server", "Debian: apt-get install redis-server")
    port = port if port is not None else _free_port()
    proc = subprocess.Popen(
        [
            binary,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(workdir),
            *(["--requirepass", password] if password else []),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    server = RedisServer(proc, port, password)
    try:
        for _ in range(200):
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.2) as conn:
                    conn.sendall(b"PING\r\n")
                    # A server with a password answers, refusing: it is up all the same.
                    if conn.recv(16).startswith((b"+PONG", b"-NOAUTH")):
                        break
            except OSError:
                time.sleep(0.05)
        else:
            pytest.fail("redis-server did not start")
        yield server
    finally:
        if proc.poll() is None:
            proc.terminate()
        proc.wait(timeout=10)


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``redis://127.0.0.1:PORT/0`` of a server of this module's own."""
    with redis_server(tmp_path_factory.mktemp("redis")) as server:
        yield server.url


@pytest.fixture
def redis_servers(tmp_path: Path) -> Iterator[Callable[..., RedisServer]]:
    """``start(port=None, password=None)``: a server of this test's own (one it may kill), on
    a free port or on ``port``, with ``password`` if given; every one is stopped when the
    test ends."""
    with contextlib.ExitStack() as stack:
        started: list[RedisServer] = []

        def start(port: int | None = None, password: str | None = None) -> RedisServer:
            workdir = tmp_path / f"redis-{len(started)}"
            workdir.mkdir()
            started.append(stack.enter_context(redis_server(workdir, port, password)))
            return started[-1]

        yield start
