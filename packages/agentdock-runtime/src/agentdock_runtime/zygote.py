"""A warm process runtimes are forked from: ``python -m agentdock_runtime.zygote``.

Most of a runtime's start is importing: LangGraph alone takes over a second. A supervisor
that restarts a runtime (after a crash) would pay it again each time; instead it keeps
this process, which imports what every runtime imports (:data:`PRELOAD`, the plugins) and
then only waits, and forks it for each start. A forked runtime skips the imports and is
ready in the time its agent takes to load.

What the zygote holds is the same for every runtime it forks: code, no configuration. It
starts with a bare environment (no secret, no setting of the agent: the supervisor gives it
the machine's variables only, see ``agentdock_plugins.local.warm``), never reads the
environment a runtime gets, and loads no agent. Nothing of it runs threads: a fork copies
only the thread that calls it, so the zygote refuses to start (and the supervisor starts
runtimes cold) if an import left one running.

The protocol, on the ``SOCK_SEQPACKET`` socket named by ``AGENTDOCK_ZYGOTE_FD``:

* the zygote sends ``ready`` once its imports are done (or ``error: ...`` and exits);
* each ``spawn`` message carries file descriptors (``SCM_RIGHTS``): a socket the runtime's
  settings arrive on, its stdout/stderr, then the sockets it serves. The zygote forks twice
  (the middle process exits at once, so the runtime is re-parented to the supervisor, a
  child subreaper that waits for it like for a process it started) and answers
  ``pid <n>``;
* when the supervisor closes the socket, the zygote exits.

The forked runtime reads its settings (a JSON object: the environment, which of its
variables name which descriptor, the working directory) from the settings socket, so its
secrets go from the supervisor to it alone, then runs :func:`agentdock_runtime.entrypoint.main`
as ``python -m agentdock_runtime`` would. ``random`` reseeds itself in a forked child; caches
of variables read during the imports (LangSmith's) are cleared. The zygote imports with the
garbage collector off and freezes what it imported before it forks (the pattern
:func:`gc.freeze` documents), so the pages a runtime shares with it stay shared. The
sandbox (Landlock) the zygote was started in holds for every process forked from it.

A forked runtime's command line is the zygote's (``python -m agentdock_runtime.zygote``):
so that ``ps -o pid,comm``, ``top`` and ``pgrep`` tell them apart, the zygote names itself
``agentdock-warm`` and each runtime it forks ``agentdock-fork`` (the kernel's process name,
``/proc/<pid>/comm``, set with ``prctl(PR_SET_NAME)``; the supervisor's state file also
records both pids).
"""

from __future__ import annotations

import atexit
import contextlib
import gc
import importlib
import json
import os
import socket
import sys
import threading
from typing import Any

__all__ = ["FD_ENV", "PRELOAD", "main", "preload"]

FD_ENV = "AGENTDOCK_ZYGOTE_FD"
#: More modules to import, comma-separated: the supervisor names those of the plugins a
#: runtime builds at start-up (the server, the adapters, the policies).
PRELOAD_ENV = "AGENTDOCK_ZYGOTE_PRELOAD"
#: Imported by every runtime of a LangGraph agent before it is ready; a name missing from
#: the bundle is skipped (the runtime imports what it needs itself).
PRELOAD = (
    "langgraph.graph",
    "agentdock.validation",
    "agentdock.spec.loader",
    "agentdock_runtime.app",
    "agentdock_runtime.entrypoint",
    "agentdock_runtime.logconfig",
    "uvloop",
)
#: Registrations looked up at every start (the server, the adapter): importing them here.
_KINDS = ("servers", "adapters", "policies", "telemetry_sinks")
_MAX_FDS = 16
#: The process names (``/proc/<pid>/comm``, 15 bytes at most) of the zygote and its forks.
WARM_NAME = "agentdock-warm"
FORK_NAME = "agentdock-fork"
_PR_SET_NAME = 15
_MAX_SETTINGS = 1 << 24


def preload(more: tuple[str, ...] = ()) -> None:
    """Import :data:`PRELOAD`, ``more`` and every plugin a runtime's plugin manager loads."""
    for name in (*PRELOAD, *more):
        with contextlib.suppress(ImportError):
            importlib.import_module(name)
    from agentdock.plugins import get_plugin_manager
    from agentdock.spec.models import MODELS

    # The Dockfile models build their validators on first use: here, once, for every fork.
    for model in MODELS.values():
        model.model_rebuild(force=True)
    manager = get_plugin_manager()
    for kind in _KINDS:
        with contextlib.suppress(Exception):
            for registration in manager.registrations(kind).values():
                getattr(registration, "factory", None)


def _read_all(sock: socket.socket) -> bytes:
    chunks, size = [], 0
    while chunk := sock.recv(1 << 16):
        chunks.append(chunk)
        size += len(chunk)
        if size > _MAX_SETTINGS:
            raise ValueError("the runtime's settings are too large")
    return b"".join(chunks)


