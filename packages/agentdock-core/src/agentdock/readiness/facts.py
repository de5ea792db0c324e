"""What the code tells about its environment: the variables it reads and the services it
calls. These feed ``env.template`` and ``dependencies.dot``; no rule needs them.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterable

from agentdock.readiness.astutil import (
    SECRET_NAME,
    calls,
    const_int,
    const_str,
    env_reads,
    is_hostname,
    kwarg,
    parse_url,
    string_constants,
)
from agentdock.readiness.model import Dependency, EnvVar
from agentdock.readiness.secretscan import Detectors
from agentdock.readiness.sources import AgentSources, SourceFile

__all__ = ["dependencies", "env_vars"]

#: URL schemes of services an agent calls (a ``file://`` or a documentation link is none).
SERVICE_SCHEMES = frozenset(
    {
        "http",
        "https",
        "ws",
        "wss",
        "redis",
        "rediss",
        "postgres",
        "postgresql",
        "postgresql+psycopg",
        "postgresql+asyncpg",
        "mysql",
        "mongodb",
        "mongodb+srv",
        "amqp",
        "amqps",
        "nats",
        "kafka",
        "grpc",
        "tcp",
        "zmq",
    }
)
_DOCFILE_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::?-([^}]*))?\}")
_DOCKER_ENV = re.compile(r"^\s*(?:ENV|ARG)\s+([A-Za-z_][A-Za-z0-9_]*)(?:[= ](\S*))?", re.IGNORECASE)
_VARIABLE = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]*$")
_URL_PASSWORD = re.compile(r"(://[^:@/\s]*:)[^@/\s]*@")


def env_vars(agents: Iterable[AgentSources]) -> list[EnvVar]:
    """Every variable read by Python code (``os.getenv`` and kin), Dockfiles (``${VAR}``)
    and Dockerfiles (``ENV``/``ARG``), with where it is read and the first default found.
    A variable is secret when its name looks like one (``SECRET_NAME``) or any default the
    code gives it is a value the secret detectors recognise (a known key format, a
    high-entropy string); a secret's default is never kept."""
    places: dict[str, list[str]] = {}
    defaults: dict[str, str | None] = {}
    secret_defaults: set[str] = set()
    detectors = Detectors()

    def add(name: str, where: str, default: str | None) -> None:
        if not _VARIABLE.match(name):
            return  # not a name a template line can hold
        places.setdefault(name, [])
        if default is not None and detectors.recognises(default):
            secret_defaults.add(name)
            default = None
        if where not in places[name]:
            places[name].append(where)
        if defaults.get(name) is None and default is not None:
            defaults[name] = _URL_PASSWORD.sub(r"\1***@", default)
        defaults.setdefault(name, None)

    for agent in agents:
        for source in agent.files:
            if source.kind == "python" and source.tree is not None:
                for read in env_reads(source):
                    default = const_str(read.default)
                    if default is None and const_int(read.default) is not None:
                        default = str(const_int(read.default))
                    add(read.name, f"{source.rel}:{read.line}", default)
            elif source.kind == "dockfile":
                for number, text in enumerate(source.lines, 1):
                    for match in _DOCFILE_VAR.finditer(text):
                        add(match.group(1), f"{source.rel}:{number}", match.group(2))
            elif source.kind == "dockerfile":
                for number, text in enumerate(source.lines, 1):
                    env = _DOCKER_ENV.match(text)
                    if env:
                        add(env.group(1), f"{source.rel}:{number}", env.group(2) or None)
    out = []
    for name in sorted(places):
        secret = name in secret_defaults or bool(SECRET_NAME.search(name))
        out.append(
            EnvVar(name, secret, None if secret else defaults.get(name), tuple(places[name]))
        )
    return out


def dependencies(agents: Iterable[AgentSources]) -> list[Dependency]:
    """Services each agent calls: hosts of service URLs in its strings, and
    ``Client(host=..., port=...)``-style constructors and ``connect((host, port))`` calls."""
    out: list[Dependency] = []
    seen: set[tuple[str, str, str, int | None]] = set()
    for agent in agents:
        for source in agent.of_kind("python"):
            if source.tree is None:
                continue
            listening = _listen_addresses(source)
            for node in string_constants(source):
                assert isinstance(node.value, str)
                if id(node) in listening:
                    continue
                url = parse_url(node.value)
                if url is None or url.scheme not in SERVICE_SCHEMES:
                    continue
                if not is_hostname(url.host):
                    continue
                key = (agent.name, url.scheme, url.host, url.port)
                if key not in seen:
                    seen.add(key)
                    out.append(
                        Dependency(
                            agent.name, url.scheme, url.host, url.port, source.rel, node.lineno
                        )
                    )
            for called, call in calls(source):
                found = _client_target(called, call)
                if found is None:
                    continue
                scheme, host, port = found
                key = (agent.name, scheme, host, port)
                if key not in seen:
                    seen.add(key)
                    out.append(Dependency(agent.name, scheme, host, port, source.rel, call.lineno))
    return out


def _listen_addresses(source: SourceFile) -> set[int]:
    """Ids of the string constants passed to ``bind``/``run``/``serve``-style calls: where the
    agent listens, not what it calls."""
    out: set[int] = set()
    for called, call in calls(source):
        if called.rsplit(".", 1)[-1] in _SERVER_CALLS:
            for arg in [*call.args, *(k.value for k in call.keywords)]:
                out.update(id(node) for node in ast.walk(arg))
    return out


def _client_target(name: str, call: ast.Call) -> tuple[str, str, int | None] | None:
    last = name.rsplit(".", 1)[-1]
    if last in ("connect", "create_connection") and call.args:
        first = call.args[0]
        if isinstance(first, ast.Tuple) and len(first.elts) == 2:
            host = const_str(first.elts[0])
            if host:
                return "tcp", host.lower(), const_int(first.elts[1])
        return None
    host = const_str(kwarg(call, "host"))
    port = const_int(kwarg(call, "port"))
    if host and port is not None and last not in _SERVER_CALLS:
        return last.lower() or "tcp", host.lower(), port
    return None


#: Calls whose host/port is where the agent listens, not a service it calls.
_SERVER_CALLS = frozenset({"run", "serve", "run_app", "bind", "listen", "create_server", "Config"})
