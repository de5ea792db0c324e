"""A2A keeps and sends back the caller's message as the run was given it: its input as the
input policies made it (a card number redacted), never the raw text; MCP repeats no input."""

from __future__ import annotations

import json
import textwrap
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from capturedevents import served_project

AGENT = "pii-echo"
CARD = "4111 1111 1111 1111"
TEXT = f"my card {CARD}"

GRAPH = textwrap.dedent(
    """
    from typing import Any, TypedDict

    from langgraph.graph import END, START, StateGraph


    class State(TypedDict, total=False):
        text: str
        answer: str


    def build_graph():
        def seen(state: State) -> dict[str, Any]:
            return {"answer": "seen: " + state.get("text", "")}

        graph = StateGraph(State)
        graph.add_node("seen", seen)
        graph.add_edge(START, "seen")
        graph.add_edge("seen", END)
        return graph.compile()
    """
)

DOCKFILE = f"""\
version: "1.1"
agent:
  name: {AGENT}
  entrypoint: "pii_agent:build_graph"
  framework: langgraph
model: {{provider: custom, name: offline}}
io_schema:
  input: {{type: object, properties: {{text: {{type: string}}}}, required: [text]}}
  output: {{type: object, properties: {{answer: {{type: string}}}}}}
policies:
  safety: {{pii: [credit_card]}}
auth:
  mode: api_key
  api_keys: {{enabled: true}}
expose: {{rest: true, streaming: sse, port: 8080}}
"""


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    root = tmp_path_factory.mktemp("a2apii")
    with served_project(root, AGENT, "pii_agent", GRAPH, DOCKFILE) as served:
        yield served


def _post(server: dict[str, Any], path: str, body: Any) -> httpx.Response:
    headers = {"x-api-key": server["keys"]["developer"]}
    answer = httpx.post(f"{server['url']}{path}", json=body, headers=headers, timeout=30)
    assert answer.status_code == 200, answer.text
    assert "4111" not in answer.text, answer.text  # neither grouped nor as one run
    return answer


def _rpc(server: dict[str, Any], method: str, params: dict[str, Any]) -> dict[str, Any]:
    body = {"jsonrpc": "2.0", "id": 1, "method": method, "params": params}
    return dict(_post(server, f"/a2a/{AGENT}", body).json()["result"])


def _message(parts: list[dict[str, Any]]) -> dict[str, Any]:
    return {"messageId": str(uuid.uuid4()), "role": "user", "parts": parts}


#: Each way a message carries the input, and the part its history then holds.
CARRIED = [
    ([{"kind": "text", "text": TEXT}], "text"),
    ([{"kind": "text", "text": json.dumps({"text": TEXT})}], "json"),
    ([{"kind": "data", "data": {"text": TEXT}}], "data"),
]


def _given(task: dict[str, Any], carried: str) -> str:
    """The text the task's history says the run was given, checked against what the agent
    saw (its answer)."""
    assert task["status"]["state"] == "completed", task
    seen = task["artifacts"][0]["parts"][0]["data"]["answer"].removeprefix("seen: ")
    (part,) = task["history"][0]["parts"]
    if carried == "data":
        assert part == {"kind": "data", "data": {"text": seen}}, part
    elif carried == "json":
        assert part["kind"] == "text" and json.loads(part["text"]) == {"text": seen}, part
    else:
        assert part == {"kind": "text", "text": seen}, part
    assert seen.startswith("my card ") and CARD not in seen, seen
    return seen


@pytest.mark.parametrize(("parts", "carried"), CARRIED)
def test_a_sent_message_is_kept_as_the_input_policies_made_it(
    server: dict[str, Any], parts: list[dict[str, Any]], carried: str
) -> None:
    task = _rpc(server, "message/send", {"message": _message(parts)})
    _given(task, carried)
    _given(_rpc(server, "tasks/get", {"id": task["id"]}), carried)


def test_a_message_sent_without_blocking_is_kept_redacted(server: dict[str, Any]) -> None:
    params = {"message": _message(CARRIED[0][0]), "configuration": {"blocking": False}}
    working = _rpc(server, "message/send", params)
    deadline = time.monotonic() + 30
    while (got := _rpc(server, "tasks/get", {"id": working["id"]}))["status"][
        "state"
    ] == "working" and time.monotonic() < deadline:
        time.sleep(0.05)
    assert working["history"][0]["parts"] == [{"kind": "text", "text": _given(got, "text")}]


def test_a_streamed_message_is_kept_redacted(server: dict[str, Any]) -> None:
    body = {
        "jsonrpc": "2.0",
        "id": 2,
        "method": "message/stream",
        "params": {"message": _message(CARRIED[0][0])},
    }
    text = _post(server, f"/a2a/{AGENT}", body).text
    first = json.loads(text.splitlines()[0].removeprefix("data: "))["result"]
    task = _rpc(server, "tasks/get", {"id": first["id"]})
    assert first["history"] == task["history"], (first, task)
    _given(task, "text")


def test_a_tool_call_repeats_no_raw_input(server: dict[str, Any]) -> None:
    for arguments in ({"text": TEXT}, {"text": 5, "card": CARD}):
        params = {"name": AGENT, "arguments": arguments}
        body = {"jsonrpc": "2.0", "id": 3, "method": "tools/call", "params": params}
        _post(server, "/mcp/", body)
