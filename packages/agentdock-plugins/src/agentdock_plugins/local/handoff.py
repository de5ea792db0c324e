"""Handing a deployment's listening socket to the next deploy, over a Unix domain socket.

The stable address of a local agent is one listening socket (one open file description)
that every version of the agent serves in turn. A new version gets it from a supervisor
that holds it, as a duplicate sent with ``SCM_RIGHTS``: the connections waiting in its
backlog wait for whichever process accepts next, so closing the old version's copy loses
none of them. Two sockets bound to the same port with ``SO_REUSEPORT`` would not do: on
Linux, closing one resets the connections queued on it.

Every supervisor serves its socket at ``<dir>/<key>.<pid>.sock``: ``key`` names the
AgentDock home, agent and instance, and any live supervisor of them holds the same socket.
``dir`` is a directory of this user's alone (mode 0700, checked before each use, never
followed through a symbolic link), short enough for ``AF_UNIX`` paths (108 bytes), and both
ends check the other's user id (``SO_PEERCRED``). Standard library only: the supervisor
imports it.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import socket
import stat
import struct
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

__all__ = [
    "HandoffServer",
    "UnsafeDirectory",
    "handoff_key",
    "private_dir",
    "receive_listener",
    "socket_dir",
    "socket_path",
]

#: The longest ``AF_UNIX`` path (``sun_path`` holds 108 bytes with the final NUL).
_MAX_PATH = 107
_TIMEOUT = 5.0
_CRED = struct.Struct("3i")  # pid, uid, gid


class UnsafeDirectory(OSError):
    """The socket directory exists but is not this user's private directory."""


def socket_dir(uid: int | None = None) -> Path:
    """Where the sockets of this user's supervisors live: ``/tmp/agentdock-<uid>``.

    The same path whatever the environment of the command that asks (``TMPDIR`` or
    ``XDG_RUNTIME_DIR`` may differ between two shells deploying the same agent), and short
    whatever the AgentDock home's path is. :func:`private_dir` checks it before each use."""
    return Path("/tmp") / f"agentdock-{os.getuid() if uid is None else uid}"  # noqa: S108 - checked


def private_dir(path: Path, uid: int | None = None) -> Path:
    """``path``, created with mode 0700 when missing; refused (:class:`UnsafeDirectory`)
    unless it is a real directory (not a link) owned by ``uid`` (default: this user) that
    nobody else may read, write or enter."""
    owner = os.getuid() if uid is None else uid
    with contextlib.suppress(FileExistsError):
        path.mkdir(mode=0o700, parents=False)
    info = os.lstat(path)
    if not stat.S_ISDIR(info.st_mode):
        raise UnsafeDirectory(f"{path} is not a directory (a link or a file)")
    if info.st_uid != owner:
        raise UnsafeDirectory(f"{path} belongs to user {info.st_uid}, not to user {owner}")
    if info.st_mode & 0o077:
        mode = stat.S_IMODE(info.st_mode)
        raise UnsafeDirectory(f"{path} has mode {mode:o}: others may use it (want 700)")
    return path


def handoff_key(home: Path | str, agent: str, instance: str | None) -> str:
    """What names one agent's (and instance's) sockets under one AgentDock home."""
    text = f"{Path(home).resolve()}\0{agent}\0{instance or ''}"
    return hashlib.sha256(text.encode()).hexdigest()[:20]


def socket_path(directory: Path, key: str, pid: int) -> Path:
    path = directory / f"{key}.{pid}.sock"
    if len(os.fsencode(path)) > _MAX_PATH:
        raise UnsafeDirectory(f"{path} is longer than a Unix socket path may be")
    return path


def peer_uid(sock: socket.socket) -> int:
    """The user id of the process at the other end of a connected Unix socket."""
    raw = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, _CRED.size)
    return int(_CRED.unpack(raw)[1])


