"""Bodies that made routes fail later, refused as ``/invoke`` refuses them, with a 400
``MalformedJSONError`` on every route that decodes a body:

* an integer wider than 64 bits, naming its path: checkpointers and telemetry store no
  wider integer, so letting one through stored it or failed the run later (a 500);
* arrays and objects nested more than 128 levels deep: a few hundred levels made the PII
  policy's walk fail as a 500 ("policy 'redact_input' failed"), some 250 a thread's
  checkpoint (msgpack stops at 255 levels), and a thousand the Platform, LangServe, MCP and
  A2A routes."""

from __future__ import annotations

import textwrap
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from agentdock_runtime.jsonvalues import MAX_DEPTH
from capturedevents import served_project

AGENT = "wide"
WIDE = 99999999999999999999999
#: The widest integers taken: 64 bits, signed or not.
EDGES = {"low": -(2**63), "high": 2**64 - 1}

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
  entrypoint: "wide_agent:build_graph"
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
    root = tmp_path_factory.mktemp("wide")
    with served_project(root, AGENT, "wide_agent", GRAPH, DOCKFILE) as served:
        yield served


def _post(server: dict[str, Any], path: str, body: Any, key: str | None = None) -> httpx.Response:
    headers = {"x-api-key": key or server["keys"]["developer"]}
    return httpx.post(f"{server['url']}{path}", json=body, headers=headers, timeout=30)


def _refused(answer: httpx.Response, path: str, run: bool) -> None:
    assert answer.status_code == 400, answer.text
    envelope = answer.json()
    assert envelope["error"] == "MalformedJSONError", envelope
    assert envelope["path"] == path, envelope
    assert "64-bit" in envelope["detail"], envelope
    # A route that starts one run refuses it at its input, as /invoke does; others none.
    assert ("x-run-id" in answer.headers) is run, answer.headers
    if run:
        assert envelope["run_id"] == answer.headers["x-run-id"]


def _thread(server: dict[str, Any]) -> str:
    made = _post(server, "/threads", {})
    assert made.status_code == 200, made.text
    return str(made.json()["thread_id"])


def test_invoke_refuses_a_wide_integer(server: dict[str, Any]) -> None:
    _refused(_post(server, "/invoke", {"text": "a", "n": WIDE}), "n", True)


@pytest.mark.parametrize("route", ["/runs/wait", "/runs/stream", "/threads/{thread}/runs/wait"])
@pytest.mark.parametrize(
    ("field", "value", "path"),
    [
        ("input", {"text": "a", "n": WIDE}, "input.n"),
        ("input", {"text": "a", "n": [1, {"m": -WIDE}]}, "input.n[1].m"),
        ("metadata", {"m": WIDE}, "metadata.m"),
        ("config", {"configurable": {"m": WIDE}}, "config.configurable.m"),
    ],
)
def test_platform_runs_refuse_a_wide_integer_at_their_input(
    server: dict[str, Any], route: str, field: str, value: Any, path: str
) -> None:
    body = {"assistant_id": AGENT, "input": {"text": "a"}, field: value}
    _refused(_post(server, route.format(thread=_thread(server)), body), path, True)


def test_platform_bodies_that_start_no_run_refuse_a_wide_integer(server: dict[str, Any]) -> None:
    _refused(_post(server, "/threads", {"metadata": {"m": WIDE}}), "metadata.m", False)
    thread = _thread(server)
    state = {"values": {"text": "a", "n": WIDE}}
    _refused(_post(server, f"/threads/{thread}/state", state), "values.n", False)
    search = {"metadata": {"m": WIDE}}
    _refused(_post(server, "/threads/search", search), "metadata.m", False)


def test_integers_of_64_bits_are_taken(server: dict[str, Any]) -> None:
    body = {"assistant_id": AGENT, "input": {"text": "a", **EDGES}, "metadata": EDGES}
    done = _post(server, f"/threads/{_thread(server)}/runs/wait", body)
    assert done.status_code == 200, done.text
    assert done.json()["answer"] == "A"
    # A long run of digits in a string is no integer.
    text = {"assistant_id": AGENT, "input": {"text": "1" * 40}}
    assert _post(server, "/runs/wait", text).status_code == 200


