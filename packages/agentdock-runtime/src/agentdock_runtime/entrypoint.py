"""The container entrypoint, ``python -m agentdock_runtime``: one agent, configured by the env.

Environment variables:

``AGENTDOCK_SPEC`` (required)
    The path of a Dockfile (or of its directory), or of a frozen spec snapshot: a YAML or
    JSON document whose ``${VAR}`` placeholders are kept verbatim. A directory without a
    ``Dockfile.yaml`` of its own is a directory of agents, all served by this process
    (:mod:`.hostentry`).
``AGENTDOCK_HOST`` / ``AGENTDOCK_PORT``
    Override ``expose.host`` (default ``0.0.0.0``) and ``expose.port`` (default 8080);
    port ``0`` lets the system pick a free one.
``AGENTDOCK_PROJECT_DIR``
    Where the agent's code lives (default: the directory of ``AGENTDOCK_SPEC``).
``AGENTDOCK_DRAIN_TIMEOUT``
    Seconds in-flight requests get to finish after SIGTERM (default 30).
``AGENTDOCK_INSECURE_NO_AUTH=1``
    Serve WITHOUT authentication. Local development only; a warning says so at start-up.
    Only requests addressed to ``localhost``, 127.0.0.0/8 or ``[::1]`` are then answered
    (403 otherwise: DNS rebinding, see :mod:`.hostcheck`), whatever address is bound.
``AGENTDOCK_ALLOWED_HOSTS``
    Comma-separated host names (``agent.internal``, ``*.example.com``; ``*`` for any) a
    runtime without authentication answers too, e.g. the name other containers reach it by.
    Checked (exit 78 when malformed) only without authentication; with it, not read.
``AGENTDOCK_LOG_FORMAT``
    ``json`` or ``text``: the format of every line of the run, the log sink's event lines
    and the log records (the runtime's and uvicorn's) alike; ``off`` writes no event lines.
    Unset: text on a terminal, JSON otherwise (:mod:`.logconfig`).
``AGENTDOCK_REDIS_URL``
    Keep rate limits in this Redis, shared by every runtime of the agent (:mod:`.access`).
``AGENTDOCK_RATELIMIT_ON_OUTAGE``
    ``local`` (default: limit alone from the spend last heard of) or ``closed`` (refuse
    rate-limited callers with 503) while that Redis is unreachable.
``AGENTDOCK_RATELIMIT_FILE``
    A file the runtime processes of one host share rate limits through
    (:mod:`.sharedlimit`; ``agentdock serve --workers`` sets it).

Read by the server plugin (the ``litestar`` one: ``agentdock_plugins.litestar.limits``),
once at start-up; a malformed value is a ``[FATAL]`` line and exit 78:

``AGENTDOCK_MAX_BODY_BYTES``
    The largest request body, and the largest WebSocket message (default 1048576).
``AGENTDOCK_HEADER_TIMEOUT`` / ``AGENTDOCK_BODY_TIMEOUT``
    Seconds a request's headers (default 5) and its body (default 10) may take to arrive;
    past them the request is answered 408 and its connection closed.
``AGENTDOCK_WS_MAX_CONNECTIONS`` / ``AGENTDOCK_WS_IDLE_TIMEOUT``
    Open ``/ws/stream`` connections per process (default 100); seconds one may stay without
    a frame or a run (default 300).

Set by deploy targets (a user rarely sets them):

``AGENTDOCK_VERSION`` / ``AGENTDOCK_INSTANCE``
    The registry version and the per-tenant instance this runtime serves (logs, the
    ``agentdock_agent_info`` metric; an instance accepts only its own API keys).
``AGENTDOCK_STATE_DIR``
    Where the SQLite checkpointer keeps conversations by default (one per instance).
``AGENTDOCK_LISTEN_FD``
    Sockets the supervisor already bound and listens on (comma-separated); served instead
    of binding.
``AGENTDOCK_STANDBY_FD`` / ``AGENTDOCK_CONTROL_FD``
    The agent's stable address, still served by the version before this one, and a socket
    to the supervisor, which says when to accept on it too (after the health gate).
``AGENTDOCK_ENV_FILE``
    A JSON file of more variables (the ``docker`` target's, kept out of ``docker inspect``),
    read first; the environment wins over it (:mod:`.envfile`).
``AGENTDOCK_SECRET_NAMES``
    Comma-separated names of the variables that hold secrets: their values are masked
    (``***``) in everything the runtime writes to stdout and stderr (:mod:`.logmask`).
``AGENTDOCK_MACHINE_PROFILE``
    ``off`` skips ``/etc/agentdock/machine-profile.json`` (the hardware profile's tuned
    defaults, applied first; variables already set always win).

``${VAR}`` placeholders resolve from the process environment only (a ``.env`` file is never
read). The port is bound before the agent is loaded; ``Serving <agent> on <url>`` is logged
once the agent is ready, with the address actually bound. Start-up failures print
``[FATAL] ...`` lines to stderr and exit non-zero:

* 78 (``EX_CONFIG``): required variables are missing (one line naming all of them, never a
  value), ``AGENTDOCK_ENV_FILE`` cannot be read, the spec is invalid (one line per
  finding), a setting above is malformed, the address cannot be listened on (the port is
  taken), or a plugin is missing (an auth provider for ``auth.mode`` unless insecure mode
  is on);
* 70 (``EX_SOFTWARE``): the agent's entrypoint cannot be imported.

SIGTERM (or SIGINT) stops accepting connections, drains in-flight requests, flushes
telemetry and exits 0.
"""