def private_listener(path: Path, backlog: int) -> tuple[socket.socket, int]:
    """A Unix socket listening at ``path`` that only this user can connect to (made under
    umask 077, a file left at ``path`` replaced), and the inode it was made as, so that
    closing it removes only a file still its own."""
    with contextlib.suppress(FileNotFoundError):
        path.unlink()
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    old = os.umask(0o077)
    try:
        server.bind(os.fspath(path))
    finally:
        os.umask(old)
    server.listen(backlog)
    return server, os.stat(path).st_ino


class HandoffServer(threading.Thread):
    """Serves ``listener`` at ``path`` to processes of this user, until the process ends.

    Each connection gets one message, ``{"host", "port", "pid"}`` as JSON, with a duplicate
    of the listening socket attached; a peer of another user gets nothing."""

    def __init__(self, path: Path, listener: int, host: str, port: int) -> None:
        super().__init__(name="agentdock-handoff", daemon=True)
        self.path, self.listener = path, listener
        self.message = json.dumps({"host": host, "port": port, "pid": os.getpid()}).encode()
        # a file left at ``path`` is a process's with our pid that is gone
        self.server, self.inode = private_listener(path, 8)

    def run(self) -> None:
        while True:
            try:
                conn, _ = self.server.accept()
            except OSError:
                return  # closed
            with conn:
                try:
                    if peer_uid(conn) == os.getuid():
                        conn.settimeout(_TIMEOUT)
                        socket.send_fds(conn, [self.message], [self.listener])
                except OSError:
                    continue

    def close(self) -> None:
        """Stop serving and remove the path (if it is still this server's)."""
        with contextlib.suppress(OSError):
            if os.stat(self.path).st_ino == self.inode:
                self.path.unlink()
        with contextlib.suppress(OSError):
            self.server.close()


def _sockets(directory: Path, key: str = "*") -> Iterator[tuple[str, int, Path]]:
    """``(key, pid, path)`` of the supervisors' sockets (of ``key``), newest process first."""
    found: list[tuple[int, str, Path]] = []
    for path in directory.glob(f"{key}.*.sock"):
        name, _, digits = path.name[: -len(".sock")].rpartition(".")
        if digits.isdigit():
            found.append((int(digits), name, path))
    for pid, name, path in sorted(found, reverse=True):
        yield name, pid, path


def _receive(path: Path) -> tuple[dict[str, Any], socket.socket] | None:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as client:
        client.settimeout(_TIMEOUT)
        try:
            client.connect(os.fspath(path))
            if peer_uid(client) != os.getuid():
                return None
            data, fds, _flags, _addr = socket.recv_fds(client, 4096, 1)
        except OSError:
            return None
    if not fds:
        return None
    sock = socket.socket(fileno=fds[0])
    for extra in fds[1:]:
        os.close(extra)
    try:
        message = json.loads(data)
    except ValueError:
        sock.close()
        return None
    return (message if isinstance(message, dict) else {}), sock


def receive_listener(
    directory: Path, key: str, host: str, port: int, alive: Any = None
) -> socket.socket | None:
    """A duplicate of the listening socket a live supervisor of ``key`` serves, when it
    listens on ``host`` (as asked) and ``port``; None when none does.

    ``alive(pid)`` tells whether a supervisor still runs: the files of those that do not
    (killed, so they could not remove theirs), of any agent, are removed on the way."""
    if alive is not None:
        for _name, pid, path in _sockets(directory):
            if not alive(pid):
                with contextlib.suppress(OSError):
                    path.unlink()
    for _name, _pid, path in _sockets(directory, key):
        got = _receive(path)
        if got is None:
            continue
        message, sock = got
        try:
            listening = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ACCEPTCONN)
            bound = sock.getsockname()
        except OSError:
            sock.close()
            continue
        if (
            listening
            and sock.type == socket.SOCK_STREAM
            and message.get("host") == host
            and int(message.get("port") or 0) == port
            and bound[1] == port
        ):
            return sock
        sock.close()
    return None
