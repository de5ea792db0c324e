"""Rules for LangGraph and LangChain agent code: hard-coded model names, blocking calls in
async nodes, tools that shell out or evaluate code, HTTP calls without timeouts, and
recursion limits with no bound."""

from __future__ import annotations

import ast
from collections.abc import Iterator

from agentdock.readiness import Hit, Level, SourceFile
from agentdock.readiness.astutil import call_name, calls, const_int, const_str, kwarg

__all__ = [
    "BlockingIoInAsync",
    "HardcodedModel",
    "HttpNoTimeout",
    "ToolShellEval",
    "UnboundedRecursionLimit",
]

PY = frozenset({"python"})
_BLOCKING = frozenset(
    {
        "time.sleep",
        "requests.get",
        "requests.post",
        "requests.put",
        "requests.delete",
        "requests.patch",
        "requests.head",
        "requests.request",
        "urllib.request.urlopen",
        "urlopen",
        "subprocess.run",
        "subprocess.call",
        "subprocess.check_call",
        "subprocess.check_output",
        "httpx.get",
        "httpx.post",
        "httpx.request",
        "os.system",
        "input",
    }
)
_REQUESTS = frozenset(
    {
        "requests.get",
        "requests.post",
        "requests.put",
        "requests.delete",
        "requests.patch",
        "requests.head",
        "requests.options",
        "requests.request",
        "urllib.request.urlopen",
        "urlopen",
    }
)
_SHELL = frozenset({"eval", "exec", "os.system", "os.popen", "subprocess.getoutput"})
_SUBPROCESS = frozenset(
    {
        "subprocess.run",
        "subprocess.call",
        "subprocess.check_call",
        "subprocess.check_output",
        "subprocess.Popen",
    }
)


class _AgentCodeRule:
    """What every rule here shares: it reads Python agent code, in the ``llm`` category."""

    category = "llm"
    kinds = PY


class HardcodedModel(_AgentCodeRule):
    """A model name is a literal in a chat-model constructor (``ChatOpenAI(model="gpt-4o")``,
    ``init_chat_model("...")``): switching models needs a new image. Offline fake models
    are exempt."""

    id = "hardcoded-model"
    level = Level.LOW
    fix = "take it from the Dockfile's model block or os.getenv('MODEL_NAME', '...')"

    def check(self, source: SourceFile) -> Iterator[Hit]:
        for name, call in calls(source):
            last = name.rsplit(".", 1)[-1]
            if last == "init_chat_model" and call.args and const_str(call.args[0]):
                yield Hit(call.lineno, f"{name}({const_str(call.args[0])!r})")
                continue
            if not last.startswith("Chat") or last.startswith("ChatFake") or "Fake" in last:
                continue
            for arg in ("model", "model_name", "deployment_name"):
                value = const_str(kwarg(call, arg))
                if value:
                    yield Hit(call.lineno, f"{last}({arg}={value!r})")


def _async_functions(source: SourceFile) -> list[ast.AsyncFunctionDef]:
    return source.nodes(ast.AsyncFunctionDef)


class BlockingIoInAsync(_AgentCodeRule):
    """A blocking call (``time.sleep``, ``requests``, ``subprocess``) inside an ``async def``:
    it stalls the event loop and every other run with it."""

    id = "blocking-io-in-async"
    level = Level.MEDIUM
    fix = "await the async form (asyncio.sleep, httpx.AsyncClient) or asyncio.to_thread(...)"

    def check(self, source: SourceFile) -> Iterator[Hit]:
        for func in _async_functions(source):
            for node in _own_calls(func):
                name = call_name(node)
                if name in _BLOCKING:
                    yield Hit(node.lineno, f"{name}() in async def {func.name}")


def _own_calls(func: ast.AsyncFunctionDef) -> Iterator[ast.Call]:
    """The calls in ``func``'s body, not those of functions or lambdas nested in it (a
    nested ``def`` runs wherever it is called; a nested ``async def`` is checked itself)."""
    todo: list[ast.AST] = list(func.body)
    while todo:
        node = todo.pop()
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
            continue
        if isinstance(node, ast.Call):
            yield node
        todo.extend(ast.iter_child_nodes(node))


