"""The Platform's ``runs.wait`` answered in front of Litestar, as ``/invoke`` is: which paths
the fast path takes, and that it checks, reads and answers as the Litestar route does."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, cast

import pytest
from agentdock_plugins.litestar.fastpath import invoke_fast_path
from agentdock_plugins.litestar.platform.bodies import RunCreate, decode_body
from agentdock_plugins.litestar.platform.replies import Reply
from agentdock_plugins.litestar.platform.waitroute import NOT_WAIT, WaitRoute
from agentdock_runtime import AgentError, RateLimited, RuntimeHTTPError
from test_invoke_fast_path import _call, _Inner, _Pipeline, _scope

RUN = b'{"assistant_id": "agent", "input": {"text": "hi"}}'


class _Platform:
    """Records the runs the route hands over; answers each, or raises ``error``."""

    def __init__(self, error: RuntimeHTTPError | None = None) -> None:
        self.error = error
        self.calls: list[tuple[str | None, RunCreate, Mapping[str, str]]] = []

    async def run_request(
        self, raw: bytes, headers: Mapping[str, str], *, mode: str
    ) -> tuple[RunCreate, list[str]]:
        assert mode == "invoke"  # runs.wait runs as /invoke does
        body = decode_body(raw, RunCreate, empty_ok=False)  # as an agent without auth does
        return body, body.modes()

    async def wait_stateless(
        self, request: tuple[RunCreate, list[str]], headers: Mapping[str, str]
    ) -> Reply:
        self.calls.append((None, request[0], headers))
        if self.error is not None:
            raise self.error
        return 200, b'{"text":"HI"}', {"x-run-id": "run-1"}

    async def start(
        self,
        request: tuple[RunCreate, list[str]],
        thread_id: str | None,
        headers: Mapping[str, str],
        *,
        wait: bool,
    ) -> str:
        assert wait
        self.calls.append((thread_id, request[0], headers))
        if self.error is not None:
            raise self.error
        return f"handle of {thread_id}"

    async def wait(self, handle: str) -> Reply:
        return 200, json.dumps({"ran": handle}).encode(), {"content-location": "/threads/t/runs/r"}


def _app(
    platform: _Platform,
    inner: _Inner | None = None,
    *,
    cors: bool = False,
    invoke: bool = True,
    pipeline: _Pipeline | None = None,
) -> Any:
    return invoke_fast_path(
        inner or _Inner(),
        cast(Any, pipeline or _Pipeline()),
        max_body_bytes=128,
        is_ready=lambda: True,
        cors=cors,
        invoke=invoke,
        wait=WaitRoute(cast(Any, platform)),
    )


def test_stateless_wait_is_answered_here_with_the_run_and_its_headers() -> None:
    platform, inner = _Platform(), _Inner()
    status, headers, body = _call(
        _app(platform, inner), _scope("/runs/wait", headers={"x-api-key": "k"}), [RUN]
    )
    assert (status, body) == (200, b'{"text":"HI"}')
    assert headers["x-run-id"] == "run-1" and headers["content-type"] == "application/json"
    assert headers["content-length"] == str(len(body))
    assert not inner.scopes  # Litestar's router never saw it
    [(thread, run, sent)] = platform.calls
    assert thread is None and run.input == {"text": "hi"} and sent["x-api-key"] == "k"


def test_thread_wait_is_started_on_its_thread_and_waited_for() -> None:
    platform, inner = _Platform(), _Inner()
    status, headers, body = _call(_app(platform, inner), _scope("/threads/t-1/runs/wait"), [RUN])
    assert status == 200 and json.loads(body) == {"ran": "handle of t-1"}
    assert headers["content-location"] == "/threads/t/runs/r"
    assert platform.calls[0][0] == "t-1" and not inner.scopes


@pytest.mark.parametrize(
    ("path", "thread"),
    [
        ("/runs/wait", None),
        ("/threads/abc/runs/wait", "abc"),
        ("/threads//runs/wait", NOT_WAIT),
        ("/threads/a/b/runs/wait", NOT_WAIT),
        ("/threads/abc/runs/waits", NOT_WAIT),
        ("/runs/wait/", NOT_WAIT),
        ("/runs/stream", NOT_WAIT),
        ("/invoke", NOT_WAIT),
    ],
)
def test_which_paths_are_a_wait(path: str, thread: str | None) -> None:
    assert WaitRoute.thread_of(path) == thread


@pytest.mark.parametrize(
    "scope",
    [
        _scope("/runs/wait", method="GET"),
        _scope("/threads/a/b/runs/wait"),
        _scope("/runs/stream"),
        _scope("/threads/t/runs"),
    ],
)
def test_other_platform_requests_go_to_the_application(scope: dict[str, Any]) -> None:
    platform, inner = _Platform(), _Inner()
    status, _, body = _call(_app(platform, inner), scope, [RUN])
    assert (status, body) == (299, b"inner") and inner.scopes == [scope]
    assert not platform.calls


def test_origin_under_cors_goes_to_the_application() -> None:
    platform, inner = _Platform(), _Inner()
    scope = _scope("/runs/wait", headers={"origin": "https://app.example"})
    assert _call(_app(platform, inner, cors=True), scope, [RUN])[0] == 299
    assert _call(_app(platform, inner, cors=False), scope, [RUN])[0] == 200


def test_invoke_not_served_goes_to_the_application_while_wait_is_answered() -> None:
    platform, inner, pipeline = _Platform(), _Inner(), _Pipeline()
    app = _app(platform, inner, invoke=False, pipeline=pipeline)
    assert _call(app, _scope("/invoke"))[0] == 299 and not pipeline.calls
    assert _call(app, _scope("/runs/wait"), [RUN])[0] == 200


def test_body_over_the_limit_is_413_and_not_run() -> None:
    platform = _Platform()
    status, _, body = _call(_app(platform), _scope("/runs/wait"), [b"x" * 100, b"x" * 100])
    assert status == 413 and json.loads(body)["error"] == "PayloadTooLarge"
    assert not platform.calls


def test_wrong_content_type_is_415_and_not_run() -> None:
    platform = _Platform()
    scope = _scope("/runs/wait", headers={"content-type": "text/plain"})
    status, _, body = _call(_app(platform), scope, [RUN])
    assert status == 415 and json.loads(body)["error"] == "UnsupportedMediaType"
    assert not platform.calls


@pytest.mark.parametrize(
    ("sent", "expected"),
    [
        (b"", (400, "MalformedJSONError", None)),  # a run needs a body
        (b'{"assistant_id": "agent", "input": 3}', (422, "ValidationError", "input")),
        (b"{not json", (400, "MalformedJSONError", None)),
    ],
)
def test_a_bad_run_body_is_refused_with_its_path(
    sent: bytes, expected: tuple[int, str, str | None]
) -> None:
    platform = _Platform()
    status, _, body = _call(_app(platform), _scope("/runs/wait"), [sent])
    envelope = json.loads(body)
    assert (status, envelope["error"], envelope.get("path")) == expected, envelope
    assert not platform.calls


def test_a_refusal_of_the_run_is_the_envelope() -> None:
    error = RateLimited("too many requests", retry_after=3)
    status, headers, body = _call(_app(_Platform(error=error)), _scope("/runs/wait"), [RUN])
    assert status == 429 and json.loads(body)["error"] == "RateLimitExceeded"
    assert headers["Retry-After"] == "3"


def test_an_unexpected_failure_is_a_500_envelope_without_internals() -> None:
    class Broken(_Platform):
        async def wait_stateless(self, body: RunCreate, headers: Mapping[str, str]) -> Reply:
            raise KeyError("sk-planted-secret-value")

    status, _, body = _call(_app(Broken()), _scope("/runs/wait"), [RUN])
    assert status == 500 and json.loads(body)["error"] == "InternalError"
    assert b"sk-planted" not in body


def test_a_failed_run_keeps_its_status() -> None:
    error = AgentError("the agent failed to complete the run")
    status, _, body = _call(_app(_Platform(error=error)), _scope("/runs/wait"), [RUN])
    assert status == 500 and json.loads(body)["error"] == "AgentError"
