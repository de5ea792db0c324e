"""What ``POST /invoke`` does, whichever way the request reached it.

Two framings serve the route: the ASGI fast path in front of Litestar's router
(:mod:`.fastpath`) and the Litestar handler (:mod:`.app`, for requests the fast path passes
on: with an ``Origin`` when CORS is configured). They differ only in how they read the body
and write the response; the rest is here, once: the request's headers and thread id, the
checks before the body is read, the run, and the response's body and headers. Refusals are
raised as :class:`~agentdock_runtime.RuntimeHTTPError`, which each framing answers with the
one envelope of :func:`.errors.error_parts`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, MutableMapping
from typing import Any
from urllib.parse import parse_qsl

from agentdock_runtime import Pipeline, RuntimeHTTPError, ServiceUnavailable

from agentdock_plugins.litestar.encoding import encode_json
from agentdock_plugins.litestar.resume import RESUME_HEADER, asks_resume, resume_body, resume_run

__all__ = ["InvokeRoute", "check_json", "request_headers", "thread_id"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

#: Headers whose repeats are kept (joined) so that the auth provider refuses them.
_CREDENTIAL_HEADERS = (b"authorization", b"x-api-key")
#: A header that, sent more than once, is dropped: W3C Trace Context makes a request with
#: several ``traceparent`` headers invalid for propagation, so its run starts a new trace.
_TRACEPARENT = b"traceparent"


def request_headers(scope: Scope) -> dict[str, str]:
    """The request's headers as ``{lower-case name: value}`` (ASGI names are lower-case).

    A repeated header keeps its last value, except a credential header: its values are
    joined with ``", "`` (as RFC 9110 §5.3 combines field lines), which no key or token
    contains, so the auth provider sees several credentials and refuses the request instead
    of silently using the last. A repeated ``traceparent`` is dropped, as W3C Trace Context
    asks of a request that sends more than one: the run starts a trace of its own, as for a
    malformed one. Only a request with a repeated header pays for the checks.
    """
    raw = scope["headers"]
    headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in raw}
    if len(headers) != len(raw):
        for name in _CREDENTIAL_HEADERS:
            values = [v.decode("latin-1") for k, v in raw if k == name]
            if len(values) > 1:
                headers[name.decode()] = ", ".join(values)
        if sum(1 for k, _ in raw if k == _TRACEPARENT) > 1:
            del headers["traceparent"]
    return headers


def thread_id(headers: Mapping[str, str], query_string: bytes) -> str | None:
    """The conversation id: ``x-thread-id``, else the first ``thread_id`` query parameter."""
    thread = headers.get("x-thread-id")
    if thread:
        return thread
    if query_string:
        for name, value in parse_qsl(query_string.decode("latin-1"), keep_blank_values=True):
            if name == "thread_id":
                return value or None
    return None


def check_json(headers: Mapping[str, str]) -> None:
    """A body sent as something else than JSON is refused (415); none declared is JSON."""
    content_type = headers.get("content-type")
    if content_type is None:
        return
    media = content_type.partition(";")[0].strip().lower()
    if media == "application/json" or (
        media.startswith("application/") and media.endswith("+json")
    ):
        return
    raise RuntimeHTTPError(
        415,
        "UnsupportedMediaType",
        f"the request body must be application/json, not {media or 'empty'}",
    )


class InvokeRoute:
    """``POST /invoke`` for one pipeline, less the framing."""

    __slots__ = ("_invoke", "_is_ready", "_pipeline")

    def __init__(self, pipeline: Pipeline, is_ready: Callable[[], bool]) -> None:
        self._invoke = pipeline.invoke
        self._is_ready = is_ready
        self._pipeline = pipeline

    def admit(self) -> None:
        """Before anything else: 503 while shutting down. (The content type and the size
        of the body are judged next, and told to an admitted caller only.)"""
        if not self._is_ready():
            raise ServiceUnavailable("the runtime is shutting down")

    async def run(
        self, body: bytes, headers: Mapping[str, str], query_string: bytes
    ) -> tuple[bytes, dict[str, str]]:
        """The run's output as JSON, and the headers naming the run and its trace; with
        ``x-resume``, the body resumes the thread's interrupted run (:mod:`.resume`)."""
        if RESUME_HEADER in headers and asks_resume(headers):
            try:
                payload = resume_body(body)
            except RuntimeHTTPError:
                await self._pipeline.authorize(headers, "invoke")  # its refusal comes first
                raise
            result = await resume_run(
                self._pipeline, payload, headers=headers, thread_id=thread_id(headers, query_string)
            )
        else:
            result = await self._invoke(
                body, headers=headers, thread_id=thread_id(headers, query_string)
            )
        run_id = result.run_id
        return encode_json(result.output), {
            "x-run-id": run_id,
            "x-trace-id": result.trace_id or run_id,
        }
