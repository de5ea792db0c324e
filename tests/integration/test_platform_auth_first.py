"""The Platform and LangServe routes authenticate before they read the body.

A caller with no key or a wrong key gets 401, one whose role may not run the agent 403,
whatever body it sends: malformed JSON, a wrong shape, an unknown assistant, agent or
thread are told only to a caller the agent admits, who gets the same 400, 422 and 404 as
before. A refusal names nothing of what a valid body needs, nor any run: a stranger starts
none. To an admitted caller, a malformed body on a route that starts one run is that run
refused at its input, as on ``/invoke`` (its ``x-run-id``, ``x-trace-id``, ``run_end``).
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from capturedevents import served_project
from platform_agents import ECHO_TEXT_GRAPH, echo_text_dockfile

AGENT_NAME = "auth-first"
#: Planted in the request a wrong key carries: never in an answer.
WRONG_KEY = "adk_wrong_0123456789abcdef0123456789abcdef"
#: Names of the bodies' fields (and what a decoding error says): never told to a stranger.
BODY_WORDS = (
    "assistant_id",
    "input",
    "namespace",
    "thread_id",
    "values",
    "required",
    "Expected",
    "JSON",
    "not found",
    "nope",
)

GRAPH = ECHO_TEXT_GRAPH

DOCKFILE = echo_text_dockfile(AGENT_NAME, "auth_first_agent")

MISSING_THREAD = str(uuid.uuid4())
MALFORMED = b"{not json"
ARRAY = b"[1]"  # a JSON document of the wrong shape for every body
#: Routes whose body is a run: (method, path).
RUN_ROUTES = [
    ("POST", "/runs/wait"),
    ("POST", "/runs/stream"),
    ("POST", "/runs"),
    ("POST", f"/threads/{MISSING_THREAD}/runs/wait"),
    ("POST", f"/threads/{MISSING_THREAD}/runs/stream"),
    ("POST", f"/threads/{MISSING_THREAD}/runs"),
]
#: The other routes that take a body.
OTHER_ROUTES = [
    ("POST", "/threads"),
    ("POST", "/threads/search"),
    ("POST", "/assistants/search"),
    ("POST", f"/threads/{MISSING_THREAD}/state"),
    ("POST", f"/threads/{MISSING_THREAD}/state/checkpoint"),
    ("POST", f"/threads/{MISSING_THREAD}/history"),
    ("PUT", "/store/items"),
    ("DELETE", "/store/items"),
    ("POST", "/store/items/search"),
    ("POST", "/store/namespaces"),
]
LANGSERVE_ROUTES = [
    ("POST", f"/langserve/{AGENT_NAME}/{verb}") for verb in ("invoke", "batch", "stream")
]
#: (method, path, body, what a good key gets).
CASES: list[tuple[str, str, bytes, int]] = [
    *[(m, p, MALFORMED, 400) for m, p in RUN_ROUTES + OTHER_ROUTES + LANGSERVE_ROUTES],
    *[(m, p, ARRAY, 422) for m, p in RUN_ROUTES + OTHER_ROUTES + LANGSERVE_ROUTES],
    *[(m, p, b'{"id": 1}', 422) for m, p in RUN_ROUTES + LANGSERVE_ROUTES],
    *[(m, p, b'{"assistant_id": "nope", "input": {"text": "x"}}', 404) for m, p in RUN_ROUTES],
    # A thread that does not exist (the assistant is this agent).
    *[
        (m, p, f'{{"assistant_id": "{AGENT_NAME}", "input": {{"text": "x"}}}}'.encode(), 404)
        for m, p in RUN_ROUTES
        if p.startswith("/threads/")
    ],
    ("POST", f"/threads/{MISSING_THREAD}/state", b'{"values": {"text": "x"}}', 404),
    # ``/invoke``, which the routes above answer as.
    ("POST", "/invoke", MALFORMED, 400),
    ("POST", "/invoke", ARRAY, 422),
    # A config that is not one.
    *[
        (m, p, b'{"input": {"text": "x"}, "config": {"recursion_limit": "many"}}', 422)
        for m, p in LANGSERVE_ROUTES
        if not p.endswith("batch")
    ],
    (
        "POST",
        f"/langserve/{AGENT_NAME}/batch",
        b'{"inputs": [{"text": "x"}], "config": [{}, {}]}',
        422,
    ),
    *[
        (m, p, f'{{"assistant_id": "{AGENT_NAME}", "stream_mode": "nope"}}'.encode(), 422)
        for m, p in RUN_ROUTES
    ],
    # An agent this server does not serve.
    *[
        ("POST", f"/langserve/nope/{verb}", b'{"input": {"text": "x"}}', 404)
        for verb in ("invoke", "batch", "stream")
    ],
]


def _id(case: tuple[str, str, bytes, int]) -> str:
    method, path, body, _ = case
    return f"{method} {path.replace(MISSING_THREAD, '{tid}')} {body[:24]!r}"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    root = tmp_path_factory.mktemp("authfirst")
    with served_project(root, AGENT_NAME, "auth_first_agent", GRAPH, DOCKFILE) as served:
        yield served


@pytest.fixture(scope="module")
def http(server: dict[str, Any]) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server["url"], timeout=30) as client:
        yield client


def _send(
    http: httpx.Client, method: str, path: str, body: bytes, key: str | None
) -> httpx.Response:
    headers = {"content-type": "application/json"}
    if key is not None:
        headers["x-api-key"] = key
    return http.request(method, path, content=body, headers=headers)


#: Where a malformed body is a run refused at its input: the routes that start one run.
ONE_RUN_ROUTES = {
    *(p for _, p in RUN_ROUTES),
    "/invoke",
    f"/langserve/{AGENT_NAME}/invoke",
    f"/langserve/{AGENT_NAME}/stream",
}


def _refusal(answer: httpx.Response, status: int, name: str) -> None:
    assert answer.status_code == status, answer.text
    assert "x-run-id" not in answer.headers and "x-trace-id" not in answer.headers
    assert answer.json()["error"] == name, answer.text
    assert answer.json()["code"] == status
    assert WRONG_KEY not in answer.text
    for word in BODY_WORDS:
        assert word not in answer.text, (word, answer.text)


@pytest.mark.parametrize("case", CASES, ids=[_id(c) for c in CASES])
def test_a_stranger_is_refused_before_the_body_is_read(
    server: dict[str, Any], http: httpx.Client, case: tuple[str, str, bytes, int]
) -> None:
    method, path, body, good = case
    _refusal(_send(http, method, path, body, None), 401, "Unauthorized")
    _refusal(_send(http, method, path, body, WRONG_KEY), 401, "Unauthorized")
    _refusal(_send(http, method, path, body, server["keys"]["viewer"]), 403, "Forbidden")
    admitted = _send(http, method, path, body, server["keys"]["developer"])
    assert admitted.status_code == good, admitted.text
    assert admitted.json()["code"] == good
    # Only a malformed body of a route that starts one run is a run (refused at its input).
    run_id = admitted.headers.get("x-run-id")
    if body == MALFORMED and path in ONE_RUN_ROUTES:
        assert run_id and admitted.json()["run_id"] == run_id, admitted.headers
        assert admitted.headers["x-trace-id"] == run_id
        events = server["events"].of_run(run_id)
        end = next(e for e in events if e["event"] == "run_end")
        assert end["data"]["status"] == "error", end
        assert [e["event"] for e in events].count("run_end") == 1
    elif path != "/invoke":
        assert run_id is None, (admitted.headers, admitted.text)


def test_a_refused_body_reaches_no_log_and_no_event_with_the_key(
    server: dict[str, Any], http: httpx.Client, caplog: pytest.LogCaptureFixture
) -> None:
    """The refusals of bad bodies are reported as any refusal is (an ``auth_event``
    failure), and the wrong key is in no log line and no event."""
    with caplog.at_level("DEBUG"):
        for method, path, body, _ in CASES[:: max(1, len(CASES) // 12)]:
            answer = _send(http, method, path, body, WRONG_KEY)
            assert answer.status_code == 401, answer.text
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not _failures(server):
            time.sleep(0.05)  # telemetry is queued
    assert _failures(server)
    assert WRONG_KEY not in caplog.text
    assert WRONG_KEY not in json.dumps(server["events"].events)


def _failures(server: dict[str, Any]) -> list[Any]:
    return [
        e
        for e in server["events"].events
        if e["event"] == "auth_event" and e["data"]["outcome"] == "failure"
    ]
