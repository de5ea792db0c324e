"""The supervisor of one local deployment: ``python -m agentdock_plugins.local.supervisor``.

It runs ``<bundle>/venv/bin/python -m agentdock_runtime``, copies the runtime's output into
the deployment's log with every known secret value masked (the variables
``AGENTDOCK_SECRET_NAMES`` names), adds a timestamped line at each start, exit and restart,
restarts a runtime that crashes (at most :data:`MAX_RESTARTS` times in
:data:`RESTART_WINDOW` seconds; after that it gives up and the deployment is ``down``) and
keeps a JSON state file the ``local`` target reads from any later process. A runtime that
exits with 78 (configuration) or 70 (entrypoint import) before it was ever ready is not
restarted: the deployment is ``failed``, since the same start would fail the same way.
SIGTERM is forwarded to the runtime, which drains; the supervisor then exits 0.

The runtime's resolved environment arrives in this process's environment only, never in
argv or on disk; the runtime gets that environment plus its own settings. Standard library
and :mod:`agentdock.masking` only, so it starts fast and needs nothing of the bundle.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections import deque
from pathlib import Path
from typing import IO, Any, TextIO

from agentdock.masking import Masker, masker_from_env

__all__ = [
    "GAVE_UP",
    "MAX_RESTARTS",
    "RESTART_WINDOW",
    "STATE_FILE",
    "local_address",
    "main",
    "read_state",
    "write_state",
]

STATE_FILE = "supervisor.json"
MAX_RESTARTS = 3
RESTART_WINDOW = 60.0
#: Exit codes of ``agentdock_runtime`` that no restart can fix (EX_CONFIG, EX_SOFTWARE).
NO_RESTART_CODES = frozenset({78, 70})
#: The supervisor's state once it gave up restarting: nothing serves until a new start.
GAVE_UP = "down"
_POLL = 0.05
#: Probes go straight to the runtime whatever proxy the environment names.
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))
#: A line longer than this is written (masked) in pieces rather than held whole.
_MAX_LINE = 1 << 16
#: Seconds the log copier gets after the runtime exited to write its last lines.
_COPY_GRACE = 5.0


def write_state(state_dir: Path, state: dict[str, Any]) -> None:
    """Replace the state file atomically (write a sibling, then rename over)."""
    path = state_dir / STATE_FILE
    tmp = path.with_name(f".{STATE_FILE}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(state, indent=1, sort_keys=True), encoding="utf-8")
    os.replace(tmp, path)


def read_state(state_dir: Path) -> dict[str, Any] | None:
    """The state file, or None when there is none (yet) or it cannot be read."""
    try:
        data = json.loads((state_dir / STATE_FILE).read_text("utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def local_address(host: str) -> str:
    """The address this machine reaches a socket bound on ``host`` at, as a URL host:
    the loopback for a wildcard, else the address itself."""
    if host in ("0.0.0.0", "", "*"):
        return "127.0.0.1"
    if host == "::":
        return "[::1]"
    return f"[{host}]" if ":" in host else host


def _stamp() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S%z")


class _LogCopier(threading.Thread):
    """Copies the runtime's output into the log a line at a time, secrets masked.

    Whole lines are masked, so a value split across two writes of the runtime is still
    found; the log gets them under the same lock as the supervisor's own lines."""

    def __init__(self, pipe: IO[bytes], log: TextIO, lock: threading.Lock, mask: Masker):
        super().__init__(name="agentdock-log-copier", daemon=True)
        self.pipe, self.log, self.lock, self.mask = pipe, log, lock, mask

    def emit(self, lines: list[bytes]) -> None:
        text = "".join(self.mask(line.decode("utf-8", "replace")) + "\n" for line in lines)
        with self.lock:
            self.log.write(text)
            self.log.flush()

    def run(self) -> None:
        pending = b""
        read = getattr(self.pipe, "read1", self.pipe.read)
        with contextlib.suppress(OSError, ValueError), self.pipe:
            while chunk := read(_MAX_LINE):
                *lines, pending = (pending + chunk).split(b"\n")
                if len(pending) > _MAX_LINE:
                    lines.append(pending)
                    pending = b""
                if lines:
                    self.emit(lines)
        if pending:
            self.emit([pending])


