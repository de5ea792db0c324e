"""Rules on where an agent listens and what it connects to, and on configuration that
should come from the environment: the seed audit's first two deployment blockers."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator

from agentdock.findings import quote
from agentdock.readiness import Hit, Level, SourceFile
from agentdock.readiness.astutil import (
    calls,
    const_int,
    const_str,
    env_reads,
    is_hostname,
    is_loopback,
    kwarg,
    parse_url,
    string_constants,
)
from agentdock.readiness.facts import SERVICE_SCHEMES

from agentdock_plugins.audit.webapps import is_app_run

__all__ = [
    "ConfigWithoutEnv",
    "EnvLoopbackFallback",
    "HardcodedPort",
    "HardcodedUrl",
    "LoopbackBind",
    "LoopbackConnect",
    "UrlCredentials",
]

PY = frozenset({"python"})
#: Calls whose ``host``/address is where the code listens.
_SERVE = frozenset({"run", "serve", "run_app", "run_simple", "create_server", "start_server"})
_SERVER_CLASSES = frozenset({"HTTPServer", "ThreadingHTTPServer", "TCPServer", "make_server"})


def _env_defaults(source: SourceFile) -> set[int]:
    """Ids of the nodes inside ``os.getenv(..., default)`` defaults (another rule's)."""
    out: set[int] = set()
    for read in env_reads(source):
        if read.default is not None:
            out.update(id(n) for n in ast.walk(read.default))
    return out


def _bind_address(name: str, call: ast.Call) -> ast.expr | None:
    """The host a server call binds, or ``None`` when it names none."""
    last = name.rsplit(".", 1)[-1]
    if last == "bind" and call.args:
        first = call.args[0]
        if isinstance(first, ast.Tuple) and first.elts:
            return first.elts[0]
        return first
    if last in _SERVER_CLASSES and call.args and isinstance(call.args[0], ast.Tuple):
        elts = call.args[0].elts
        return elts[0] if elts else None
    if last in _SERVE or name == "uvicorn.Config":
        return kwarg(call, "host")
    return None


def _binds_loopback(node: ast.expr | None) -> bool:
    text = const_str(node)
    if text is None:
        return False
    url = parse_url(text)
    host = (url.host if url else text).strip().strip("[]")
    return bool(host) and is_loopback(host)


class LoopbackBind:
    """A server binds 127.0.0.1 or localhost (or ``uvicorn.run``/Flask's ``run`` with no
    host, which default to it): nothing outside its container can reach it. Flask's ``run``
    is ``app.run(...)`` on a name bound to ``Flask(...)`` in the file, or any
    ``.run(port=...)``."""

    id = "loopback-bind"
    level = Level.HIGH
    category = "bind"
    kinds = PY
    fix = "bind os.getenv('BIND_ADDRESS', '0.0.0.0') (or run under `agentdock serve`)"

    def check(self, source: SourceFile) -> Iterator[Hit]:
        for name, call in calls(source):
            host = _bind_address(name, call)
            if host is not None and _binds_loopback(host):
                yield Hit(call.lineno, f"{name}() binds {const_str(host)!r}")
            elif host is None and (name == "uvicorn.run" or is_app_run(source, name, call)):
                yield Hit(call.lineno, f"{name}() without host= binds 127.0.0.1 by default")


class LoopbackConnect:
    """Code connects to another service at localhost/127.0.0.1: in a container that is the
    container itself, not the service."""

    id = "loopback-connect"
    level = Level.HIGH
    category = "bind"
    kinds = PY
    fix = "read the service's host from the environment (os.getenv('REDIS_HOST', 'redis'))"

    def check(self, source: SourceFile) -> Iterator[Hit]:
        skip = _env_defaults(source)
        binds = {id(_bind_address(n, c)) for n, c in calls(source)}
        for node in string_constants(source):
            if id(node) in skip or id(node) in binds:
                continue
            assert isinstance(node.value, str)
            url = parse_url(node.value)
            if url and url.scheme in SERVICE_SCHEMES and is_loopback(url.host.strip("[]")):
                yield Hit(node.lineno, f"{url.scheme} URL to {url.host} hard-coded")
        for called, call in calls(source):
            if id(call) in skip:
                continue
            host = kwarg(call, "host")
            text = const_str(host)
            last = called.rsplit(".", 1)[-1]
            if text and is_loopback(text) and last not in _SERVE and last != "Config":
                yield Hit(call.lineno, f"{called}(host={text!r}) connects to loopback")
            if last in ("connect", "create_connection") and call.args:
                first = call.args[0]
                if isinstance(first, ast.Tuple) and first.elts:
                    addr = const_str(first.elts[0])
                    if addr and is_loopback(addr):
                        yield Hit(call.lineno, f"{called}() to {addr!r}")


class EnvLoopbackFallback:
    """An environment read falls back to a loopback address (``os.getenv('DB_URL',
    'redis://localhost:6379/0')``): a missing variable silently points at nothing."""

    id = "env-loopback-fallback"
    level = Level.MEDIUM
    category = "config"
    kinds = PY
    fix = "default to the service's name on the container network, or require the variable"

    def check(self, source: SourceFile) -> Iterator[Hit]:
        for read in env_reads(source):
            text = const_str(read.default)
            if text is None:
                continue
            url = parse_url(text)
            host = url.host.strip("[]") if url else text.strip()
            if host and is_loopback(host):
                yield Hit(read.line, f"{quote(read.name)} falls back to {quote(host)}")


class HardcodedUrl:
    """A service URL (database, cache, queue, API) is written into the code instead of read
    from the environment: every deployment needs a rebuild."""

    id = "hardcoded-url"
    level = Level.MEDIUM
    category = "config"
    kinds = PY
    fix = "read the URL with os.getenv('SERVICE_URL') and list it in env.template"

    _PUBLIC = re.compile(r"(^|\.)(github\.com|pypi\.org|python\.org|example\.(com|org))$")

    def check(self, source: SourceFile) -> Iterator[Hit]:
        skip = _env_defaults(source)
        for node in string_constants(source):
            if id(node) in skip:
                continue
            assert isinstance(node.value, str)
            url = parse_url(node.value)
            if url is None or url.scheme not in SERVICE_SCHEMES or not is_hostname(url.host):
                continue
            if is_loopback(url.host.strip("[]")) or self._PUBLIC.search(url.host):
                continue
            if url.scheme in ("http", "https") and "." in url.host and url.port is None:
                continue  # a public HTTPS API, not a service of the deployment
            yield Hit(node.lineno, f"{url.scheme} URL to {url.host} hard-coded")


class HardcodedPort:
    """A client or server port is a literal (``Redis(port=6379)``, ``run(port=8000)``)."""

    id = "hardcoded-port"
    level = Level.LOW
    category = "config"
    kinds = PY
    fix = "read it with int(os.getenv('SERVICE_PORT', '8000'))"

    def check(self, source: SourceFile) -> Iterator[Hit]:
        for called, call in calls(source):
            port = const_int(kwarg(call, "port"))
            if port is not None:
                yield Hit(call.lineno, f"{called}(port={port}) hard-coded")


class UrlCredentials:
    """A URL carries a password (``postgres://user:secret@db/app``): credentials in code
    end up in images, logs and history. The value is never reported."""

    id = "url-credentials"
    level = Level.HIGH
    category = "secrets"
    kinds = PY
    fix = "take credentials from a secret (deploy.secrets) and build the URL at start-up"

    def check(self, source: SourceFile) -> Iterator[Hit]:
        for node in string_constants(source):
            assert isinstance(node.value, str)
            url = parse_url(node.value)
            if url is not None and url.has_password and "{" not in node.value:
                yield Hit(
                    node.lineno, f"{url.scheme} URL with an inline password (host {url.host})"
                )


_CONFIG_NAME = re.compile(
    r"(^|_)(HOST|HOSTNAME|PORT|URL|URI|DSN|ADDR|ADDRESS|ENDPOINT|DB_PATH|DATA_DIR|MODEL_DIR"
    r"|BROKER)$"
)


class ConfigWithoutEnv:
    """A module-level setting (``REDIS_HOST = "redis"``, ``PORT = 7200``) is a literal, not
    read from the environment: it cannot change between deployments."""

    id = "config-without-env"
    level = Level.MEDIUM
    category = "config"
    kinds = PY
    fix = "NAME = os.getenv('NAME', default), or a settings class reading the environment"

    def check(self, source: SourceFile) -> Iterator[Hit]:
        tree = source.tree
        if tree is None:
            return
        for stmt in tree.body:
            targets: list[ast.expr] = []
            value: ast.expr | None = None
            if isinstance(stmt, ast.Assign):
                targets, value = stmt.targets, stmt.value
            elif isinstance(stmt, ast.AnnAssign) and stmt.value is not None:
                targets, value = [stmt.target], stmt.value
            if not (isinstance(value, ast.Constant) and isinstance(value.value, str | int)):
                continue
            if isinstance(value.value, bool) or value.value == "":
                continue
            for target in targets:
                if not isinstance(target, ast.Name) or target.id.startswith(("_", "DEFAULT_")):
                    continue
                if _CONFIG_NAME.search(target.id):
                    yield Hit(
                        stmt.lineno, f"{target.id} is a literal, not read from the environment"
                    )
