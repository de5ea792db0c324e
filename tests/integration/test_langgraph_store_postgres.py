"""``store: postgres``: LangGraph's ``PostgresStore`` on ``AGENTDOCK_CHECKPOINT_URL``,
shared by every replica (two stores on one database see the same items), and a server
that refuses says so without the URL's password."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import httpx
import pytest
from agentdock_plugins.langgraph.sharedcheckpoint import CheckpointerUnavailable
from agentdock_plugins.langgraph.store import make_store
from capturedevents import served_project
from pgserver import PgCluster
from platform_agents import ECHO_TEXT_GRAPH

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


STORE_AGENT = "pg-store"
STORE_DOCKFILE = f"""\
version: "1.1"
agent:
  name: {STORE_AGENT}
  entrypoint: "pg_store_agent:build_graph"
  framework: langgraph
arguments: {{checkpointer: memory, store: postgres}}
model: {{provider: custom, name: offline}}
io_schema:
  input: {{type: object, properties: {{text: {{type: string}}}}}}
  output: {{type: object, properties: {{text: {{type: string}}}}}}
auth:
  mode: api_key
  api_keys: {{enabled: true}}
expose: {{rest: true, port: 8080, threads: shared}}
"""


def test_the_store_routes_answer_503_while_postgres_is_down(
    pg_url: str, pg_cluster: PgCluster, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An outage of the store's Postgres is the state store's 503 with the error envelope
    (as a thread's state answers while the checkpointer's server is down), not a 500; the
    routes serve again once it is back, without a restart."""
    monkeypatch.setenv("AGENTDOCK_CHECKPOINT_URL", pg_url)
    with served_project(
        tmp_path, STORE_AGENT, "pg_store_agent", ECHO_TEXT_GRAPH, STORE_DOCKFILE
    ) as served:
        url = served["url"]
        headers = {"x-api-key": served["keys"]["developer"]}
        item = {"namespace": ["notes"], "key": "n1", "value": {"text": "kept"}}
        assert httpx.put(f"{url}/store/items", json=item, headers=headers).status_code == 204
        calls = [
            ("PUT", "/store/items", item, None),
            ("GET", "/store/items", None, {"namespace": "notes", "key": "n1"}),
            ("POST", "/store/items/search", {"namespace_prefix": ["notes"]}, None),
            ("POST", "/store/namespaces", {}, None),
            ("DELETE", "/store/items", {"namespace": ["notes"], "key": "n1"}, None),
        ]
        pg_cluster.stop()
        try:
            for method, path, body, params in calls:
                answer = httpx.request(
                    method, f"{url}{path}", json=body, params=params, headers=headers, timeout=60
                )
                assert answer.status_code == 503, (method, path, answer.text)
                envelope = answer.json()
                assert envelope["error"] == "StateStoreUnavailable" and envelope["code"] == 503
                assert "store" in envelope["detail"]
                assert pg_cluster.password not in answer.text and "127.0.0.1" not in answer.text
        finally:
            pg_cluster.start()
        # The pool reconnects on its own: the first write that succeeds shows it.
        deadline = time.monotonic() + 30
        while True:
            again = httpx.put(f"{url}/store/items", json=item, headers=headers, timeout=60)
            if again.status_code == 204 or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        assert again.status_code == 204, again.text
        found = httpx.get(
            f"{url}/store/items", params={"namespace": "notes", "key": "n1"}, headers=headers
        )
        assert found.status_code == 200, found.text
        assert found.json()["value"] == {"text": "kept"}
