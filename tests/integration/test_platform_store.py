"""The Platform API's store, driven by the real ``langgraph-sdk`` (sync and async).

The served graph's node reads and writes the agent's LangGraph store (the ``store`` it is
given) under the caller's label (``config["configurable"]["langgraph_auth_user_id"]``, as
LangGraph Platform names the caller): what a run writes, ``client.store`` reads, and
what ``client.store`` writes, the next run reads.
"""

from __future__ import annotations

import asyncio
import textwrap
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from agentdock.registry import open_store
from auth_support import stored_key
from capturedevents import served_project
from langgraph_sdk import get_client, get_sync_client
from langgraph_sdk.errors import NotFoundError, PermissionDeniedError

AGENT_NAME = "store-notes"

GRAPH = textwrap.dedent(
    """
    from typing import Any, TypedDict

    from langchain_core.runnables import RunnableConfig
    from langgraph.graph import END, START, StateGraph
    from langgraph.store.base import BaseStore


    class State(TypedDict, total=False):
        text: str
        user: str
        note: str


    def build_graph():
        def remember(state: State, config: RunnableConfig, *, store: BaseStore) -> dict[str, Any]:
            user = config["configurable"].get("langgraph_auth_user_id", "anonymous")
            namespace = (user, "memories")
            note = store.get(namespace, "note")
            store.put(namespace, "last", {"text": state.get("text", "")})
            return {"user": user, "note": note.value["text"] if note else ""}

        graph = StateGraph(State)
        graph.add_node("remember", remember)
        graph.add_edge(START, "remember")
        graph.add_edge("remember", END)
        return graph.compile()
    """
)

DOCKFILE = f"""\
version: "1.1"
agent: {{name: {AGENT_NAME}, entrypoint: "store_agent:build_graph", framework: langgraph}}
model: {{provider: custom, name: offline}}
io_schema:
  input: {{type: object, properties: {{text: {{type: string}}}}}}
  output:
    type: object
    properties: {{user: {{type: string}}, note: {{type: string}}}}
auth:
  mode: api_key
  api_keys: {{enabled: true}}
expose: {{rest: true, streaming: sse, port: 8080}}
"""


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    root = tmp_path_factory.mktemp("store")
    with served_project(root, AGENT_NAME, "store_agent", GRAPH, DOCKFILE) as served:
        with open_store() as store:  # a second caller whose role may run the agent
            served["other"] = stored_key(store, AGENT_NAME, "developer")[0].key
        yield served


def test_sync_client_and_graph_share_the_store(server: dict[str, Any]) -> None:
    client = get_sync_client(url=server["url"], api_key=server["keys"]["developer"])
    first = client.runs.wait(None, AGENT_NAME, input={"text": "hello"})
    me = first["user"]
    assert me.startswith("key:") and first["note"] == ""
    # A caller cannot say it is someone else.
    spoof = {"configurable": {"langgraph_auth_user_id": "key:someone-else"}}
    assert client.runs.wait(None, AGENT_NAME, input={"text": "hello"}, config=spoof)["user"] == me
    # What the node put, the API gets.
    item = client.store.get_item([me, "memories"], "last")
    assert item["value"] == {"text": "hello"} and item["namespace"] == [me, "memories"]
    assert item["key"] == "last" and item["created_at"] and item["updated_at"]
    # What the API puts, the next run reads.
    client.store.put_item([me, "memories"], "note", {"text": "from the api"})
    assert client.runs.wait(None, AGENT_NAME, input={"text": "again"})["note"] == "from the api"
    found = client.store.search_items([me], limit=10)
    assert sorted(i["key"] for i in found["items"]) == ["last", "note"]
    assert client.store.search_items([me], filter={"text": "again"})["items"][0]["key"] == "last"
    assert client.store.list_namespaces() == {"namespaces": [[me, "memories"]]}
    assert client.store.list_namespaces(prefix=[me], max_depth=1) == {"namespaces": [[me]]}
    client.store.delete_item([me, "memories"], "note")
    with pytest.raises(NotFoundError):
        client.store.get_item([me, "memories"], "note")


