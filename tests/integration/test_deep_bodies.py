"""A request body nested more than 128 levels deep is a 400 ``MalformedJSONError`` on every
route that decodes one, as a body nested past the decoder's own limit is on ``/invoke``. A
few hundred levels made the PII policy's walk fail as a 500 ("policy 'redact_input'
failed"), some 250 a thread's checkpoint (msgpack stops at 255 levels), and a thousand
the Platform, LangServe, MCP and A2A routes."""

from __future__ import annotations

import textwrap
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from agentdock_runtime.jsonvalues import MAX_DEPTH
from capturedevents import served_project

AGENT = "deep"

GRAPH = textwrap.dedent(
    """
    from typing import Any, TypedDict

    from langgraph.graph import END, START, StateGraph


    class State(TypedDict, total=False):
        text: str
        n: Any
        answer: str


    def build_graph():
        def shout(state: State) -> dict[str, Any]:
            return {"answer": state.get("text", "").upper()}

        graph = StateGraph(State)
        graph.add_node("shout", shout)
        graph.add_edge(START, "shout")
        graph.add_edge("shout", END)
        return graph.compile()
    """
)

DOCKFILE = f"""\
version: "1.1"
agent:
  name: {AGENT}
  entrypoint: "deep_agent:build_graph"
  framework: langgraph
arguments: {{checkpointer: sqlite}}
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
    root = tmp_path_factory.mktemp("deep")
    with served_project(root, AGENT, "deep_agent", GRAPH, DOCKFILE) as served:
        yield served


def nested(depth: int) -> str:
    """A JSON array nested ``depth`` levels deep."""
    return "[" * depth + "]" * depth


def _send(server: dict[str, Any], method: str, path: str, body: str) -> httpx.Response:
    headers = {"x-api-key": server["keys"]["developer"], "content-type": "application/json"}
    return httpx.request(
        method, f"{server['url']}{path}", content=body.encode(), headers=headers, timeout=30
    )


def _refused(answer: httpx.Response, run: bool) -> None:
    assert answer.status_code == 400, answer.text
    envelope = answer.json()
    assert envelope["error"] == "MalformedJSONError", envelope
    assert "nested" in envelope["detail"], envelope
    # A route that starts one run refuses it at its input, as /invoke does; others none.
    assert ("x-run-id" in answer.headers) is run, answer.headers


@pytest.mark.parametrize("depth", [MAX_DEPTH + 1, 500, 998, 5000])
def test_invoke_refuses_a_body_nested_too_deeply(server: dict[str, Any], depth: int) -> None:
    # 500 to 998 levels failed the PII policy's walk (500); 5000 the decoder itself (400).
    body = f'{{"text": "my card 4111 1111 1111 1111", "n": {nested(depth - 1)}}}'
    _refused(_send(server, "POST", "/invoke", body), run=True)


def test_a_body_nested_to_the_limit_is_taken_and_redacted(server: dict[str, Any]) -> None:
    body = f'{{"text": "card 4111 1111 1111 1111", "n": {nested(MAX_DEPTH - 1)}}}'
    answer = _send(server, "POST", "/invoke", body)
    assert answer.status_code == 200, answer.text
    assert "4111" not in answer.text and answer.json()["answer"].startswith("CARD [REDACTED")


def test_brackets_in_strings_are_no_nesting(server: dict[str, Any]) -> None:
    body = f'{{"text": "{nested(3000)}"}}'
    assert _send(server, "POST", "/invoke", body).status_code == 200


@pytest.mark.parametrize("depth", [MAX_DEPTH + 1, 1000, 5000])
def test_platform_and_langserve_routes_refuse_a_body_nested_too_deeply(
    server: dict[str, Any], depth: int
) -> None:
    deep = nested(depth - 2)
    made = _send(server, "POST", "/threads", "{}")
    assert made.status_code == 200, made.text
    thread = made.json()["thread_id"]
    run = f'{{"assistant_id": "{AGENT}", "input": {{"text": "a", "n": {deep}}}}}'
    for path in ("/runs/wait", "/runs/stream", f"/threads/{thread}/runs/wait"):
        _refused(_send(server, "POST", path, run), run=True)
    _refused(
        _send(server, "POST", f"/langserve/{AGENT}/invoke", f'{{"input": {{"n": {deep}}}}}'), True
    )
    for method, path, body in (
        ("POST", "/threads", f'{{"metadata": {{"m": {deep}}}}}'),
        ("POST", f"/threads/{thread}/state", f'{{"values": {{"n": {deep}}}}}'),
        ("PUT", "/store/items", f'{{"namespace": ["a"], "key": "k", "value": {{"v": {deep}}}}}'),
        ("POST", f"/langserve/{AGENT}/batch", f'{{"inputs": [{{"n": {deep}}}]}}'),
    ):
        _refused(_send(server, method, path, body), run=False)


@pytest.mark.parametrize("depth", [MAX_DEPTH + 1, 1000, 5000])
def test_mcp_and_a2a_refuse_a_body_nested_too_deeply_as_not_json(
    server: dict[str, Any], depth: int
) -> None:
    deep = nested(depth - 3)  # the tool's arguments are three levels down, A2A's data six
    tool = f'{{"name": "{AGENT}", "arguments": {{"text": "a", "n": {deep}}}}}'
    message = (
        f'{{"message": {{"messageId": "{uuid.uuid4()}", "role": "user", '
        f'"parts": [{{"kind": "data", "data": {{"n": {deep}}}}}]}}}}'
    )
    for path, method, params in (
        ("/mcp/", "tools/call", tool),
        (f"/a2a/{AGENT}", "message/send", message),
    ):
        body = f'{{"jsonrpc": "2.0", "id": 1, "method": "{method}", "params": {params}}}'
        answer = _send(server, "POST", path, body)
        assert answer.status_code == 400, answer.text
        assert answer.json()["error"]["code"] == -32700, answer.text


def test_a_thread_run_nested_to_the_limit_is_taken_and_checkpointed(server: dict[str, Any]) -> None:
    made = _send(server, "POST", "/threads", "{}")
    thread = made.json()["thread_id"]
    deep = nested(MAX_DEPTH - 3)  # the body, its input and its field come first
    run = f'{{"assistant_id": "{AGENT}", "input": {{"text": "a", "n": {deep}}}}}'
    answer = _send(server, "POST", f"/threads/{thread}/runs/wait", run)
    assert answer.status_code == 200, answer.text
    assert answer.json()["answer"] == "A"
    state = httpx.get(
        f"{server['url']}/threads/{thread}/state",
        headers={"x-api-key": server["keys"]["developer"]},
        timeout=30,
    )
    assert state.status_code == 200, state.text
