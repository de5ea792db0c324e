"""Helpers for tests that run servers and tools as real processes."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from typing import IO, NoReturn

import httpx
import pytest


def unavailable(reason: str) -> NoReturn:
    """Skip the test for want of a server or tool; fail instead in CI.

    ``.ci/run`` installs what the tests drive and sets ``AGENTDOCK_REQUIRE_SERVERS=1``, so
    a missing one there is a failure, never a silent skip.
    """
    if os.environ.get("AGENTDOCK_REQUIRE_SERVERS") == "1":
        pytest.fail(f"required (AGENTDOCK_REQUIRE_SERVERS=1): {reason}")
    pytest.skip(reason)


def terminal_sigint() -> None:
    """In a child before exec: SIGINT back to its default, as a shell's foreground job has.

    A test run started in the background of a script (``cmd &`` without job control)
    inherits SIGINT ignored, and so would every process it starts: a test that sends a
    child Ctrl-C passes this as ``preexec_fn``."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def require_binary(name: str, install_hint: str) -> str:
    """The path of ``name``; without it, :func:`unavailable`."""
    found = shutil.which(name)
    if found is not None:
        return found
    unavailable(f"{name} is not installed ({install_hint})")


def wait_ready(proc: subprocess.Popen[bytes], base: str, timeout: float = 60.0) -> None:
    """Wait until ``base``/ready answers 200; fail with the process's stderr if it exits."""
    deadline = time.monotonic() + timeout
    while True:
        if proc.poll() is not None:
            pytest.fail(f"the server exited: {proc.communicate()[1].decode()}")
        try:
            if httpx.get(f"{base}/ready", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        assert time.monotonic() < deadline, "the server never became ready"
        time.sleep(0.1)


def stop(proc: subprocess.Popen[bytes], timeout: float = 30.0) -> None:
    """SIGTERM ``proc`` if it still runs and wait for it; one that outlives ``timeout`` is
    killed and the test fails (:class:`subprocess.TimeoutExpired`): a server must stop on
    SIGTERM."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        raise


class LineReader:
    """Collects the lines a process writes to a pipe, in a thread, so a test can wait for
    one without blocking on a process that never writes it."""

    def __init__(self, stream: IO[bytes]) -> None:
        self.lines: list[str] = []
        self._more = threading.Condition()
        self._done = False
        self._thread = threading.Thread(target=self._read, args=(stream,), daemon=True)
        self._thread.start()

    def _read(self, stream: IO[bytes]) -> None:
        for raw in iter(stream.readline, b""):
            with self._more:
                self.lines.append(raw.decode("utf-8", "replace").rstrip("\n"))
                self._more.notify_all()
        with self._more:
            self._done = True
            self._more.notify_all()

    def wait_for(self, predicate: Callable[[str], bool], timeout: float = 60.0) -> str:
        """The first line ``predicate`` accepts; fails when the stream ends without one."""
        deadline = time.monotonic() + timeout
        seen = 0
        with self._more:
            while True:
                for line in self.lines[seen:]:
                    if predicate(line):
                        return line
                seen = len(self.lines)
                left = deadline - time.monotonic()
                if self._done or left <= 0:
                    pytest.fail("no such line; got:\n" + "\n".join(self.lines))
                self._more.wait(left)

    def rest(self, timeout: float = 30.0) -> list[str]:
        """Every line, once the stream has ended."""
        self._thread.join(timeout)
        with self._more:
            return list(self.lines)
