"""``--server URL``: the commands that act on a remote control plane instead of this machine.

``--server`` (or ``AGENTDOCK_SERVER``) names an ``agentdock controlplane``; its platform key
comes from ``AGENTDOCK_SERVER_KEY`` only. Options that only make sense on this machine are
refused with the usage exit code when a server is named, and so are ``cleanup``, ``rm``,
``sbom`` and ``audit-log verify``, which act on this machine's registry and artifacts only
(:func:`refuse_server`): a server named in the
environment does not send them to this machine's registry unnoticed.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypeVar

import click

from agentdock_cli import exitcodes
from agentdock_cli.output import err_console

__all__ = ["refuse_local_options", "refuse_server", "server_option"]

FC = TypeVar("FC", bound=Callable[..., Any])


def server_option(func: FC) -> FC:
    """``--server URL`` (env ``AGENTDOCK_SERVER``): act through that control plane."""
    option = click.option(
        "--server",
        envvar="AGENTDOCK_SERVER",
        default=None,
        metavar="URL",
        help="Act through the control plane at URL (env AGENTDOCK_SERVER; its platform key "
        "from AGENTDOCK_SERVER_KEY).",
    )
    return option(func)


def refuse_local_options(
    options: Mapping[str, Any],
    *,
    reason: str = "with --server (the control plane deploys as it is configured)",
) -> None:
    """Exit 2 naming the first option given that does not apply here (by default: to a
    remote control plane), and why."""
    for name, value in options.items():
        if value not in (None, False, (), ""):
            err_console().print(
                f"[red]✗[/red] --{name.replace('_', '-')} is not available: {reason}",
                markup=True,
                highlight=False,
            )
            raise SystemExit(exitcodes.USAGE)


def refuse_server(command: str, server: str | None, why: str | None = None) -> None:
    """Exit 2 when a control plane is named for ``command``, which acts on this machine's
    registry and artifacts only (the control plane has no API for it; ``why`` says more)."""
    if server:
        because = f" ({why})" if why else ""
        err_console().print(
            f"[red]✗[/red] agentdock {command} acts on this machine only and is not available "
            f"through a control plane{because}: run it on the control plane's host, without "
            "--server or AGENTDOCK_SERVER",
            markup=True,
            highlight=False,
        )
        raise SystemExit(exitcodes.USAGE)
