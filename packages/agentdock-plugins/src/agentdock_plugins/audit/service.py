"""Rules on how an agent behaves as a service: health endpoints, shutdown on SIGTERM, debug
switches and administrative routes left open."""

from __future__ import annotations

import ast
import re
from collections import Counter
from collections.abc import Iterator, Sequence

from agentdock.readiness import AgentSources, Hit, Level, SourceFile
from agentdock.readiness.astutil import call_name, calls, const_str, kwarg

from agentdock_plugins.audit.webapps import is_app_run

__all__ = ["DebugEnabled", "HealthInconsistent", "HealthMissing", "NoSigterm", "UngatedAdminRoute"]

_ROUTE_METHODS = frozenset(
    {"get", "post", "put", "delete", "patch", "route", "api_route", "websocket", "head"}
)
_HEALTH = re.compile(r"^/(health|healthz|healthcheck|ready|readyz|livez|live|ping|status)(/|$)")
_ADMIN = re.compile(r"^/(admin|metrics|debug|internal|_debug|console)(/|$)")


def routes(source: SourceFile) -> list[tuple[str, int, ast.AST]]:
    """``(path, line, handler)`` for each route a web framework declares: decorators such as
    ``@app.get("/x")`` / ``@router.route("/x")`` and ``app.add_url_rule("/x", ...)``."""
    out: list[tuple[str, int, ast.AST]] = []
    functions: list[ast.FunctionDef | ast.AsyncFunctionDef] = [
        *source.nodes(ast.FunctionDef),
        *source.nodes(ast.AsyncFunctionDef),
    ]
    for func in functions:
        for deco in func.decorator_list:
            if (
                isinstance(deco, ast.Call)
                and isinstance(deco.func, ast.Attribute)
                and deco.func.attr in _ROUTE_METHODS
                and deco.args
            ):
                path = const_str(deco.args[0])
                if path is not None and path.startswith("/"):
                    out.append((path, deco.lineno, func))
    for called, call in calls(source):
        if called.endswith(".add_url_rule") and call.args:
            path = const_str(call.args[0])
            if path is not None:
                out.append((path, call.lineno, call))
    out.sort(key=lambda r: r[1])
    return out


def _health_paths(agent: AgentSources) -> list[tuple[str, int, SourceFile]]:
    return [
        (path, line, source)
        for source in agent.of_kind("python")
        for path, line, _ in routes(source)
        if _HEALTH.match(path)
    ]


class HealthMissing:
    """An agent serves HTTP routes of its own but none is a health endpoint (``/health``,
    ``/healthz``, ``/ready``...): an orchestrator cannot tell it is up."""

    id = "health-missing"
    level = Level.MEDIUM
    category = "health"
    kinds: frozenset[str] = frozenset()
    fix = "add GET /health answering 200 (AgentDock's runtime serves /health and /ready)"

    def check(self, source: SourceFile) -> Iterator[Hit]:
        return iter(())

    def check_agent(self, agent: AgentSources) -> Iterator[Hit]:
        first: tuple[int, SourceFile] | None = None
        for source in agent.of_kind("python"):
            found = routes(source)
            if found and first is None:
                first = (found[0][1], source)
            if any(_HEALTH.match(path) for path, _, _ in found):
                return
        if first is not None:
            yield Hit(first[0], "HTTP routes without a health endpoint", file=first[1])


class HealthInconsistent:
    """Agents of one tree answer health checks on different paths (``/health``, ``/healthz``,
    ``/ping``...): one probe configuration cannot serve them all."""

    id = "health-inconsistent"
    level = Level.LOW
    category = "health"
    kinds: frozenset[str] = frozenset()
    fix = "use one health path everywhere (/health, as the AgentDock runtime does)"

    def check(self, source: SourceFile) -> Iterator[Hit]:
        return iter(())

    def check_tree(self, agents: Sequence[AgentSources]) -> Iterator[Hit]:
        per_agent = {a.name: _health_paths(a) for a in agents}
        counts = Counter(found[0][0].rstrip("/") for found in per_agent.values() if found)
        if len(counts) < 2:
            return
        common = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[0][0]
        for found in per_agent.values():
            if found and found[0][0].rstrip("/") != common:
                path, line, source = found[0]
                yield Hit(
                    line,
                    f"health path {path!r} differs from the tree's usual {common!r} "
                    f"({len(counts)} patterns in use)",
                    file=source,
                )


_LONG_RUNNING = frozenset({"serve_forever", "run_forever", "run_until_complete", "start_polling"})


