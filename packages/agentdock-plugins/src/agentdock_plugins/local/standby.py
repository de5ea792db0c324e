"""A superseded version kept on standby, so that a rollback to it is forked, not started cold.

A runtime forked from its deployment's warm process (:mod:`.warm`) is ready in a fraction
of a second; a cold start takes seconds. A rollback starts a version that ran a moment ago:
its supervisor had a warm process of that very bundle, in that instance's sandbox. So when
a deploy supersedes a version, its supervisor stops its runtime (drained as before) but
keeps the warm process and waits, for a bounded time, at ``<dir>/<key>.standby`` (the
user's private socket directory of :mod:`.handoff`, ``key`` the agent's and instance's).
A rollback of that instance to that bundle connects there and hands it what a new
supervisor would get: the deployment's state directory, the runtime's resolved
environment (the rollback's, read again, never the one kept from before) and the two
listening sockets (``SCM_RIGHTS``). The supervisor then serves that deployment, its first
runtime forked from the warm process. Everything that made the warm process safe holds:
it is the same bundle, the same instance (so the same Landlock rules) and still the
supervisor's descendant.

One standby per agent and instance (one socket path): a supervisor that goes on standby
first dismisses the one there. The standby ends after :data:`IDLE_ENV` seconds (default
:data:`DEFAULT_IDLE`), when its warm process dies, on SIGTERM (``stop`` of the serving
version, ``rm``), or when dismissed. ``AGENTDOCK_WARM_ROLLBACK=off`` keeps none.

While it waits, ``<key>.standby.json`` beside the socket says which processes stand by
(the supervisor's and the warm process's pids, until when, the deployment directory it
served): the serving deployment's ``status`` shows it, with their memory
(:func:`standing_by`).

Both variables are set where a user runs the command that supersedes a version (the deploy
or rollback), not only where the version was started: the target's ``retire`` honours off
itself and leaves that command's idle time in :data:`RETIRE_FILE`, in the superseded
deployment's state directory, before it signals the supervisor (:func:`note_retire`,
:func:`retire_idle`). Without one there, the supervisor's own environment decides.

The protocol, one request per connection (both ends check the peer's user id): the client
sends a line, ``take`` or ``exit``, with the descriptors attached, then the request's JSON
until it shuts its side down; the standby answers one JSON line (``{"pid": N}``, or
``{"refused": "why"}``). Standard library only: the supervisor imports it.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agentdock_plugins.local.handoff import peer_uid, private_listener
from agentdock_plugins.local.jsonfile import read_json, write_json

__all__ = [
    "DEFAULT_IDLE",
    "IDLE_ENV",
    "RETIRE_FILE",
    "ROLLBACK_ENV",
    "Request",
    "StandbyServer",
    "dismiss",
    "idle_seconds",
    "note_retire",
    "retire_idle",
    "rollback_wanted",
    "standby_path",
    "standing_by",
    "take",
]

ROLLBACK_ENV = "AGENTDOCK_WARM_ROLLBACK"
IDLE_ENV = "AGENTDOCK_WARM_ROLLBACK_IDLE"
#: Seconds a superseded version stands by for a rollback: a rollback comes soon after the
#: deploy it undoes, or not at all.
DEFAULT_IDLE = 600.0
_TIMEOUT = 10.0
_MAX_FDS = 4
_MAX_REQUEST = 1 << 24
_OFF = frozenset({"off", "0", "false", "no"})
#: In a superseded deployment's state directory: what the superseding command asked for.
RETIRE_FILE = "retire.json"


def rollback_wanted(env: Mapping[str, str]) -> str | None:
    """None when a superseded version may stand by, else why not."""
    if env.get(ROLLBACK_ENV, "").strip().lower() in _OFF:
        return f"{ROLLBACK_ENV}=off"
    return None


def idle_seconds(env: Mapping[str, str]) -> float:
    """How long a standby waits for a rollback (:data:`IDLE_ENV`; a bad value: the default)."""
    try:
        value = float(env.get(IDLE_ENV, "") or DEFAULT_IDLE)
    except ValueError:
        return DEFAULT_IDLE
    return value if value > 0 else DEFAULT_IDLE


def note_retire(state_dir: Path, env: Mapping[str, str]) -> None:
    """Leave the superseding command's :data:`IDLE_ENV` (when it sets one) where the
    supervisor it retires reads it (:func:`retire_idle`); else remove an older note."""
    path = state_dir / RETIRE_FILE
    if env.get(IDLE_ENV, "").strip():
        write_json(path, {"idle": idle_seconds(env)})
    else:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


def retire_idle(state_dir: Path, env: Mapping[str, str]) -> float:
    """How long a superseded supervisor stands by: the superseding command's idle time
    (:func:`note_retire`), else its own environment's (``env``)."""
    noted = (read_json(state_dir / RETIRE_FILE) or {}).get("idle")
    if isinstance(noted, (int, float)) and not isinstance(noted, bool) and noted > 0:
        return float(noted)
    return idle_seconds(env)


def standby_path(directory: Path, key: str) -> Path:
    """Where the standby of one agent and instance (its handoff ``key``) waits."""
    return directory / f"{key}.standby"


@dataclass
class Request:
    """One request to a standby: ``take`` (with ``settings`` and the listening sockets in
    ``fds``) or ``exit``. :meth:`answer` replies and closes the connection."""

    op: str
    settings: dict[str, Any]
    fds: list[int] = field(default_factory=list)
    conn: socket.socket | None = None

    def answer(self, **reply: Any) -> None:
        if self.conn is None:
            return
        with contextlib.suppress(OSError):
            self.conn.sendall(json.dumps(reply).encode() + b"\n")
        self.conn.close()
        self.conn = None

    def close_fds(self) -> None:
        for fd in self.fds:
            with contextlib.suppress(OSError):
                os.close(fd)
        self.fds = []


