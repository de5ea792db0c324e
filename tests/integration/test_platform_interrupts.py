"""A run stopped at a breakpoint answers the state so far (the output schema describes a
finished run's answer), and LangServe's ``invoke`` answers what ``graph.invoke`` returns (the
graph's output channels), not the whole state."""

from __future__ import annotations

import textwrap
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from capturedevents import served_project
from langgraph_sdk import get_sync_client

AGENT_NAME = "two-steps"

GRAPH = textwrap.dedent(
    '''
    """Prepares, then answers; its output is the answer alone."""

    from typing import Any, TypedDict

    from langgraph.checkpoint.memory import InMemorySaver
    from langgraph.graph import END, START, StateGraph


    class State(TypedDict, total=False):
        text: str
        prepared: str
        answer: str


    class Out(TypedDict):
        answer: str


    def build_graph():
        def prepare(state: State) -> dict[str, Any]:
            return {"prepared": state["text"].strip()}

        def respond(state: State) -> dict[str, Any]:
            return {"answer": state["prepared"].upper()}

        graph = StateGraph(State, output_schema=Out)
        graph.add_node("prepare", prepare)
        graph.add_node("respond", respond)
        graph.add_edge(START, "prepare")
        graph.add_edge("prepare", "respond")
        graph.add_edge("respond", END)
        return graph.compile()
    '''
)

DOCKFILE = f"""\
version: "1.1"
agent: {{name: {AGENT_NAME}, entrypoint: "two_steps:build_graph", framework: langgraph}}
model: {{provider: custom, name: offline}}
io_schema:
  input: {{type: object, properties: {{text: {{type: string}}}}, required: [text]}}
  output: {{type: object, properties: {{answer: {{type: string}}}}, required: [answer]}}
auth:
  mode: api_key
  api_keys: {{enabled: true}}
expose: {{rest: true, port: 8080}}
"""


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    root = tmp_path_factory.mktemp("interrupts")
    with served_project(root, AGENT_NAME, "two_steps", GRAPH, DOCKFILE) as served:
        yield served


def test_a_run_stopped_at_a_breakpoint_answers_the_state_so_far(server: dict[str, Any]) -> None:
    client = get_sync_client(url=server["url"], api_key=server["keys"]["developer"])
    thread = client.threads.create()["thread_id"]
    stopped = client.runs.wait(
        thread, AGENT_NAME, input={"text": " hi "}, interrupt_before=["respond"]
    )
    assert stopped == {"text": " hi ", "prepared": "hi", "__interrupt__": []}
    state = client.threads.get_state(thread)
    assert state["next"] == ["respond"]
    assert client.threads.get(thread)["status"] == "interrupted"
    # A run that ends answers the whole state, checked against the output schema.
    assert client.runs.wait(None, AGENT_NAME, input={"text": "ok"}) == {
        "text": "ok",
        "prepared": "ok",
        "answer": "OK",
    }


def test_langserve_invoke_answers_the_graphs_output_channels(server: dict[str, Any]) -> None:
    answer = httpx.post(
        f"{server['url']}/langserve/{AGENT_NAME}/invoke",
        json={"input": {"text": "ls"}},
        headers={"x-api-key": server["keys"]["developer"]},
        timeout=30,
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["output"] == {"answer": "LS"}
    invoked = httpx.post(
        f"{server['url']}/invoke",
        json={"text": "ls"},
        headers={"x-api-key": server["keys"]["developer"]},
        timeout=30,
    )
    assert invoked.json() == {"answer": "LS"}
