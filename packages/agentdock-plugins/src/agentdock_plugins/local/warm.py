"""Warm starts of a local runtime: the supervisor's side of ``agentdock_runtime.zygote``.

A runtime started cold imports LangGraph, AgentDock and the plugins before it can serve,
which takes seconds; a restart after a crash would pay that again. The supervisor instead
keeps one warm process per deployment, started like a runtime (the bundle's interpreter,
in the same sandbox, the same working directory) but with a bare environment, which
imports everything once and then forks a runtime whenever the supervisor asks
(:class:`Zygote`). The first runtime starts cold, as before; the warm process is started
once it is ready, so a deploy's start and health gate never wait for it (nor for one that
hangs), and it imports in the background while the first runtime serves. A forked runtime
gets its own environment, secrets included, through a socket of its own after the fork, so
the warm process never holds them and ``/proc/<pid>/environ`` of either shows none.

The supervisor becomes a child subreaper (``PR_SET_CHILD_SUBREAPER``): the zygote forks
twice, so a forked runtime is re-parented to the supervisor, which waits for it and reads
its exit code like a process it started (:class:`Forked`).

Linux only (subreapers, ``SOCK_SEQPACKET``). Elsewhere, with ``AGENTDOCK_WARM_START=off``,
or when the warm process cannot start (its imports fail, an import left a thread running),
every runtime starts cold as before. Standard library only, like the supervisor.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import socket
import subprocess
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import IO

__all__ = [
    "WARM_ENV",
    "Forked",
    "Zygote",
    "ZygoteError",
    "become_subreaper",
    "warm_wanted",
    "zygote_env",
]

WARM_ENV = "AGENTDOCK_WARM_START"
#: The variable the zygote reads its socket from (``agentdock_runtime.zygote.FD_ENV``).
ZYGOTE_FD_ENV = "AGENTDOCK_ZYGOTE_FD"
#: And the modules it imports besides the runtime's (``agentdock_runtime.zygote.PRELOAD_ENV``).
ZYGOTE_PRELOAD_ENV = "AGENTDOCK_ZYGOTE_PRELOAD"
#: What a runtime of the built-in server imports while it builds its pipeline and server,
#: beyond what the runtime imports itself: the server and its application, the LangGraph
#: adapter, every built-in policy (most are built for every Dockfile: the injection check
#: and the output limit), and the uvicorn loop and protocols; and what many agents import
#: and a cold start loads only for them (LangGraph's prebuilt nodes, the SQLite store): a
#: fork shares them instead. A module missing from a bundle is skipped by the zygote.
PLUGIN_MODULES = (
    "agentdock_plugins.litestar.server",
    "agentdock_plugins.litestar.app",
    "agentdock_plugins.litestar.running",
    "agentdock_plugins.langgraph.adapter",
    "agentdock_plugins.langgraph.sqlitestore",
    "langgraph.prebuilt",
    "agentdock_plugins.policies.redaction",
    "agentdock_plugins.policies.injection_input",
    "agentdock_plugins.policies.tool_gate",
    "agentdock_plugins.policies.injection_tool_output",
    "agentdock_plugins.policies.compliance",
    "agentdock_plugins.policies.output_limit",
    "litestar.plugins.attrs",
    "uvicorn.loops.uvloop",
    "uvicorn.protocols.http.httptools_impl",
    "uvicorn.lifespan.on",
)
#: The machine's variables the warm process keeps (no value of the agent, no secret):
#: those a local runtime gets from the machine (``agentdock.deployment.runenv``'s host
#: variables), its own temporary and cache directories, and the plugin allow-list, which
#: decides which plugins its imports load.
_KEPT = ("PATH", "HOME", "LANG", "TZ", "TMPDIR", "XDG_CACHE_HOME", "AGENTDOCK_LOAD_PLUGINS")
_KEPT_PREFIXES = ("LC_",)
#: Seconds a fork may take to be answered.
SPAWN_TIMEOUT = 10.0
_PR_SET_CHILD_SUBREAPER = 36


class ZygoteError(Exception):
    """The warm process cannot start or fork a runtime (one-line cause)."""


def warm_wanted(env: Mapping[str, str]) -> str | None:
    """None when runtimes may start warm here, else why not."""
    if env.get(WARM_ENV, "").strip().lower() in {"off", "0", "false", "no"}:
        return f"{WARM_ENV}=off"
    if not sys.platform.startswith("linux"):
        return f"warm starts need Linux (this is {sys.platform})"
    return None


def become_subreaper() -> None:
    """Have orphaned descendants (the runtimes the zygote forks) re-parented to this
    process, which can then wait for them.

    :raises ZygoteError: the kernel refused."""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        raise ZygoteError(f"cannot become a child subreaper: {os.strerror(ctypes.get_errno())}")


def zygote_env(env: Mapping[str, str]) -> dict[str, str]:
    """The warm process's environment: :data:`_KEPT` of ``env`` and nothing of the agent."""
    kept = {k: v for k, v in env.items() if k in _KEPT or k.startswith(_KEPT_PREFIXES)}
    kept["PYTHONUNBUFFERED"] = "1"
    return kept


