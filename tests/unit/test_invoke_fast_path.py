"""``POST /invoke`` answered in front of Litestar: bodies, limits, errors and hand-overs."""

from __future__ import annotations

import asyncio
import gc
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, cast

import pytest
from agentdock_plugins.litestar import running
from agentdock_plugins.litestar.errors import error_response
from agentdock_plugins.litestar.fastpath import invoke_fast_path
from agentdock_runtime import AgentError, RateLimited, Unauthorized


@dataclass
class _Result:
    run_id: str
    output: Any
    trace_id: str | None = None


class _Pipeline:
    """Records what the fast path hands over; answers with ``output`` or raises ``error``."""

    def __init__(
        self,
        output: Any = None,
        error: BaseException | None = None,
        refusal: BaseException | None = None,
    ) -> None:
        self.output = {"text": "HI"} if output is None else output
        self.error = error
        #: What :meth:`authorize` raises (a caller who is not admitted); ``None`` admits.
        self.refusal = refusal
        self.calls: list[tuple[bytes, Mapping[str, str], str | None]] = []
        self.authorized: list[str] = []
        #: The headers :meth:`admit` handed back, one per admission.
        self.admitted: list[dict[str, str]] = []

    async def admit(self, headers: Mapping[str, str]) -> Mapping[str, str]:
        if self.refusal is not None:
            raise self.refusal
        self.admitted.append({**headers, "x-admitted": "yes"})
        return self.admitted[-1]

    async def authorize(self, headers: Mapping[str, str], permission: str) -> Mapping[str, Any]:
        self.authorized.append(permission)
        if self.refusal is not None:
            raise self.refusal
        return {"sub": "caller"}

    async def invoke(
        self, body: bytes, *, headers: Mapping[str, str], thread_id: str | None
    ) -> _Result:
        self.calls.append((body, headers, thread_id))
        if self.error is not None:
            raise self.error
        return _Result("run-1", self.output, "trace-1")


class _Inner:
    """The application behind the fast path (Litestar in the runtime)."""

    def __init__(self) -> None:
        self.scopes: list[dict[str, Any]] = []

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        self.scopes.append(scope)
        await send({"type": "http.response.start", "status": 299, "headers": []})
        await send({"type": "http.response.body", "body": b"inner"})


def _scope(
    path: str = "/invoke",
    method: str = "POST",
    headers: Mapping[str, str] | None = None,
    query: bytes = b"",
) -> dict[str, Any]:
    raw = {"content-type": "application/json", **(headers or {})}
    return {
        "type": "http",
        "path": path,
        "method": method,
        "query_string": query,
        "headers": [(k.encode(), v.encode()) for k, v in raw.items()],
    }


#: The messages of the request body the last :func:`_call` handed to the application.
_RECEIVED: list[dict[str, Any]] = []


def _call(
    app: Any, scope: dict[str, Any], chunks: list[bytes] | None = None, disconnect: bool = False
) -> tuple[int | None, dict[str, str], bytes]:
    messages: list[dict[str, Any]] = [
        {"type": "http.request", "body": chunk, "more_body": i < len(chunks or [b""]) - 1}
        for i, chunk in enumerate(chunks if chunks is not None else [b'{"text": "hi"}'])
    ]
    if disconnect:
        messages = [{**messages[0], "more_body": True}, {"type": "http.disconnect"}]
    sent: list[dict[str, Any]] = []
    received = _RECEIVED
    received.clear()

    async def receive() -> dict[str, Any]:
        received.append(messages[0])
        return messages.pop(0)

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    asyncio.run(app(scope, receive, send))
    if not sent:
        return None, {}, b""
    start = sent[0]
    headers = {k.decode(): v.decode() for k, v in start["headers"]}
    return start["status"], headers, b"".join(m.get("body", b"") for m in sent[1:])


def _app(
    pipeline: _Pipeline, inner: _Inner | None = None, *, ready: bool = True, cors: bool = False
) -> Any:
    return invoke_fast_path(
        inner or _Inner(), cast(Any, pipeline), max_body_bytes=64, is_ready=lambda: ready, cors=cors
    )


def test_invoke_answers_with_the_output_and_the_run_headers() -> None:
    pipeline = _Pipeline()
    status, headers, body = _call(_app(pipeline), _scope(query=b"a=1&thread_id=t-9"))
    assert status == 200
    assert json.loads(body) == {"text": "HI"}
    assert headers["content-type"] == "application/json"
    assert headers["content-length"] == str(len(body))
    assert headers["x-run-id"] == "run-1" and headers["x-trace-id"] == "trace-1"
    sent_body, sent_headers, thread = pipeline.calls[0]
    assert sent_body == b'{"text": "hi"}' and thread == "t-9"
    assert sent_headers["content-type"] == "application/json"


def test_thread_header_wins_over_the_query() -> None:
    pipeline = _Pipeline()
    _call(_app(pipeline), _scope(headers={"x-thread-id": "h"}, query=b"thread_id=q"))
    assert pipeline.calls[0][2] == "h"


def test_a_body_in_chunks_is_joined() -> None:
    pipeline = _Pipeline()
    status, _, _ = _call(_app(pipeline), _scope(), chunks=[b'{"text"', b': "hi"}'])
    assert status == 200 and pipeline.calls[0][0] == b'{"text": "hi"}'


@pytest.mark.parametrize(
    ("headers", "chunks"),
    [
        ({"content-length": "65"}, [b"x" * 65]),  # declared too large: refused unread
        ({}, [b"x" * 40, b"x" * 40]),  # chunked past the limit
    ],
)
def test_body_over_the_limit_is_413(headers: dict[str, str], chunks: list[bytes]) -> None:
    pipeline = _Pipeline()
    status, _, body = _call(_app(pipeline), _scope(headers=headers), chunks=chunks)
    assert status == 413
    assert json.loads(body)["error"] == "PayloadTooLarge"
    assert not pipeline.calls