class NoSigterm:
    """Long-running code (``while True``, ``serve_forever``, Flask's ``run``, whatever its
    host) with no SIGTERM handler, or only ``KeyboardInterrupt`` (SIGINT): a container stop
    kills it mid-work."""

    id = "no-sigterm"
    level = Level.MEDIUM
    category = "shutdown"
    kinds: frozenset[str] = frozenset()
    fix = "signal.signal(signal.SIGTERM, handler) that stops the loop and cleans up"

    def check(self, source: SourceFile) -> Iterator[Hit]:
        return iter(())

    def check_agent(self, agent: AgentSources) -> Iterator[Hit]:
        loop: tuple[int, SourceFile, str] | None = None
        keyboard = False
        for source in agent.of_kind("python"):
            if "SIGTERM" in source.text:
                return
            keyboard = keyboard or "KeyboardInterrupt" in source.text
            if loop is None:
                loop = _long_running(source)
        if loop is not None:
            line, source, what = loop
            cause = "only KeyboardInterrupt is handled" if keyboard else "no SIGTERM handler"
            yield Hit(line, f"{what}: {cause}", file=source)


def _long_running(source: SourceFile) -> tuple[int, SourceFile, str] | None:
    for node in sorted(source.nodes(ast.While), key=lambda n: n.lineno):
        test = node.test
        if isinstance(test, ast.Constant) and test.value in (True, 1):
            return node.lineno, source, "while True loop"
    for name, call in sorted(calls(source), key=lambda item: item[1].lineno):
        last = name.rsplit(".", 1)[-1]
        if last in _LONG_RUNNING:
            return call.lineno, source, f"{name}()"
        if is_app_run(source, name, call):
            return call.lineno, source, f"{name}()"
    return None


_DEBUG_SWITCHES = frozenset({"debug", "reload", "use_debugger"})


class DebugEnabled:
    """A debug switch is on in code (``debug=True``, ``DEBUG = True``, ``reload=True``):
    tracebacks and debuggers reach whoever calls the service."""

    id = "debug-enabled"
    level = Level.MEDIUM
    category = "debug"
    kinds = frozenset({"python"})
    fix = "read it from the environment, off by default: debug=os.getenv('DEBUG') == '1'"

    def check(self, source: SourceFile) -> Iterator[Hit]:
        for called, call in calls(source):
            for keyword in call.keywords:
                value = keyword.value
                if (
                    keyword.arg in _DEBUG_SWITCHES
                    and isinstance(value, ast.Constant)
                    and value.value is True
                ):
                    yield Hit(call.lineno, f"{called}({keyword.arg}=True)")
        for node in source.nodes(ast.Assign):
            if not (isinstance(node.value, ast.Constant) and node.value.value is True):
                continue
            for target in node.targets:
                label = (
                    target.id
                    if isinstance(target, ast.Name)
                    else target.attr
                    if isinstance(target, ast.Attribute)
                    else ""
                )
                if label.upper() in ("DEBUG", "DEBUG_MODE"):
                    yield Hit(node.lineno, f"{label} = True")


class UngatedAdminRoute:
    """An ``/admin``, ``/metrics``, ``/debug`` or ``/internal`` route with no visible gate
    (no auth dependency, no other decorator, no environment switch around it)."""

    id = "ungated-admin-route"
    level = Level.MEDIUM
    category = "debug"
    kinds = frozenset({"python"})
    fix = (
        "guard it with auth (Depends(...), a decorator) or register it only when an env flag is set"
    )

    def check(self, source: SourceFile) -> Iterator[Hit]:
        for path, line, handler in routes(source):
            if _ADMIN.match(path) and not _gated(source, handler):
                yield Hit(line, f"route {path!r} is not gated")


def _gated(source: SourceFile, handler: ast.AST) -> bool:
    if isinstance(handler, ast.FunctionDef | ast.AsyncFunctionDef):
        if len(handler.decorator_list) > 1:
            return True
        deco = handler.decorator_list[0] if handler.decorator_list else None
        if isinstance(deco, ast.Call) and kwarg(deco, "dependencies") is not None:
            return True
        for default in [*handler.args.defaults, *handler.args.kw_defaults]:
            if isinstance(default, ast.Call) and call_name(default).rsplit(".", 1)[-1] in (
                "Depends",
                "Security",
            ):
                return True
        for call in ast.walk(handler):
            if isinstance(call, ast.Call) and call_name(call) in ("os.getenv", "os.environ.get"):
                return True
    parent = source.parent(handler)
    while parent is not None:
        if isinstance(parent, ast.If):
            return True
        parent = source.parent(parent)
    return False
