"""The agent's LangGraph store: chosen by the checkpointer's configuration, kept in the
checkpointer's SQLite file, and the same one the graph's nodes get."""

from __future__ import annotations

import asyncio
from pathlib import Path
from types import SimpleNamespace
from typing import Any, TypedDict

import pytest
from agentdock.run import RunContext
from agentdock_plugins.langgraph.adapter import LangGraphAdapter
from agentdock_plugins.langgraph.sqlitestore import SqliteItemStore
from agentdock_plugins.langgraph.store import make_store
from agentdock_plugins.langgraph.storescope import caller_label
from langchain_core.runnables import RunnableConfig
from langgraph.graph import END, START, StateGraph
from langgraph.store.base import BaseStore
from langgraph.store.memory import InMemoryStore


@pytest.mark.parametrize("checkpointer", ["memory", "none", "redis"])
def test_memory_for_checkpointers_without_a_file(checkpointer: str, tmp_path: Path) -> None:
    assert isinstance(make_store({"checkpointer": checkpointer}, tmp_path), InMemoryStore)


def test_sqlite_items_outlive_the_store(tmp_path: Path) -> None:
    arguments = {"checkpointer": "sqlite", "checkpoint_path": "state/checkpoints.db"}
    store = make_store(arguments, tmp_path)
    assert isinstance(store, SqliteItemStore)
    store.put(("u", "notes"), "a", {"text": "kept"})
    store.close()
    again = make_store(arguments, tmp_path)
    try:
        found = asyncio.run(again.aget(("u", "notes"), "a"))  # the async side, threaded
        assert found is not None and found.value == {"text": "kept"}
    finally:
        again.close()
    assert (tmp_path / "state" / "checkpoints.db").exists()


def test_store_named_apart_from_the_checkpointer(tmp_path: Path) -> None:
    store = make_store({"checkpointer": "memory", "store": "sqlite"}, tmp_path)
    assert isinstance(store, SqliteItemStore)
    store.close()
    with pytest.raises(ValueError, match=r"arguments\.store"):
        make_store({"store": "mongo"}, tmp_path)


def test_postgres_store_needs_the_url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AGENTDOCK_CHECKPOINT_URL", raising=False)
    with pytest.raises(ValueError, match="AGENTDOCK_CHECKPOINT_URL"):
        make_store({"checkpointer": "postgres"}, tmp_path)


def test_caller_labels_are_namespace_labels_one_to_one() -> None:
    assert caller_label("key:abc") == "key:abc"
    assert "." not in caller_label("ada@example.com")
    assert caller_label("a.b") != caller_label("a%2Eb")


class _State(TypedDict, total=False):
    text: str
    seen: str


def _graph(own_store: BaseStore | None = None) -> Any:
    def node(state: _State, config: RunnableConfig, *, store: BaseStore) -> dict[str, Any]:
        user = config["configurable"].get("langgraph_auth_user_id", "anonymous")
        store.put((user,), "last", {"text": state.get("text", "")})
        found = store.get((user,), "seed")
        return {"seen": found.value["text"] if found else ""}

    graph = StateGraph(_State)
    graph.add_node("node", node)
    graph.add_edge(START, "node")
    graph.add_edge("node", END)
    return graph.compile(store=own_store)


def test_the_graph_gets_the_store_the_adapter_serves(tmp_path: Path) -> None:
    spec = SimpleNamespace(model=None, arguments={})
    adapter = LangGraphAdapter(_graph(), spec, project_dir=tmp_path)  # type: ignore[arg-type]
    try:
        store = adapter.store
        assert isinstance(store, InMemoryStore)
        store.put(("key:a",), "seed", {"text": "planted"})
        result = asyncio.run(adapter.invoke({"text": "hi"}, RunContext("r1", subject="key:a")))
        assert result.output["seen"] == "planted"
        last = store.get(("key:a",), "last")
        assert last is not None and last.value == {"text": "hi"}
        # A thread run (the graph with its checkpointer) uses the same store.
        asyncio.run(
            adapter.invoke({"text": "again"}, RunContext("r2", thread_id="t", subject="key:a"))
        )
        last = store.get(("key:a",), "last")
        assert last is not None and last.value == {"text": "again"}
    finally:
        adapter.close()


def test_a_graph_with_its_own_store_keeps_it(tmp_path: Path) -> None:
    own = InMemoryStore()
    spec = SimpleNamespace(model=None, arguments={})
    adapter = LangGraphAdapter(_graph(own), spec, project_dir=tmp_path)  # type: ignore[arg-type]
    try:
        assert adapter.store is own
        asyncio.run(adapter.invoke({"text": "x"}, RunContext("r1")))
        assert own.get(("anonymous",), "last") is not None
    finally:
        adapter.close()