def test_wrong_content_type_is_415_and_not_run() -> None:
    pipeline = _Pipeline()
    status, _, body = _call(_app(pipeline), _scope(headers={"content-type": "text/plain"}))
    assert status == 415 and json.loads(body)["error"] == "UnsupportedMediaType"
    assert not pipeline.calls
    assert len(pipeline.admitted) == 1  # the caller was admitted before being told


@pytest.mark.parametrize(
    ("headers", "chunks", "read"),
    [
        ({"content-type": "text/plain"}, [b"garbage"], 0),
        ({"content-length": "65"}, [b"x" * 65], 0),  # declared too large: never read
        ({}, [b"x" * 40, b"x" * 40], 0),  # chunked: not read either
        ({"content-length": "20"}, [b"x" * 20], 0),  # a body of a fair size: not read
    ],
)
def test_a_stranger_gets_401_not_413_or_415(
    headers: dict[str, str], chunks: list[bytes], read: int
) -> None:
    """What is wrong with a body is told to an admitted caller only; a stranger gets the
    admission's refusal before a byte of its body is read."""
    pipeline = _Pipeline(refusal=Unauthorized("invalid or missing credentials"))
    status, _, body = _call(_app(pipeline), _scope(headers=headers), chunks=chunks)
    assert status == 401 and json.loads(body)["error"] == "Unauthorized"
    assert not pipeline.calls and len(_RECEIVED) == read


def test_a_valid_call_is_admitted_once_before_its_body_is_read() -> None:
    pipeline = _Pipeline()
    status, _, _ = _call(_app(pipeline), _scope())
    assert status == 200 and len(pipeline.calls) == 1
    # Admitted once, from the headers, and the run handed the admitted headers.
    assert pipeline.authorized == [] and len(pipeline.admitted) == 1
    assert pipeline.calls[0][1] is pipeline.admitted[0]


def test_client_gone_before_the_body_gets_no_answer_and_no_run() -> None:
    pipeline = _Pipeline()
    status, _, _ = _call(_app(pipeline), _scope(), disconnect=True)
    assert status is None and not pipeline.calls


def test_runtime_error_is_the_envelope_with_its_run_id() -> None:
    error = AgentError("the agent failed to complete the run")
    error.run_id, error.trace_id = "run-7", "trace-7"
    status, headers, body = _call(_app(_Pipeline(error=error)), _scope())
    assert status == 500
    assert json.loads(body) == {
        "error": "AgentError",
        "code": 500,
        "detail": "the agent failed to complete the run",
        "run_id": "run-7",
    }
    assert headers["x-run-id"] == "run-7" and headers["x-trace-id"] == "trace-7"


def test_fast_path_and_litestar_handlers_send_the_same_error_response() -> None:
    error = RateLimited("too many requests", retry_after=3)
    error.run_id, error.trace_id = "run-8", "trace-8"
    status, headers, body = _call(_app(_Pipeline(error=error)), _scope())
    response = error_response(error)
    assert status == response.status_code == 429
    assert body == response.content
    expected = {"content-type": "application/json", "content-length": str(len(body))}
    assert headers == {**expected, **response.headers}
    assert headers["Retry-After"] == "3" and headers["x-trace-id"] == "trace-8"


def test_unexpected_failure_is_a_500_envelope_without_internals() -> None:
    # An output JSON cannot hold fails while encoding, after the run.
    status, _, body = _call(_app(_Pipeline(output={"x": object()})), _scope())
    assert status == 500
    envelope = json.loads(body)
    assert envelope["error"] == "InternalError" and "object" not in envelope["detail"]


def test_stopping_runtime_is_503() -> None:
    pipeline = _Pipeline()
    status, _, body = _call(_app(pipeline, ready=False), _scope())
    assert status == 503 and json.loads(body)["error"] == "ServiceUnavailable"
    assert not pipeline.calls


@pytest.mark.parametrize(
    "scope",
    [
        _scope(path="/stream"),
        _scope(method="GET"),
        _scope(path="/invoke/"),
        {**_scope(), "type": "websocket"},
    ],
)
def test_everything_else_goes_to_the_application(scope: dict[str, Any]) -> None:
    inner, pipeline = _Inner(), _Pipeline()
    status, _, body = _call(_app(pipeline, inner), scope)
    assert (status, body) == (299, b"inner") and inner.scopes == [scope]
    assert not pipeline.calls


def test_origin_under_cors_goes_to_the_application() -> None:
    inner, pipeline = _Inner(), _Pipeline()
    scope = _scope(headers={"origin": "https://app.example"})
    assert _call(_app(pipeline, inner, cors=True), scope)[0] == 299
    # Without CORS configured there are no CORS headers to add: answered here.
    assert _call(_app(pipeline, inner, cors=False), scope)[0] == 200


def test_serving_freezes_the_start_up_heap(monkeypatch: pytest.MonkeyPatch) -> None:
    from agentdock_runtime.heap import YOUNG_THRESHOLD

    seen: list[tuple[int, tuple[int, int, int]]] = []
    monkeypatch.setattr(
        running._Server,
        "run",
        lambda self, sockets=None: seen.append((gc.get_freeze_count(), gc.get_threshold())),
    )
    before = gc.get_threshold()
    try:
        running.run(_Inner(), host="127.0.0.1", port=0)
    finally:
        gc.unfreeze()
        gc.set_threshold(*before)
    [(frozen, thresholds)] = seen
    assert frozen > 0
    # The young generation is collected less often; the older ones as before.
    assert thresholds == (YOUNG_THRESHOLD, *before[1:]) and before[0] < YOUNG_THRESHOLD
