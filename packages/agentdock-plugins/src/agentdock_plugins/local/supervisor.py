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

Two listening sockets come from the target: the agent's stable address, which every version
serves in turn, and the runtime's own (127.0.0.1, a port of its own), where the health
gate and the supervisor's probes reach this runtime and no other. A new runtime accepts on
its own socket only; SIGUSR1 (the target's ``promote``, once the gate passed) tells it,
through a control socket, to accept on the stable one too, and from then on every restart
serves both from the start. Meanwhile the supervisor hands the stable socket to the next
deploy of the same agent (:mod:`.handoff`).

SIGUSR2 (the target's ``retire``: a newer version serves now) stops the runtime like
SIGTERM, but a supervisor with a warm process then stands by for a rollback instead of
exiting (:mod:`.standby`), and may go on to serve the rollback's deployment.

The runtime's resolved environment arrives in this process's environment only, never in
argv or on disk; the runtime gets that environment plus its own settings. Standard library,
:mod:`agentdock.masking` and modules as light (:mod:`.handoff`, :mod:`.jsonfile`,
:mod:`.sandbox`, the socket names of :mod:`agentdock_plugins.litestar.handover`) only, so it
starts fast and needs nothing of the bundle.

Every start of the runtime goes through the sandbox (:mod:`.sandbox`: Landlock allows it to
write only its state directory, the telemetry directory and temporary files), and is
refused when the bundle could have been tampered with (:func:`check_bundle`): the
supervisor runs the bundle's interpreter as the operator, so a bundle directory that
someone else owns or may write is never executed.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import select
import signal
import socket
import stat
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

from agentdock_plugins.litestar.handover import CONTROL_FD_ENV, LISTEN_FD_ENV, STANDBY_FD_ENV
from agentdock_plugins.local import sandbox, standby, warm
from agentdock_plugins.local.handoff import HandoffServer, socket_path
from agentdock_plugins.local.jsonfile import read_json, write_json

__all__ = [
    "GAVE_UP",
    "MAX_RESTARTS",
    "RESTART_WINDOW",
    "STATE_FILE",
    "BundleTampered",
    "check_bundle",
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
#: Seconds a runtime gets to confirm it serves the stable socket.
_PROMOTE_TIMEOUT = 10.0


def write_state(state_dir: Path, state: dict[str, Any]) -> None:
    """Replace the state file atomically (write a sibling, then rename over)."""
    write_json(state_dir / STATE_FILE, state, indent=1, sort_keys=True)


def read_state(state_dir: Path) -> dict[str, Any] | None:
    """The state file, or None when there is none (yet) or it cannot be read."""
    return read_json(state_dir / STATE_FILE)


class BundleTampered(Exception):
    """A bundle the supervisor must not execute (one-line cause)."""


def check_bundle(bundle: Path) -> None:
    """Refuse a bundle whose interpreter someone other than this user (or root) could have
    replaced: the home, ``bundles/``, the bundle, its ``venv`` and ``venv/bin`` and the
    interpreter must be owned by either and writable by no group or other user; a link
    among them is followed and its target checked likewise (the link itself can only be
    changed by whoever may write its directory, which is checked).

    :raises BundleTampered: naming the path and what is wrong with it.
    """
    me = os.geteuid()
    python = bundle / "venv" / "bin" / "python"
    pending = [bundle.parent.parent, bundle.parent, bundle, bundle / "venv", python.parent, python]
    seen: set[Path] = set()
    while pending:
        path = pending.pop(0)
        if path in seen:
            continue
        seen.add(path)
        try:
            st = os.lstat(path)
            if stat.S_ISLNK(st.st_mode):
                pending.append(path.resolve(strict=True))
                continue
        except OSError as exc:
            raise BundleTampered(f"{path}: {exc.strerror}") from None
        if st.st_uid not in (me, 0):
            raise BundleTampered(f"{path} is owned by uid {st.st_uid}, not by this user")
        if st.st_mode & 0o022 and not (st.st_mode & stat.S_ISVTX):  # a sticky /tmp is fine
            raise BundleTampered(f"{path} is writable by its group or by everyone")


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
        #: The stable listening socket the target bound or was handed (kept across restarts).
        self.fd: int | None = args.fd
        #: The runtime's own listening socket, for the gate and the probes (kept likewise).
        self.gate_fd: int | None = args.gate_fd
        self.gate_port: int | None = _bound_port(args.gate_fd)
        self.ready_url = self._ready_url()
        #: Whether the runtime serves the stable socket: at once without a socket of its
        #: own (nothing to gate on it), else once promoted.
        self.promoted = self.gate_fd is None
        self.promote_wanted = False
        self.handoff_at = (
            socket_path(Path(args.handoff_dir), args.handoff_key, os.getpid())
            if args.fd is not None and args.handoff_dir and args.handoff_key
            else None
        )
        #: Where this supervisor waits once superseded (one path per agent and instance).
        self.standby_at = (
            standby.standby_path(Path(args.handoff_dir), args.handoff_key)
            if args.handoff_dir and args.handoff_key
            else None
        )
        #: SIGUSR2 came: a newer version serves, stand by for a rollback if possible.
        self.retire_wanted = False
        self.handoff: HandoffServer | None = None
        self.control: socket.socket | None = None
        self.stopping = False
        #: SIGTERM or SIGINT came (not just a retire): no standby, or the end of it.
        self.terminated = False
        self.proc: subprocess.Popen[bytes] | warm.Forked | None = None
        #: The warm process runtimes are forked from (:mod:`.warm`), while it serves.
        self.zygote: warm.Zygote | None = None
        self.zygote_tried = False
        self.mask = masker_from_env(os.environ)
        self.log_lock = threading.Lock()
        self.crashes: deque[float] = deque()
        self.ever_ready = False
        #: Landlock's ABI when runtimes are sandboxed, else 0 and why not.
        self.sandbox_abi, self.sandbox_missing = sandbox.probe()
        self.writable = sandbox.writable_paths(os.environ)
        self.wake_r, self.wake_w = os.pipe()
        for fd in (self.wake_r, self.wake_w):
            os.set_blocking(fd, False)
        self.state = self.fresh_state()

    def fresh_state(self) -> dict[str, Any]:
        """The state file of a deployment this supervisor starts serving."""
        return {
            "supervisor_pid": os.getpid(),
            "runtime_pid": None,
            "state": "starting",
            "restarts": 0,
            "started_at": time.time(),
            "last_exit_code": None,
            "ready": False,
            "serving": False,
            "promote_error": None,
            "port": self.port,
            "gate_port": self.gate_port,
            "host": self.host,
            "bundle": str(self.bundle),
            "log_offset": 0,
            "zygote_pid": None,
            "runtime_start": None,
            "isolation": "landlock" if self.sandbox_missing is None else "none",
            "isolation_detail": self.sandbox_missing
            or f"Landlock ABI {self.sandbox_abi}: writes only to {', '.join(self.writable)}",
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
        self.terminated = self.terminated or signum != signal.SIGUSR2
        proc = self.proc
        if proc is not None and proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(signal.SIGTERM)

    def on_retire(self, signum: int, frame: Any) -> None:
        self.retire_wanted = True
        self.on_signal(signum, frame)

    def on_promote(self, signum: int, _frame: Any) -> None:
        # Only a flag: the main loop (woken by the signal's byte on wake_r) does the work,
        # never a signal handler that could interrupt it holding the log's lock.
        self.promote_wanted = True

    def runtime_env(self, control: int | None) -> dict[str, str]:
        """This process's environment (the target computed it) and the runtime's settings:
        the sockets it serves from the start, the one it serves once promoted, and its
        control channel."""
        env = dict(os.environ)
        env.update(
            AGENTDOCK_SPEC=str(self.bundle / "app" / "spec.yaml"),
            AGENTDOCK_PROJECT_DIR=str(self.bundle / "app"),
            AGENTDOCK_HOST=self.host,
            AGENTDOCK_PORT=str(self.port),
            PYTHONUNBUFFERED="1",
        )
        served = [fd for fd in (self.gate_fd, self.fd if self.promoted else None) if fd is not None]
        if served:
            env[LISTEN_FD_ENV] = ",".join(map(str, served))
        if self.fd is not None and not self.promoted:
            env[STANDBY_FD_ENV] = str(self.fd)
        if control is not None:
            env[CONTROL_FD_ENV] = str(control)
        return env

    def _ready_url(self) -> str:
        """``/ready`` of this supervisor's runtime: on its own socket when it has one (the
        stable address may be answered by another version meanwhile)."""
        if self.gate_port is not None:
            return f"http://127.0.0.1:{self.gate_port}/ready"
        # Only without a socket of its own (a handle of an earlier release): the runtime
        # package is imported for this alone, so the supervisor starts without it otherwise.
        from agentdock_runtime.listen import local_url

        return f"{local_url(self.host, self.port)}/ready"

    def probe_ready(self) -> bool:
        """Whether the runtime answers :attr:`ready_url` with 200."""
        try:
            with _OPENER.open(self.ready_url, timeout=1.0) as resp:
                return int(resp.status) == 200
        except (OSError, urllib.error.URLError, ValueError):
            return False

    def promote(self, log: TextIO) -> None:
        """Ask the runtime to accept on the stable socket and wait for its word; record
        the outcome in the state file (``serving``, else ``promote_error``)."""
        if self.control is None:
            self.save(promote_error="the runtime has no control channel")
            return
        try:
            self.control.settimeout(_PROMOTE_TIMEOUT)
            self.control.sendall(b"promote\n")
            reply = self.control.recv(256).decode("utf-8", "replace").strip()
        except OSError as exc:
            reply = f"error: {exc}"
        if reply == "serving":
            if not self.promoted:
                self.note(log, f"the runtime serves {self.host}:{self.port} now")
            self.promoted = True
            self.save(serving=True, promote_error=None)
        else:
            why = reply or "the runtime closed its control channel"
            self.note(log, f"the runtime did not take {self.host}:{self.port} over: {why}")
            self.save(promote_error=why[:300])

    def pause(self, pidfd: int | None, timeout: float) -> None:
        """Until the runtime exits, a signal comes (its byte on ``wake_r``) or ``timeout``."""
        waitables = [self.wake_r] + ([pidfd] if pidfd is not None else [])
        if self.zygote is not None and not self.zygote.ready:
            waitables.append(self.zygote.fileno())
        with contextlib.suppress(InterruptedError, OSError):
            select.select(waitables, [], [], timeout)
        with contextlib.suppress(BlockingIOError, OSError):
            os.read(self.wake_r, 512)

    def runtime_command(self, module: str = "agentdock_runtime") -> list[str]:
        """The bundle's interpreter running ``module`` (the runtime, or the warm process it
        is forked from), in the sandbox when there is one."""
        program = [str(self.bundle / "venv" / "bin" / "python"), "-m", module]
        if self.sandbox_missing is not None:
            return program
        return sandbox.command(program, self.writable)

    def start_zygote(self, log: TextIO) -> None:
        """Start the warm process runtimes are forked from (it imports in the background,
        see :meth:`check_zygote`), unless warm starts are off or impossible here; a
        failure is noted and every runtime then starts cold."""
        self.zygote_tried = True
        why_not = warm.warm_wanted(os.environ)
        if why_not is None:
            try:
                check_bundle(self.bundle)
                warm.become_subreaper()
                self.zygote = warm.Zygote(
                    self.runtime_command("agentdock_runtime.zygote"),
                    os.environ,
                    self.bundle / "app",
                    lambda out: _LogCopier(out, log, self.log_lock, self.mask).start(),
                )
            except (warm.ZygoteError, BundleTampered) as exc:
                why_not = str(exc)
        if self.zygote is None:
            self.note(log, f"runtimes start cold: {why_not}")

    def check_zygote(self, log: TextIO) -> None:
        """Take the warm process's word that it is ready, or that it failed."""
        if self.zygote is None or self.zygote.ready:
            return
        try:
            if not self.zygote.answer():
                return
        except warm.ZygoteError as exc:
            self.note(log, f"runtimes start cold: the warm process failed: {exc}")
            self.stop_zygote()
            return
        self.note(log, f"warm process ready (pid {self.zygote.pid}): restarts are forked from it")
        self.save(zygote_pid=self.zygote.pid)

    def stop_zygote(self) -> None:
        if self.zygote is not None:
            self.zygote.close()
            self.zygote = None
            self.save(zygote_pid=None)

    def start_runtime(
        self, log: TextIO, env: dict[str, str], fds: list[int]
    ) -> subprocess.Popen[bytes] | warm.Forked:
        """The runtime, forked from the warm process when there is one, else started."""
        if self.zygote is not None and self.zygote.ready:
            try:
                fd_vars = (LISTEN_FD_ENV, STANDBY_FD_ENV, CONTROL_FD_ENV)
                forked = self.zygote.spawn(env, fds, fd_vars, self.bundle / "app")
            except warm.ZygoteError as exc:
                self.note(log, f"cannot fork a runtime ({exc}): starting it cold from now on")
                self.stop_zygote()
            else:
                self.save(runtime_start="forked")
                return forked
        self.save(runtime_start="cold")
        return subprocess.Popen(
            self.runtime_command(),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            cwd=self.bundle / "app",
            env=env,
            pass_fds=tuple(fds),
        )

    def run_once(self, log: TextIO) -> int:
        check_bundle(self.bundle)
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        inherited = [fd for fd in (self.fd, self.gate_fd, theirs.fileno()) if fd is not None]
        try:
            self.proc = self.start_runtime(log, self.runtime_env(theirs.fileno()), inherited)
        finally:
            theirs.close()
        self.control = ours
        assert self.proc.stdout is not None
        copier = _LogCopier(self.proc.stdout, log, self.log_lock, self.mask)
        copier.start()
        ports = f"port {self.port}" + (f", own port {self.gate_port}" if self.gate_port else "")
        how = "forked from the warm process" if isinstance(self.proc, warm.Forked) else "cold"
        self.note(log, f"runtime started (pid {self.proc.pid}, {how}, {ports})")
        self.save(runtime_pid=self.proc.pid, state="starting", ready=False, serving=False)
        if self.stopping:  # a signal that came before the runtime existed
            self.proc.send_signal(signal.SIGTERM)
        pidfd: int | None = None
        with contextlib.suppress(AttributeError, OSError):
            pidfd = os.pidfd_open(self.proc.pid)
        try:
            while True:
                code = self.proc.poll()
                if code is not None:
                    # Its last lines before the note of its exit (a child of the runtime
                    # that still holds the pipe only delays this by the grace period).
                    copier.join(_COPY_GRACE)
                    return code
                ready = bool(self.state["ready"])
                if not ready and not self.stopping and self.probe_ready():
                    self.ever_ready = ready = True
                    self.save(
                        state="running", ready=True, serving=self.promoted, ready_at=time.time()
                    )
                if ready and not self.zygote_tried and not self.stopping:
                    self.start_zygote(log)
                if ready and self.promote_wanted and not self.stopping:
                    self.promote_wanted = False
                    self.promote(log)
                self.pause(pidfd, _POLL if not ready else (5.0 if pidfd is not None else 0.5))
                self.check_zygote(log)
        finally:
            if pidfd is not None:
                os.close(pidfd)
            self.control = None
            ours.close()

    def run(self) -> int:
        signal.set_wakeup_fd(self.wake_w)
        signal.signal(signal.SIGTERM, self.on_signal)
        signal.signal(signal.SIGINT, self.on_signal)
        signal.signal(signal.SIGUSR1, self.on_promote)
        signal.signal(signal.SIGUSR2, self.on_retire)
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("a", encoding="utf-8", errors="replace") as log:
            self.save(log_offset=log.tell())
            self.note(log, f"starting {self.bundle.name} (supervisor pid {os.getpid()})")
            if self.sandbox_missing is not None:
                self.note(
                    log,
                    f"[WARN] the runtime is not sandboxed ({self.sandbox_missing}): the "
                    "agent's code may write anything this user may, the registry included",
                )
            try:
                self.serve_handoff(log)
                while True:
                    code = self.supervise(log)
                    if code is not None:
                        return code
                    if not self.stand_by(log):  # superseded: a rollback may bring it back
                        return 0
            finally:
                self.stop_zygote()
                if self.handoff is not None:
                    self.handoff.close()

    def serve_handoff(self, log: TextIO) -> None:
        """Hand the stable socket to the next deploy of this agent (:mod:`.handoff`); without
        it that deploy binds another port, so a failure here is noted, not fatal."""
        if self.handoff_at is None or self.fd is None:
            return
        try:
            self.handoff = HandoffServer(self.handoff_at, self.fd, self.host, self.port)
        except OSError as exc:
            self.note(log, f"cannot serve the address to the next deploy: {exc}")
            return
        self.handoff.start()

    def finish(self, log: TextIO, code: int, state: str, message: str) -> None:
        """Record that nothing runs any more: ``state`` and the runtime's last exit code."""
        self.note(log, message)
        self.save(state=state, ready=False, serving=False, runtime_pid=None, last_exit_code=code)

    def may_stand_by(self, log: TextIO) -> bool:
        """Whether this superseded supervisor keeps its warm process for a rollback."""
        why_not = standby.rollback_wanted(os.environ)
        if self.standby_at is None:
            why_not = "no socket directory to wait in"
        elif self.zygote is None or not self.zygote.ready:
            why_not = why_not or "no warm process"
        if why_not is not None:
            self.note(log, f"superseded, not standing by for a rollback: {why_not}")
            self.save(standby_declined=why_not)  # what the target's retire reports
        return why_not is None

    def stand_by(self, log: TextIO) -> bool:
        """Superseded: keep the warm process and wait at :attr:`standby_at` for a rollback
        to this version (True: it came, and this supervisor now serves its deployment) or
        for the end of the standby (idle time, SIGTERM, dismissed, the warm process gone)."""
        assert self.standby_at is not None and self.zygote is not None
        # The address belongs to the version serving it now; let go of it and our own port.
        if self.handoff is not None:
            self.handoff.close()
            self.handoff = None
        for fd in (self.fd, self.gate_fd):
            if fd is not None:
                with contextlib.suppress(OSError):
                    os.close(fd)
        self.fd = self.gate_fd = None
        standby.dismiss(self.standby_at)  # one standby per agent and instance: the latest
        idle = standby.retire_idle(self.state_dir, os.environ)
        shown = {
            "warm_pid": self.zygote.pid,
            "until": time.time() + idle,
            "state_dir": str(self.state_dir),
        }
        try:
            server = standby.StandbyServer(self.standby_at, shown)
        except OSError as exc:
            code = int(self.state.get("last_exit_code") or 0)
            self.finish(log, code, "stopped", f"cannot stand by for a rollback ({exc}): stopped")
            return False
        self.retire_wanted = False
        self.note(
            log,
            f"superseded: standing by for a rollback for up to {idle:g}s, with the warm "
            f"process (pid {self.zygote.pid})",
        )
        self.save(state="standby", standby_until=shown["until"])
        deadline = time.monotonic() + idle
        why = ""
        try:
            while not why:
                left = deadline - time.monotonic()
                if self.terminated:
                    why = "stopped"
                elif left <= 0:
                    why = f"no rollback within {idle:g}s"
                else:
                    why = self.wait_in_standby(server, left, log)
                    if why == "taken":
                        return True
        finally:
            server.close()
        self.stop_zygote()
        code = int(self.state.get("last_exit_code") or 0)
        self.finish(log, code, "stopped", f"standby over ({why}): stopped")
        return False

    def wait_in_standby(self, server: standby.StandbyServer, timeout: float, log: TextIO) -> str:
        """One wait of the standby: ``taken``, why it ends, or ``""`` to wait on."""
        assert self.zygote is not None
        readable: list[int] = []
        waitables = [self.wake_r, server.fileno(), self.zygote.fileno()]
        with contextlib.suppress(InterruptedError, OSError):
            readable, _, _ = select.select(waitables, [], [], timeout)
        with contextlib.suppress(BlockingIOError, OSError):
            os.read(self.wake_r, 512)
        if self.zygote.fileno() in readable:  # it says nothing once ready: it has exited
            return "the warm process exited"
        if server.fileno() not in readable:
            return ""
        request = server.receive()
        if request is None:
            return ""
        if request.op == "exit":
            server.close()
            self.stop_zygote()
            request.answer(pid=os.getpid())
            return "dismissed"
        refused = self.adopt(request, log) if request.op == "take" else "unknown request"
        if refused is None:
            request.answer(pid=os.getpid())
            return "taken"
        request.close_fds()
        request.answer(refused=refused)
        self.note(log, f"standing by still: a start was refused ({refused})")
        return ""

    def adopt(self, request: standby.Request, log: TextIO) -> str | None:
        """Serve the deployment a rollback asks for (None), or say why not: another
        bundle, or a runtime that would need other sandbox rules or warm imports."""
        settings = request.settings
        env = settings.get("env")
        if not isinstance(env, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in env.items()
        ):
            return "the request carries no environment"
        if settings.get("bundle") != str(self.bundle):
            return "another bundle stands by"
        if settings.get("log") != str(self.log_path):
            return "another log"
        if (
            len(request.fds) != 2
            or not isinstance(settings.get("port"), int)
            or not all(
                isinstance(settings.get(k), str)
                for k in ("state_dir", "host", "handoff_dir", "handoff_key")
            )
        ):
            return "the request names no deployment or sockets"
        why = warm.warm_wanted(env)
        if why is None and warm.zygote_env(env) != warm.zygote_env(os.environ):
            why = "the machine's variables differ from the warm process's"
        if why is None and (
            sandbox.probe(env)[1] != self.sandbox_missing
            or sandbox.writable_paths(env) != self.writable
        ):
            why = "the runtime would be sandboxed otherwise"
        if why is not None:
            return why
        assert self.zygote is not None
        new_state = Path(settings["state_dir"])
        new_state.mkdir(parents=True, exist_ok=True)
        # The superseded deployment's record: this process serves another deployment now.
        self.save(state="stopped", handed_to=str(new_state), zygote_pid=None)
        os.environ.clear()
        os.environ.update(env)  # the rollback's environment, read afresh, secrets included
        self.mask = masker_from_env(os.environ)
        self.state_dir = new_state
        self.host, self.port = settings["host"], settings["port"]
        self.fd, self.gate_fd = request.fds
        request.fds = []
        self.gate_port = _bound_port(self.gate_fd)
        self.ready_url = self._ready_url()
        self.promoted = self.promote_wanted = self.stopping = self.retire_wanted = False
        self.ever_ready = False
        self.crashes.clear()
        self.handoff_at = socket_path(
            Path(settings["handoff_dir"]), settings["handoff_key"], os.getpid()
        )
        self.state = self.fresh_state()
        self.save(zygote_pid=self.zygote.pid, log_offset=log.tell())
        self.note(
            log,
            f"rollback: serving {new_state.name} from the standby of {self.bundle.name} "
            f"(supervisor pid {os.getpid()}, warm process pid {self.zygote.pid})",
        )
        self.serve_handoff(log)
        return None

    def supervise(self, log: TextIO) -> int | None:
        """Run and restart the runtime; its exit code once done, None once superseded with
        a warm process to keep for a rollback."""
        while True:
            try:
                code = self.run_once(log)
            except BundleTampered as exc:
                self.finish(log, -1, "failed", f"refusing to run the bundle: {exc}")
                return 1
            self.proc = None
            self.note(log, f"runtime exited with code {code}")
            if self.stopping:
                if self.retire_wanted and not self.terminated and self.may_stand_by(log):
                    self.save(ready=False, serving=False, runtime_pid=None, last_exit_code=code)
                    return None  # the state file says "standby" once it waits
                self.finish(log, code, "stopped", "stopped")
                return 0
            if code in NO_RESTART_CODES and not self.ever_ready:
                message = "the runtime cannot start with this configuration: failed"
                self.finish(log, code, "failed", message)
                return 1
            now = time.monotonic()
            self.crashes.append(now)
            while self.crashes and now - self.crashes[0] > RESTART_WINDOW:
                self.crashes.popleft()
            if len(self.crashes) > MAX_RESTARTS:
                message = (
                    f"crashed {len(self.crashes)} times in {RESTART_WINDOW:.0f}s: "
                    f"giving up, the deployment is {GAVE_UP}"
                )
                self.finish(log, code, GAVE_UP, message)
                return 1
            restarts = int(self.state["restarts"]) + 1
            self.note(log, f"restarting the runtime (restart {restarts})")
            self.save(restarts=restarts, last_exit_code=code, ready=False, serving=False)


def _bound_port(fd: int | None) -> int | None:
    if fd is None:
        return None
    with socket.socket(fileno=os.dup(fd)) as sock:
        return int(sock.getsockname()[1])


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
    parser.add_argument("--fd", type=int, default=None, help="the stable listening socket")
    parser.add_argument(
        "--gate-fd", type=int, default=None, help="the runtime's own listening socket"
    )
    parser.add_argument("--handoff-dir", default=None, help="where to serve --fd to deploys")
    parser.add_argument("--handoff-key", default=None, help="the agent's name there")
    parser.add_argument("--detach", action="store_true")
    args = parser.parse_args(argv)
    if args.detach:
        _detach(Path(args.log))
    return Supervisor(args).run()


if __name__ == "__main__":
    raise SystemExit(main())