from __future__ import annotations

import dataclasses
import inspect
import logging
import math
import os
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

if TYPE_CHECKING:
    from agentdock.spec import DockSpec

__all__ = [
    "DEFAULT_DRAIN_TIMEOUT",
    "EX_CONFIG",
    "EX_SOFTWARE",
    "ConfigError",
    "Settings",
    "load_spec",
    "main",
    "read_settings",
]

EX_CONFIG = 78
EX_SOFTWARE = 70
#: sysexits' EX_UNAVAILABLE: a service the runtime needs (the registry database) is down.
EX_UNAVAILABLE = 69
DEFAULT_DRAIN_TIMEOUT = 30.0

SPEC_ENV = "AGENTDOCK_SPEC"
HOST_ENV = "AGENTDOCK_HOST"
PORT_ENV = "AGENTDOCK_PORT"
PROJECT_DIR_ENV = "AGENTDOCK_PROJECT_DIR"
DRAIN_TIMEOUT_ENV = "AGENTDOCK_DRAIN_TIMEOUT"
INSECURE_ENV = "AGENTDOCK_INSECURE_NO_AUTH"

log = logging.getLogger("agentdock.runtime")

_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"", "0", "false", "no", "off"})


class ConfigError(Exception):
    """The runtime cannot start; ``lines`` are printed as ``[FATAL]`` lines."""

    def __init__(self, lines: list[str], code: int = EX_CONFIG) -> None:
        super().__init__("; ".join(lines))
        self.lines = lines
        self.code = code


@dataclasses.dataclass(frozen=True, slots=True)
class Settings:
    """The entrypoint's settings, read from the environment."""

    spec_path: Path
    host: str | None
    port: int | None
    project_dir: Path | None
    drain_timeout: float
    insecure_no_auth: bool


