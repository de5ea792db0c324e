"""Reading Python syntax trees the way audit rules need: dotted call names, keyword
arguments, string constants that are not docstrings, URLs and environment reads.

Shared by the built-in rules and open to third-party ones, so that every rule agrees on
what "a call to ``uvicorn.run``" or "a default for ``os.getenv``" is. Patterns are compiled
once, at import.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass

from agentdock.readiness.sources import SourceFile

__all__ = [
    "SECRET_NAME",
    "EnvRead",
    "Url",
    "call_name",
    "calls",
    "const_int",
    "const_str",
    "docstrings",
    "env_reads",
    "is_hostname",
    "is_loopback",
    "kwarg",
    "parse_url",
    "string_constants",
]

_URL = re.compile(
    r"(?P<scheme>[a-zA-Z][a-zA-Z0-9+.-]{1,20})://"
    r"(?:(?P<user>[^:@/\s]*)(?::(?P<password>[^@/\s]*))?@)?"
    r"(?P<host>\[[0-9a-fA-F:]+\]|[^:/?#\s\"'{}]+)"
    r"(?::(?P<port>\d{1,5}))?"
)
#: Variable names that hold secrets: their values are never reported.
SECRET_NAME = re.compile(
    r"(SECRET|TOKEN|PASSWORD|PASSWD|PASSPHRASE|API_?KEY|PRIVATE_?KEY|ACCESS_?KEY|CREDENTIAL"
    r"|AUTH_?KEY|SIGNING_?KEY|DSN)",
    re.IGNORECASE,
)
_LOOPBACK_NAMES = frozenset({"localhost", "ip6-localhost", "::1", "[::1]"})


@dataclass(frozen=True, slots=True)
class Url:
    scheme: str
    host: str
    port: int | None
    user: str | None
    has_password: bool


def parse_url(text: str) -> Url | None:
    """The first ``scheme://[user[:password]@]host[:port]`` in ``text``, or ``None``."""
    match = _URL.search(text)
    if match is None:
        return None
    port = match.group("port")
    return Url(
        scheme=match.group("scheme").lower(),
        host=match.group("host").lower(),
        port=int(port) if port and int(port) < 65536 else None,
        user=match.group("user") or None,
        has_password=bool(match.group("password")),
    )


_HOSTNAME = re.compile(r"^[a-z0-9]([a-z0-9_.-]*[a-z0-9])?$|^\[[0-9a-f:]+\]$")


def is_hostname(host: str) -> bool:
    """A host a program could connect to (not ``...``, ``{host}`` or ``$HOST``)."""
    return bool(_HOSTNAME.match(host.lower()))


def is_loopback(host: str) -> bool:
    """``localhost``, ``::1`` and every ``127.*`` address."""
    host = host.strip().lower()
    return host in _LOOPBACK_NAMES or host.startswith("127.")


def call_name(call: ast.Call) -> str:
    """``uvicorn.run(...)`` → ``"uvicorn.run"``; ``app.run`` → ``"app.run"``; a call on
    anything else (a call's result, a subscript) keeps only the attribute: ``".run"``."""
    parts: list[str] = []
    node: ast.expr = call.func
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
    else:
        parts.append("")
    return ".".join(reversed(parts))


def kwarg(call: ast.Call, name: str) -> ast.expr | None:
    for keyword in call.keywords:
        if keyword.arg == name:
            return keyword.value
    return None


def const_str(node: ast.AST | None) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    return None


def const_int(node: ast.AST | None) -> int | None:
    if isinstance(node, ast.Constant) and type(node.value) is int:
        return node.value
    return None


def calls(source: SourceFile) -> list[tuple[str, ast.Call]]:
    """``(call_name(call), call)`` for every call of the file, named once per file."""
    return source.memo(
        "calls", lambda: [(call_name(call), call) for call in source.nodes(ast.Call)]
    )


def docstrings(source: SourceFile) -> set[int]:
    """Ids of string constants that are docstrings or bare string statements (prose, not
    configuration)."""
    return source.memo("docstrings", lambda: _docstrings(source))


def _docstrings(source: SourceFile) -> set[int]:
    out: set[int] = set()
    for expr in source.nodes(ast.Expr):
        if const_str(expr.value) is not None:
            out.add(id(expr.value))
    return out


def string_constants(source: SourceFile) -> list[ast.Constant]:
    """Every string constant of the file but docstrings."""

    def build() -> list[ast.Constant]:
        prose = docstrings(source)
        return [
            node
            for node in source.nodes(ast.Constant)
            if isinstance(node.value, str) and id(node) not in prose
        ]

    return source.memo("strings", build)


@dataclass(frozen=True, slots=True)
class EnvRead:
    """``os.getenv("NAME", default)`` and its kin: where, which name, which default."""

    name: str
    default: ast.expr | None
    node: ast.expr
    line: int


_GETTERS = frozenset(
    {"os.getenv", "getenv", "os.environ.get", "environ.get", "os.environ.setdefault"}
)


def env_reads(source: SourceFile) -> list[EnvRead]:
    """``os.getenv``, ``os.environ.get``/``setdefault`` and ``os.environ[...]`` reads with a
    constant name."""
    return source.memo("env_reads", lambda: _env_reads(source))


def _env_reads(source: SourceFile) -> list[EnvRead]:
    out: list[EnvRead] = []
    for name_, call in calls(source):
        if name_ not in _GETTERS or not call.args:
            continue
        name = const_str(call.args[0])
        if name is None:
            continue
        default = call.args[1] if len(call.args) > 1 else kwarg(call, "default")
        out.append(EnvRead(name, default, call, call.lineno))
    for sub in source.nodes(ast.Subscript):
        value = sub.value
        if (
            isinstance(value, ast.Attribute)
            and value.attr == "environ"
            and isinstance(value.value, ast.Name)
            and value.value.id == "os"
        ) or (isinstance(value, ast.Name) and value.id == "environ"):
            name = const_str(sub.slice)
            if name is not None:
                out.append(EnvRead(name, None, sub, sub.lineno))
    out.sort(key=lambda r: r.line)
    return out
