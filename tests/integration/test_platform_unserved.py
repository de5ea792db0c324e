"""What the LangGraph Platform API does not serve answers as docs/compat.md says.

The real ``langgraph-sdk`` (sync client) calls each method AgentDock does not serve against a
served agent (uvicorn on 127.0.0.1, api_key auth): crons and webhooks are 501, so a client
that depends on them learns at once that nothing will run or be called; the other methods
answer 404 or 405, each with AgentDock's error envelope.
"""

from __future__ import annotations

import textwrap
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from capturedevents import served_project
from langgraph_sdk import get_sync_client

AGENT_NAME = "unserved-echo"
#: A webhook no run may call: nothing listens there.
WEBHOOK = "http://127.0.0.1:9/never-called"

GRAPH = textwrap.dedent(
    """
    from typing import TypedDict

    from langgraph.graph import END, START, StateGraph


    class State(TypedDict):
        text: str


    def build_graph():
        builder = StateGraph(State)
        builder.add_node("upper", lambda state: {"text": state["text"].upper()})
        builder.add_edge(START, "upper")
        builder.add_edge("upper", END)
        return builder.compile()
    """
)

DOCKFILE = f"""\
version: "1.1"
agent: {{name: {AGENT_NAME}, entrypoint: "unserved_agent:build_graph", framework: langgraph}}
model: {{provider: custom, name: offline, extra: {{offline: true}}}}
io_schema:
  input: {{type: object, properties: {{text: {{type: string}}}}}}
  output: {{type: object, properties: {{text: {{type: string}}}}}}
auth:
  mode: api_key
  api_keys: {{enabled: true}}
expose: {{rest: true, streaming: sse, port: 8080}}
"""


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    root = tmp_path_factory.mktemp("unserved")
    with served_project(root, AGENT_NAME, "unserved_agent", GRAPH, DOCKFILE) as served:
        yield get_sync_client(url=served["url"], api_key=served["keys"]["developer"])


def refused(call: Any) -> tuple[int, dict[str, Any]]:
    """The status and envelope of a call the server refuses."""
    with pytest.raises(httpx.HTTPStatusError) as raised:
        result = call()
        if not isinstance(result, dict):
            list(result)  # a stream is refused when it is read
    response = raised.value.response
    body = response.json()
    assert body["code"] == response.status_code, body
    return response.status_code, dict(body)


def test_every_cron_call_answers_501(client: Any) -> None:
    thread = client.threads.create()["thread_id"]
    cron = str(uuid.uuid4())
    calls = {
        "create": lambda: client.crons.create(AGENT_NAME, schedule="* * * * *"),
        "create_for_thread": lambda: client.crons.create_for_thread(
            thread, AGENT_NAME, schedule="* * * * *"
        ),
        "search": lambda: client.crons.search(),
        "count": lambda: client.crons.count(),
        "update": lambda: client.crons.update(cron, schedule="0 * * * *"),
        "delete": lambda: client.crons.delete(cron),
    }
    for name, call in calls.items():
        status, body = refused(call)
        assert (status, body["error"]) == (501, "NotImplemented"), (name, body)
        assert "crons are not supported" in body["detail"], (name, body)


def test_a_run_that_asks_for_a_webhook_answers_501_and_does_not_run(client: Any) -> None:
    thread = client.threads.create()["thread_id"]
    text = {"text": "hi"}
    calls = {
        "runs.wait": lambda: client.runs.wait(None, AGENT_NAME, input=text, webhook=WEBHOOK),
        "threads runs.wait": lambda: client.runs.wait(
            thread, AGENT_NAME, input=text, webhook=WEBHOOK
        ),
        "runs.stream": lambda: client.runs.stream(None, AGENT_NAME, input=text, webhook=WEBHOOK),
        "runs.create": lambda: client.runs.create(thread, AGENT_NAME, input=text, webhook=WEBHOOK),
    }
    for name, call in calls.items():
        status, body = refused(call)
        assert (status, body["error"], body.get("path")) == (501, "NotImplemented", "webhook"), (
            name,
            body,
        )
    assert client.runs.list(thread) == []  # nothing was started on the thread
    assert client.runs.wait(None, AGENT_NAME, input=text) == {"text": "HI"}


def test_the_other_calls_not_served_answer_the_envelope(client: Any) -> None:
    thread = client.threads.create()["thread_id"]
    text = {"text": "hi"}
    expected = {
        "runs.create_batch": (
            404,
            lambda: client.runs.create_batch([{"assistant_id": AGENT_NAME, "input": text}]),
        ),
        "runs.cancel_many": (
            404,
            lambda: client.runs.cancel_many(thread_id=thread, run_ids=[str(uuid.uuid4())]),
        ),
        "threads.copy": (404, lambda: client.threads.copy(thread)),
        "threads.update": (405, lambda: client.threads.update(thread, metadata={"a": 1})),
        "assistants.create": (404, lambda: client.assistants.create(AGENT_NAME)),
        "assistants.update": (405, lambda: client.assistants.update(AGENT_NAME, name="x")),
        "rollback": (
            501,
            lambda: client.runs.wait(thread, AGENT_NAME, input=text, multitask_strategy="rollback"),
        ),
    }
    for name, (status, call) in expected.items():
        got, body = refused(call)
        assert got == status, (name, body)