def test_langserve_refuses_a_wide_integer(server: dict[str, Any]) -> None:
    invoke = {"input": {"text": "a", "n": WIDE}}
    _refused(_post(server, f"/langserve/{AGENT}/invoke", invoke), "input.n", True)
    _refused(_post(server, f"/langserve/{AGENT}/stream", invoke), "input.n", True)
    batch = {"inputs": [{"text": "a"}, {"text": "b", "n": WIDE}]}
    _refused(_post(server, f"/langserve/{AGENT}/batch", batch), "inputs[1].n", False)


def test_a_stranger_gets_its_401_first(server: dict[str, Any]) -> None:
    wrong = "adk_wrong_0123456789abcdef0123456789abcdef"
    body = {"assistant_id": AGENT, "input": {"text": "a", "n": WIDE}}
    for path in ("/runs/wait", "/threads", f"/langserve/{AGENT}/invoke", "/mcp/"):
        assert _post(server, path, body, key=wrong).status_code == 401, path


def _rpc(server: dict[str, Any], path: str, method: str, params: Any) -> httpx.Response:
    return _post(server, path, {"jsonrpc": "2.0", "id": 1, "method": method, "params": params})


def test_mcp_and_a2a_refuse_a_wide_integer_as_not_json(server: dict[str, Any]) -> None:
    """JSON-RPC's parse error (-32700, HTTP 400) with the integer's path as its data."""
    called = _rpc(
        server, "/mcp/", "tools/call", {"name": AGENT, "arguments": {"text": "a", "n": WIDE}}
    )
    message = {
        "messageId": str(uuid.uuid4()),
        "role": "user",
        "parts": [{"kind": "data", "data": {"text": "a", "n": WIDE}}],
    }
    sent = _rpc(server, f"/a2a/{AGENT}", "message/send", {"message": message})
    for answer, path in (
        (called, "params.arguments.n"),
        (sent, "params.message.parts[0].data.n"),
    ):
        assert answer.status_code == 400, answer.text
        error = answer.json()["error"]
        assert error["code"] == -32700, error
        assert error["data"] == {"error": "MalformedJSONError", "path": path}, error


def test_a2a_text_holding_a_wide_integer_is_invalid_params(server: dict[str, Any]) -> None:
    message = {
        "messageId": str(uuid.uuid4()),
        "role": "user",
        "parts": [{"kind": "text", "text": f'{{"text": "a", "n": {WIDE}}}'}],
    }
    answer = _rpc(server, f"/a2a/{AGENT}", "message/send", {"message": message})
    assert answer.status_code == 200, answer.text
    error = answer.json()["error"]
    assert error["code"] == -32602, error
    assert error["data"] == {"error": "MalformedJSONError", "path": "n"}, error


def test_an_invoke_resume_refuses_a_wide_integer(server: dict[str, Any]) -> None:
    headers = {
        "x-api-key": server["keys"]["developer"],
        "x-resume": "true",
        "x-thread-id": str(uuid.uuid4()),
    }
    answer = httpx.post(
        f"{server['url']}/invoke", json={"resume": {"n": WIDE}}, headers=headers, timeout=30
    )
    assert answer.status_code == 400, answer.text
    assert answer.json()["path"] == "resume.n", answer.text


# -- nesting ------------------------------------------------------------------------------------


def nested(depth: int) -> str:
    """A JSON array nested ``depth`` levels deep."""
    return "[" * depth + "]" * depth


def _send(server: dict[str, Any], method: str, path: str, body: str) -> httpx.Response:
    headers = {"x-api-key": server["keys"]["developer"], "content-type": "application/json"}
    return httpx.request(
        method, f"{server['url']}{path}", content=body.encode(), headers=headers, timeout=30
    )


def _refused_deep(answer: httpx.Response, run: bool) -> None:
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
    _refused_deep(_send(server, "POST", "/invoke", body), run=True)


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
        _refused_deep(_send(server, "POST", path, run), run=True)
    _refused_deep(
        _send(server, "POST", f"/langserve/{AGENT}/invoke", f'{{"input": {{"n": {deep}}}}}'), True
    )
    for method, path, body in (
        ("POST", "/threads", f'{{"metadata": {{"m": {deep}}}}}'),
        ("POST", f"/threads/{thread}/state", f'{{"values": {{"n": {deep}}}}}'),
        ("PUT", "/store/items", f'{{"namespace": ["a"], "key": "k", "value": {{"v": {deep}}}}}'),
        ("POST", f"/langserve/{AGENT}/batch", f'{{"inputs": [{{"n": {deep}}}]}}'),
    ):
        _refused_deep(_send(server, method, path, body), run=False)


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
