"""The control plane: one Litestar service with the JSON API and the dashboard.

``agentdock controlplane`` serves it on the embedded defaults (the SQLite registry of the
AgentDock home, the local target); ``agentdock controlplane key create --role admin`` makes
the first platform key. See ``docs/controlplane.md``.
"""

from __future__ import annotations

from typing import Any

from agentdock import hookimpl

__all__ = ["agentdock_register_commands"]


@hookimpl
def agentdock_register_commands(cli: Any) -> None:
    """``agentdock controlplane``: serve the control plane; manage platform keys."""
    from agentdock_plugins.controlplane.commands import controlplane_command

    cli.add_command(controlplane_command)
