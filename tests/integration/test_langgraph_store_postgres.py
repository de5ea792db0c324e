"""``store: postgres``: LangGraph's ``PostgresStore`` on ``AGENTDOCK_CHECKPOINT_URL``,
shared by every replica (two stores on one database see the same items), and a server
that refuses says so without the URL's password."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from agentdock_plugins.langgraph.sharedcheckpoint import CheckpointerUnavailable
from agentdock_plugins.langgraph.store import make_store

pytest_plugins = ("pgserver",)


def test_two_replicas_share_the_items(
    pg_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AGENTDOCK_CHECKPOINT_URL", pg_url)
    first = make_store({"checkpointer": "postgres"}, tmp_path)
    second = make_store({"checkpointer": "memory", "store": "postgres"}, tmp_path)
    try:
        first.put(("key:a", "notes"), "n1", {"text": "shared"})
        found = asyncio.run(second.aget(("key:a", "notes"), "n1"))
        assert found is not None and found.value == {"text": "shared"}
        listed = asyncio.run(second.alist_namespaces(prefix=("key:a",)))
        assert listed == [("key:a", "notes")]
    finally:
        for store in (first, second):
            store.close()  # type: ignore[attr-defined]


def test_a_refusing_server_is_named_without_its_password(
    pg_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    planted = "PlantedPassw0rd-9f3e"
    scheme, _, rest = pg_url.partition("://")
    user_part, _, host_part = rest.rpartition("@")
    wrong = f"{scheme}://{user_part.partition(':')[0]}:{planted}@{host_part}"
    monkeypatch.setenv("AGENTDOCK_CHECKPOINT_URL", wrong)
    with pytest.raises(CheckpointerUnavailable) as refused:
        make_store({"store": "postgres"}, tmp_path)
    assert planted not in str(refused.value) and "***" in str(refused.value)
