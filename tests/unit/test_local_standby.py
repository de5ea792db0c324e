"""The standby's socket protocol without a supervisor: a request it takes, malformed
requests it answers without failing, the settings that turn it off or bound it."""

from __future__ import annotations

import json
import os
import socket
import threading
from pathlib import Path

from agentdock_plugins.local import standby


def _serve_one(
    server: standby.StandbyServer, got: list[standby.Request | None]
) -> threading.Thread:
    def run() -> None:
        request = server.receive()
        got.append(request)
        if request is not None:
            request.close_fds()
            request.answer(pid=4242)

    thread = threading.Thread(target=run)
    thread.start()
    return thread


def test_a_take_carries_its_settings_and_sockets(tmp_path: Path) -> None:
    server = standby.StandbyServer(tmp_path / "k.standby")
    got: list[standby.Request | None] = []
    thread = _serve_one(server, got)
    a, b = socket.socketpair()
    with a, b:
        assert (
            standby.take(server.path, {"env": {"X": "1"}, "port": 8}, [a.fileno(), b.fileno()])
            == 4242
        )
    thread.join(5)
    (request,) = got
    assert request is not None and request.op == "take"
    assert request.settings == {"env": {"X": "1"}, "port": 8}
    server.close()
    assert not server.path.exists()


def test_malformed_requests_are_refused_not_fatal(tmp_path: Path) -> None:
    server = standby.StandbyServer(tmp_path / "k.standby")
    for garbage in (b"take\n{not json", b"take\n[1, 2]"):
        got: list[standby.Request | None] = []
        thread = _serve_one(server, got)
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as client:
            client.connect(os.fspath(server.path))
            client.sendall(garbage)
            client.shutdown(socket.SHUT_WR)
            reply = json.loads(client.makefile("rb").readline())
        thread.join(5)
        assert got == [None] and reply["refused"].startswith("bad request")
    server.close()


def test_no_standby_is_a_reason_not_an_error(tmp_path: Path) -> None:
    assert standby.take(tmp_path / "none.standby", {}, []) == "no version stands by"
    assert standby.dismiss(tmp_path / "none.standby") is None


def test_the_switch_and_the_idle_time() -> None:
    assert standby.rollback_wanted({}) is None
    assert (
        standby.rollback_wanted({"AGENTDOCK_WARM_ROLLBACK": "off"}) == "AGENTDOCK_WARM_ROLLBACK=off"
    )
    assert standby.idle_seconds({}) == standby.DEFAULT_IDLE
    assert standby.idle_seconds({"AGENTDOCK_WARM_ROLLBACK_IDLE": "30"}) == 30
    for bad in ("soon", "-5", "0"):
        assert standby.idle_seconds({"AGENTDOCK_WARM_ROLLBACK_IDLE": bad}) == standby.DEFAULT_IDLE


def test_the_superseding_command_s_idle_time_wins(tmp_path: Path) -> None:
    """The deploy or rollback that supersedes a version sets how long it stands by; the
    environment the version was started with decides only when that command sets none."""
    started_with = {"AGENTDOCK_WARM_ROLLBACK_IDLE": "900"}
    assert standby.retire_idle(tmp_path, started_with) == 900  # nothing noted
    standby.note_retire(tmp_path, {"AGENTDOCK_WARM_ROLLBACK_IDLE": "5"})
    assert standby.retire_idle(tmp_path, started_with) == 5
    assert standby.retire_idle(tmp_path, {}) == 5
    standby.note_retire(tmp_path, {"AGENTDOCK_WARM_ROLLBACK_IDLE": "soon"})  # bad: default
    assert standby.retire_idle(tmp_path, started_with) == standby.DEFAULT_IDLE
    standby.note_retire(tmp_path, {})  # a later supersede that sets none: the note goes
    assert not (tmp_path / standby.RETIRE_FILE).exists()
    assert standby.retire_idle(tmp_path, started_with) == 900
    (tmp_path / standby.RETIRE_FILE).write_text('{"idle": "x"}')  # unreadable: ignored
    assert standby.retire_idle(tmp_path, {}) == standby.DEFAULT_IDLE
