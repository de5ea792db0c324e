"""A local runtime's sandbox: Linux Landlock limits where it may write, from its first byte.

A local runtime runs as the operator who deployed it, so file permissions cannot keep the
agent's code (its tools, what a model told it, injected text) from the registry, the key
views, the audit chain key, or another agent's bundle, whose interpreter the supervisor
runs as the operator. Landlock (Linux 5.13 and later) lets an unprivileged process give up
rights for itself and every process it starts, for good. The supervisor starts each runtime
through this module::

    python -I -m agentdock_plugins.local.sandbox --write DIR [--write DIR ...] -- PROGRAM ARGS

which restricts itself, then ``exec``\\ s PROGRAM (the bundle's interpreter): the rules hold
before the bundle's interpreter reads a single ``.pth`` file, so no code of the agent or of
its dependencies ever runs unrestricted.

What is handled: every right that changes the file system (write and truncate a file;
create, remove, rename or link an entry). Writes are allowed beneath :func:`writable_paths`
only. Reading and executing are not restricted: the runtime must read its bundle, Python
and the system's libraries, and a key view holds digests, which are no secret. Denying the
home alone to reads would need an allow-list of everything else (Landlock can only allow
beneath a path, never deny beneath one), which no general list fits; it is not done. With
Landlock ABI 6 or later the runtime may also signal only processes of its own sandbox (not
its supervisor, the CLI or another agent's runtime).

Where Landlock is missing (another OS, a kernel before 5.13, the LSM not enabled) the
runtime starts unrestricted: one warning goes to the deployment's log and ``agentdock
status --json`` shows ``"isolation": "none"`` with the reason. ``AGENTDOCK_SANDBOX=off``
turns it off on purpose (with the same warning), for debugging a library that writes
elsewhere; ``AGENTDOCK_WRITABLE_PATHS`` (``:``-separated) adds directories instead.

The library: ``landlockpy`` (0BSD, typed, no dependencies: ctypes over the three system
calls and ``prctl(PR_SET_NO_NEW_PRIVS)``, every ABI from 1 to 11 with best-effort
downgrading, released and maintained in 2026). The other candidate, ``landlock``, has only
an alpha development release (1.0.0.dev5), and a hand-written ctypes layer would repeat
landlockpy's struct layouts and ABI tables for no gain. Standard library besides it: the
supervisor imports :func:`probe` and :func:`command`.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

__all__ = [
    "DEFAULT_WRITABLE",
    "SANDBOX_ENV",
    "WRITABLE_ENV",
    "command",
    "main",
    "probe",
    "restrict",
    "writable_paths",
]

SANDBOX_ENV = "AGENTDOCK_SANDBOX"
WRITABLE_ENV = "AGENTDOCK_WRITABLE_PATHS"
#: Written by every program: the null and terminal devices and shared memory
#: (multiprocessing's semaphores, PyTorch's tensors). Not ``/tmp``: the runtime's
#: ``TMPDIR`` is a directory of its own (the local target sets it), and ``/tmp`` holds
#: what other processes of the user rely on, such as the local supervisors' hand-over
#: sockets (``AGENTDOCK_WRITABLE_PATHS=/tmp`` allows it for a library that insists).
DEFAULT_WRITABLE = (
    "/dev/null",
    "/dev/zero",
    "/dev/full",
    "/dev/tty",
    "/dev/pts",
    "/dev/shm",  # noqa: S108 (a directory the runtime may write, not a file made here)
)
#: Directories the local target names: the instance's state directory (checkpoints, key
#: use, LangFuse buffer, caches through ``XDG_CACHE_HOME``) and ``TMPDIR``.
_TARGET_DIRS = ("AGENTDOCK_STATE_DIR", "TMPDIR")
#: Files whose directory is writable: the local telemetry store (``<home>/telemetry/``).
_TARGET_FILES = ("AGENTDOCK_TELEMETRY_DB",)


def writable_paths(env: Mapping[str, str]) -> list[str]:
    """Where a runtime with environment ``env`` may write: :data:`DEFAULT_WRITABLE`, the
    directories the target named, the telemetry store's directory and
    ``AGENTDOCK_WRITABLE_PATHS`` -- less any of them that holds the AgentDock home (a
    project under ``/tmp`` must not make the whole home writable)."""
    paths = list(DEFAULT_WRITABLE)
    paths += [env[name] for name in _TARGET_DIRS if env.get(name, "").strip()]
    paths += [str(Path(env[n]).parent) for n in _TARGET_FILES if env.get(n, "").strip()]
    paths += [p for p in env.get(WRITABLE_ENV, "").split(os.pathsep) if p.strip()]
    home = env.get("AGENTDOCK_HOME", "").strip()
    if home:
        inside = Path(home).resolve()
        paths = [p for p in paths if not inside.is_relative_to(Path(p).resolve())]
    return list(dict.fromkeys(paths))


def probe(env: Mapping[str, str] | None = None) -> tuple[int, str | None]:
    """``(Landlock ABI, None)`` when runtimes will be sandboxed, else ``(0, why not)``."""
    env = os.environ if env is None else env
    if env.get(SANDBOX_ENV, "").strip().lower() in {"off", "0", "false", "no"}:
        return 0, f"{SANDBOX_ENV}=off"
    if not sys.platform.startswith("linux"):
        return 0, f"Landlock is a Linux feature (this is {sys.platform})"
    try:
        import landlockpy
    except ImportError:
        return 0, "the landlockpy package is not installed"
    try:
        abi = int(landlockpy.abi_version())
    except OSError as exc:
        return 0, f"Landlock cannot be queried ({exc})"
    if abi < 1:
        return 0, "the kernel has no Landlock (Linux 5.13 or later with the LSM enabled)"
    return abi, None


def restrict(paths: Sequence[str]) -> int:
    """Allow writes beneath ``paths`` only, for this process and its children, from now
    on; returns the ABI in force. Paths that do not exist are skipped."""
    from landlockpy import AccessFS, Ruleset, Scope

    writes = (
        AccessFS.WRITE_FILE
        | AccessFS.TRUNCATE
        | AccessFS.REMOVE_DIR
        | AccessFS.REMOVE_FILE
        | AccessFS.MAKE_CHAR
        | AccessFS.MAKE_DIR
        | AccessFS.MAKE_REG
        | AccessFS.MAKE_SOCK
        | AccessFS.MAKE_FIFO
        | AccessFS.MAKE_BLOCK
        | AccessFS.MAKE_SYM
        | AccessFS.REFER
    )
    with Ruleset(handled_fs=writes, scoped=Scope.SIGNAL) as ruleset:
        for path in paths:
            try:
                ruleset.allow_path(path, writes)
            except OSError:  # missing, or not a file system object that can hold a rule
                continue
        ruleset.restrict()
        return ruleset.abi_version


def command(program: Sequence[str], writable: Sequence[str]) -> list[str]:
    """The command line that runs ``program`` in the sandbox."""
    args = [sys.executable, "-I", "-m", __name__]
    for path in writable:
        args += ["--write", path]
    return [*args, "--", *program]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog=f"python -m {__name__}")
    parser.add_argument("--write", action="append", default=[], help="a writable path")
    given = list(sys.argv[1:] if argv is None else argv)
    if "--" not in given or given.index("--") == len(given) - 1:
        parser.error("give the program to run after --")
    cut = given.index("--")
    args, program = parser.parse_args(given[:cut]), given[cut + 1 :]
    _, why = probe()
    if why is None:
        try:
            restrict(args.write)
        except Exception as exc:  # fail closed: never run the agent unrestricted by surprise
            print(f"[FATAL] cannot apply the sandbox: {type(exc).__name__}: {exc}", file=sys.stderr)
            return 78
    else:
        print(
            f"[WARN] the runtime is not sandboxed ({why}): the agent's code may write "
            "anything its user may, the registry included",
            file=sys.stderr,
            flush=True,
        )
    try:
        os.execv(program[0], program)  # noqa: S606 (the bundle's interpreter, as the supervisor ran it)
    except OSError as exc:
        print(f"[FATAL] cannot run {program[0]}: {exc.strerror}", file=sys.stderr)
        return 70


if __name__ == "__main__":
    raise SystemExit(main())
