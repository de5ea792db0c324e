"""``agentdock serve DIR``: every agent of a directory under one server (:mod:`.hosting`).

The steps of ``agentdock serve FILE`` (:mod:`.commands`), for several agents: every
Dockfile validated (exit 1 with all findings), every agent loaded (exit 4), the address
(``--host``/``--port``, else the ``expose`` block of the first agent by directory name)
bound (exit 4 when taken), then the banner naming each agent's path, and the host served
until SIGINT or SIGTERM.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

from agentdock_cli import exitcodes
from agentdock_cli.output import print_json

from agentdock_plugins.litestar.commands import (
    _VERBOSE_HINT,
    _address,
    _listen_hint,
    _print_traceback,
    fail,
)

__all__ = ["serve_directory"]

log = logging.getLogger("agentdock.serve")


def serve_directory(
    directory: Path,
    plugins: Any,
    *,
    host: str | None,
    port: int | None,
    insecure_no_auth: bool,
    watch: bool,
    as_json: bool,
    verbose: bool,
) -> None:
    """Serve every agent of ``directory`` until stopped (exits on a failure)."""
    from agentdock_runtime import listen, logconfig
    from agentdock_runtime.hostcheck import served_app

    from agentdock_plugins.litestar.hosting import AgentHost, HostingError
    from agentdock_plugins.litestar.hosting.host import InvalidAgents
    from agentdock_plugins.litestar.limits import ServerLimits
    from agentdock_plugins.litestar.running import run

    logconfig.configure(requested="json" if as_json else None, debug_agentdock=verbose)
    agents = AgentHost(directory, plugins=plugins, insecure_no_auth=insecure_no_auth, watch=watch)
    try:
        specs = agents.load_all()
    except InvalidAgents as exc:
        _report_findings(exc.findings, as_json=as_json)
        raise SystemExit(exitcodes.INVALID) from None
    except HostingError as exc:
        fail(str(exc), exitcodes.INVALID, as_json=as_json)
        return
    except Exception as exc:
        if verbose:
            _print_traceback(exc)
        fail(
            f"cannot load an agent of {directory}: {type(exc).__name__}: {exc}",
            exitcodes.DEPLOY_FAILED,
            as_json=as_json,
            hint=None if verbose else _VERBOSE_HINT,
        )
        return
    bind_host, bind_port = _address(specs[0], host, port, insecure_no_auth)
    try:
        sock = listen.bind(bind_host, bind_port)
    except listen.ListenError as exc:
        fail(str(exc), exitcodes.DEPLOY_FAILED, as_json=as_json, hint=_listen_hint(exc))
        return
    bind_host, bind_port = listen.bound_address(sock)
    local = listen.local_url(bind_host, bind_port)
    if insecure_no_auth:
        log.warning(
            "authentication is OFF (--insecure-no-auth). Anyone who can reach %s can run "
            "these agents. Never use this in production.",
            local,
        )
    listen.hand_over(sock)
    names = sorted(agents.agents)
    if as_json:
        print_json(
            {
                "event": "serving",
                "agents": {name: f"{local}/agents/{name}" for name in names},
                "url": local,
                "host": bind_host,
                "port": bind_port,
                "reload": watch,
            }
        )
    else:
        where = (
            f"{local} (all interfaces, port {bind_port})"
            if listen.is_wildcard(bind_host)
            else local
        )
        log.info(
            "Serving %s on %s (%s)%s",
            ", ".join(names),
            where,
            ", ".join(f"/agents/{name}" for name in names),
            f"; reloading changes under {directory}" if watch else "",
            extra={"event": "serving", "agents": names, "url": local, "port": bind_port},
        )
    # Without authentication, only requests addressed to this machine (DNS rebinding).
    served = served_app(agents, insecure_no_auth=insecure_no_auth)
    run(served, host=bind_host, port=bind_port, limits=ServerLimits.from_env(os.environ))


def _report_findings(findings: list[Any], *, as_json: bool) -> None:
    """Every finding of every Dockfile, one line each (or one JSON document)."""
    import click

    if as_json:
        print_json({"ok": False, "errors": [{**f.to_dict(), "file": f.file} for f in findings]})
        return
    for finding in findings:
        where = f"{finding.file}: " if finding.file and not finding.line else ""
        click.echo(click.style("error: ", fg="red") + where + finding.one_line(), err=True)
