"""Check that the Python objects a Dockfile names can be imported, and a builder can build.

``agent.entrypoint`` and ``io_schema.input_class``/``output_class`` are imported in one
fresh interpreter (``sys.executable``) per call, with the project directory as working
directory and first on ``sys.path``. An entrypoint target that carries ``build`` (the
resolved Dockfile) and is a builder rather than a runnable is also called there, as the
runtime will call it (:mod:`agentdock.entrypoints`); the interpreter gets ``env`` on top of
this process's environment, so the builder sees the Dockfile's variables as the runtime
would. Whatever a finding quotes (message, hint, traceback) has the ``secrets`` values
masked. Nothing is imported into the calling process, and its ``sys.path`` is left alone.
See :mod:`agentdock.spec.probe` for the other side.
"""

from __future__ import annotations

import contextlib
import json
import os
import pathlib
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import IO, Any, Literal

from agentdock.findings import Code, Finding, Path
from agentdock.masking import Masker

__all__ = ["ImportTarget", "check_imports"]

_PROBE_FILE = pathlib.Path(__file__).with_name("probe.py")
#: Keep in step with ``agentdock.spec.probe.MARKER``.
_MARKER = "@@agentdock-probe@@ "
_STDERR_TAIL = 8_000
_KILL_GRACE = 5.0


@dataclass(frozen=True, slots=True)
class ImportTarget:
    """One object to import: where the Dockfile names it, the reference, and what it is."""

    path: Path
    ref: str
    kind: Literal["entrypoint", "model_class"]
    #: ``{"version": ..., "data": <the resolved Dockfile>}``: call the entrypoint when it is
    #: a builder (None: import it only).
    build: Mapping[str, Any] | None = field(default=None, repr=False, compare=False)


def _code(target: ImportTarget) -> Code:
    if target.kind == "model_class":
        return Code.InvalidIOSchemaError
    return Code.EntrypointNotFoundError


def _split_ref(ref: str) -> tuple[str, str] | None:
    """``pkg.mod:attr`` or ``pkg.mod.attr`` into (module, attribute path)."""
    if ":" in ref:
        module, _, attr = ref.partition(":")
    else:
        module, _, attr = ref.rpartition(".")
    parts = [*module.split("."), *attr.split(".")]
    if not module or not attr or not all(p.isidentifier() for p in parts):
        return None
    return module, attr


@dataclass(slots=True)
class _Run:
    """What one probe process said before it finished, crashed or ran out of time."""

    results: dict[int, dict[str, Any]] = field(default_factory=dict)
    started: list[int] = field(default_factory=list)
    #: Targets whose builder was being called (after their import).
    building: set[int] = field(default_factory=set)
    done: bool = False
    timed_out: bool = False
    returncode: int | None = None
    stderr: str = ""
    error: str | None = None

    @property
    def in_progress(self) -> int | None:
        for index in reversed(self.started):
            if index not in self.results:
                return index
        return None


def check_imports(
    project_dir: pathlib.Path,
    targets: Sequence[ImportTarget],
    *,
    timeout: float = 60.0,
    env: Mapping[str, str] | None = None,
    secrets: Iterable[str] = (),
) -> list[Finding]:
    """Import every target in one subprocess and report what failed; never raises.

    Entrypoints must import and be callable or have an ``invoke`` method (4003); with
    ``build``, a builder must return a runnable without raising (4003, the exception's type
    and message). Model classes must import, subclass ``pydantic.BaseModel`` and produce a
    JSON schema (4004). ``timeout`` bounds the whole check, a builder that never returns
    included. A target whose import ends the interpreter is reported and the targets after
    it are checked in a fresh one; after a timeout the targets not yet reached are not
    reported. ``env`` is added to the probe's environment; ``secrets`` are masked.
    """
    masker = Masker(secrets)
    findings = _check(pathlib.Path(project_dir), targets, timeout, dict(env or {}))
    if not masker:
        return findings
    return [
        replace(
            f,
            message=masker(f.message),
            hint=masker(f.hint) if f.hint else f.hint,
            detail=masker(f.detail) if f.detail else f.detail,
        )
        for f in findings
    ]


def _check(
    project_dir: pathlib.Path,
    targets: Sequence[ImportTarget],
    timeout: float,
    env: dict[str, str],
) -> list[Finding]:
    per_target: dict[int, list[Finding]] = {}
    pending: list[int] = []
    for index, target in enumerate(targets):
        if _split_ref(target.ref) is None:
            expected = (
                "module.path:Class or module.path.Class"
                if target.kind == "model_class"
                else "module.path:callable"
            )
            per_target[index] = [
                Finding(
                    _code(target),
                    target.path,
                    f"{target.ref!r} is not an import path; expected {expected}",
                )
            ]
        else:
            pending.append(index)
    if pending:
        try:
            _check_pending(project_dir, targets, pending, timeout, per_target, env)
        except Exception as exc:
            first = targets[pending[0]]
            per_target.setdefault(pending[0], []).append(
                Finding(
                    Code.EntrypointNotFoundError,
                    first.path,
                    f"import check failed: {type(exc).__name__}: {exc}"[:240],
                )
            )
    return [f for index in sorted(per_target) for f in per_target[index]]


