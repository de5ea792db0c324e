"""Runs that stop at an ``interrupt()`` and are resumed, on every protocol, and Platform runs
that have nothing to run.

The approval graph asks before it answers (``interrupt()``); its Dockfile requires a
``question``, as every example does, and a resume carries none: a resume is not an input,
so it is not checked against the input schema, while the input policies still see it.
"""

from __future__ import annotations

import textwrap
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from capturedevents import served_project
from langgraph_sdk import get_sync_client

OPTIONAL = "optional-input"

OPTIONAL_GRAPH = textwrap.dedent(
    '''
    """Echoes an optional text."""

    from typing import TypedDict

    from langgraph.graph import END, START, StateGraph


    class State(TypedDict, total=False):
        text: str


    def build_graph():
        graph = StateGraph(State)
        graph.add_node("echo", lambda state: {"text": state.get("text", "").upper()})
        graph.add_edge(START, "echo")
        graph.add_edge("echo", END)
        return graph.compile()
    '''
)

OPTIONAL_DOCKFILE = f"""\
version: "1.1"
agent: {{name: {OPTIONAL}, entrypoint: "optional_input:build_graph", framework: langgraph}}
model: {{provider: custom, name: offline}}
io_schema:
  input: {{type: object, properties: {{text: {{type: string}}}}}}
  output: {{type: object, properties: {{text: {{type: string}}}}}}
auth:
  mode: api_key
  api_keys: {{enabled: true}}
expose: {{rest: true, port: 8080}}
"""


@pytest.fixture(scope="module")
def optional(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    root = tmp_path_factory.mktemp("optional")
    with served_project(root, OPTIONAL, "optional_input", OPTIONAL_GRAPH, OPTIONAL_DOCKFILE) as s:
        yield s


def test_an_empty_input_with_nothing_to_continue_is_the_callers_mistake(
    optional: dict[str, Any],
) -> None:
    """``runs.wait`` with ``input: {}`` and no thread (LangGraph's ``EmptyInputError``) is a
    422 naming the input, not a failure of the agent; on a thread that has run, an empty
    input continues it."""
    headers = {"x-api-key": optional["keys"]["developer"]}
    with httpx.Client(base_url=optional["url"], headers=headers, timeout=30) as http:
        for path in ("/runs/wait", "/runs/stream"):
            answer = http.post(path, json={"assistant_id": OPTIONAL, "input": {}})
            if path == "/runs/wait":
                assert answer.status_code == 422, answer.text
                body = answer.json()
                assert (body["error"], body["path"]) == ("ValidationError", "input")
                assert "nothing to run" in body["detail"]
            else:
                assert answer.status_code == 200
                assert "event: error" in answer.text and "nothing to run" in answer.text
        empty_command = http.post("/runs/wait", json={"assistant_id": OPTIONAL, "command": {}})
        assert empty_command.status_code == 422, empty_command.text
    client = get_sync_client(url=optional["url"], api_key=optional["keys"]["developer"])
    thread = client.threads.create()["thread_id"]
    assert client.runs.wait(thread, OPTIONAL, input={"text": "a"}) == {"text": "A"}
    assert client.runs.wait(thread, OPTIONAL, input={}) == {"text": "A"}