class Supervisor:
    def __init__(self, args: argparse.Namespace) -> None:
        self.bundle = Path(args.bundle)
        self.state_dir = Path(args.state_dir)
        self.log_path = Path(args.log)
        self.host = args.host
        self.port = int(args.port)
        #: The listening socket the target bound for the runtime (kept across restarts).
        self.fd: int | None = args.fd
        self.stopping = False
        self.proc: subprocess.Popen[bytes] | None = None
        self.mask = masker_from_env(os.environ)
        self.log_lock = threading.Lock()
        self.crashes: deque[float] = deque()
        self.ever_ready = False
        self.state: dict[str, Any] = {
            "supervisor_pid": os.getpid(),
            "runtime_pid": None,
            "state": "starting",
            "restarts": 0,
            "started_at": time.time(),
            "last_exit_code": None,
            "ready": False,
            "port": self.port,
            "host": self.host,
            "bundle": str(self.bundle),
            "log_offset": 0,
        }

    def save(self, **changes: Any) -> None:
        self.state.update(changes, updated_at=time.time())
        write_state(self.state_dir, self.state)

    def note(self, log: TextIO, message: str) -> None:
        with self.log_lock:
            log.write(f"[{_stamp()}] agentdock supervisor: {message}\n")
            log.flush()

    def on_signal(self, signum: int, _frame: Any) -> None:
        self.stopping = True
        proc = self.proc
        if proc is not None and proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(signal.SIGTERM)

    def runtime_env(self) -> dict[str, str]:
        """This process's environment (the target computed it) and the runtime's settings."""
        env = dict(os.environ)
        env.update(
            AGENTDOCK_SPEC=str(self.bundle / "app" / "spec.yaml"),
            AGENTDOCK_PROJECT_DIR=str(self.bundle / "app"),
            AGENTDOCK_HOST=self.host,
            AGENTDOCK_PORT=str(self.port),
            PYTHONUNBUFFERED="1",
        )
        if self.fd is not None:
            env["AGENTDOCK_LISTEN_FD"] = str(self.fd)
        return env

    def probe_ready(self) -> bool:
        url = f"http://{local_address(self.host)}:{self.port}/ready"
        try:
            with _OPENER.open(url, timeout=1.0) as resp:
                return int(resp.status) == 200
        except (OSError, urllib.error.URLError, ValueError):
            return False

    def run_once(self, log: TextIO, env: dict[str, str]) -> int:
        self.proc = subprocess.Popen(
            [str(self.bundle / "venv" / "bin" / "python"), "-m", "agentdock_runtime"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            cwd=self.bundle / "app",
            env=env,
            pass_fds=(self.fd,) if self.fd is not None else (),
        )
        assert self.proc.stdout is not None
        copier = _LogCopier(self.proc.stdout, log, self.log_lock, self.mask)
        copier.start()
        self.note(log, f"runtime started (pid {self.proc.pid}, port {self.port})")
        self.save(runtime_pid=self.proc.pid, state="starting", ready=False)
        if self.stopping:  # a signal that came before the runtime existed
            self.proc.send_signal(signal.SIGTERM)
        while True:
            try:
                code = self.proc.wait(timeout=_POLL if not self.state["ready"] else 0.5)
            except subprocess.TimeoutExpired:
                pass
            else:
                # Its last lines before the note of its exit (a child of the runtime that
                # still holds the pipe only delays this by the grace period).
                copier.join(_COPY_GRACE)
                return code
            if not self.state["ready"] and not self.stopping and self.probe_ready():
                self.ever_ready = True
                self.save(state="running", ready=True)

    def run(self) -> int:
        signal.signal(signal.SIGTERM, self.on_signal)
        signal.signal(signal.SIGINT, self.on_signal)
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        env = self.runtime_env()
        with self.log_path.open("a", encoding="utf-8", errors="replace") as log:
            self.save(log_offset=log.tell())
            self.note(log, f"starting {self.bundle.name} (supervisor pid {os.getpid()})")
            while True:
                code = self.run_once(log, env)
                self.proc = None
                self.note(log, f"runtime exited with code {code}")
                if self.stopping:
                    self.note(log, "stopped")
                    self.save(state="stopped", ready=False, runtime_pid=None, last_exit_code=code)
                    return 0
                if code in NO_RESTART_CODES and not self.ever_ready:
                    self.note(log, "the runtime cannot start with this configuration: failed")
                    self.save(state="failed", ready=False, runtime_pid=None, last_exit_code=code)
                    return 1
                now = time.monotonic()
                self.crashes.append(now)
                while self.crashes and now - self.crashes[0] > RESTART_WINDOW:
                    self.crashes.popleft()
                if len(self.crashes) > MAX_RESTARTS:
                    self.note(
                        log,
                        f"crashed {len(self.crashes)} times in {RESTART_WINDOW:.0f}s: "
                        f"giving up, the deployment is {GAVE_UP}",
                    )
                    self.save(state=GAVE_UP, ready=False, runtime_pid=None, last_exit_code=code)
                    return 1
                restarts = int(self.state["restarts"]) + 1
                self.note(log, f"restarting the runtime (restart {restarts})")
                self.save(restarts=restarts, last_exit_code=code, ready=False)


def _detach(log: Path) -> None:
    """Fork once more so the supervisor is nobody's child: the process that started it
    can exit or carry on without ever having to reap it. Prints the supervisor's pid; the
    supervisor's own stderr (a traceback, should it ever crash) goes to the log."""
    log.parent.mkdir(parents=True, exist_ok=True)
    pid = os.fork()
    if pid:
        sys.stdout.write(f"{pid}\n")
        sys.stdout.flush()
        os._exit(0)
    # Lead a session and process group of its own, so stop() can end the supervisor and
    # its runtime together with one killpg(pid) after its timeout.
    os.setsid()
    devnull = os.open(os.devnull, os.O_RDWR)
    err = os.open(log, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    os.dup2(devnull, 0)
    os.dup2(devnull, 1)
    os.dup2(err, 2)
    os.close(devnull)
    os.close(err)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m agentdock_plugins.local.supervisor")
    parser.add_argument("--bundle", required=True)
    parser.add_argument("--state-dir", required=True)
    parser.add_argument("--log", required=True)
    parser.add_argument("--host", required=True)
    parser.add_argument("--port", required=True, type=int)
    parser.add_argument("--fd", type=int, default=None, help="an inherited listening socket")
    parser.add_argument("--detach", action="store_true")
    args = parser.parse_args(argv)
    if args.detach:
        _detach(Path(args.log))
    return Supervisor(args).run()


if __name__ == "__main__":
    raise SystemExit(main())
