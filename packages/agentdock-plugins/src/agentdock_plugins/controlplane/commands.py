"""``agentdock controlplane``: serve the API and the dashboard; manage platform keys.

The control plane refuses to start without authentication unless told
``--insecure-no-auth`` and bound to a loopback address; with auth on and no live platform
key it says how to make the first one (``agentdock controlplane key create --role admin``).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import click
from agentdock_cli import exitcodes
from agentdock_cli.output import console, print_json

from agentdock_plugins.controlplane.access import is_loopback
from agentdock_plugins.controlplane.principals import ROLES

__all__ = ["controlplane_command", "is_loopback"]

DEFAULT_PORT = 8700
#: Seconds a stopping control plane gives open requests (event streams) before it closes them.
SHUTDOWN_GRACE_S = 5


def _fail(message: str, as_json: bool, code: int = exitcodes.INVALID) -> None:
    if as_json:
        print_json({"ok": False, "error": message})
    else:
        click.echo(f"error: {message}", err=True)
    raise SystemExit(code)


@click.group("controlplane", invoke_without_command=True)
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=DEFAULT_PORT, show_default=True, type=click.IntRange(0, 65535))
@click.option(
    "--projects",
    type=click.Path(path_type=Path, file_okay=False, exists=True),
    default=".",
    show_default=True,
    help="Directory the Dockfiles deployed from the API must lie under.",
)
@click.option(
    "--insecure-no-auth",
    is_flag=True,
    help="Everyone is admin, no sign-in (refused unless --host is a loopback address).",
)
@click.option("--secure-cookies", is_flag=True, help="Send the session cookie over HTTPS only.")
@click.option(
    "--target",
    default=None,
    metavar="NAME",
    help="Where deploys and builds go when the Dockfile names no deploy.target "
    "(docker, kubernetes, ...; default: local).",
)
@click.option(
    "--base-image",
    default=None,
    metavar="REF",
    help="The base image of every docker build (overrides build.base_image).",
)
@click.pass_context
def controlplane_command(
    ctx: click.Context,
    host: str,
    port: int,
    projects: Path,
    insecure_no_auth: bool,
    secure_cookies: bool,
    target: str | None,
    base_image: str | None,
) -> None:
    """Serve the control plane: the JSON API and, at /, the dashboard."""
    if ctx.invoked_subcommand is not None:
        return
    if insecure_no_auth and not is_loopback(host):
        _fail(
            f"--insecure-no-auth is only allowed on a loopback address, not {host!r}",
            False,
            exitcodes.USAGE,
        )
    from agentdock.plugins import get_plugin_manager
    from agentdock.registry import RegistryError, describe_store, open_store

    from agentdock_plugins.controlplane.app import controlplane_app
    from agentdock_plugins.controlplane.principals import platform_keys
    from agentdock_plugins.controlplane.state import ControlPlane
    from agentdock_plugins.litestar.running import run

    plugins = get_plugin_manager()
    known = sorted(plugins.registrations("targets"))
    if target is not None and target not in known:
        _fail(f"no target named {target!r} (known: {', '.join(known) or 'none'})", False)
    try:
        store = open_store()
    except RegistryError as exc:
        _fail(str(exc), False)
    if not insecure_no_auth:
        now = time.time()
        live = [k for k in platform_keys(store) if k.state(now) in ("active", "rotating")]
        if not live:
            store.close()
            _fail(
                "no platform key exists: create one with "
                "`agentdock controlplane key create --role admin`, or start with "
                "--insecure-no-auth on a loopback address",
                False,
            )
    plane = ControlPlane(
        store=store,
        projects=projects.resolve(),
        auth=not insecure_no_auth,
        plugins=plugins,
        target=target,
        build_options={"base_image": base_image} if base_image else {},
    )
    out = console()
    out.print(
        f"AgentDock control plane on http://{host}:{port}/ (registry {describe_store(store)}, "
        f"target {target or 'local'} unless a Dockfile names one)"
    )
    try:
        # Open event streams never end on their own: they get a few seconds, then go.
        run(
            controlplane_app(plane, secure_cookies=secure_cookies),
            host=host,
            port=port,
            timeout_graceful_shutdown=SHUTDOWN_GRACE_S,
        )
    finally:
        store.close()


@controlplane_command.group("key")
def key_group() -> None:
    """Platform keys: credentials of the control plane, not of one agent."""


@key_group.command("create")
@click.option("--role", type=click.Choice(ROLES), required=True, help="Platform role.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object on stdout.")
def key_create(role: str, as_json: bool) -> None:
    """Create a platform key; it is printed once and stored only as a digest."""
    from agentdock.deployment.workspace import actor
    from agentdock.registry import open_store

    from agentdock_plugins.controlplane.principals import create_platform_key, describe

    with open_store() as store:
        generated, record = create_platform_key(store, role, created_by=actor())
        store.append_audit(
            "controlplane.key.create",
            actor=actor(),
            target=record.key_id,
            details={"granted_role": role, "via": "cli"},
        )
    if as_json:
        print_json({"ok": True, "key": generated.key, **describe(record)})
    else:
        click.echo(
            f"Created platform key {record.key_id} ({role}). Store it now; it is not shown again:"
        )
        click.echo(generated.key)


@key_group.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object on stdout.")
def key_list(as_json: bool) -> None:
    """List platform keys (ids, roles, states; never the keys)."""
    from agentdock.registry import open_store

    from agentdock_plugins.controlplane.principals import describe, platform_keys

    with open_store() as store:
        rows: list[dict[str, Any]] = [describe(r) for r in platform_keys(store)]
    if as_json:
        print_json({"keys": rows})
        return
    for row in rows:
        click.echo(f"{row['key_id']}  {row['role']:<9}  {row['state']}")


@key_group.command("revoke")
@click.argument("key_id")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object on stdout.")
def key_revoke(key_id: str, as_json: bool) -> None:
    """Revoke a platform key at once (its browser sessions end with it)."""
    from agentdock.deployment.workspace import actor
    from agentdock.registry import open_store

    from agentdock_plugins.controlplane.principals import PLATFORM, describe

    with open_store() as store:
        record = store.revoke_api_key(agent=PLATFORM, key_id=key_id)
        if record is None:
            _fail(f"no platform key {key_id!r}", as_json, exitcodes.NOT_FOUND)
        assert record is not None
        store.append_audit("controlplane.key.revoke", actor=actor(), target=key_id)
    if as_json:
        print_json({"ok": True, **describe(record)})
    else:
        click.echo(f"Revoked platform key {key_id}")
