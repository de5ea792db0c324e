"""``agentdock serve``: run one agent as an HTTP service on this machine.

The Dockfile is validated first (exit 1 with every finding, as ``validate`` prints them);
the pipeline then refuses to start without an auth provider for ``auth.mode`` unless
``--insecure-no-auth`` is given, which also binds to the loopback interface only.
"""

from __future__ import annotations

import ipaddress
import os
import sys
import tempfile
from pathlib import Path

import click

from agentdock_cli import exitcodes
from agentdock_cli.output import print_json

__all__ = ["serve_command"]

_LOOPBACK = "127.0.0.1"
#: prometheus-client's multiprocess mode: where every worker writes its metrics.
_METRICS_DIR_ENV = "PROMETHEUS_MULTIPROC_DIR"
#: Read by the structured-log sink: one readable line per event instead of JSON.
_LOG_FORMAT_ENV = "AGENTDOCK_LOG_FORMAT"


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _fail(message: str, code: int, *, as_json: bool, hint: str | None = None) -> None:
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
@click.option("--port", type=click.IntRange(1, 65535), default=None, help="Default: expose.port.")
@click.option(
    "--insecure-no-auth",
    is_flag=True,
    help="Serve WITHOUT authentication, on 127.0.0.1 only (local development).",
)
@click.option("--reload", is_flag=True, help="Restart when files in the project change.")
@click.option("--workers", type=click.IntRange(min=1), default=1, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print JSON lines instead of text.")
def serve_command(
    file: Path,
    host: str | None,
    port: int | None,
    insecure_no_auth: bool,
    reload: bool,
    workers: int,
    as_json: bool,
) -> None:
    """Serve the agent of FILE (default ./Dockfile.yaml) over HTTP until stopped.

    Exits 0 after a clean shutdown (SIGINT or SIGTERM), 1 when the Dockfile is invalid,
    2 on bad options, 4 when the runtime cannot start, 5 when FILE does not exist.
    """
    from agentdock.plugins import get_plugin_manager
    from agentdock.validation import validate

    target = file / "Dockfile.yaml" if file.is_dir() else file
    if not target.exists():
        _fail(f"{target} does not exist", exitcodes.NOT_FOUND, as_json=as_json)
    manager = get_plugin_manager()
    # The entrypoint is imported in this process just below; no need to probe it first.
    report = validate(target, plugins=manager, skip_imports=True)
    if not report.ok:
        from agentdock_cli.commands.validate import _print_human

        if as_json:
            print_json(report.to_dict())
        else:
            _print_human(report, verbose=False)
        raise SystemExit(exitcodes.INVALID)
    spec = report.spec
    # Event logs: readable lines in a terminal, JSON lines with --json or when piped.
    human = not as_json and sys.stdout.isatty()
    os.environ.setdefault(_LOG_FORMAT_ENV, "text" if human else "json")
    bind_host = host if host is not None else spec.expose.host
    bind_port = port if port is not None else spec.expose.port
    if insecure_no_auth:
        if host is not None and not _is_loopback(host):
            raise click.UsageError("--insecure-no-auth serves on the loopback interface only")
        bind_host = host or _LOOPBACK
        click.secho(
            "WARNING: authentication is OFF (--insecure-no-auth). Anyone who can reach "
            f"{bind_host}:{bind_port} can run this agent. Never use this in production.",
            fg="red",
            bold=True,
            err=True,
        )

    from agentdock_runtime.app import DOCKFILE_ENV, INSECURE_ENV, get_server, load_agent
    from agentdock_runtime.pipeline import PipelineError, compile_pipeline

    try:
        agent = load_agent(spec, project_dir=target.resolve().parent, plugins=manager)
        pipeline = compile_pipeline(
            spec, entry=agent.entry, plugins=manager, insecure_no_auth=insecure_no_auth
        )
        server = get_server(spec, plugins=manager)
    except PipelineError as exc:
        hint = (
            "install an auth provider plugin, or pass --insecure-no-auth for local development"
            if "auth provider" in str(exc)
            else None
        )
        _fail(str(exc), exitcodes.DEPLOY_FAILED, as_json=as_json, hint=hint)
        return
    except Exception as exc:
        _fail(
            f"cannot load {spec.agent.entrypoint}: {type(exc).__name__}: {exc}",
            exitcodes.DEPLOY_FAILED,
            as_json=as_json,
        )
        return

    url = f"http://{bind_host}:{bind_port}"
    if as_json:
        print_json({"event": "serving", "agent": spec.agent.name, "url": url})
    else:
        click.echo(f"Serving {spec.agent.name} on {url} (docs: {url}/docs)", err=True)

    if reload or workers > 1:
        import uvicorn

        # uvicorn re-imports the app in each worker: hand it the Dockfile through the env.
        os.environ[DOCKFILE_ENV] = str(target.resolve())
        os.environ[INSECURE_ENV] = "1" if insecure_no_auth else "0"
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
        limits = getattr(server, "uvicorn_options", None)
        uvicorn.run(
            "agentdock_runtime.app:app_from_env",
            factory=True,
            host=bind_host,
            port=bind_port,
            reload=reload,
            reload_dirs=[str(agent.project_dir)] if reload else None,
            workers=None if reload else workers,
            lifespan="on",
            access_log=False,
            **(limits() if callable(limits) else {}),
        )
        if metrics_dir is not None:
            metrics_dir.cleanup()
    else:
        server.serve(pipeline, bind_host, bind_port)
    raise SystemExit(exitcodes.OK)
