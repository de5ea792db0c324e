"""``agentdock serve``: run one agent, or every agent of a directory, as an HTTP service.

The command comes with the built-in server (it runs a server plugin, and uvicorn for
``--reload`` and ``--workers``), added to the CLI through ``agentdock_register_commands``;
it speaks the CLI's output and exit codes (:mod:`agentdock_cli.output`,
:mod:`agentdock_cli.exitcodes`).

The Dockfile is validated first (exit 1 with every finding, as ``validate`` prints them);
the pipeline then refuses to start without an auth provider for ``auth.mode`` unless
``--insecure-no-auth`` is given, which also binds to the loopback interface only.

The port is bound before the agent is loaded, and the banner printed only once the agent
is ready to serve, from the bound socket: a taken port is exit 4 with a hint, never a
banner, and ``--port 0`` prints the port the system picked. Every line of the run has one
format (:mod:`agentdock_runtime.logconfig`): readable text on a terminal, JSON lines
otherwise or with ``--json``.

A directory without a ``Dockfile.yaml`` of its own hosts every agent found in its
sub-directories (:mod:`.hosting`): each under ``/agents/{name}/``, reloaded in place when
its files change unless ``--no-reload`` is given. Every Dockfile is validated first (exit 1
with every finding, or one line for an empty directory or two agents of one name).
"""

from __future__ import annotations

import logging
import os
import tempfile
import traceback
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
from agentdock_cli import exitcodes
from agentdock_cli.output import print_json

if TYPE_CHECKING:
    from agentdock.spec import DockSpec

__all__ = ["fail", "serve_command"]

_LOOPBACK = "127.0.0.1"
#: prometheus-client's multiprocess mode: where every worker writes its metrics.
_METRICS_DIR_ENV = "PROMETHEUS_MULTIPROC_DIR"

log = logging.getLogger("agentdock.serve")


def fail(message: str, code: int, *, as_json: bool, hint: str | None = None) -> None:
    if as_json:
        body = {"ok": False, "error": message}
        if hint:
            body["hint"] = hint
        print_json(body)
    else:
        click.echo(click.style("error: ", fg="red") + message, err=True)
        if hint:
            click.echo(f"  hint: {hint}", err=True)
    raise SystemExit(code)