class Forked:
    """A runtime the zygote forked, re-parented to this process: the part of
    :class:`subprocess.Popen` the supervisor uses."""

    def __init__(self, pid: int, stdout: IO[bytes]) -> None:
        self.pid = pid
        self.stdout = stdout
        self.returncode: int | None = None

    def poll(self) -> int | None:
        if self.returncode is None:
            try:
                pid, status = os.waitpid(self.pid, os.WNOHANG)
            except ChildProcessError:  # not ours (should not happen): count it as gone
                self.returncode = -1
            else:
                if pid:
                    self.returncode = os.waitstatus_to_exitcode(status)
        return self.returncode

    def send_signal(self, signum: int) -> None:
        if self.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signum)


class Zygote:
    """The warm process of one deployment. It imports in the background: the supervisor
    waits on :meth:`fileno` along with its runtime and calls :meth:`answer` when it is
    readable; :attr:`ready` once the imports are done."""

    def __init__(
        self,
        command: Sequence[str],
        env: Mapping[str, str],
        cwd: Path,
        on_output: Callable[[IO[bytes]], None],
    ) -> None:
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        try:
            self.proc = subprocess.Popen(
                list(command),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                cwd=cwd,
                env={
                    **zygote_env(env),
                    ZYGOTE_FD_ENV: str(theirs.fileno()),
                    ZYGOTE_PRELOAD_ENV: ",".join(PLUGIN_MODULES),
                },
                pass_fds=(theirs.fileno(),),
            )
        except OSError as exc:
            ours.close()
            raise ZygoteError(f"cannot start the warm process: {exc.strerror}") from None
        finally:
            theirs.close()
        self.sock = ours
        self.sock.setblocking(False)
        self.ready = False
        assert self.proc.stdout is not None
        on_output(self.proc.stdout)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def fileno(self) -> int:
        """Readable when the warm process has said whether it is ready."""
        return self.sock.fileno()

    def answer(self) -> bool:
        """Whether the warm process is ready now (False: not yet).

        :raises ZygoteError: it failed or exited instead."""
        if self.ready:
            return True
        try:
            reply = self.sock.recv(256).decode("utf-8", "replace").strip()
        except BlockingIOError:
            return False
        except OSError as exc:
            reply = f"error: {exc}"
        if reply != "ready":
            raise ZygoteError(reply.removeprefix("error: ") or "the warm process exited")
        self.sock.settimeout(SPAWN_TIMEOUT)
        self.ready = True
        return True

    def spawn(
        self, env: Mapping[str, str], fds: Sequence[int], fd_vars: Sequence[str], cwd: Path
    ) -> Forked:
        """Fork a runtime with environment ``env`` and descriptors ``fds``; the variables
        ``fd_vars`` of ``env`` name some of them (by this process's numbers) and are
        rewritten to the runtime's."""
        positions = {fd: i for i, fd in enumerate(fds)}
        named = {}
        for name in fd_vars:
            if env.get(name):
                named[name] = [positions[int(fd)] for fd in env[name].split(",")]
        settings = json.dumps({"env": dict(env), "fds": named, "cwd": str(cwd)}).encode()
        out_r, out_w = os.pipe()
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            try:
                socket.send_fds(self.sock, [b"spawn"], [theirs.fileno(), out_w, *fds])
            finally:  # the zygote has its copies: the runtime alone holds them from here
                theirs.close()
                os.close(out_w)
            ours.sendall(settings)
            ours.close()  # the end of the settings
            reply = self.sock.recv(256).decode("utf-8", "replace").strip()
        except OSError as exc:
            reply = f"error: {exc}"
        finally:
            ours.close()
        if not reply.startswith("pid ") or not reply[4:].isdigit():
            os.close(out_r)
            raise ZygoteError(reply.removeprefix("error: ") or "the warm process exited")
        return Forked(int(reply[4:]), os.fdopen(out_r, "rb"))

    def close(self) -> None:
        """End the warm process (closing its socket ends it; one still importing is
        killed, it holds nothing) and wait for it."""
        self.sock.close()
        if not self.ready:
            self.proc.kill()
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
