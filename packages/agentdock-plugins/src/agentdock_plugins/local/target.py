"""The ``local`` target: a bundle run by a detached supervisor process on this machine.

``start`` launches ``python -m agentdock_plugins.local.supervisor`` in a new session, so it
outlives the CLI and a Ctrl-C at the terminal never reaches it. The runtime's resolved
environment travels in the supervisor's process environment only, and that environment is
:func:`~agentdock.deployment.runenv.host_runtime_env`'s: never the deploying shell's whole
environment. The runtime listens on 127.0.0.1 unless the request names another address
(``--host``, or ``expose.host`` written in the Dockfile). Everything later
(``wait_ready``, ``promote``, ``status``, ``stop``, ``logs``) works from the handle alone,
from any process: the supervisor's pid, the ports, the log path and the state directory.

An agent keeps one address (:mod:`.address`) across deploys, rollbacks, restarts and
``stop``: a new version starts next to the serving one with that address's socket in hand
but accepting only on a port of its own, where the health gate checks it; ``promote`` then
has it accept on the shared socket too, and the old version, once stopped, drains.

A superseded version is retired rather than stopped (:meth:`LocalTarget.retire`): its
supervisor drains its runtime as ``stop`` would, then keeps its warm process on standby for
a while (:mod:`.standby`); a rollback to it (any start of the same bundle on the same
instance) hands that supervisor the new deployment, and its runtime is forked instead of
started cold.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections import deque
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import httpx
from agentdock.deployment.artifacts import REASON_LABEL, Artifact, Progress, StartRequest
from agentdock.deployment.errors import DeployFailed, HealthGateFailed
from agentdock.deployment.followedlog import FollowedLog
from agentdock.deployment.inputs import DEFAULT_HOST, reach_of
from agentdock.deployment.runenv import host_runtime_env
from agentdock.deployment.workspace import pid_alive
from agentdock_runtime.listen import host_port, local_url

from agentdock_plugins.local import standby
from agentdock_plugins.local.address import (
    listen_socket,
    record_path,
    stable_listener,
    write_record,
)
from agentdock_plugins.local.supervisor import GAVE_UP, read_state, write_state

__all__ = [
    "DEFAULT_HOST",
    "LOG_TAIL_LINES",
    "LocalTarget",
    "choose_port",
    "listen_socket",
    "log_path",
    "pid_alive",
]

LOG_TAIL_LINES = 20
_POLL = 0.05
#: Seconds ``promote`` waits for the runtime to accept on the stable address.
PROMOTE_TIMEOUT = 15.0
#: Supervisor states after which nothing will become ready without a new start
#: (``degraded`` is what supervisors of earlier releases wrote when they gave up).
_GAVE_UP = frozenset({"failed", GAVE_UP, "degraded"})
_FINAL = _GAVE_UP | {"stopped"}


def log_path(home: Path, agent: str, instance: str | None = None) -> Path:
    """``<home>/logs/<agent>[.<instance>].log``."""
    name = f"{agent}.{instance}" if instance else agent
    return home / "logs" / f"{name}.log"


def choose_port(host: str, wanted: int) -> int:
    """The port :func:`listen_socket` would listen on now (it may be taken a moment later)."""
    with listen_socket(host, wanted) as sock:
        return int(sock.getsockname()[1])


def _own_endpoint(handle: Mapping[str, Any]) -> str:
    """Where this deployment's runtime answers and no other: its own port (handles of
    earlier releases have none: their endpoint was theirs alone)."""
    return str(handle.get("gate_endpoint") or handle["endpoint"])


def _runtime_dirs(request: StartRequest) -> dict[str, str]:
    """Where the runtime reads its key view (through the home) and may write: its state
    per agent and instance, which outlives versions (checkpoints, key use, the LangFuse
    buffer, temporary files, caches), and the home's telemetry directory; the sandbox
    allows writes there and nowhere else in the home (:mod:`.sandbox`)."""
    from agentdock.registry.keyview import state_dir

    from agentdock_plugins.localstore.store import TELEMETRY_DIR

    home = Path(request.home)
    state = state_dir(home, request.agent, request.instance)
    state.mkdir(parents=True, exist_ok=True)
    telemetry = home / TELEMETRY_DIR
    telemetry.mkdir(exist_ok=True)
    if (home / "telemetry.db").is_file() and not (telemetry / "telemetry.db").exists():
        for name in ("telemetry.db-wal", "telemetry.db-shm", "telemetry.db"):  # an earlier
            if (home / name).is_file():  # release kept the store at the top of the home
                os.replace(home / name, telemetry / name)
    dirs = {
        "AGENTDOCK_HOME": str(home),
        "AGENTDOCK_STATE_DIR": str(state),
        "AGENTDOCK_TELEMETRY_DB": str(telemetry / "telemetry.db"),
        "AGENTDOCK_LANGFUSE_BUFFER": str(state / "langfuse-buffer.db"),
    }
    # Temporary files and caches of its own: the sandbox never lets it write a directory
    # that holds the home, such as /tmp for a project kept there.
    for name, sub in (("TMPDIR", "tmp"), ("XDG_CACHE_HOME", "cache")):
        if not request.env.get(name):
            (state / sub).mkdir(exist_ok=True)
            dirs[name] = str(state / sub)
    return dirs


def _launch(settings: Mapping[str, Any], fds: list[int]) -> int:
    """Start a supervisor for ``settings`` (detached: it outlives this process) serving the
    listening sockets ``fds`` (the agent's address, the runtime's own); its pid."""
    listener, gate = fds
    args = [
        sys.executable,
        "-m",
        "agentdock_plugins.local.supervisor",
        "--bundle",
        str(settings["bundle"]),
        "--state-dir",
        str(settings["state_dir"]),
        "--log",
        str(settings["log"]),
        "--host",
        str(settings["host"]),
        "--port",
        str(settings["port"]),
        "--fd",
        str(listener),
        "--gate-fd",
        str(gate),
        "--handoff-dir",
        str(settings["handoff_dir"]),
        "--handoff-key",
        str(settings["handoff_key"]),
        "--detach",
    ]
    with subprocess.Popen(
        args,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=settings["env"],
        start_new_session=True,
        text=True,
        pass_fds=(listener, gate),
    ) as launcher:
        out, err = launcher.communicate(timeout=30)
    pid_text = out.strip().splitlines()[-1] if out.strip() else ""
    if launcher.returncode != 0 or not pid_text.isdigit():
        last = (err.strip().splitlines() or ["no output"])[-1]
        raise DeployFailed(f"cannot start the supervisor: {last}")
    return int(pid_text)


def _from_standby(
    at: Path, settings: Mapping[str, Any], fds: list[int], progress: Progress, *, rollback: bool
) -> int | None:
    """The pid of the standby supervisor of this agent and instance once it took the
    deployment ``settings`` describe (its runtime is forked from its warm process), else
    None: there is none, it keeps another bundle, or warm rollbacks are off. Why a start
    is cold is said when one was found and refused, and for a ``rollback`` always."""
    off = standby.rollback_wanted(os.environ)
    if off is not None or not at.exists():
        if rollback:
            progress("start", f"starting cold: {off or 'no version stands by'}")
        return None
    taken = standby.take(at, settings, fds)
    if isinstance(taken, str):
        progress("start", f"starting cold: the standby version was not used ({taken})")
        return None
    progress("start", f"the version stands by: its runtime is forked (supervisor pid {taken})")
    return taken


def _handed_over(state: Mapping[str, Any]) -> bool:
    """Whether the supervisor of this state file went on to serve another deployment (a
    rollback took it from standby): its pid is no longer this deployment's."""
    return bool(state.get("handed_to"))


