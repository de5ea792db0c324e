"""A body's content type (415) and size (413) are judged only once the caller is admitted.

On every route that takes a body (``/invoke``, ``/stream``, the Platform, LangServe, MCP and
A2A routes), a caller with no key or a wrong key gets 401 and one whose role may not run
the agent 403, whatever it declares its body to be: the 415 of a body that is not JSON and
the 413 of one over the limit are told to an admitted caller only. Authentication reads
only headers: a body declared too large is refused without a byte of it being read, the
stranger's as the admitted caller's (the request below sends none, and the answer comes).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from agentdock_plugins.litestar.limits import DEFAULT_MAX_BODY_BYTES
from capturedevents import served_project
from platform_agents import ECHO_TEXT_GRAPH, echo_text_dockfile
from rawhttp import declared_too_large

AGENT_NAME = "body-first"
WRONG_KEY = "adk_wrong_0123456789abcdef0123456789abcdef"
ORIGIN = "https://app.example"

DOCKFILE = echo_text_dockfile(
    AGENT_NAME, "body_first_agent", expose=f'cors: {{origins: ["{ORIGIN}"]}}'
)

THREAD = str(uuid.uuid4())
#: (method, path, extra headers): with an ``Origin``, ``/invoke`` and ``runs.wait`` take
#: their Litestar route rather than the ASGI fast path.
ROUTES: list[tuple[str, str, dict[str, str]]] = [
    ("POST", "/invoke", {}),
    ("POST", "/invoke", {"origin": ORIGIN}),
    ("POST", "/stream", {}),
    ("POST", "/runs/wait", {}),
    ("POST", "/runs/wait", {"origin": ORIGIN}),
    ("POST", f"/threads/{THREAD}/runs/wait", {}),
    ("POST", "/runs/stream", {}),
    ("POST", "/runs", {}),
    ("POST", f"/threads/{THREAD}/runs/stream", {}),
    ("POST", f"/threads/{THREAD}/runs", {}),
    ("POST", "/threads", {}),
    ("POST", f"/threads/{THREAD}/state", {}),
    ("POST", "/assistants/search", {}),
    ("PUT", "/store/items", {}),
    ("POST", "/store/items/search", {}),
    *[("POST", f"/langserve/{AGENT_NAME}/{verb}", {}) for verb in ("invoke", "batch", "stream")],
    ("POST", "/mcp/", {}),
    ("POST", f"/a2a/{AGENT_NAME}", {}),
]


def _id(route: tuple[str, str, dict[str, str]]) -> str:
    method, path, extra = route
    return f"{method} {path.replace(THREAD, '{tid}')}{' (origin)' if extra else ''}"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    root = tmp_path_factory.mktemp("bodyfirst")
    with served_project(root, AGENT_NAME, "body_first_agent", ECHO_TEXT_GRAPH, DOCKFILE) as s:
        yield s


def _callers(server: dict[str, Any]) -> list[tuple[dict[str, str], int, str]]:
    """(credentials, status, error) of each caller who is not admitted."""
    return [
        ({}, 401, "Unauthorized"),
        ({"x-api-key": WRONG_KEY}, 401, "Unauthorized"),
        ({"x-api-key": server["keys"]["viewer"]}, 403, "Forbidden"),
    ]


def _refused(status: int, body: bytes, expected: int, name: str) -> None:
    assert status == expected, body
    envelope = json.loads(body)
    assert envelope["error"] == name and envelope["code"] == expected, body
    assert WRONG_KEY.encode() not in body
    for word in (b"application/json", b"too large", b"bytes"):  # nothing of the body's rules
        assert word not in body, body


@pytest.mark.parametrize("route", ROUTES, ids=[_id(r) for r in ROUTES])
def test_a_body_not_json_is_415_to_an_admitted_caller_only(
    server: dict[str, Any], route: tuple[str, str, dict[str, str]]
) -> None:
    method, path, extra = route
    url = f"{server['url']}{path}"
    plain = {"content-type": "text/plain", **extra}
    for credentials, status, name in _callers(server):
        answer = httpx.request(method, url, content=b"garbage", headers={**plain, **credentials})
        _refused(answer.status_code, answer.content, status, name)
    developer = {**plain, "x-api-key": server["keys"]["developer"]}
    admitted = httpx.request(method, url, content=b"garbage", headers=developer)
    assert admitted.status_code == 415, admitted.text
    assert admitted.json()["error"] == "UnsupportedMediaType"


@pytest.mark.parametrize("route", ROUTES, ids=[_id(r) for r in ROUTES])
def test_a_body_declared_too_large_is_413_to_an_admitted_caller_only_and_never_read(
    server: dict[str, Any], route: tuple[str, str, dict[str, str]]
) -> None:
    method, path, extra = route
    for credentials, status, name in _callers(server):
        answer = declared_too_large(server["url"], method, path, {**extra, **credentials})
        _refused(*answer, status, name)
    developer = {**extra, "x-api-key": server["keys"]["developer"]}
    status, body = declared_too_large(server["url"], method, path, developer)
    assert status == 413, body
    assert json.loads(body)["error"] == "PayloadTooLarge"


def _chunks() -> Iterator[bytes]:
    """A body sent in chunks, without a ``content-length``, past the limit."""
    piece = b" " * 65536
    for _ in range(DEFAULT_MAX_BODY_BYTES // len(piece) + 1):
        yield piece


@pytest.mark.parametrize("route", ROUTES[:5], ids=[_id(r) for r in ROUTES[:5]])
def test_a_chunked_body_past_the_limit_is_413_to_an_admitted_caller_only(
    server: dict[str, Any], route: tuple[str, str, dict[str, str]]
) -> None:
    method, path, extra = route
    url = f"{server['url']}{path}"
    json_type = {"content-type": "application/json", **extra}
    for credentials, status, name in _callers(server):
        answer = httpx.request(method, url, content=_chunks(), headers={**json_type, **credentials})
        _refused(answer.status_code, answer.content, status, name)
    developer = {**json_type, "x-api-key": server["keys"]["developer"]}
    admitted = httpx.request(method, url, content=_chunks(), headers=developer)
    assert admitted.status_code == 413, admitted.text
