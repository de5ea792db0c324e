"""What every Platform API route reads from a request and answers with: the headers, the
JSON body, a JSON reply, a failed run's reply and the count query parameters.

Kept apart from the routes so each resource's handler module shares one copy.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, cast

from agentdock_runtime import RuntimeHTTPError
from litestar import Request, Response
from litestar.params import PathParameter

from agentdock_plugins.litestar.invoke import Scope, check_json, request_headers
from agentdock_plugins.litestar.platform.encoding import encode
from agentdock_plugins.litestar.platform.runs import error_body

__all__ = [
    "SSE_HEADERS",
    "PathPart",
    "Reply",
    "as_response",
    "body_of",
    "count",
    "failure",
    "failure_parts",
    "headers_of",
    "json_reply",
    "small_int",
]

JSON = "application/json"
#: The headers of every Server-Sent Events answer (no cache, no proxy buffering).
SSE_HEADERS = {"cache-control": "no-cache", "x-accel-buffering": "no"}
#: A reply before it is framed: status, JSON body, headers. The runs.wait routes answer with
#: one, which the ASGI fast path writes itself and the Litestar route wraps in a Response.
Reply = tuple[int, bytes, dict[str, str]]
#: A path segment of a route (a thread, run, checkpoint or assistant id).
PathPart = Annotated[str, PathParameter()]


def headers_of(request: Request[Any, Any, Any]) -> dict[str, str]:
    """The request's headers, lower-cased, as the pipeline reads them."""
    return request_headers(cast("Scope", request.scope))


async def body_of(request: Request[Any, Any, Any], headers: Mapping[str, str]) -> bytes:
    """The request's body, once its content type is JSON (else the 415 refusal)."""
    check_json(headers)
    return await request.body()


def json_reply(
    body: Any, status: int = 200, headers: Mapping[str, str] | None = None
) -> Response[bytes]:
    """``body`` as a JSON answer."""
    return Response(content=encode(body), status_code=status, media_type=JSON, headers=headers)


def as_response(reply: Reply) -> Response[bytes]:
    """``reply`` as a Litestar response."""
    status, content, headers = reply
    return Response(content=content, status_code=status, media_type=JSON, headers=headers)


def failure_parts(error: RuntimeHTTPError, run_id: str | None, headers: Mapping[str, str]) -> Reply:
    """A run that failed once started (a 5xx): the envelope, with the Platform's
    ``__error__`` that ``runs.wait`` raises."""
    body = {**error.envelope(run_id), "__error__": error_body(error)}
    return error.status, encode(body), dict(headers)


def failure(
    error: RuntimeHTTPError, run_id: str | None, headers: Mapping[str, str]
) -> Response[bytes]:
    """:func:`failure_parts` as a Litestar response."""
    return as_response(failure_parts(error, run_id, headers))


def small_int(text: str) -> int | None:
    """``text`` as a non-negative integer of at most nine ASCII digits, else ``None``
    (``str.isdigit`` alone accepts "²", which ``int`` refuses)."""
    if 0 < len(text) <= 9 and text.isascii() and text.isdigit():
        return int(text)
    return None


def count(raw: str | None, name: str, default: int) -> int:
    """A ``limit`` or ``offset`` query parameter (422 naming it when it is not one)."""
    if raw is None or raw == "":
        return default
    value = small_int(raw)
    if value is None:
        raise RuntimeHTTPError(
            422, "ValidationError", f"{name} must be a whole number below 10^9", path=name
        )
    return value
