"""``agentdock key … --server URL``: an agent's API keys through a control plane's key API.

The control plane checks the platform key's role (a viewer may list, a developer create,
rotate and revoke) and writes the audit rows; a refusal exits 1 with its cause. The exit
codes are those of the local commands: ``create`` of an agent the control plane does not
know exits 1, ``list``, ``rotate`` and ``revoke`` of one exit 5, as does a key that is not
live. A new key is printed once, on stdout, and nowhere else.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from agentdock_cli import exitcodes
from agentdock_cli.commands._admin import fail

__all__ = ["remote_keys"]


@contextmanager
def remote_keys(
    server: str, as_json: bool, *, unknown_agent: int, codes: Mapping[str, int] | None = None
) -> Iterator[Any]:
    """The control plane at ``server`` (for ``key``, ``token issue`` and ``audit-log list``);
    an error it reports ends the command with the local command's exit code
    (``unknown_agent`` for a 404, ``codes`` by the error's name where the local command
    exits otherwise) and its one-line cause."""
    from agentdock.deployment import DeployError
    from agentdock.remote import control_plane

    try:
        with control_plane(server) as plane:
            yield plane
    except DeployError as exc:
        code = unknown_agent if exc.exit_code == exitcodes.NOT_FOUND else exc.exit_code
        code = (codes or {}).get(exc.name, code)
        fail(code, exc.name, exc.cause, as_json, hint=exc.hint)


def every_agents_keys(plane: Any) -> list[dict[str, Any]]:
    """The keys of every agent the control plane knows (what a local ``key list`` shows)."""
    return [key for row in plane.agents() for key in plane.list_keys(row["agent"])]