def _check_pending(
    project_dir: pathlib.Path,
    targets: Sequence[ImportTarget],
    pending: list[int],
    timeout: float,
    per_target: dict[int, list[Finding]],
    env: dict[str, str],
) -> None:
    first = targets[pending[0]]
    if not project_dir.is_dir():
        per_target.setdefault(pending[0], []).append(
            Finding(
                Code.EntrypointNotFoundError,
                first.path,
                f"project directory {str(project_dir)!r} does not exist",
            )
        )
        return
    deadline = time.monotonic() + timeout
    while pending:
        batch = [targets[i] for i in pending]
        remaining = deadline - time.monotonic()
        run = _run_probe(project_dir.resolve(), batch, max(remaining, 0.1), env)
        if run.error is not None:
            per_target.setdefault(pending[0], []).append(
                Finding(Code.EntrypointNotFoundError, targets[pending[0]].path, run.error)
            )
            return
        for local, record in run.results.items():
            if 0 <= local < len(pending):
                finding = _from_record(project_dir, targets[pending[local]], record)
                if finding is not None:
                    per_target.setdefault(pending[local], []).append(finding)
        if run.done:
            for local, index in enumerate(pending):
                if local not in run.results:
                    target = targets[index]
                    per_target.setdefault(index, []).append(
                        Finding(
                            _code(target),
                            target.path,
                            f"the import check gave no answer for {target.ref}",
                            detail=_output_of(run.stderr, local) or None,
                        )
                    )
            return
        current = run.in_progress
        if current is None and run.timed_out:
            current = 0
        if current is None:
            # The probe ended before it reached any target: the interpreter is unusable.
            per_target.setdefault(pending[0], []).append(
                Finding(
                    Code.EntrypointNotFoundError,
                    targets[pending[0]].path,
                    _broken_message(run),
                    detail=_output_of(run.stderr, -1) or None,
                )
            )
            return
        target = targets[pending[current]]
        output = _output_of(run.stderr, current)
        message, hint = _stopped_at(run, target, current, output, timeout)
        per_target.setdefault(pending[current], []).append(
            Finding(_code(target), target.path, message, hint=hint, detail=output or None)
        )
        if run.timed_out:
            return
        reached = set(run.started)
        pending = [index for local, index in enumerate(pending) if local not in reached]
        if deadline - time.monotonic() <= 0:
            return


def _stopped_at(
    run: _Run, target: ImportTarget, current: int, output: str, timeout: float
) -> tuple[str, str]:
    """Why the probe stopped at ``target`` (its builder or its import ran past the
    timeout, or it ended the interpreter), and what to look at."""
    module = _split_ref(target.ref)
    module_name = module[0] if module else target.ref
    if run.timed_out and current in run.building:
        return (
            f"the builder {target.ref} did not return within {timeout:g}s",
            "does it wait on a service, a lock or a download? The runtime would wait "
            "too; validate --no-build skips the call",
        )
    if run.timed_out:
        return (
            f"import of {module_name} timed out after {timeout:g}s",
            "does the module do work at import time (a server, a loop, a network call)?",
        )
    status = _exit_status(run.returncode)
    message = f"import of {module_name} ended the interpreter ({status})"
    last = _last_line(output)
    if last:
        message = f"{message}: {last}"
    return message, "the module must not exit the interpreter when it is imported"


def _from_record(
    project_dir: pathlib.Path, target: ImportTarget, record: dict[str, Any]
) -> Finding | None:
    if record.get("ok") is True:
        return None
    message = str(record.get("message") or f"cannot import {target.ref}")
    hint = record.get("hint")
    missing = record.get("missing")
    if hint is None and isinstance(missing, str):
        module = (_split_ref(target.ref) or (target.ref, ""))[0]
        if module == missing or module.startswith(missing + "."):
            hint = (
                f"{missing!r} is neither under {str(project_dir)!r} nor installed; the "
                "Dockfile's directory is first on sys.path"
            )
        else:
            hint = f"{module} needs {missing!r}, which is not installed"
    detail = record.get("detail")
    return Finding(
        _code(target),
        target.path,
        message,
        hint=str(hint) if hint is not None else None,
        detail=str(detail) if detail else None,
    )