def read_settings(environ: Mapping[str, str]) -> Settings:
    """The settings in ``environ``.

    :raises ConfigError: a variable is missing or malformed (every problem, one line each).
    """
    problems: list[str] = []
    spec_path = Path(".")
    raw_spec = environ.get(SPEC_ENV, "").strip()
    if not raw_spec:
        problems.append(f"{SPEC_ENV} is not set: give the path of a Dockfile or spec snapshot")
    else:
        spec_path = Path(raw_spec)
        if spec_path.is_dir() and (spec_path / "Dockfile.yaml").exists():
            spec_path = spec_path / "Dockfile.yaml"
        if not spec_path.is_file() and not spec_path.is_dir():  # a directory of agents
            problems.append(f"{SPEC_ENV}: {spec_path} does not exist")
    host = environ.get(HOST_ENV, "").strip() or None
    port: int | None = None
    raw_port = environ.get(PORT_ENV, "").strip()
    if raw_port:
        if raw_port.isdigit() and 0 <= int(raw_port) <= 65535:
            port = int(raw_port)
        else:
            problems.append(
                f"{PORT_ENV} must be a port number (1-65535, or 0 for a free one), got {raw_port!r}"
            )
    raw_dir = environ.get(PROJECT_DIR_ENV, "").strip()
    project_dir = Path(raw_dir) if raw_dir else None
    if project_dir is not None and not project_dir.is_dir():
        problems.append(f"{PROJECT_DIR_ENV}: {project_dir} is not a directory")
    drain_timeout = DEFAULT_DRAIN_TIMEOUT
    raw_drain = environ.get(DRAIN_TIMEOUT_ENV, "").strip()
    if raw_drain:
        try:
            drain_timeout = float(raw_drain)
        except ValueError:
            drain_timeout = -1.0
        if not math.isfinite(drain_timeout) or drain_timeout <= 0:
            problems.append(
                f"{DRAIN_TIMEOUT_ENV} must be a positive number of seconds, got {raw_drain!r}"
            )
    raw_insecure = environ.get(INSECURE_ENV, "").strip().lower()
    if raw_insecure not in _TRUE | _FALSE:
        problems.append(f"{INSECURE_ENV} must be 1 or 0, got {raw_insecure!r}")
    if raw_insecure in _TRUE:  # with authentication the variable is not read at all
        from agentdock_runtime.hostcheck import allowed_hosts_from_env

        try:
            allowed_hosts_from_env(environ)
        except ValueError as exc:
            problems.append(str(exc))
    if problems:
        raise ConfigError(problems)
    return Settings(
        spec_path=spec_path,
        host=host,
        port=port,
        project_dir=project_dir,
        drain_timeout=drain_timeout,
        insecure_no_auth=raw_insecure in _TRUE,
    )


class _EveryNameBlank(Mapping[str, str]):
    """Holds every variable name, each empty: parsing alone never looks anywhere for values."""

    def __getitem__(self, key: str) -> str:
        return ""

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str)

    def __iter__(self) -> Iterator[str]:
        return iter(())

    def __len__(self) -> int:
        return 0


def load_spec(path: Path, environ: Mapping[str, str], *, plugins: Any) -> Any:
    """The frozen ``DockSpec`` at ``path``, placeholders resolved from ``environ`` alone.

    :raises ConfigError: required variables are missing (one line naming them all, sorted,
        values never shown), or the spec is invalid (one line per error).
    """
    from agentdock.findings import Code, Severity
    from agentdock.spec.loader import load_document
    from agentdock.validation import validate_document

    # First the document alone (includes expanded, placeholders verbatim), then its
    # placeholders from ``environ``: a mapping has no ``.env`` beside it to fall back on.
    parsed = load_document(path, env=_EveryNameBlank())
    if parsed.raw is None:
        raise ConfigError([f.one_line() for f in parsed.findings if f.severity is Severity.ERROR])
    resolved = load_document(parsed.raw, environ=environ)
    if resolved.unresolved:
        names = ", ".join(sorted(resolved.unresolved))
        raise ConfigError([f"Missing required environment variables: {names}"])
    interpolation = {Code.EnvInterpolationError, Code.UnresolvedVariableWarning}
    document = dataclasses.replace(
        resolved,
        path=parsed.path,
        project_dir=parsed.project_dir,
        source_map=parsed.source_map,
        findings=(
            *(f for f in parsed.findings if f.code not in interpolation),
            *resolved.findings,
        ),
    )
    # Without the readiness audit: its findings are warnings, which a start never shows.
    report = validate_document(document, skip_imports=True, plugins=plugins, audit=False)
    if not report.ok:
        raise ConfigError([f.one_line() for f in report.errors])
    return report.spec


def _fatal(lines: list[str], code: int) -> NoReturn:
    from agentdock_runtime.logmask import mask

    # An agent's exception text may quote a secret: masked here whatever stderr is.
    for line in lines:
        print(f"[FATAL] {mask(line)}", file=sys.stderr, flush=True)
    raise SystemExit(code)


def _listen(settings: Settings, spec: DockSpec) -> tuple[str, int]:
    """The address served: the supervisor's socket (``AGENTDOCK_LISTEN_FD``), or one bound
    here and handed to the server plugin the same way. Exits 78 when it cannot be bound."""
    from agentdock_runtime import listen

    inherited = listen.inherited()
    if inherited is not None:
        with inherited:
            return listen.bound_address(inherited)
    host = settings.host if settings.host is not None else spec.expose.host
    port = settings.port if settings.port is not None else spec.expose.port
    try:
        sock = listen.bind(host, port)
    except listen.ListenError as exc:
        hint = f"set {PORT_ENV} to a free port (0 picks one)"
        if not exc.in_use:
            hint = f"check {HOST_ENV} and {PORT_ENV}"
        _fatal([f"{exc}; {hint}"], EX_CONFIG)
    address = listen.bound_address(sock)
    listen.hand_over(sock)
    return address


