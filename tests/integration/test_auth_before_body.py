"""A caller is authenticated before a byte of its body is read, on every route that runs the
agent: ``/invoke``, ``/stream``, the Platform's runs, LangServe, MCP and A2A.

A caller with no key or a wrong key declaring a body of an ordinary size, and sending none
of it, is answered 401 at once (a server that read the body first would wait for it until
its body deadline, 408, and a few hundred such callers would hold their bodies in memory).
An admitted caller on the same route still runs the agent. A stranger also gets 401 on an
A2A path that names no agent (not the 404 telling it which names exist) and on the crons,
which an admitted caller is told are not built (501).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from capturedevents import served_project
from platform_agents import ECHO_TEXT_GRAPH, echo_text_dockfile
from rawhttp import headers_only

AGENT_NAME = "auth-before-body"
WRONG_KEY = "adk_wrong_0123456789abcdef0123456789abcdef"
ORIGIN = "https://app.example"
#: The size each request declares: an ordinary body, far under the limit.
DECLARED = 4096

DOCKFILE = echo_text_dockfile(
    AGENT_NAME, "auth_before_body_agent", expose=f'cors: {{origins: ["{ORIGIN}"]}}'
)

THREAD = str(uuid.uuid4())
_RUN = {"assistant_id": AGENT_NAME, "input": {"text": "hi"}, "if_not_exists": "create"}
_A2A_MESSAGE = {"role": "user", "parts": [{"kind": "text", "text": "hi"}]}

#: (method, path, extra headers, a body an admitted caller runs the agent with). With an
#: ``Origin``, ``/invoke`` and ``runs.wait`` take their Litestar route, not the fast path.
ROUTES: list[tuple[str, str, dict[str, str], dict[str, Any]]] = [
    ("POST", "/invoke", {}, {"text": "hi"}),
    ("POST", "/invoke", {"origin": ORIGIN}, {"text": "hi"}),
    ("POST", "/stream", {}, {"text": "hi"}),
    ("POST", "/runs/wait", {}, _RUN),
    ("POST", "/runs/wait", {"origin": ORIGIN}, _RUN),
    ("POST", f"/threads/{THREAD}/runs/wait", {}, _RUN),
    ("POST", "/runs/stream", {}, _RUN),
    ("POST", "/runs", {}, _RUN),
    ("POST", f"/threads/{THREAD}/runs/stream", {}, _RUN),
    ("POST", f"/threads/{THREAD}/runs", {}, _RUN),
    ("POST", f"/langserve/{AGENT_NAME}/invoke", {}, {"input": {"text": "hi"}}),
    ("POST", f"/langserve/{AGENT_NAME}/batch", {}, {"inputs": [{"text": "hi"}]}),
    ("POST", f"/langserve/{AGENT_NAME}/stream", {}, {"input": {"text": "hi"}}),
    (
        "POST",
        "/mcp/",
        {},
        {
            "jsonrpc": "2.0",
            "id": 1,
            "method": "tools/call",
            "params": {"name": AGENT_NAME, "arguments": {"text": "hi"}},
        },
    ),
    (
        "POST",
        f"/a2a/{AGENT_NAME}",
        {},
        {
            "jsonrpc": "2.0",
            "id": 1,
            "method": "message/send",
            "params": {"message": {**_A2A_MESSAGE, "messageId": str(uuid.uuid4())}},
        },
    ),
]


def _id(route: tuple[str, str, dict[str, str], dict[str, Any]]) -> str:
    method, path, extra, _ = route
    return f"{method} {path.replace(THREAD, '{tid}')}{' (origin)' if extra else ''}"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    root = tmp_path_factory.mktemp("authbeforebody")
    with served_project(root, AGENT_NAME, "auth_before_body_agent", ECHO_TEXT_GRAPH, DOCKFILE) as s:
        yield s


def _unauthorized(status: int, body: bytes) -> None:
    assert status == 401, body
    envelope = json.loads(body)
    assert (envelope["error"], envelope["code"]) == ("Unauthorized", 401), body
    assert WRONG_KEY.encode() not in body


@pytest.mark.parametrize("route", ROUTES, ids=[_id(r) for r in ROUTES])
def test_a_stranger_is_refused_before_its_body_is_read(
    server: dict[str, Any], route: tuple[str, str, dict[str, str], dict[str, Any]]
) -> None:
    method, path, extra, body = route
    for credentials in ({}, {"x-api-key": WRONG_KEY}):
        # The body is never sent: the answer can only come from the headers.
        _unauthorized(
            *headers_only(server["url"], method, path, {**extra, **credentials}, DECLARED)
        )
    developer = {**extra, "x-api-key": server["keys"]["developer"]}
    admitted = httpx.request(
        method, f"{server['url']}{path}", json=body, headers=developer, timeout=30
    )
    assert admitted.status_code == 200, admitted.text
    if path.endswith("stream"):
        assert "event:" in admitted.text, admitted.text
    elif path.startswith(("/mcp", "/a2a")):
        assert "error" not in admitted.json(), admitted.text
    elif path in ("/runs", f"/threads/{THREAD}/runs"):
        assert admitted.json()["run_id"], admitted.text
    else:
        assert "hi" in admitted.text, admitted.text


def test_an_a2a_path_naming_no_agent_is_401_to_a_stranger(server: dict[str, Any]) -> None:
    message = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "message/send",
        "params": {"message": {**_A2A_MESSAGE, "messageId": str(uuid.uuid4())}},
    }
    url = f"{server['url']}/a2a/nope"
    for credentials in ({}, {"x-api-key": WRONG_KEY}):
        answer = httpx.post(url, json=message, headers=credentials)
        _unauthorized(answer.status_code, answer.content)
        _unauthorized(*headers_only(server["url"], "POST", "/a2a/nope", credentials, DECLARED))
    admitted = httpx.post(url, json=message, headers={"x-api-key": server["keys"]["developer"]})
    assert admitted.status_code == 404, admitted.text


CRONS = [
    ("POST", "/runs/crons"),
    ("POST", f"/threads/{THREAD}/runs/crons"),
    ("POST", "/runs/crons/search"),
    ("POST", "/runs/crons/count"),
    ("PATCH", "/runs/crons/some-cron"),
    ("DELETE", "/runs/crons/some-cron"),
]


@pytest.mark.parametrize(("method", "path"), CRONS, ids=[f"{m} {p}" for m, p in CRONS])
def test_crons_are_401_to_a_stranger_and_501_to_an_admitted_caller(
    server: dict[str, Any], method: str, path: str
) -> None:
    url = f"{server['url']}{path}"
    body = None if method == "DELETE" else {}
    for credentials in ({}, {"x-api-key": WRONG_KEY}):
        answer = httpx.request(method, url, json=body, headers=credentials)
        _unauthorized(answer.status_code, answer.content)
    developer = {"x-api-key": server["keys"]["developer"]}
    admitted = httpx.request(method, url, json=body, headers=developer)
    assert admitted.status_code == 501, admitted.text
    assert admitted.json()["error"] == "NotImplemented"