def _tail(path: Path, lines: int, offset: int = 0) -> list[str]:
    try:
        with path.open("r", encoding="utf-8", errors="replace") as fh:
            fh.seek(offset)
            return [line.rstrip("\n") for line in deque(fh, maxlen=lines)]
    except OSError:
        return []


class LocalTarget:
    """Runs ``local`` bundles as supervised background processes (see the module doc)."""

    builder = "local"

    def start(
        self, artifact: Artifact, request: StartRequest, progress: Progress
    ) -> Mapping[str, Any]:
        bundle = Path(artifact.ref)
        if not (bundle / "venv" / "bin" / "python").exists():
            raise DeployFailed(
                f"bundle {bundle} is missing or incomplete",
                hint="deploy again to rebuild it (agentdock cleanup may have removed it)",
            )
        host = request.host or DEFAULT_HOST
        listener, key, sockets = stable_listener(request, host, progress)
        with listener, listen_socket("127.0.0.1", 0) as gate:  # the supervisor keeps copies
            port = int(listener.getsockname()[1])
            gate_port = int(gate.getsockname()[1])
            where = host_port(host, port)
            progress("start", f"listening on {where}: {reach_of(host)}", host=host, port=port)
            log = log_path(request.home, request.agent, request.instance)
            log.parent.mkdir(parents=True, exist_ok=True)
            state_dir = Path(request.state_dir)
            state_dir.mkdir(parents=True, exist_ok=True)
            env = host_runtime_env(request.env, _runtime_dirs(request))
            standby_at = standby.standby_path(sockets, key)
            settings = {
                "bundle": str(bundle),
                "state_dir": str(state_dir),
                "log": str(log),
                "host": host,
                "port": port,
                "handoff_dir": str(sockets),
                "handoff_key": key,
                "env": env,
            }
            fds = [listener.fileno(), gate.fileno()]
            rollback = request.labels.get(REASON_LABEL) == "rollback"
            pid = _from_standby(standby_at, settings, fds, progress, rollback=rollback)
            runtime_start = "cold" if pid is None else "forked"
            if pid is None:
                pid = _launch(settings, fds)
        progress("start", f"supervisor pid {pid}, port {port}, log {log}", pid=pid, port=port)
        return {
            "pid": pid,
            "port": port,
            "host": host,
            "endpoint": local_url(host, port),
            "requested_port": request.port,
            "gate_endpoint": f"http://127.0.0.1:{gate_port}",
            "address_record": str(record_path(request.home, request.agent, request.instance)),
            "log": str(log),
            "state_dir": str(state_dir),
            "standby": str(standby_at),
            "runtime_start": runtime_start,
        }

    def retire(self, handle: Mapping[str, Any], timeout: float) -> str:
        """A newer version serves now: stop this one's runtime (it drains as on ``stop``)
        and let its supervisor stand by with its warm process for a rollback (it ends
        itself: see :mod:`.standby`), for the idle time this command's environment sets
        (else the one it was started with). ``AGENTDOCK_WARM_ROLLBACK=off`` here, a handle
        of an earlier release or a supervisor that does not answer: a plain :meth:`stop`.
        Returns what became of it, for the deploy's progress line."""
        pid = int(handle.get("pid") or 0)
        at = handle.get("standby")
        state_dir = Path(handle["state_dir"])
        off = standby.rollback_wanted(os.environ)
        if not at or off is not None or not pid_alive(pid):
            if at:
                standby.dismiss(Path(at))  # off: none kept from now on
            self.stop(handle, timeout)
            return f"stopped ({off})" if at and off else "stopped"
        if _handed_over(read_state(state_dir) or {}):
            return "stopped (its supervisor serves another deployment)"
        standby.note_retire(state_dir, os.environ)
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGUSR2)
        deadline = time.monotonic() + timeout
        state: dict[str, Any] = {}
        while time.monotonic() < deadline:
            state = read_state(state_dir) or {}
            if state.get("state") in {"standby", *_FINAL} or not pid_alive(pid):
                break
            time.sleep(_POLL)
        else:
            self.stop(handle, 5.0)
            return "stopped (it did not stand by in time)"
        if state.get("state") == "standby":
            left = max(0.0, float(state.get("standby_until") or 0) - time.time())
            return f"stands by for a rollback for up to {left:.0f}s (supervisor pid {pid})"
        declined = state.get("standby_declined")
        return f"stopped ({declined})" if declined else "stopped"

    def _log_tail(self, handle: Mapping[str, Any], lines: int = LOG_TAIL_LINES) -> list[str]:
        state = read_state(Path(handle["state_dir"])) or {}
        return _tail(Path(handle["log"]), lines, int(state.get("log_offset") or 0))

    def wait_ready(self, handle: Mapping[str, Any], timeout: float, progress: Progress) -> None:
        """Poll ``/ready`` on the new runtime's own port (the stable address may still be
        the old version's) and the state file; a supervisor that gave up (failed, down)
        or is gone fails the gate at once, with the runtime's last log lines."""
        deadline = time.monotonic() + timeout
        url = f"{_own_endpoint(handle)}/ready"
        state_dir = Path(handle["state_dir"])
        progress("health", f"waiting up to {timeout:g}s for {url}")
        with httpx.Client(timeout=1.0, trust_env=False) as client:
            while True:
                state = read_state(state_dir) or {}
                current = state.get("state")
                if current in _FINAL or not pid_alive(int(handle["pid"])):
                    code = state.get("last_exit_code")
                    why = f"the runtime {current or 'exited'}" + (
                        f" (exit code {code})" if code is not None else ""
                    )
                    raise HealthGateFailed(
                        f"{why} before it was ready",
                        hint=f"see the log: {handle['log']}",
                        log_tail=self._log_tail(handle),
                    )
                if state.get("runtime_pid"):
                    with contextlib.suppress(httpx.HTTPError):
                        if client.get(url).status_code == 200:
                            progress("health", "ready")
                            return
                if time.monotonic() >= deadline:
                    raise HealthGateFailed(
                        f"/ready did not answer 200 within {timeout:g}s",
                        hint=f"see the log: {handle['log']}",
                        log_tail=self._log_tail(handle),
                    )
                time.sleep(_POLL)

    def promote(self, handle: Mapping[str, Any], progress: Progress) -> None:
        """Have the runtime accept on the agent's stable address (after its gate), and
        remember that address for the deploys after ``stop``. Idempotent.

        SIGUSR1 asks the supervisor, which asks the runtime and records the answer: the
        state file's ``serving``, or ``promote_error``. Until then the version before keeps
        serving alone; a runtime that cannot take the address over fails like a gate."""
        state_dir = Path(handle["state_dir"])
        pid = int(handle["pid"])
        state = read_state(state_dir) or {}
        if handle.get("gate_endpoint") and not state.get("serving"):
            asked = time.time()
            with contextlib.suppress(ProcessLookupError):  # reported below, with the log
                os.kill(pid, signal.SIGUSR1)
            deadline = time.monotonic() + PROMOTE_TIMEOUT
            while True:
                state = read_state(state_dir) or {}
                if state.get("serving"):
                    break
                error = state.get("promote_error")
                if error and float(state.get("updated_at") or 0) >= asked:
                    why = f"the runtime did not take {handle['endpoint']} over: {error}"
                elif state.get("state") in _FINAL or not pid_alive(pid):
                    why = f"the runtime {state.get('state') or 'exited'} before it took over"
                elif time.monotonic() >= deadline:
                    why = f"the runtime did not take {handle['endpoint']} over within "
                    why += f"{PROMOTE_TIMEOUT:g}s"
                else:
                    time.sleep(_POLL)
                    continue
                raise HealthGateFailed(
                    why, hint=f"see the log: {handle['log']}", log_tail=self._log_tail(handle)
                )
            progress("promote", f"{handle['endpoint']} is served by the new version")
        if handle.get("address_record") and handle.get("requested_port") is not None:
            write_record(Path(handle["address_record"]), handle)

    def stop(self, handle: Mapping[str, Any], timeout: float) -> None:
        """SIGTERM the supervisor (it forwards to the runtime, which drains), then SIGKILL
        the whole process group after ``timeout``; stopped already is fine.

        A handle with only ``state_dir`` (a start interrupted before it returned) finds the
        supervisor through its state file."""
        before = read_state(Path(handle["state_dir"])) or {}
        if _handed_over(before):
            return  # its supervisor serves another deployment now
        pid = int(handle.get("pid") or before.get("supervisor_pid") or 0)
        try:
            self._stop(pid, handle, timeout)
        finally:
            # What serves the agent's address stops: so does the version kept for a rollback.
            if before.get("serving") and handle.get("standby"):
                standby.dismiss(Path(handle["standby"]))

    def _stop(self, pid: int, handle: Mapping[str, Any], timeout: float) -> None:
        if not pid or not pid_alive(pid):
            return
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not pid_alive(pid):
                return
            time.sleep(_POLL)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pid, signal.SIGKILL)
        while pid_alive(pid):
            time.sleep(_POLL)
        state_dir = Path(handle["state_dir"])
        state = read_state(state_dir) or {}
        runtime_pid = state.get("runtime_pid")
        if runtime_pid and pid_alive(int(runtime_pid)):  # left its group, or not yet dead
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(int(runtime_pid), signal.SIGKILL)
            # A SIGKILL is delivered asynchronously: return once the runtime is gone, so a
            # caller that stopped it can rely on it (bounded: a process in uninterruptible
            # sleep dies when it wakes).
            gone_by = time.monotonic() + 5.0
            while pid_alive(int(runtime_pid)) and time.monotonic() < gone_by:
                time.sleep(_POLL)
        state.update(state="stopped", ready=False, runtime_pid=None, updated_at=time.time())
        with contextlib.suppress(OSError):
            write_state(state_dir, state)

    def status(self, handle: Mapping[str, Any]) -> Mapping[str, Any]:
        """``running`` while the supervisor lives (``healthy`` from ``/health``),
        ``standby`` while a superseded version waits for a rollback, ``stopped`` after a
        stop, else ``down``: the supervisor gave up after a crash loop or a configuration
        the runtime cannot start with, or was killed, and nothing listens on the port any
        more. ``standby`` also says what of this agent and instance stands by for a
        rollback (:func:`.standby.standing_by`), None when nothing does."""
        state = read_state(Path(handle["state_dir"])) or {}
        alive = not _handed_over(state) and pid_alive(int(handle["pid"]))
        current = state.get("state")
        healthy: bool | None = None
        if current in _GAVE_UP:  # it may still be on its way out
            shown, healthy = "down", False
        elif alive and current == "standby":  # superseded, kept for a rollback
            shown = "standby"
        elif alive:
            shown = "running"
            try:
                resp = httpx.get(f"{_own_endpoint(handle)}/health", timeout=1.0, trust_env=False)
                healthy = resp.status_code == 200
            except httpx.HTTPError:
                healthy = False
        elif current == "stopped":
            shown = "stopped"
        else:
            shown, healthy = "down", False
        return {
            "state": shown,
            "healthy": healthy,
            "restarts": int(state.get("restarts") or 0),
            "started_at": state.get("started_at"),
            "supervisor": current,
            "pid": handle["pid"],
            "runtime_pid": state.get("runtime_pid") if alive else None,
            "port": handle["port"],
            "runtime_endpoint": handle.get("gate_endpoint"),
            "serving": bool(state.get("serving")) if alive else False,
            "last_exit_code": state.get("last_exit_code"),
            "isolation": state.get("isolation"),
            "isolation_detail": state.get("isolation_detail"),
            # a superseded version of this instance kept for a rollback, and its memory
            "standby": standby.standing_by(Path(handle["standby"]))
            if handle.get("standby")
            else None,
        }

    def logs(self, handle: Mapping[str, Any], tail: int | None, follow: bool) -> FollowedLog:
        """The log's lines, oldest first (the last ``tail`` of them); with ``follow``, new
        lines as they come, until the supervisor is gone and nothing more was written, or
        the reader stops it (:meth:`FollowedLog.stop`)."""
        path, pid = Path(handle["log"]), int(handle["pid"])
        return FollowedLog(lambda log: _read_log(path, pid, tail, follow, log))


def _read_log(
    path: Path, pid: int, tail: int | None, follow: bool, log: FollowedLog
) -> Iterator[str]:
    """:meth:`LocalTarget.logs`'s lines: the file is read again every 0.2 s while it
    does not grow; a stopped ``log`` ends that wait at once."""
    try:
        fh = path.open("r", encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return
    with fh:
        lines: Iterator[str] = iter(fh.readlines())
        if tail is not None:
            lines = iter(deque(lines, maxlen=max(tail, 0)))
        for line in lines:
            yield line.rstrip("\n")
        if not follow:
            return
        pending = ""
        while True:
            chunk = fh.readline()
            if chunk:
                pending += chunk
                if pending.endswith("\n"):
                    yield pending.rstrip("\n")
                    pending = ""
                continue
            if not pid_alive(pid):
                if pending:
                    yield pending
                return
            if log.wait(0.2):
                return
