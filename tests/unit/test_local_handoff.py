"""Handing a listening socket from one process to another over a Unix socket, and the
directory it goes through: only this user's, mode 0700, never through a link."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from agentdock.deployment.artifacts import StartRequest, no_progress
from agentdock.deployment.errors import DeployFailed
from agentdock_plugins.local import address, handoff
from agentdock_plugins.local.handoff import (
    HandoffServer,
    UnsafeDirectory,
    handoff_key,
    private_dir,
    receive_listener,
    socket_path,
)


@pytest.fixture
def sockets() -> Iterator[Path]:
    """A private directory with a path short enough for Unix sockets (pytest's are not)."""
    path = Path(tempfile.mkdtemp(prefix="adk-", dir="/tmp"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def listener() -> Iterator[socket.socket]:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    yield sock
    sock.close()


def test_the_directory_is_made_private(tmp_path: Path) -> None:
    made = private_dir(tmp_path / "sockets")
    assert made.is_dir() and (made.stat().st_mode & 0o777) == 0o700
    assert private_dir(made) == made  # and accepted as it is


def test_a_directory_others_may_use_is_refused(tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir(mode=0o755)
    shared.chmod(0o755)
    with pytest.raises(UnsafeDirectory, match="mode 755"):
        private_dir(shared)
    shared.chmod(0o730)
    with pytest.raises(UnsafeDirectory, match="mode 730"):
        private_dir(shared)


def test_a_directory_of_another_user_is_refused(tmp_path: Path) -> None:
    mine = private_dir(tmp_path / "mine")
    someone_else = os.getuid() + 1
    with pytest.raises(UnsafeDirectory, match=f"belongs to user {os.getuid()}"):
        private_dir(mine, uid=someone_else)


def test_a_link_or_a_file_is_refused(tmp_path: Path) -> None:
    real = private_dir(tmp_path / "real")
    link = tmp_path / "link"
    link.symlink_to(real)
    with pytest.raises(UnsafeDirectory, match="not a directory"):
        private_dir(link)
    plain = tmp_path / "file"
    plain.write_text("")
    with pytest.raises(UnsafeDirectory, match="not a directory"):
        private_dir(plain)


def test_a_deploy_through_an_unsafe_directory_fails_before_starting_anything(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shared = tmp_path / "agentdock-shared"
    shared.mkdir()
    shared.chmod(0o777)
    monkeypatch.setattr(address, "socket_dir", lambda: shared)
    request = StartRequest(
        agent="echo",
        version="0.1.0",
        deployment_id=1,
        port=0,
        host="127.0.0.1",
        env={},
        state_dir=tmp_path / "run" / "1",
        home=tmp_path,
    )
    with pytest.raises(DeployFailed) as caught:
        address.stable_listener(request, "127.0.0.1", no_progress)
    assert str(shared) in caught.value.cause and "mode 777" in caught.value.cause
    assert caught.value.hint and "remove" in caught.value.hint
    assert not (tmp_path / "run").exists()


def test_the_same_socket_is_handed_over(sockets: Path, listener: socket.socket) -> None:
    port = listener.getsockname()[1]
    key = handoff_key("/home/a", "echo", None)
    server = HandoffServer(
        socket_path(sockets, key, os.getpid()), listener.fileno(), "127.0.0.1", port
    )
    server.start()
    try:
        assert (os.stat(server.path).st_mode & 0o077) == 0  # only this user
        got = receive_listener(sockets, key, "127.0.0.1", port)
        assert got is not None
        with got:
            # One open file description: the same socket inode, listening.
            assert os.fstat(got.fileno()).st_ino == os.fstat(listener.fileno()).st_ino
            assert got.getsockopt(socket.SOL_SOCKET, socket.SO_ACCEPTCONN) == 1
            with socket.create_connection(("127.0.0.1", port)):
                accepted, _ = got.accept()  # a connection queued on the original
                accepted.close()
        # Another address asked for, or another agent: nothing.
        assert receive_listener(sockets, key, "0.0.0.0", port) is None
        assert receive_listener(sockets, key, "127.0.0.1", port + 1) is None
        assert (
            receive_listener(sockets, handoff_key("/home/a", "other", None), "127.0.0.1", port)
            is None
        )
        assert handoff_key("/home/a", "echo", "acme") != key
    finally:
        server.close()
    assert not server.path.exists()
    assert receive_listener(sockets, key, "127.0.0.1", port) is None


def test_a_dead_supervisors_file_is_skipped_and_removed(
    sockets: Path, listener: socket.socket
) -> None:
    port = listener.getsockname()[1]
    key = handoff_key("/home/b", "echo", None)
    gone = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    dead_pid = int(gone.stdout)
    for owner in (key, handoff_key("/home/b", "another", None)):
        stale = socket.socket(socket.AF_UNIX)
        stale.bind(os.fspath(socket_path(sockets, owner, dead_pid)))
        stale.close()  # the file stays, nobody listens: as after a SIGKILL
    server = HandoffServer(socket_path(sockets, key, 1), listener.fileno(), "127.0.0.1", port)
    server.start()
    try:
        alive = {1}
        got = receive_listener(sockets, key, "127.0.0.1", port, alive=lambda pid: pid in alive)
        assert got is not None
        got.close()
        assert [p.name for p in sockets.iterdir()] == [server.path.name]  # any agent's
    finally:
        server.close()


def test_a_path_too_long_for_a_unix_socket_is_refused(tmp_path: Path) -> None:
    deep = tmp_path / ("d" * 120)
    with pytest.raises(UnsafeDirectory, match="longer"):
        socket_path(deep, "k" * 20, 123)


def test_the_socket_directory_does_not_depend_on_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    first = handoff.socket_dir()
    monkeypatch.setenv("TMPDIR", "/var/tmp")
    monkeypatch.setenv("XDG_RUNTIME_DIR", "/run/user/4242")
    assert handoff.socket_dir() == first == Path(f"/tmp/agentdock-{os.getuid()}")