def test_async_client_and_a_callers_items_are_its_own(server: dict[str, Any]) -> None:
    async def run() -> None:
        mine = get_client(url=server["url"], api_key=server["keys"]["developer"])
        theirs = get_client(url=server["url"], api_key=server["other"])
        me = (await mine.runs.wait(None, AGENT_NAME, input={"text": "mine"}))["user"]
        other = (await theirs.runs.wait(None, AGENT_NAME, input={"text": "theirs"}))["user"]
        assert me != other
        await theirs.store.put_item([other, "prefs"], "color", {"value": "blue"})
        got = await theirs.store.get_item([other, "prefs"], "color")
        assert got["value"] == {"value": "blue"}
        # The other caller's namespaces are refused by name and absent from listings.
        with pytest.raises(PermissionDeniedError):
            await mine.store.get_item([other, "prefs"], "color")
        with pytest.raises(PermissionDeniedError):
            await mine.store.put_item([other, "prefs"], "color", {"value": "red"})
        with pytest.raises(PermissionDeniedError):
            await mine.store.search_items([other])
        listed = (await mine.store.list_namespaces())["namespaces"]
        assert listed and all(namespace[0] == me for namespace in listed)
        searched = (await mine.store.search_items([], limit=100))["items"]
        assert searched and all(item["namespace"][0] == me for item in searched)
        assert (await theirs.store.get_item([other, "prefs"], "color"))["value"] == {
            "value": "blue"
        }

    asyncio.run(run())


def _envelope(answer: httpx.Response, status: int, name: str, path: str | None = None) -> None:
    assert answer.status_code == status, answer.text
    body = answer.json()
    assert body["error"] == name and body["detail"]
    if path is not None:
        assert body["path"] == path


def test_bad_store_requests_get_the_envelope(server: dict[str, Any]) -> None:
    key = server["keys"]["developer"]
    with httpx.Client(base_url=server["url"], headers={"x-api-key": key}, timeout=30) as http:
        me = http.post(
            "/runs/wait", json={"assistant_id": AGENT_NAME, "input": {"text": "x"}}
        ).json()["user"]
        put = "/store/items"
        _envelope(http.put(put, json={"namespace": [me], "value": {}}), 422, "ValidationError")
        _envelope(http.put(put, json={"key": "k", "value": {}}), 422, "ValidationError")
        _envelope(
            http.put(put, json={"namespace": [me], "key": "", "value": {}}),
            422,
            "ValidationError",
            "key",
        )
        _envelope(
            http.put(put, json={"namespace": [me, "a.b"], "key": "k", "value": {}}),
            422,
            "ValidationError",
            "namespace[1]",
        )
        _envelope(
            http.put(put, json={"namespace": [me], "key": "k", "value": "text"}),
            422,
            "ValidationError",
            "value",
        )
        _envelope(
            http.put(put, content=b"{nope", headers={"content-type": "application/json"}),
            400,
            "MalformedJSONError",
        )
        big = {"namespace": [me], "key": "k", "value": {"blob": "x" * 300_000}}
        _envelope(http.put(put, json=big), 413, "PayloadTooLarge", "value")
        _envelope(http.get(put, params={"key": "k"}), 422, "ValidationError", "namespace")
        _envelope(http.get(put, params={"namespace": me}), 422, "ValidationError", "key")
        _envelope(http.get(put, params={"namespace": me, "key": "nothing"}), 404, "NotFound")
        _envelope(
            http.request("DELETE", put, json={"namespace": [me]}),
            422,
            "ValidationError",
        )
        _envelope(
            http.post("/store/items/search", json={"namespace_prefix": [me], "limit": -1}),
            422,
            "ValidationError",
            "limit",
        )
        _envelope(
            http.post("/store/namespaces", json={"max_depth": 0}),
            422,
            "ValidationError",
            "max_depth",
        )
        # Credentials as on every route: none is 401, a role without invoke 403.
        nobody = httpx.get(f"{server['url']}{put}", params={"namespace": me, "key": "last"})
        _envelope(nobody, 401, "Unauthorized")
        viewer = httpx.get(
            f"{server['url']}{put}",
            params={"namespace": me, "key": "last"},
            headers={"x-api-key": server["keys"]["viewer"]},
        )
        _envelope(viewer, 403, "Forbidden")