def _broken_message(run: _Run) -> str:
    last = _last_line(_output_of(run.stderr, -1))
    where = f": {last}" if last else ""
    status = _exit_status(run.returncode)
    return f"the import check could not run: {sys.executable} stopped ({status}){where}"


def _exit_status(returncode: int | None) -> str:
    if returncode is None:
        return "no exit status"
    if returncode < 0:
        try:
            return f"killed by {signal.Signals(-returncode).name}"
        except ValueError:
            return f"killed by signal {-returncode}"
    return f"exit code {returncode}"


def _output_of(stderr: str, local: int) -> str:
    """The stderr written since the probe started on target ``local``, without markers."""
    start = f'{_MARKER}{{"start": {local}}}'
    at = stderr.rfind(start)
    text = stderr[at + len(start) :] if at >= 0 else stderr
    return "\n".join(line for line in text.split("\n") if _MARKER not in line).strip()


def _last_line(text: str) -> str:
    for line in reversed(text.splitlines()):
        stripped = line.strip()
        if stripped:
            return stripped[:200]
    return ""


def _probe_source() -> str:
    return _PROBE_FILE.read_text(encoding="utf-8")


def _run_probe(
    project_dir: pathlib.Path,
    batch: Sequence[ImportTarget],
    timeout: float,
    env: Mapping[str, str],
) -> _Run:
    run = _Run()
    try:
        source = _probe_source()
    except OSError as exc:
        run.error = f"the import check could not run: cannot read the probe: {exc}"
        return run
    targets: list[dict[str, Any]] = []
    for target in batch:
        module, attr = _split_ref(target.ref) or (target.ref, "")
        item: dict[str, Any] = {"module": module, "attr": attr, "kind": target.kind}
        if target.build is not None:
            item["build"] = dict(target.build)
        targets.append(item)
    with tempfile.TemporaryDirectory(
        prefix="agentdock-imports-", ignore_cleanup_errors=True
    ) as scratch:
        result_file = pathlib.Path(scratch) / "result"
        request = {
            "project_dir": str(project_dir),
            "timeout": timeout,
            "result_file": str(result_file),
            "targets": targets,
        }
        with open(pathlib.Path(scratch) / "output", "w+b") as output:
            try:
                proc = subprocess.Popen(
                    [sys.executable, "-B", "-c", source],
                    cwd=project_dir,
                    stdin=subprocess.PIPE,
                    stdout=output,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                    env={**os.environ, **env} if env else None,
                )
            except OSError as exc:
                run.error = f"the import check could not start {sys.executable}: {exc}"
                return run
            try:
                # Only stdin is a pipe: the wait ends when the probe exits, even when
                # something the import started still holds the output file open.
                payload = json.dumps(request, default=str).encode("utf-8")
                proc.communicate(payload, timeout=timeout)
            except subprocess.TimeoutExpired:
                run.timed_out = True
            finally:
                # Also ends whatever the imported code left running in the probe's session.
                _kill(proc)
                with contextlib.suppress(Exception):
                    proc.wait(timeout=_KILL_GRACE)
            run.returncode = proc.returncode
            run.stderr = _tail(output)
        try:
            reply = result_file.read_bytes().decode("utf-8", errors="replace")
        except OSError:
            reply = ""
    _parse_reply(reply, run)
    return run


def _kill(proc: subprocess.Popen[bytes]) -> None:
    """Kill the probe's process group (the probe and anything it started), or the probe."""
    killpg = getattr(os, "killpg", None)
    if killpg is not None:
        with contextlib.suppress(OSError):
            killpg(proc.pid, signal.SIGKILL)
    if proc.returncode is None:
        with contextlib.suppress(OSError):
            proc.kill()


def _tail(stream: IO[bytes]) -> str:
    try:
        size = stream.seek(0, os.SEEK_END)
        stream.seek(max(0, size - _STDERR_TAIL))
        data = stream.read()
    except OSError:
        return ""
    text = data.decode("utf-8", errors="replace")
    if size > _STDERR_TAIL:
        text = "..." + text.split("\n", 1)[-1] if "\n" in text else "..." + text
    return text.strip()


def _parse_reply(reply: str, run: _Run) -> None:
    for line in reply.split("\n"):
        start = line.find(_MARKER)
        if start < 0:
            continue
        try:
            payload = json.loads(line[start + len(_MARKER) :])
        except ValueError:
            continue
        if not isinstance(payload, dict):
            continue
        if payload.get("done") is True:
            run.done = True
        elif isinstance(payload.get("building"), int):
            run.building.add(payload["building"])
        elif isinstance(payload.get("start"), int):
            run.started.append(payload["start"])
        elif isinstance(payload.get("index"), int):
            run.results[payload["index"]] = payload