def _info_path(path: Path) -> Path:
    return path.with_name(path.name + ".json")


def _rss_kib(pid: int) -> int:
    """The resident memory of ``pid`` (``VmRSS``), 0 when it cannot be read."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii", errors="replace") as fh:
            for line in fh:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return 0


def standing_by(path: Path) -> dict[str, Any] | None:
    """What stands by at ``path`` (its :func:`standby_path`): the supervisor's and warm
    process's pids, their resident memory in MB, until when (epoch seconds) and the
    deployment directory it served; None when nothing (alive) does. Reads files only: the
    standby itself is not disturbed."""
    info = read_json(_info_path(path)) or {}
    pid, warm_pid = info.get("pid"), info.get("warm_pid")
    if not isinstance(pid, int) or not isinstance(warm_pid, int) or pid <= 0:
        return None
    rss = _rss_kib(pid)
    if not rss:  # gone (or a kernel thread: no VmRSS)
        return None
    return {
        "state": "standby",
        "pid": pid,
        "warm_pid": warm_pid,
        "until": info.get("until"),
        "deployment_dir": info.get("state_dir"),
        "rss_mb": round((rss + _rss_kib(warm_pid)) / 1024, 1),
    }


class StandbyServer:
    """The listening end at :func:`standby_path`; the supervisor selects on :meth:`fileno`
    and calls :meth:`receive` when it is readable. ``info`` (the pids, until when) is
    written beside it for :func:`standing_by`."""

    def __init__(self, path: Path, info: Mapping[str, Any] | None = None) -> None:
        self.path = path
        # a file left at ``path`` is a dismissed standby's, or one that was killed
        self.server, self.inode = private_listener(path, 4)
        if info is not None:
            with contextlib.suppress(OSError):
                write_json(_info_path(path), {**info, "pid": os.getpid()})

    def fileno(self) -> int:
        return self.server.fileno()

    def receive(self) -> Request | None:
        """The request on the next connection; None for a peer of another user or a
        malformed request (answered, then dropped)."""
        try:
            conn, _ = self.server.accept()
        except OSError:
            return None
        conn.settimeout(_TIMEOUT)
        fds: list[int] = []
        try:
            if peer_uid(conn) != os.getuid():
                conn.close()
                return None
            first, fds, _flags, _addr = socket.recv_fds(conn, 1 << 16, _MAX_FDS)
            fds = list(fds)
            chunks, size = [first], len(first)
            while chunk := conn.recv(1 << 16):
                chunks.append(chunk)
                size += len(chunk)
                if size > _MAX_REQUEST:
                    raise ValueError("the request is too large")
            head, _, body = b"".join(chunks).partition(b"\n")
            settings = json.loads(body or b"{}")
            if not isinstance(settings, dict):
                raise ValueError("the request is not a JSON object")
        except (OSError, ValueError) as exc:
            with contextlib.suppress(OSError):
                conn.sendall(json.dumps({"refused": f"bad request: {exc}"}).encode() + b"\n")
            conn.close()
            Request("", {}, fds).close_fds()
            return None
        return Request(head.decode("utf-8", "replace").strip(), settings, fds, conn)

    def close(self) -> None:
        """Stop waiting and remove the path (if it is still this server's)."""
        with contextlib.suppress(OSError):
            if (read_json(_info_path(self.path)) or {}).get("pid") == os.getpid():
                _info_path(self.path).unlink()
        with contextlib.suppress(OSError):
            if os.stat(self.path).st_ino == self.inode:
                self.path.unlink()
        with contextlib.suppress(OSError):
            self.server.close()


def _ask(path: Path, op: str, settings: Mapping[str, Any], fds: Sequence[int]) -> dict[str, Any]:
    """Send one request; the standby's reply, or ``{"refused": why}`` when there is none."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as client:
        client.settimeout(_TIMEOUT)
        try:
            client.connect(os.fspath(path))
            if peer_uid(client) != os.getuid():
                return {"refused": "the standby belongs to another user"}
            socket.send_fds(client, [op.encode() + b"\n"], list(fds))
            client.sendall(json.dumps(dict(settings)).encode())
            client.shutdown(socket.SHUT_WR)
            reply = b""
            while b"\n" not in reply and (chunk := client.recv(4096)):
                reply += chunk
        except FileNotFoundError:
            return {"refused": "no version stands by"}
        except OSError as exc:
            return {"refused": f"the standby did not answer ({exc.strerror or exc})"}
    try:
        answer = json.loads(reply or b"{}")
    except ValueError:
        return {"refused": "the standby's answer is not JSON"}
    return answer if isinstance(answer, dict) else {"refused": "the standby's answer is odd"}


def take(path: Path, settings: Mapping[str, Any], fds: Sequence[int]) -> int | str:
    """Have the standby at ``path`` serve a new deployment: its supervisor's pid, or why
    it did not (no standby, another bundle, another sandbox ...)."""
    answer = _ask(path, "take", settings, fds)
    pid = answer.get("pid")
    if isinstance(pid, int) and pid > 0:
        return pid
    return str(answer.get("refused") or "the standby refused")


def dismiss(path: Path) -> int | None:
    """End the standby at ``path`` (it has left once this returns); its supervisor's pid,
    or None when none was there."""
    answer = _ask(path, "exit", {}, [])
    pid = answer.get("pid")
    return pid if isinstance(pid, int) else None