@click.command("serve")
@click.argument("file", required=False, default="Dockfile.yaml", type=click.Path(path_type=Path))
@click.option("--host", default=None, help="Interface to bind (default: expose.host).")
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=None,
    help="Default: expose.port. 0 picks a free port (printed when serving).",
)
@click.option(
    "--insecure-no-auth",
    is_flag=True,
    help="Serve WITHOUT authentication, on 127.0.0.1 only (local development).",
)
@click.option(
    "--reload/--no-reload",
    default=None,
    help="Restart when files in the project change (a directory of agents: reload the "
    "changed agent in place, on by default).",
)
@click.option(
    "--allowed-host",
    "allowed_hosts",
    multiple=True,
    metavar="NAME",
    help="With --insecure-no-auth: a host name requests may be addressed to besides "
    "localhost, 127.0.0.1 and [::1] (repeatable; *.example.com for a whole domain; added to "
    "AGENTDOCK_ALLOWED_HOSTS). Other names are refused with 403 (DNS rebinding).",
)
@click.option("--workers", type=click.IntRange(min=1), default=1, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print JSON lines instead of text.")
@click.option(
    "-v",
    "--verbose",
    is_flag=True,
    help="Show the traceback of an agent that fails to load; AgentDock's debug records.",
)
def serve_command(
    file: Path,
    host: str | None,
    port: int | None,
    insecure_no_auth: bool,
    reload: bool | None,
    allowed_hosts: tuple[str, ...],
    workers: int,
    as_json: bool,
    verbose: bool,
) -> None:
    """Serve the agent of FILE (default ./Dockfile.yaml) over HTTP until stopped.

    FILE may be a directory holding agent directories (each with its Dockfile.yaml): all
    are served, each under /agents/NAME/, and reloaded when their files change.

    With --insecure-no-auth only requests addressed to localhost, 127.0.0.1, [::1] or an
    --allowed-host name are answered (403 otherwise), so that a web page cannot reach the
    agent through a name re-pointed at 127.0.0.1 (DNS rebinding).

    Exits 0 after a clean shutdown (SIGINT or SIGTERM), 1 when the Dockfile is invalid,
    2 on bad options, 4 when the runtime cannot start (the port is taken, the agent does
    not load), 5 when FILE does not exist.
    """
    from agentdock.plugins import get_plugin_manager

    _allow_hosts(allowed_hosts, insecure_no_auth)
    if file.is_dir() and not (file / "Dockfile.yaml").exists():
        from agentdock_plugins.litestar.hosting.commands import serve_directory

        if workers > 1:
            raise click.UsageError("a directory of agents is served by one process: no --workers")
        serve_directory(
            file,
            get_plugin_manager(),
            host=host,
            port=port,
            insecure_no_auth=insecure_no_auth,
            watch=reload is not False,
            as_json=as_json,
            verbose=verbose,
        )
        raise SystemExit(exitcodes.OK)
    reload = bool(reload)
    target = file / "Dockfile.yaml" if file.is_dir() else file
    if not target.exists():
        fail(f"{target} does not exist", exitcodes.NOT_FOUND, as_json=as_json)
    manager = get_plugin_manager()
    spec = _valid_spec(target, manager, as_json)
    bind_host, bind_port = _address(spec, host, port, insecure_no_auth)

    from agentdock_runtime import listen, logconfig

    # One format for every line of the run: the event lines, AgentDock's and uvicorn's.
    log_format = logconfig.configure(
        level=logconfig.level_of(spec),
        requested="json" if as_json else None,
        debug_agentdock=verbose,
    )
    try:
        sock = listen.bind(bind_host, bind_port)
    except listen.ListenError as exc:
        fail(str(exc), exitcodes.DEPLOY_FAILED, as_json=as_json, hint=_listen_hint(exc))
        return
    bind_host, bind_port = listen.bound_address(sock)
    if insecure_no_auth:
        log.warning(
            "authentication is OFF (--insecure-no-auth). Anyone who can reach %s can run "
            "this agent. Never use this in production.",
            listen.url(bind_host, bind_port),
        )

    from agentdock_runtime.app import DOCKFILE_ENV, INSECURE_ENV

    loaded = _load(spec, target, manager, sock, insecure_no_auth, verbose=verbose, as_json=as_json)
    if loaded is None:
        return
    agent, pipeline, server = loaded

    if reload or workers > 1:
        # uvicorn binds in its own process and hands the socket to the workers: the port
        # is free again (checked above, and picked when 0) a moment before it does.
        sock.close()
        _announce(spec, bind_host, bind_port, as_json=as_json)
        _run_uvicorn(
            target,
            agent,
            server,
            bind_host,
            bind_port,
            insecure_no_auth=insecure_no_auth,
            reload=reload,
            workers=workers,
            log_config=logconfig.dict_config(
                log_format, logconfig.level_of(spec), debug_agentdock=verbose
            ),
            dockfile_env=DOCKFILE_ENV,
            insecure_env=INSECURE_ENV,
        )
    else:
        listen.hand_over(sock)
        _announce(spec, bind_host, bind_port, as_json=as_json)
        server.serve(pipeline, bind_host, bind_port)
    raise SystemExit(exitcodes.OK)


def _allow_hosts(names: tuple[str, ...], insecure_no_auth: bool) -> None:
    """Check ``--allowed-host`` and ``AGENTDOCK_ALLOWED_HOSTS`` (a usage error, exit 2,
    names the bad one) and hand both to the server, and to uvicorn's workers, through the
    variable. With authentication the variable is not read at all: a setting the server
    ignores does not stop it."""
    from agentdock_runtime.hostcheck import (
        ALLOWED_HOSTS_ENV,
        allowed_hosts_from_env,
        check_host_names,
    )

    if names and not insecure_no_auth:
        raise click.UsageError(
            "--allowed-host applies with --insecure-no-auth only (with authentication the "
            "host name is not checked)"
        )
    if not insecure_no_auth:
        return
    if any(not name.strip() for name in names):
        raise click.UsageError("--allowed-host: an empty value is not a host name")
    try:
        known = allowed_hosts_from_env(os.environ)
        given = check_host_names(names, "--allowed-host")
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
    if given:
        os.environ[ALLOWED_HOSTS_ENV] = ",".join(dict.fromkeys((*known, *given)))


def _address(
    spec: DockSpec, host: str | None, port: int | None, insecure_no_auth: bool
) -> tuple[str, int]:
    """Where to listen: the options, else ``expose``; without authentication, the loopback
    interface only (another host is a usage error)."""
    from agentdock_runtime.hostcheck import is_loopback

    bind_host = host if host is not None else spec.expose.host
    bind_port = port if port is not None else spec.expose.port
    if insecure_no_auth:
        if host is not None and not is_loopback(host):
            raise click.UsageError("--insecure-no-auth serves on the loopback interface only")
        bind_host = host or _LOOPBACK
    return bind_host, bind_port


def _valid_spec(target: Path, manager: Any, as_json: bool) -> DockSpec:
    """The Dockfile's spec, or its findings printed and exit 1. The entrypoint is imported
    in this process right after, so it is not probed first."""
    from agentdock.validation import validate

    # Without the readiness audit (warnings only; ``agentdock validate`` shows them).
    report = validate(target, plugins=manager, skip_imports=True, audit=False)
    if not report.ok:
        from agentdock_cli.commands.validate import print_report

        if as_json:
            print_json(report.to_dict())
        else:
            print_report(report, verbose=False)
        raise SystemExit(exitcodes.INVALID)
    spec: DockSpec = report.spec
    return spec


def _load(
    spec: DockSpec,
    target: Path,
    manager: Any,
    sock: Any,
    insecure_no_auth: bool,
    *,
    verbose: bool,
    as_json: bool,
) -> tuple[Any, Any, Any] | None:
    """The agent, its compiled pipeline and the server plugin; on failure the bound socket
    is closed and the cause reported (exit 4, the traceback with ``-v``)."""
    from agentdock_runtime import PipelineError, compile_pipeline
    from agentdock_runtime.app import get_server, load_agent

    try:
        agent = load_agent(spec, project_dir=target.resolve().parent, plugins=manager)
        pipeline = compile_pipeline(
            spec, entry=agent.entry, plugins=manager, insecure_no_auth=insecure_no_auth
        )
        server = get_server(spec, plugins=manager)
    except PipelineError as exc:
        sock.close()
        if verbose:
            _print_traceback(exc)
        hint = (
            "install an auth provider plugin, or pass --insecure-no-auth for local development"
            if "auth provider" in str(exc)
            else None
            if verbose
            else _VERBOSE_HINT
        )
        fail(str(exc), exitcodes.DEPLOY_FAILED, as_json=as_json, hint=hint)
        return None
    except Exception as exc:
        sock.close()
        if verbose:
            _print_traceback(exc)
        fail(
            f"cannot load {spec.agent.entrypoint}: {type(exc).__name__}: {exc}",
            exitcodes.DEPLOY_FAILED,
            as_json=as_json,
            hint=None if verbose else _VERBOSE_HINT,
        )
        return None
    return agent, pipeline, server


_VERBOSE_HINT = "run again with -v for the traceback"


def _print_traceback(exc: BaseException) -> None:
    click.echo("".join(traceback.format_exception(exc)).rstrip(), err=True)


def _listen_hint(exc: Any) -> str:
    """What to do about a port that cannot be listened on."""
    import errno

    free = "pass --port N, or --port 0 to pick a free one"
    if exc.in_use:
        return (
            f"another process listens on port {exc.port} (an agent started with "
            f"'agentdock deploy'? see 'agentdock status AGENT'): {free}"
        )
    if exc.errno == errno.EACCES:
        return f"ports below 1024 need privileges: {free}"
    if exc.errno == errno.EADDRNOTAVAIL:
        return "--host must be an address of this machine (127.0.0.1, 0.0.0.0, ...)"
    return free


def _announce(spec: DockSpec, host: str, port: int, *, as_json: bool) -> None:
    """The banner, from the bound address: printed once the agent is loaded."""
    from agentdock_runtime import listen

    local = listen.local_url(host, port)
    docs = f"{local}/docs" if _docs_served(spec) else None
    if as_json:
        print_json(
            {
                "event": "serving",
                "agent": spec.agent.name,
                "url": local,
                "host": host,
                "port": port,
                "docs": docs,
            }
        )
        return
    where = f"{local} (all interfaces, port {port})" if listen.is_wildcard(host) else local
    log.info(
        "Serving %s on %s%s",
        spec.agent.name,
        where,
        f" (docs: {docs})" if docs else "",
        extra={"event": "serving", "agent": spec.agent.name, "url": local, "port": port},
    )


def _docs_served(spec: DockSpec) -> bool:
    return bool(getattr(spec.expose, "docs", True))


def _run_uvicorn(
    target: Path,
    agent: Any,
    server: Any,
    host: str,
    port: int,
    *,
    insecure_no_auth: bool,
    reload: bool,
    workers: int,
    log_config: dict[str, Any],
    dockfile_env: str,
    insecure_env: str,
) -> None:
    import uvicorn
    from agentdock.capabilities import ServerOptions
    from agentdock_runtime.sharedlimit import RATELIMIT_FILE_ENV

    # uvicorn re-imports the app in each worker: hand it the Dockfile through the env.
    os.environ[dockfile_env] = str(target.resolve())
    os.environ[insecure_env] = "1" if insecure_no_auth else "0"
    # One rate-limit table for every worker (and every reload): a caller's budget is the
    # agent's, not each process's. Fresh for each run, in memory where the host has a tmpfs.
    limits_dir = tempfile.TemporaryDirectory(prefix="agentdock-ratelimit-", dir=_shm_dir())
    os.environ[RATELIMIT_FILE_ENV] = str(Path(limits_dir.name) / "limits.bin")
    metrics_dir = None
    if workers > 1 and not reload:
        # One directory of metric files shared by the workers: /metrics of any worker
        # reports them all. Ours is removed when serve exits; a given one is emptied of
        # the files of an earlier run.
        given = os.environ.get(_METRICS_DIR_ENV)
        if given:
            for stale in Path(given).glob("*.db"):
                stale.unlink(missing_ok=True)
        else:
            metrics_dir = tempfile.TemporaryDirectory(prefix="agentdock-metrics-")
            os.environ[_METRICS_DIR_ENV] = metrics_dir.name
    # The server plugin's bounds (read deadlines, WebSocket message size), if it has any.
    limits = server.uvicorn_options if isinstance(server, ServerOptions) else None
    uvicorn.run(
        "agentdock_runtime.app:app_from_env",
        factory=True,
        host=host,
        port=port,
        reload=reload,
        reload_dirs=[str(agent.project_dir)] if reload else None,
        workers=None if reload else workers,
        lifespan="on",
        access_log=False,
        log_config=log_config,
        **(limits() if limits is not None else {}),
    )
    if metrics_dir is not None:
        metrics_dir.cleanup()
    limits_dir.cleanup()


def _shm_dir() -> str | None:
    """``/dev/shm`` when it is a writable directory (a tmpfs: the table never touches a
    disk), else the default temporary directory."""
    shm = "/dev/shm"  # noqa: S108 - a private directory is made inside it
    return shm if os.path.isdir(shm) and os.access(shm, os.W_OK | os.X_OK) else None