def _prepared_env(environ: Mapping[str, str] | None) -> Mapping[str, str]:
    """The environment to start from: ``environ`` (default: the process environment) with
    the values of ``AGENTDOCK_ENV_FILE`` added, secrets masked in all this process writes
    from now on, and, for the process environment, the image's tuned hardware defaults."""
    env = os.environ if environ is None else environ
    from agentdock_runtime.envfile import EnvFileError, read_env_file
    from agentdock_runtime.logmask import install as mask_secrets_in_output

    try:
        handed = read_env_file(env)
    except EnvFileError as exc:
        _fatal([str(exc)], EX_CONFIG)
    if handed and environ is None:
        for name, value in handed.items():
            os.environ.setdefault(name, value)
    elif handed:
        env = {**handed, **env}
    # First of all, so nothing this process writes shows a value AGENTDOCK_SECRET_NAMES names.
    mask_secrets_in_output(env)
    if environ is None:
        # Tuned defaults of the image's hardware profile (OMP_NUM_THREADS, CUDA_VISIBLE_DEVICES,
        # ...) go into the environment first: OpenMP and PyTorch read them once, at load.
        from agentdock_runtime.machine import apply_machine_profile

        report = apply_machine_profile()
        if report.get("problem"):
            print(f"[WARN] machine profile: {report['problem']}", file=sys.stderr)
    return env


def main(environ: Mapping[str, str] | None = None) -> int:
    """Start the runtime described by ``environ`` (default: the process environment).

    Returns 0 after a graceful shutdown; exits with ``[FATAL]`` lines when it cannot start.
    """
    env = _prepared_env(environ)
    from agentdock.plugins import get_plugin_manager

    from agentdock_runtime import PipelineError, compile_pipeline, listen, logconfig
    from agentdock_runtime.app import get_server, load_agent, log_plugin_error

    try:
        settings = read_settings(env)
        manager = get_plugin_manager()
        if settings.spec_path.is_dir():
            from agentdock_runtime.hostentry import serve_directory

            return serve_directory(settings, env, manager)
        spec = load_spec(settings.spec_path, env, plugins=manager)
    except ConfigError as exc:
        _fatal(exc.lines, exc.code)
    # This process is the runtime: one log format for all it writes from here on.
    logconfig.configure(level=logconfig.level_of(spec))
    manager.add_error_listener(log_plugin_error)
    project_dir = settings.project_dir or settings.spec_path.resolve().parent
    host, port = _listen(settings, spec)
    try:
        agent = load_agent(spec, project_dir=project_dir, plugins=manager)
    except Exception as exc:
        _fatal(
            [f"cannot load {spec.agent.entrypoint}: {type(exc).__name__}: {exc}"],
            EX_SOFTWARE,
        )
    where = listen.url(host, port)
    if settings.insecure_no_auth:
        log.warning(
            "authentication is OFF (%s=1). Anyone who can reach %s can run this agent. "
            "Never use this in production.",
            INSECURE_ENV,
            where,
        )
    try:
        pipeline = compile_pipeline(
            spec, entry=agent.entry, plugins=manager, insecure_no_auth=settings.insecure_no_auth
        )
        server = get_server(spec, plugins=manager)
    except PipelineError as exc:
        _fatal([str(exc)], EX_CONFIG)
    log.info(
        "Serving %s on %s",
        spec.agent.name,
        where,
        extra={"event": "serving", "agent": spec.agent.name, "url": where, "port": port},
    )
    from agentdock.registry import RegistryError

    serve = server.serve
    try:
        accepts_drain = "drain_timeout" in inspect.signature(serve).parameters
    except (TypeError, ValueError):
        accepts_drain = False
    try:
        if accepts_drain:
            serve(pipeline, host, port, drain_timeout=settings.drain_timeout)
        else:
            serve(pipeline, host, port)
    except RegistryError as exc:
        # The server opens what its routes keep in the registry (the Platform API's
        # threads and runs) before it listens; the message names the store, no password.
        _fatal([str(exc)], EX_UNAVAILABLE)
    return 0
