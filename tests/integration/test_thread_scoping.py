"""Whose conversation a thread id names on ``/invoke`` and ``/stream``.

Two callers of the same agent, each with a key of a role that may run it, name the same
thread id: by default (``expose.threads: per_caller``) each holds a conversation of its
own, and neither reaches the other's, nor a Platform thread of the other's; with
``expose.threads: shared`` the id names one conversation for both.
"""

from __future__ import annotations

import json
import shutil
import textwrap
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from agentdock.registry import open_store
from auth_support import stored_key
from capturedevents import served_with_events
from langgraph_sdk import get_sync_client

AGENT_NAME = "thread-counter"

GRAPH = textwrap.dedent(
    """
    import operator
    from typing import Annotated, Any, TypedDict

    from langgraph.graph import END, START, StateGraph


    class State(TypedDict, total=False):
        text: str
        turns: Annotated[int, operator.add]


    def build_graph():
        def count(state: State) -> dict[str, Any]:
            return {"turns": 1}

        graph = StateGraph(State)
        graph.add_node("count", count)
        graph.add_edge(START, "count")
        graph.add_edge("count", END)
        return graph.compile()
    """
)


def _dockfile(threads: str | None) -> str:
    scope = f", threads: {threads}" if threads else ""
    return f"""\
version: "1.1"
agent: {{name: {AGENT_NAME}, entrypoint: "counter_agent:build_graph", framework: langgraph}}
model: {{provider: custom, name: offline}}
io_schema:
  input: {{type: object, properties: {{text: {{type: string}}}}}}
  output: {{type: object, properties: {{turns: {{type: integer}}}}}}
auth:
  mode: api_key
  api_keys: {{enabled: true}}
expose: {{rest: true, streaming: sse, port: 8080{scope}}}
"""


def _serve(
    tmp_path_factory: pytest.TempPathFactory, threads: str | None
) -> Iterator[dict[str, Any]]:
    root = tmp_path_factory.mktemp("threads")
    monkey = pytest.MonkeyPatch()
    monkey.setenv("AGENTDOCK_HOME", str(root / "home"))
    monkey.delenv("AGENTDOCK_REDIS_URL", raising=False)
    project = root / "proj"
    project.mkdir()
    (project / "counter_agent.py").write_text(GRAPH, encoding="utf-8")
    (project / "Dockfile.yaml").write_text(_dockfile(threads), encoding="utf-8")
    monkey.chdir(project)
    monkey.syspath_prepend(str(project))
    try:
        with served_with_events(project / "Dockfile.yaml", AGENT_NAME) as served:
            with open_store() as store:  # a second caller with the same role
                served["other"] = stored_key(store, AGENT_NAME, "developer")[0].key
            yield served
    finally:
        monkey.undo()
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="module")
def per_caller(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    yield from _serve(tmp_path_factory, None)


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    yield from _serve(tmp_path_factory, "shared")


def _invoke(server: dict[str, Any], key: str, thread: str) -> int:
    answer = httpx.post(
        f"{server['url']}/invoke",
        json={"text": "hi"},
        headers={"x-api-key": key, "x-thread-id": thread},
        timeout=30,
    )
    assert answer.status_code == 200, answer.text
    return int(answer.json()["turns"])


def _stream(server: dict[str, Any], key: str, thread: str) -> int:
    answer = httpx.post(
        f"{server['url']}/stream",
        json={"text": "hi"},
        headers={"x-api-key": key, "x-thread-id": thread},
        timeout=30,
    )
    assert answer.status_code == 200, answer.text
    ends = [
        json.loads(line[len("data:") :])
        for line in answer.text.splitlines()
        if line.startswith("data:") and '"output"' in line
    ]
    return int(ends[-1]["output"]["turns"])


def test_a_thread_id_names_the_callers_own_conversation(per_caller: dict[str, Any]) -> None:
    mine, theirs = per_caller["keys"]["developer"], per_caller["other"]
    assert _invoke(per_caller, mine, "t-1") == 1
    assert _invoke(per_caller, mine, "t-1") == 2
    # The other caller naming the same id starts its own conversation, on both routes,
    # and continues it; the first caller's is untouched.
    assert _invoke(per_caller, theirs, "t-1") == 1
    assert _stream(per_caller, theirs, "t-1") == 2
    assert _stream(per_caller, mine, "t-1") == 3


def test_invoke_does_not_reach_another_callers_platform_thread(
    per_caller: dict[str, Any],
) -> None:
    owner = get_sync_client(url=per_caller["url"], api_key=per_caller["keys"]["developer"])
    tid = owner.threads.create()["thread_id"]
    assert owner.runs.wait(tid, AGENT_NAME, input={"text": "a"})["turns"] == 1
    assert _invoke(per_caller, per_caller["other"], tid) == 1
    assert owner.threads.get_state(tid)["values"]["turns"] == 1
    assert owner.runs.wait(tid, AGENT_NAME, input={"text": "b"})["turns"] == 2


def test_shared_threads_are_one_conversation(shared: dict[str, Any]) -> None:
    mine, theirs = shared["keys"]["developer"], shared["other"]
    assert _invoke(shared, mine, "t-s") == 1
    assert _invoke(shared, theirs, "t-s") == 2
    assert _stream(shared, mine, "t-s") == 3
