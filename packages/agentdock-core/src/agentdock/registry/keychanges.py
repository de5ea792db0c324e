"""Telling running runtimes that API keys changed, from the process that changed them.

A runtime keeps the rows of the keys it has seen in memory, so that a busy key costs no
database read. When ``key revoke`` or ``key rotate`` commits, every runtime must re-read
those rows within a second, on this host and on others. The writer tells them:

- SQLite: nothing is sent. Runtimes on the host watch the file's ``PRAGMA data_version``,
  which moves with every commit made by another connection.
- PostgreSQL: ``NOTIFY`` on :data:`KEY_CHANNEL`, in the transaction that made the change,
  so it is delivered exactly when the change is visible (the store plugin does it).
- Plugins: the ``agentdock_api_keys_changed`` hook, after the commit. The built-in auth
  plugin publishes the change on Redis :data:`KEY_CHANNEL` when ``AGENTDOCK_REDIS_URL`` is
  set.

Runtimes only listen and read: none of this needs a runtime to write to the registry. A
message is :func:`change_message`'s JSON (the agent, the key ids, the action; never a key
or a digest); a runtime re-reads the rows it holds when the agent is its own or unknown.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

__all__ = ["KEY_CHANNEL", "announce", "change_message", "changed_agent"]

#: The Postgres NOTIFY channel and the Redis pub/sub channel of key changes.
KEY_CHANNEL = "agentdock_api_keys"


def change_message(agent: str, key_ids: Sequence[str], action: str) -> str:
    """The payload announcing that ``action`` changed ``key_ids`` of ``agent``."""
    return json.dumps(
        {"agent": agent, "key_ids": list(key_ids), "action": action}, separators=(",", ":")
    )


def changed_agent(message: str | bytes | None) -> str | None:
    """The agent a change message names; None when it names none or cannot be read (the
    receiver then treats it as a change of its own keys)."""
    if message is None:
        return None
    try:
        agent = json.loads(message).get("agent")
    except (ValueError, AttributeError, TypeError):
        return None
    return agent if isinstance(agent, str) else None


def announce(agent: str, key_ids: Sequence[str], action: str) -> None:
    """Call every ``agentdock_api_keys_changed`` hook; one that raises is recorded in the
    plugin manager's errors and never fails the change, which is already committed."""
    from agentdock.plugins import get_plugin_manager

    manager = get_plugin_manager()
    if manager.implements("agentdock_api_keys_changed"):
        manager.call_each(
            "agentdock_api_keys_changed", agent=agent, key_ids=list(key_ids), action=action
        )
