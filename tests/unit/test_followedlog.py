"""FollowedLog: a followed log another thread stops, whether its reader polls or waits on a
socket, and without an error for the stop it asked for."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator

import pytest
from agentdock.deployment.followedlog import FollowedLog

#: How long a test waits for a thread it expects to end ("never" otherwise).
NEVER = 30.0


def _drain(log: FollowedLog, out: list[object]) -> threading.Thread:
    def read() -> None:
        try:
            out.extend(log)
        except Exception as exc:  # recorded: the tests say which ones may happen
            out.append(exc)

    thread = threading.Thread(target=read, daemon=True)
    thread.start()
    return thread


def test_a_polling_reader_is_woken_by_stop() -> None:
    def read(log: FollowedLog) -> Iterator[str]:
        yield "first"
        while not log.wait(3600):  # a poll an hour apart: only stop ends it
            yield "never"

    log = FollowedLog(read)
    out: list[object] = []
    thread = _drain(log, out)
    while not out:
        thread.join(0.01)
    assert thread.is_alive()
    log.stop()
    thread.join(NEVER)
    assert not thread.is_alive()
    assert out == ["first"]


def test_a_read_blocked_on_a_socket_ends_quietly_when_its_cancel_shuts_it() -> None:
    ours, theirs = socket.socketpair()
    with ours, theirs:

        def read(log: FollowedLog) -> Iterator[str]:
            while True:
                data = ours.recv(1024)  # blocks: nobody writes after the first line
                if not data:
                    raise ConnectionError("the stream broke")
                yield data.decode()

        log = FollowedLog(read)
        log.on_stop(lambda: ours.shutdown(socket.SHUT_RDWR))
        out: list[object] = []
        thread = _drain(log, out)
        theirs.sendall(b"line")
        while not out:
            thread.join(0.01)
        log.stop()
        thread.join(NEVER)
        assert not thread.is_alive()
        assert out == ["line"]  # the broken read after the stop is the end, not an error


def test_cancels_run_once_and_at_once_when_registered_late() -> None:
    calls: list[str] = []
    log = FollowedLog(lambda _: iter(["a"]))
    log.on_stop(lambda: calls.append("early"))
    log.on_stop(lambda: 1 / 0)  # a failing cancel does not stop the others
    log.on_stop(lambda: calls.append("second"))
    log.stop()
    log.stop()
    assert calls == ["early", "second"]
    log.on_stop(lambda: calls.append("late"))
    assert calls == ["early", "second", "late"]
    assert list(log) == []  # stopped before the first line: nothing more is read


def test_an_error_that_is_not_a_stop_reaches_the_reader() -> None:
    def read(_: FollowedLog) -> Iterator[str]:
        yield "one"
        raise ConnectionError("the engine went away")

    log = FollowedLog(read)
    assert next(log) == "one"
    with pytest.raises(ConnectionError):
        next(log)


def test_close_stops_and_closes_the_lines() -> None:
    closed = threading.Event()

    def read(_: FollowedLog) -> Iterator[str]:
        try:
            yield "one"
            yield "two"
        finally:
            closed.set()

    log = FollowedLog(read)
    assert next(log) == "one"
    log.close()
    assert closed.is_set() and log.stopped
    assert list(log) == []