def _forget_cached_environment() -> None:
    """Caches of environment variables filled while importing, with the zygote's bare
    environment: the runtime must see its own."""
    utils = sys.modules.get("langsmith.utils")
    for name in ("get_env_var", "get_tracer_project"):
        clear = getattr(getattr(utils, name, None), "cache_clear", None)
        if clear is not None:
            clear()


def _name_process(name: str) -> None:
    """Set this process's kernel name (what ``ps -o comm`` shows) with ``prctl``: writing
    ``/proc/self/comm`` instead is a file write the sandbox refuses. Not on Linux: nothing."""
    if not sys.platform.startswith("linux"):
        return
    import ctypes

    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None).prctl(_PR_SET_NAME, name.encode()[:15], 0, 0, 0)


def _become_runtime(zygote: socket.socket, fds: list[int]) -> int:
    """In the forked runtime: take the settings, then run the runtime's entrypoint."""
    zygote.close()
    _name_process(FORK_NAME)
    gc.enable()
    settings_fd, out_fd, *served = fds
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.close(devnull)
    os.dup2(out_fd, 1)
    os.dup2(out_fd, 2)
    os.close(out_fd)
    with socket.socket(fileno=settings_fd) as channel:
        settings: dict[str, Any] = json.loads(_read_all(channel))
    env: dict[str, str] = dict(settings["env"])
    for name, positions in dict(settings.get("fds") or {}).items():
        env[name] = ",".join(str(served[int(i)]) for i in positions)
    for fd in served:
        os.set_inheritable(fd, True)  # as a runtime started by the supervisor gets them
    os.environ.clear()
    os.environ.update(env)
    os.chdir(settings["cwd"])
    sys.argv = ["agentdock_runtime"]
    _forget_cached_environment()
    from agentdock_runtime.entrypoint import main

    try:
        code: Any = main()
    except SystemExit as exc:
        code = exc.code
    except BaseException:
        import traceback

        traceback.print_exc()
        code = 1
    if code is None:
        return 0
    if isinstance(code, int):
        return code
    print(code, file=sys.stderr)
    return 1


def _spawn(zygote: socket.socket, fds: list[int]) -> int:
    """Fork a runtime for ``fds``; its pid, once it is the supervisor's to wait for."""
    read_pid, write_pid = os.pipe()
    middle = os.fork()
    if middle == 0:  # the middle process: fork the runtime, say its pid, leave
        os.close(read_pid)
        try:
            runtime = os.fork()
            if runtime == 0:
                os.close(write_pid)
                code = 1
                try:
                    code = _become_runtime(zygote, fds)
                finally:
                    with contextlib.suppress(Exception):
                        atexit._run_exitfuncs()
                        sys.stdout.flush()
                        sys.stderr.flush()
                    os._exit(code)
            os.write(write_pid, str(runtime).encode())
        finally:
            os._exit(0)
    os.close(write_pid)
    with os.fdopen(read_pid, "rb") as pipe:
        text = pipe.read().decode()
    os.waitpid(middle, 0)
    return int(text) if text.isdigit() else 0


def serve(sock: socket.socket) -> int:
    """Answer ``spawn`` messages until the supervisor closes ``sock``."""
    while True:
        try:
            message, fds, _flags, _addr = socket.recv_fds(sock, 256, _MAX_FDS)
        except OSError:
            return 0
        if not message:
            return 0
        try:
            if message.strip() != b"spawn" or len(fds) < 2:
                sock.send(b"error: expected spawn with a settings socket and an output")
                continue
            pid = _spawn(sock, fds)
            sock.send(f"pid {pid}".encode() if pid else b"error: the fork failed")
        finally:
            for fd in fds:
                with contextlib.suppress(OSError):
                    os.close(fd)


def main() -> int:
    raw = os.environ.get(FD_ENV, "")
    if not raw.isdigit():
        print(f"[FATAL] {FD_ENV} must name the supervisor's socket", file=sys.stderr)
        return 78
    sock = socket.socket(fileno=int(raw))
    os.environ.pop(FD_ENV)
    _name_process(WARM_NAME)
    more = tuple(m.strip() for m in os.environ.pop(PRELOAD_ENV, "").split(",") if m.strip())
    # No collection while importing (it would leave freed holes in pages the forks then
    # share), and everything imported frozen before the first fork: a runtime's collections
    # never write to the objects it shares with the zygote, so their pages stay shared.
    gc.disable()
    try:
        preload(more)
        gc.freeze()
    except Exception as exc:
        _say(sock, f"error: cannot import the runtime: {type(exc).__name__}: {exc}")
        return 70
    threads = [t.name for t in threading.enumerate() if t is not threading.main_thread()]
    if threads:
        _say(sock, f"error: threads run after the imports: {', '.join(threads)}")
        return 70
    if not _say(sock, "ready"):
        return 0  # the supervisor is gone already
    return serve(sock)


def _say(sock: socket.socket, message: str) -> bool:
    try:
        sock.send(message[:250].encode())
    except OSError:
        return False
    return True


if __name__ == "__main__":
    raise SystemExit(main())
