"""Every error of the server as the runtime's envelope, never a traceback.

``{"error": NAME, "code": STATUS, "detail": TEXT, "run_id": ...}`` plus ``path``/``details``
when they say something. Pipeline errors carry their run id (also sent as ``x-run-id``);
Litestar's own errors (unknown route, wrong method, body too large) get a stable name, and
its refusal of a parameter or body field names the field and the cause (``path``, ``details``)
rather than echoing the request's URL.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from http import HTTPStatus
from typing import Any

from agentdock.capabilities import CLIENT_GONE
from agentdock_runtime import RuntimeHTTPError
from litestar import Request, Response
from litestar.exceptions import HTTPException, ValidationException

from agentdock_plugins.litestar.encoding import encode_json

__all__ = ["EXCEPTION_HANDLERS", "error_parts", "error_response", "status_name"]

log = logging.getLogger("agentdock.server")

JSON = "application/json"

_NAMES = {
    400: "BadRequest",
    401: "Unauthorized",
    403: "Forbidden",
    404: "NotFound",
    405: "MethodNotAllowed",
    406: "NotAcceptable",
    408: "RequestTimeout",
    413: "PayloadTooLarge",
    415: "UnsupportedMediaType",
    422: "ValidationError",
    429: "RateLimitExceeded",
    500: "InternalError",
    503: "ServiceUnavailable",
    504: "AgentTimeoutError",
}


def status_name(status: int) -> str:
    """The envelope name for an HTTP status with no runtime error behind it."""
    name = _NAMES.get(status)
    if name is not None:
        return name
    try:
        return HTTPStatus(status).phrase.title().replace(" ", "").replace("-", "")
    except ValueError:
        return "Error"


def error_parts(
    error: RuntimeHTTPError, headers: Mapping[str, str] | None = None
) -> tuple[int, bytes, dict[str, str]]:
    """The status, JSON body and headers of the response to ``error``: the one place an
    error envelope is written, whoever sends it (the exception handlers below, the
    ``/invoke`` fast path, a refused WebSocket handshake, a request read past its deadline).

    The headers are the error's own (``WWW-Authenticate``, ``Retry-After``), then
    ``headers``, then ``x-run-id`` and ``x-trace-id`` once the error belongs to a run.
    """
    out = dict(error.headers)
    if headers:
        out.update(headers)
    if error.run_id is not None:
        out["x-run-id"] = error.run_id
        out["x-trace-id"] = error.trace_id or error.run_id
    return error.status, encode_json(error.envelope()), out


def error_response(
    error: RuntimeHTTPError, headers: Mapping[str, str] | None = None
) -> Response[Any]:
    """The Litestar response for a runtime error (see :func:`error_parts`)."""
    status, body, out = error_parts(error, headers)
    return Response(content=body, status_code=status, media_type=JSON, headers=out)


def _runtime_error(request: Request[Any, Any, Any], exc: RuntimeHTTPError) -> Response[Any]:
    return error_response(exc)


def _field_errors(exc: ValidationException) -> list[dict[str, str]]:
    """The fields Litestar refused, as ``{"path", "message"}`` (its ``extra``: one
    ``{"key", "message", "source"}`` per field; a key-less one is the whole body)."""
    extra = exc.extra if isinstance(exc.extra, list) else []
    return [
        {"path": str(item.get("key") or "body"), "message": str(item.get("message") or "invalid")}
        for item in extra
        if isinstance(item, dict)
    ]


def _http_error(request: Request[Any, Any, Any], exc: HTTPException) -> Response[Any]:
    status = exc.status_code
    fields = _field_errors(exc) if isinstance(exc, ValidationException) else []
    if fields:
        first = fields[0]
        detail = f"{first['path']}: {first['message']}"
        error = RuntimeHTTPError(
            status, status_name(status), detail, path=first["path"], details=fields
        )
        return error_response(error)
    if status >= 500:
        # A client that went away (its body never came) is no server failure: not logged.
        if CLIENT_GONE not in request.scope:
            log.error("%s %s failed with %d", request.method, request.url.path, status)
        detail = "the server failed to handle the request"
    elif status == 413:
        detail = "the request body is too large"
    elif status == 404:
        detail = f"no route for {request.url.path}"
    elif status == 405:
        detail = f"{request.method} is not allowed on {request.url.path}"
    else:
        detail = str(exc.detail) if exc.detail else HTTPStatus(status).phrase
    headers = {k: v for k, v in (exc.headers or {}).items() if k.lower() == "allow"}
    return error_response(RuntimeHTTPError(status, status_name(status), detail), headers)


def _internal(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    log.error("%s %s raised %s", request.method, request.url.path, type(exc).__name__, exc_info=exc)
    return error_response(
        RuntimeHTTPError(500, "InternalError", "the server failed to handle the request")
    )


EXCEPTION_HANDLERS: dict[Any, Any] = {
    RuntimeHTTPError: _runtime_error,
    HTTPException: _http_error,
    Exception: _internal,
}
