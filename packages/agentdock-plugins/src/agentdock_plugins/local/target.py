"""The ``local`` target: a bundle run by a detached supervisor process on this machine.

``start`` launches ``python -m agentdock_plugins.local.supervisor`` in a new session, so it
outlives the CLI and a Ctrl-C at the terminal never reaches it. The runtime's resolved
environment travels in the supervisor's process environment only, and that environment is
:func:`~agentdock.deployment.runenv.host_runtime_env`'s: never the deploying shell's whole
environment. The runtime listens on 127.0.0.1 unless the request names another address
(``--host``, or ``expose.host`` written in the Dockfile). Everything later
(``wait_ready``, ``status``, ``stop``, ``logs``) works from the handle alone, from any
process: the supervisor's pid, the port, the log path and the state directory.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections import deque
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import httpx
from agentdock.deployment.artifacts import Artifact, Progress, StartRequest
from agentdock.deployment.errors import DeployFailed, HealthGateFailed
from agentdock.deployment.inputs import reach_of
from agentdock.deployment.runenv import host_runtime_env
from agentdock.deployment.workspace import pid_alive

from agentdock_plugins.local.supervisor import GAVE_UP, local_address, read_state, write_state

__all__ = [
    "DEFAULT_HOST",
    "LOG_TAIL_LINES",
    "LocalTarget",
    "choose_port",
    "listen_socket",
    "local_address",
    "log_path",
    "pid_alive",
]

LOG_TAIL_LINES = 20
#: Where a local runtime listens unless asked for more: this machine only.
DEFAULT_HOST = "127.0.0.1"
_POLL = 0.05
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


def listen_socket(host: str, wanted: int) -> socket.socket:
    """A socket bound and listening on ``host``: on ``wanted`` when it is free, else on the
    first free one of the 20 after it, else on a port the system picks. The runtime serves
    this very socket (handed down through the supervisor), so the port cannot be taken
    between this choice and the runtime's start."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    candidates = list(range(wanted, min(wanted + 21, 65536))) if wanted else []
    for port in [*candidates, 0]:
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
            sock.listen(2048)
        except OSError:
            sock.close()
            continue
        return sock
    raise DeployFailed(f"no port to listen on at {host}", hint="free a port")


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
        listener = listen_socket(host, request.port)
        port = int(listener.getsockname()[1])
        if port != request.port:
            progress("start", f"port {request.port} is taken: using {port}", port=port)
        where = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
        progress("start", f"listening on {where}: {reach_of(host)}", host=host, port=port)
        log = log_path(request.home, request.agent, request.instance)
        log.parent.mkdir(parents=True, exist_ok=True)
        state_dir = Path(request.state_dir)
        state_dir.mkdir(parents=True, exist_ok=True)
        # The registry (API keys) of the deploying CLI, and state (checkpoints) per agent
        # and instance that outlives versions.
        state_name = request.agent + (f".{request.instance}" if request.instance else "")
        env = host_runtime_env(
            request.env,
            {
                "AGENTDOCK_HOME": str(request.home),
                "AGENTDOCK_STATE_DIR": str(Path(request.home) / "state" / state_name),
            },
        )
        args = [
            sys.executable,
            "-m",
            "agentdock_plugins.local.supervisor",
            "--bundle",
            str(bundle),
            "--state-dir",
            str(state_dir),
            "--log",
            str(log),
            "--host",
            host,
            "--port",
            str(port),
            "--fd",
            str(listener.fileno()),
            "--detach",
        ]
        with subprocess.Popen(
            args,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
            start_new_session=True,
            text=True,
            pass_fds=(listener.fileno(),),
        ) as launcher:
            out, err = launcher.communicate(timeout=30)
        listener.close()  # the supervisor holds it now
        pid_text = out.strip().splitlines()[-1] if out.strip() else ""
        if launcher.returncode != 0 or not pid_text.isdigit():
            last = (err.strip().splitlines() or ["no output"])[-1]
            raise DeployFailed(f"cannot start the supervisor: {last}")
        pid = int(pid_text)
        progress("start", f"supervisor pid {pid}, port {port}, log {log}", pid=pid, port=port)
        return {
            "pid": pid,
            "port": port,
            "host": host,
            "endpoint": f"http://{local_address(host)}:{port}",
            "log": str(log),
            "state_dir": str(state_dir),
        }

    def _log_tail(self, handle: Mapping[str, Any], lines: int = LOG_TAIL_LINES) -> list[str]:
        state = read_state(Path(handle["state_dir"])) or {}
        return _tail(Path(handle["log"]), lines, int(state.get("log_offset") or 0))

    def wait_ready(self, handle: Mapping[str, Any], timeout: float, progress: Progress) -> None:
        """Poll ``/ready`` and the state file; a supervisor that gave up (failed, down)
        or is gone fails the gate at once, with the runtime's last log lines."""
        deadline = time.monotonic() + timeout
        url = f"{handle['endpoint']}/ready"
        state_dir = Path(handle["state_dir"])
        progress("health", f"waiting for {url}")
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

    def stop(self, handle: Mapping[str, Any], timeout: float) -> None:
        """SIGTERM the supervisor (it forwards to the runtime, which drains), then SIGKILL
        the whole process group after ``timeout``; stopped already is fine.

        A handle with only ``state_dir`` (a start interrupted before it returned) finds the
        supervisor through its state file."""
        pid = int(
            handle.get("pid")
            or (read_state(Path(handle["state_dir"])) or {}).get("supervisor_pid")
            or 0
        )
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
        if runtime_pid and pid_alive(int(runtime_pid)):  # left its group: still ours to end
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(int(runtime_pid), signal.SIGKILL)
        state.update(state="stopped", ready=False, runtime_pid=None, updated_at=time.time())
        with contextlib.suppress(OSError):
            write_state(state_dir, state)

    def status(self, handle: Mapping[str, Any]) -> Mapping[str, Any]:
        """``running`` while the supervisor lives (``healthy`` from ``/health``),
        ``stopped`` after a stop, else ``down``: the supervisor gave up after a crash loop
        or a configuration the runtime cannot start with, or was killed, and nothing
        listens on the port any more."""
        state = read_state(Path(handle["state_dir"])) or {}
        alive = pid_alive(int(handle["pid"]))
        current = state.get("state")
        healthy: bool | None = None
        if current in _GAVE_UP:  # it may still be on its way out
            shown, healthy = "down", False
        elif alive:
            shown = "running"
            try:
                resp = httpx.get(f"{handle['endpoint']}/health", timeout=1.0, trust_env=False)
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
            "last_exit_code": state.get("last_exit_code"),
        }

    def logs(self, handle: Mapping[str, Any], tail: int | None, follow: bool) -> Iterator[str]:
        """The log's lines, oldest first (the last ``tail`` of them); with ``follow``, new
        lines as they come, until the supervisor is gone and nothing more was written."""
        path = Path(handle["log"])
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
                if not pid_alive(int(handle["pid"])):
                    if pending:
                        yield pending
                    return
                time.sleep(0.2)
