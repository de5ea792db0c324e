"""``GET /stream?input=<json>`` admits the caller before it judges ``input``, as a body is.

A caller with no key or a wrong key gets 401, and one whose role may not run the agent 403,
whatever the query holds (no ``input``, malformed JSON, a valid input): the 400 of a
missing or malformed ``input`` is told to an admitted caller only. A refused caller starts
no run: no ``x-run-id``, no ``run_id`` in its envelope, no ``run_start``/``run_end``, one
``auth_event``. An admitted call runs once and its rate limit counts it once.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from capturedevents import served_project
from platform_agents import ECHO_TEXT_GRAPH, echo_text_dockfile

AGENT_NAME = "stream-get-first"
WRONG_KEY = "adk_wrong_0123456789abcdef0123456789abcdef"
#: What ``input`` may hold: missing, malformed, not an object, valid.
QUERIES: list[dict[str, str]] = [
    {},
    {"input": "{not json"},
    {"input": "[1]"},
    {"input": json.dumps({"text": "hi"})},
]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    root = tmp_path_factory.mktemp("streamget")
    dockfile = echo_text_dockfile(AGENT_NAME, "stream_get_agent")
    with served_project(root, AGENT_NAME, "stream_get_agent", ECHO_TEXT_GRAPH, dockfile) as s:
        yield s


def _stream(server: dict[str, Any], params: dict[str, str], key: str | None) -> httpx.Response:
    headers = {} if key is None else {"x-api-key": key}
    return httpx.get(f"{server['url']}/stream", params=params, headers=headers, timeout=30)


def _run_ends(server: dict[str, Any]) -> int:
    return sum(1 for e in list(server["events"].events) if e["event"] == "run_end")


def _run_id(answer: httpx.Response) -> str:
    assert answer.status_code == 200, answer.text
    assert "event:" in answer.text, answer.text
    return answer.headers["x-run-id"]


@pytest.mark.parametrize("params", QUERIES, ids=["no-input", "malformed", "array", "valid"])
def test_a_refused_caller_is_told_so_whatever_the_query_and_starts_no_run(
    server: dict[str, Any], params: dict[str, str]
) -> None:
    events = server["events"]
    before_ends = _run_ends(server)
    before_auth = sum(1 for e in list(events.events) if e["event"] == "auth_event")
    callers = [
        (None, 401, "Unauthorized"),
        (WRONG_KEY, 401, "Unauthorized"),
        (server["keys"]["viewer"], 403, "Forbidden"),
    ]
    for key, status, name in callers:
        answer = _stream(server, params, key)
        assert answer.status_code == status, answer.text
        envelope = answer.json()
        assert (envelope["error"], envelope["code"]) == (name, status), answer.text
        assert "run_id" not in envelope, answer.text
        assert "x-run-id" not in answer.headers, answer.headers
        assert "input" not in answer.text, answer.text  # nothing of what a valid call needs
    # An admitted run afterwards: its run_end arrives after any event of the refusals.
    events.of_run(_run_id(_stream(server, QUERIES[-1], server["keys"]["developer"])))
    assert _run_ends(server) == before_ends + 1
    refusals = [e for e in list(events.events) if e["event"] == "auth_event"][before_auth:]
    assert len(refusals) == len(callers), refusals
    assert all(e.get("run_id") is None for e in refusals), refusals


def test_an_admitted_caller_is_told_what_is_wrong_with_its_input(
    server: dict[str, Any],
) -> None:
    developer = server["keys"]["developer"]
    missing = _stream(server, {}, developer)
    assert missing.status_code == 400, missing.text
    assert missing.json()["error"] == "BadRequest"
    assert missing.json()["path"] == "input"
    malformed = _stream(server, {"input": "{not json"}, developer)
    assert malformed.status_code == 400, malformed.text
    assert malformed.json()["error"] == "MalformedJSONError"
    not_object = _stream(server, {"input": "[1]"}, developer)
    assert not_object.status_code == 422, not_object.text
    answer = _stream(server, QUERIES[-1], developer)
    run_id = _run_id(answer)
    assert '"hi"' in answer.text, answer.text
    starts = [e for e in server["events"].of_run(run_id) if e["event"] == "run_start"]
    assert len(starts) == 1, starts


@pytest.mark.parametrize(
    ("params", "status", "name"),
    [
        ({}, 400, "BadRequest"),
        ({"input": "{not json"}, 400, "MalformedJSONError"),
        ({"input": "[1]"}, 422, "ValidationError"),
    ],
    ids=["no-input", "malformed", "array"],
)
def test_an_admitted_callers_unreadable_input_is_a_run_as_a_malformed_body_is(
    server: dict[str, Any], params: dict[str, str], status: int, name: str
) -> None:
    """An admitted caller's ``input`` that cannot be run (missing, not JSON, not an object)
    is refused as ``/invoke`` refuses a malformed body: the envelope and ``x-run-id`` name
    the run, ``x-trace-id`` its trace, and the run is reported (one ``run_end``, status
    ``error``)."""
    answer = _stream(server, params, server["keys"]["developer"])
    assert answer.status_code == status, answer.text
    envelope = answer.json()
    assert envelope["error"] == name, envelope
    run_id = answer.headers["x-run-id"]
    assert envelope["run_id"] == run_id and answer.headers["x-trace-id"] == run_id
    ends = [e for e in server["events"].of_run(run_id) if e["event"] == "run_end"]
    assert len(ends) == 1 and ends[0]["data"]["status"] == "error", ends
    assert ends[0]["data"]["error_type"] == name, ends
    # As /invoke answers a malformed body.
    invoked = httpx.post(
        f"{server['url']}/invoke",
        content=b"{not json",
        headers={"x-api-key": server["keys"]["developer"], "content-type": "application/json"},
        timeout=30,
    )
    assert invoked.status_code == 400 and invoked.json()["run_id"] == invoked.headers["x-run-id"]
    server["events"].of_run(invoked.headers["x-run-id"])


@pytest.fixture
def limited(tmp_path: Any) -> Iterator[dict[str, Any]]:
    auth = '  rate_limits: {developer: "3/h"}\n'
    dockfile = echo_text_dockfile(AGENT_NAME, "stream_get_limited", auth=auth)
    with served_project(
        tmp_path, AGENT_NAME, "stream_get_limited", ECHO_TEXT_GRAPH, dockfile
    ) as served:
        yield served


def test_an_admitted_call_counts_once_against_the_rate_limit(limited: dict[str, Any]) -> None:
    developer = limited["keys"]["developer"]
    refused = _stream(limited, QUERIES[1], developer)  # a run refused at its input: one hit
    assert refused.status_code == 400 and refused.headers["x-run-id"], refused.text
    for _ in range(2):  # admitted at the route, then run: one hit each
        _run_id(_stream(limited, QUERIES[-1], developer))
    over = _stream(limited, QUERIES[-1], developer)
    assert over.status_code == 429, over.text
    assert "x-run-id" not in over.headers, over.headers
