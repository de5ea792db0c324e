"""The agent's LangGraph store: the one its graph's nodes get as ``store`` and the
Platform API's ``/store/items`` routes read and write, so both see the same items.

The Dockfile's ``arguments.store`` chooses it; absent, it follows ``checkpointer``:

``memory`` (for ``checkpointer: memory``, ``none`` and ``redis``)
    LangGraph's ``InMemoryStore``: items live in the process, not across restarts. (A
    Redis store needs RediSearch; name ``store: postgres`` or ``sqlite`` to keep items.)
``sqlite`` (for ``checkpointer: sqlite``)
    LangGraph's ``SqliteStore`` in the checkpointer's file (``store_path``, default
    ``checkpoint_path``): items are kept across restarts and versions.
``postgres`` (for ``checkpointer: postgres``)
    LangGraph's ``PostgresStore`` on ``AGENTDOCK_CHECKPOINT_URL``, over a pool: shared by
    every replica.

Each store is opened and set up at start-up. A graph compiled with its own store keeps
it, and the API serves that one. LangGraph's SQLite store (which imports NumPy through
``sqlite-vec``) is imported only when a Dockfile asks for it (:mod:`.sqlitestore`), so
other agents do not pay for its import.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from langgraph.store.base import BaseStore
from langgraph.store.memory import InMemoryStore

from agentdock_plugins.langgraph.checkpoint import checkpoint_path, shared_url

__all__ = ["STORES", "make_store"]

#: The values ``arguments.store`` accepts.
STORES = ("memory", "sqlite", "postgres")
#: The store each checkpointer brings when ``arguments.store`` is absent.
_FOLLOWS = {"memory": "memory", "none": "memory", "redis": "memory", "sqlite": "sqlite"}


def make_store(arguments: Mapping[str, Any], project_dir: Path) -> BaseStore:
    """The store ``arguments`` ask for (see the module's docstring)."""
    checkpointer = str(arguments.get("checkpointer", "memory")).lower()
    kind = str(arguments.get("store") or _FOLLOWS.get(checkpointer, "postgres")).lower()
    if kind not in STORES:
        raise ValueError(f"arguments.store is {kind!r}; expected one of {', '.join(STORES)}")
    if kind == "memory":
        return InMemoryStore()
    if kind == "sqlite":
        named = arguments.get("store_path")
        path = Path(str(named)) if named else checkpoint_path(arguments, project_dir)
        from agentdock_plugins.langgraph.sqlitestore import SqliteItemStore

        return SqliteItemStore.open(path if path.is_absolute() else project_dir / path)
    from agentdock_plugins.langgraph import sharedcheckpoint

    return sharedcheckpoint.open_postgres_store(shared_url("postgres"))
