"""JSON-RPC 2.0 as MCP and A2A speak it over HTTP: one message per request body.

What both protocols share: reading a message (msgspec, into plain values), the error
codes of the specification, the answers, and which refusals stay HTTP answers. A caller
the pipeline refuses (no or a wrong credential, a role without ``invoke``, the rate limit,
a server shutting down) gets ``/invoke``'s HTTP status and error envelope, so HTTP clients
and proxies see an authentication failure as one; everything after admission is the
protocol's own answer.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import msgspec
from agentdock_runtime import (
    KeyRevoked,
    MalformedJSONError,
    RateLimited,
    RuntimeHTTPError,
    ServiceUnavailable,
    TokenExpired,
    Unauthorized,
)
from agentdock_runtime.jsonvalues import check_integers, too_deep
from litestar import Response

from agentdock_plugins.litestar.platform.encoding import encode

__all__ = [
    "INVALID_PARAMS",
    "INVALID_REQUEST",
    "METHOD_NOT_FOUND",
    "PARSE_ERROR",
    "RUN_REFUSALS",
    "RpcError",
    "error_response",
    "is_admission",
    "method_of",
    "read_message",
    "refused_data",
    "request_id",
    "result_response",
    "shown",
]

PARSE_ERROR = -32700
INVALID_REQUEST = -32600
METHOD_NOT_FOUND = -32601
INVALID_PARAMS = -32602

JSON = "application/json"
_ADMISSION = (Unauthorized, TokenExpired, KeyRevoked, RateLimited, ServiceUnavailable)
#: The 403s that are not the caller's: a policy's or the tool gate's refusal of a run.
RUN_REFUSALS = frozenset({"PolicyViolationError", "ToolDeniedError"})
_decoder = msgspec.json.Decoder()
#: How much of a caller's string an error answer repeats.
_SHOWN = 80


class RpcError(Exception):
    """A JSON-RPC error answer."""

    def __init__(self, code: int, message: str, data: Any = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.data = data


def shown(text: str) -> str:
    """A caller's string as an error message repeats it: quoted, its first 80 characters
    then ``…`` (a 500 kB name comes back as some 80 characters, not 500 kB), anything
    unprintable escaped by the quoting."""
    return repr(text) if len(text) <= _SHOWN else repr(text[:_SHOWN]) + "…"


def is_admission(exc: RuntimeHTTPError) -> bool:
    """Whether ``exc`` refuses the caller (an HTTP answer) rather than the run."""
    if isinstance(exc, _ADMISSION):
        return True
    return exc.status == 403 and exc.name not in RUN_REFUSALS


def read_message(raw: bytes) -> dict[str, Any]:
    """The one JSON-RPC 2.0 message of a body (``-32700`` for bytes that are not JSON, or
    that hold an integer wider than 64 bits, its path in the error's ``data``; ``-32600``
    for anything but one message object: batches are not taken)."""
    try:
        message = _decoder.decode(raw)
        check_integers(raw)
        deep = too_deep(raw, message)
        if deep is not None:
            raise deep
    except msgspec.DecodeError:
        raise RpcError(PARSE_ERROR, "the body is not JSON") from None
    except RecursionError:
        raise RpcError(PARSE_ERROR, "the body is nested too deeply") from None
    except MalformedJSONError as error:
        raise RpcError(PARSE_ERROR, error.detail, refused_data(error)) from None
    if not isinstance(message, dict) or message.get("jsonrpc") != "2.0":
        raise RpcError(INVALID_REQUEST, "one JSON-RPC 2.0 message per request")
    return message


def method_of(message: Mapping[str, Any], served: frozenset[str]) -> str:
    """The message's method, one of ``served``: ``-32600`` for a method that is not a
    string (no request), ``-32601`` for one not served. Judged before the params, as
    JSON-RPC 2.0 orders them: an unknown method is -32601 whatever its params."""
    method = message.get("method")
    if not isinstance(method, str):
        raise RpcError(INVALID_REQUEST, "a request needs a method (a string)")
    if method not in served:
        raise RpcError(METHOD_NOT_FOUND, f"method {shown(method)} is not served")
    return method


def request_id(message: dict[str, Any]) -> str | int:
    """The message's id: a string or a number (``-32600`` otherwise)."""
    ident = message.get("id")
    if not isinstance(ident, str | int) or isinstance(ident, bool):
        raise RpcError(INVALID_REQUEST, "id must be a string or a number")
    return ident


def result_response(
    ident: Any, result: Any, headers: Mapping[str, str] | None = None
) -> Response[bytes]:
    """The result answer; ``headers`` (a run's ``x-run-id`` and ``x-trace-id``) with it."""
    body = {"jsonrpc": "2.0", "id": ident, "result": result}
    return Response(content=encode(body), media_type=JSON, headers=headers)


def refused_data(error: MalformedJSONError) -> dict[str, Any]:
    """An error's ``data`` for a value :func:`read_message` refused: its name and path."""
    return {"error": error.name, "path": error.path}


def error_response(ident: Any, exc: RpcError) -> Response[bytes]:
    """The error answer: HTTP 400 for a body that is no request, else 200."""
    error: dict[str, Any] = {"code": exc.code, "message": exc.message}
    if exc.data is not None:
        error["data"] = exc.data
    body = {"jsonrpc": "2.0", "id": ident, "error": error}
    status = 400 if exc.code in (PARSE_ERROR, INVALID_REQUEST) else 200
    return Response(content=encode(body), status_code=status, media_type=JSON)
