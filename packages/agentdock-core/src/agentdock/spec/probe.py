"""The import probe: runs in a fresh interpreter and imports the objects a Dockfile names.

:mod:`agentdock.spec.imports` starts ``python -B -c <this file's source>`` in the project
directory and writes a JSON request on stdin::

    {"project_dir": "/abs/dir", "timeout": 60.0, "result_file": "/tmp/.../result",
     "targets": [{"module": "app.graph", "attr": "build_graph", "kind": "entrypoint",
                  "build": {"version": "1.1", "data": {...the resolved Dockfile...}}}]}

An entrypoint target with ``build`` that is not already a runnable is a builder: after the
import the probe calls it as the runtime will (:mod:`agentdock.entrypoints`, with the spec
made from ``data``), announcing it with a ``{"building": index}`` line first so that a
builder that never returns is told apart from an import that never does.

Before importing anything the probe points fd 1 at fd 2, so whatever the imported code
prints lands on stderr. To ``result_file`` it appends one line per event, each starting
with :data:`MARKER` and followed by JSON (``start`` lines also go to stderr, to tell apart
the output of each import)::

    {"start": 0}
    {"index": 0, "ok": false, "message": "...", "hint": "...", "detail": "...", "missing": null}
    {"done": true}

then leaves with ``os._exit(0)`` so that threads or ``atexit`` handlers started by the
imported code cannot keep it alive. A run that ends without ``done`` was cut short by the
imported code (``os._exit``, a crash) or by the parent's timeout.

Only the standard library is used; pydantic is imported only to check a model class, and
AgentDock's spec models only to call a builder.
"""

from __future__ import annotations

import contextlib
import difflib
import faulthandler
import functools
import gc
import importlib
import json
import os
import sys
import traceback
from collections.abc import Callable
from typing import Any

MARKER = "@@agentdock-probe@@ "
MAX_MESSAGE = 200
MAX_DETAIL = 20_000


def one_line(exc: BaseException) -> str:
    """``ExcType: first line of the message``, at most :data:`MAX_MESSAGE` characters."""
    name = type(exc).__qualname__
    module = type(exc).__module__
    if module not in ("builtins", "__main__"):
        name = f"{module}.{name}"
    try:
        text = str(exc)
    except BaseException:
        text = ""
    first = text.strip().splitlines()[0] if text.strip() else ""
    line = f"{name}: {first}" if first else name
    if len(line) > MAX_MESSAGE:
        line = line[: MAX_MESSAGE - 3] + "..."
    return line


def _keep_frame(frame: traceback.FrameSummary) -> bool:
    filename = frame.filename
    return filename != "<string>" and not filename.startswith("<frozen importlib")


def format_traceback(exc: BaseException) -> str:
    """The traceback of ``exc`` without the probe's and importlib's own frames."""
    try:
        te = traceback.TracebackException.from_exception(exc)
        pending = [te]
        seen: set[int] = set()
        while pending:
            current = pending.pop()
            if id(current) in seen:
                continue
            seen.add(id(current))
            current.stack = traceback.StackSummary.from_list(
                [f for f in current.stack if _keep_frame(f)]
            )
            for linked in (current.__cause__, current.__context__):
                if linked is not None:
                    pending.append(linked)
        text = "".join(te.format())
    except BaseException:
        text = one_line(exc) + "\n"
    if len(text) > MAX_DETAIL:
        text = "...\n" + text[-MAX_DETAIL:]
    return text


def _public_names(obj: object) -> list[str]:
    try:
        return sorted(n for n in dir(obj) if not n.startswith("_"))
    except BaseException:
        return []


def _missing_hint(owner: object, name: str) -> str | None:
    names = _public_names(owner)
    close = difflib.get_close_matches(name, names, n=3, cutoff=0.6)
    if close:
        return "did you mean " + " or ".join(repr(c) for c in close) + "?"
    if names:
        shown = ", ".join(names[:8]) + (", ..." if len(names) > 8 else "")
        return f"public names there: {shown}"
    return None


def _failure(
    message: str,
    *,
    hint: str | None = None,
    detail: str | None = None,
    missing: str | None = None,
) -> dict[str, Any]:
    return {"ok": False, "message": message, "hint": hint, "detail": detail, "missing": missing}


def _import_failure(exc: BaseException) -> dict[str, Any]:
    missing = getattr(exc, "name", None) if isinstance(exc, ModuleNotFoundError) else None
    return _failure(
        one_line(exc),
        detail=format_traceback(exc),
        missing=missing if isinstance(missing, str) else None,
    )


def resolve(module_name: str, attr: str) -> tuple[Any, dict[str, Any] | None]:
    """Import ``module_name`` and follow the dotted ``attr``: (object, None) or (None, failure)."""
    try:
        obj: Any = importlib.import_module(module_name)
    except BaseException as exc:
        return None, _import_failure(exc)
    owner = f"module {module_name!r}"
    walked = module_name
    for part in attr.split("."):
        try:
            found = getattr(obj, part)
        except AttributeError:
            return None, _failure(
                f"{owner} has no attribute {part!r}", hint=_missing_hint(obj, part)
            )
        except BaseException as exc:
            return None, _failure(one_line(exc), detail=format_traceback(exc))
        walked = f"{walked}.{part}"
        owner = walked
        obj = found
    return obj, None