def _in_tool(source: SourceFile, node: ast.AST) -> bool:
    parent = source.parent(node)
    while parent is not None:
        if isinstance(parent, ast.FunctionDef | ast.AsyncFunctionDef):
            for deco in parent.decorator_list:
                target = deco.func if isinstance(deco, ast.Call) else deco
                label = target.id if isinstance(target, ast.Name) else getattr(target, "attr", "")
                if label == "tool":
                    return True
        parent = source.parent(parent)
    return False


class ToolShellEval(_AgentCodeRule):
    """Code evaluates strings or runs a shell (``eval``, ``exec``, ``os.system``,
    ``subprocess(..., shell=True)``); high inside an ``@tool``, where a model chooses the
    input."""

    id = "tool-shell-eval"
    level = Level.MEDIUM
    fix = "call a fixed program with an argument list (no shell); parse, never eval"

    def check(self, source: SourceFile) -> Iterator[Hit]:
        for name, call in calls(source):
            shell = kwarg(call, "shell")
            risky = name in _SHELL or (
                name in _SUBPROCESS and isinstance(shell, ast.Constant) and shell.value is True
            )
            if not risky:
                continue
            if _in_tool(source, call):
                yield Hit(call.lineno, f"{name}() in a tool", level=Level.HIGH)
            else:
                yield Hit(call.lineno, f"{name}()")


class HttpNoTimeout(_AgentCodeRule):
    """An HTTP call without a timeout (``requests.get(url)``, ``urlopen(url)``) or with
    ``timeout=None``: one slow upstream hangs the agent."""

    id = "http-no-timeout"
    level = Level.MEDIUM
    fix = "pass timeout=(connect, read) seconds, e.g. timeout=10"

    def check(self, source: SourceFile) -> Iterator[Hit]:
        for name, call in calls(source):
            timeout = kwarg(call, "timeout")
            if (
                name in _REQUESTS
                and timeout is None
                and not any(k.arg is None for k in call.keywords)
            ):
                yield Hit(call.lineno, f"{name}() without timeout")
            elif (
                isinstance(timeout, ast.Constant)
                and timeout.value is None
                and (name in _REQUESTS or name.rsplit(".", 1)[-1] in ("Client", "AsyncClient"))
            ):
                yield Hit(call.lineno, f"{name}(timeout=None)")


#: A recursion limit above this is no limit (LangGraph's default is 25).
MAX_RECURSION = 1000


class UnboundedRecursionLimit(_AgentCodeRule):
    """A graph's ``recursion_limit`` (or ``sys.setrecursionlimit``) is huge or infinite: a
    looping agent runs (and bills) until it is killed."""

    id = "unbounded-recursion-limit"
    level = Level.MEDIUM
    fix = f"keep recursion_limit small (LangGraph's default is 25; at most {MAX_RECURSION})"

    def check(self, source: SourceFile) -> Iterator[Hit]:
        for node in source.nodes(ast.Dict):
            for key, item in zip(node.keys, node.values, strict=False):
                if const_str(key) == "recursion_limit" and _unbounded(item):
                    yield Hit(node.lineno, "recursion_limit without a useful bound")
        for called, call in calls(source):
            value = kwarg(call, "recursion_limit")
            if value is not None and _unbounded(value):
                yield Hit(call.lineno, "recursion_limit without a useful bound")
            if called == "sys.setrecursionlimit" and call.args and _unbounded(call.args[0]):
                yield Hit(call.lineno, "sys.setrecursionlimit without a useful bound")


def _unbounded(node: ast.expr) -> bool:
    number = const_int(node)
    if number is not None:
        return number > MAX_RECURSION
    if isinstance(node, ast.Constant) and isinstance(node.value, float):
        return node.value > MAX_RECURSION
    if isinstance(node, ast.Attribute) and node.attr == "maxsize":
        return True
    if isinstance(node, ast.Call) and call_name(node) == "float" and node.args:
        return const_str(node.args[0]) in ("inf", "infinity")
    return isinstance(node, ast.Attribute) and node.attr == "inf"