def call_builder(
    builder: Any, module_name: str, attr: str, build: dict[str, Any]
) -> dict[str, Any]:
    """Call ``builder`` as the runtime's adapter does, with the spec made from ``build``."""
    display = f"{module_name}:{attr}"
    try:
        from agentdock.entrypoints import builder_arguments, is_runnable
        from agentdock.spec.models import MODELS

        spec = MODELS[str(build["version"])].model_validate(build["data"])
        kwargs = builder_arguments(builder, spec)
    except BaseException as exc:
        return _failure(
            f"cannot prepare the call of the builder {display}: {one_line(exc)}",
            detail=format_traceback(exc),
        )
    try:
        built = builder(**kwargs)
    except BaseException as exc:
        return _failure(
            f"the builder {display} raised {one_line(exc)}",
            hint="the runtime calls it the same way at start-up; validate --no-build skips "
            "the call",
            detail=format_traceback(exc),
        )
    if not is_runnable(built):
        return _failure(
            f"the builder {display} returned {type(built).__name__}, not a runnable graph",
            hint="return the compiled graph (graph.compile()) or a Runnable",
        )
    return {"ok": True}


def check_entrypoint(
    module_name: str,
    attr: str,
    build: dict[str, Any] | None = None,
    announce: Callable[[], None] | None = None,
) -> dict[str, Any]:
    obj, failure = resolve(module_name, attr)
    if failure is not None:
        return failure
    if build is not None and callable(obj) and not hasattr(obj, "ainvoke"):
        if announce is not None:
            announce()
        return call_builder(obj, module_name, attr, build)
    if callable(obj):
        return {"ok": True}
    try:
        invoke = getattr(obj, "invoke", None)
    except BaseException:
        invoke = None
    if callable(invoke):
        return {"ok": True}
    return _failure(
        f"{module_name}:{attr} is not callable (it is a {type(obj).__name__})",
        hint="point the entrypoint at a function, a class, or an object with an invoke() method",
    )


def check_model_class(module_name: str, attr: str) -> dict[str, Any]:
    obj, failure = resolve(module_name, attr)
    if failure is not None:
        return failure
    display = f"{module_name}.{attr}"
    if not isinstance(obj, type):
        return _failure(
            f"{display} is not a class (it is a {type(obj).__name__})",
            hint="name a subclass of pydantic.BaseModel",
        )
    try:
        from pydantic import BaseModel
    except BaseException as exc:
        return _failure(f"cannot import pydantic: {one_line(exc)}", detail=format_traceback(exc))
    if not issubclass(obj, BaseModel):
        return _failure(
            f"{display} is not a pydantic model",
            hint="the class must subclass pydantic.BaseModel (pydantic v2)",
        )
    try:
        obj.model_json_schema()
    except BaseException as exc:
        return _failure(
            f"{display}.model_json_schema() failed: {one_line(exc)}",
            detail=format_traceback(exc),
        )
    return {"ok": True}


def check(target: dict[str, Any], announce: Callable[[], None] | None = None) -> dict[str, Any]:
    module_name = str(target["module"])
    attr = str(target["attr"])
    if target.get("kind") == "model_class":
        return check_model_class(module_name, attr)
    build = target.get("build")
    return check_entrypoint(module_name, attr, build if isinstance(build, dict) else None, announce)


def _emit(fd: int, payload: dict[str, Any]) -> None:
    data = (MARKER + json.dumps(payload, ensure_ascii=True, default=str) + "\n").encode("ascii")
    while data:
        written = os.write(fd, data)
        data = data[written:]


def _flush_std() -> None:
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(BaseException):
            if stream is not None:
                stream.flush()


def main() -> None:
    # The probe imports much (LangGraph, the agent) and keeps it all until it leaves: the
    # youngest generation is collected every 50,000 allocations, not 700, as a runtime's
    # start does (``agentdock_runtime.heap.quiet_startup``); a tenth of the imports' CPU.
    gc.set_threshold(50_000, *gc.get_threshold()[1:])
    request = json.loads(sys.stdin.read())
    result_fd = os.open(str(request["result_file"]), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    os.dup2(2, 1)
    project_dir = str(request["project_dir"])
    if sys.path and sys.path[0] in ("", "."):
        sys.path[0] = project_dir
    else:
        sys.path.insert(0, project_dir)
    timeout = request.get("timeout")
    if isinstance(timeout, int | float) and timeout > 1:
        # Shows where a hanging import is stuck, just before the parent gives up.
        faulthandler.dump_traceback_later(max(timeout - 1.0, timeout * 0.75), exit=False)
    for index, target in enumerate(request["targets"]):
        _flush_std()
        # The same line on stderr tells the parent which output belongs to which target.
        with contextlib.suppress(OSError):
            _emit(2, {"start": index})
        _emit(result_fd, {"start": index})
        try:
            outcome = check(target, functools.partial(_emit, result_fd, {"building": index}))
        except BaseException as exc:
            outcome = _failure(one_line(exc), detail=format_traceback(exc))
        _flush_std()
        _emit(result_fd, {"index": index, **outcome})
    _flush_std()
    _emit(result_fd, {"done": True})
    os._exit(0)


if __name__ == "__main__":
    main()
