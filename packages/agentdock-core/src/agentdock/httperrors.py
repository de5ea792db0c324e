"""The errors a run can end with, each one HTTP status and one envelope.

They live in core, beside :class:`agentdock.run.ToolDenied`, because plugins raise them: a
policy refuses with :class:`PolicyViolationError` (403) or :class:`PayloadTooLarge` (413), an
auth provider with :class:`Unauthorized`, :class:`Forbidden` or :class:`ServiceUnavailable`,
and a plugin that depends on ``agentdock-core`` alone must be able to. The runtime
re-exports them from ``agentdock_runtime.errors`` (the same classes).

Every HTTP error of the runtime has the same body::

    {"error": NAME, "code": HTTP_STATUS, "detail": TEXT, "run_id": "...",
     "path": "...", "details": [...]}

``path`` and ``details`` appear only when they say something. The detail is written for the
caller: it never carries a traceback, an exception message of the agent or a secret. Servers
turn any :class:`RuntimeHTTPError` into a response with :meth:`RuntimeHTTPError.envelope`;
auth providers and policies raise the subclasses below to choose the status.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

__all__ = [
    "AgentError",
    "AgentTimeoutError",
    "BadRequest",
    "FieldError",
    "Forbidden",
    "InputValidationError",
    "InternalError",
    "KeyRevoked",
    "MalformedJSONError",
    "PayloadTooLarge",
    "PolicyViolationError",
    "RateLimited",
    "RuntimeHTTPError",
    "SchemaMismatchError",
    "ServiceUnavailable",
    "StateStoreUnavailable",
    "TokenExpired",
    "ToolDeniedError",
    "Unauthorized",
]

#: One failing field: ``{"path": "items[2].name", "message": "expected string"}``.
FieldError = Mapping[str, str]


class RuntimeHTTPError(Exception):
    """An error with an HTTP status, a stable name and a caller-safe detail."""

    #: Set by the pipeline once the run has an id; servers pass it to :meth:`envelope`.
    run_id: str | None

    def __init__(
        self,
        status: int,
        name: str,
        detail: str,
        path: str | None = None,
        details: Sequence[Mapping[str, Any]] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.name = name
        self.detail = detail
        self.path = path
        self.details = list(details) if details is not None else None
        #: Response headers the server sends with the envelope (``WWW-Authenticate``,
        #: ``Retry-After``); never a credential.
        self.headers: dict[str, str] = dict(headers) if headers else {}
        self.run_id = None
        #: The run's W3C trace id, set with ``run_id`` (servers send it as ``x-trace-id``).
        self.trace_id: str | None = None

    def envelope(self, run_id: str | None = None) -> dict[str, Any]:
        """The JSON body of the error response (``run_id`` defaults to the error's own)."""
        body: dict[str, Any] = {"error": self.name, "code": self.status, "detail": self.detail}
        if self.path is not None:
            body["path"] = self.path
        if self.details is not None:
            body["details"] = [dict(item) for item in self.details]
        rid = run_id if run_id is not None else self.run_id
        if rid is not None:
            body["run_id"] = rid
        return body

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.status}, {self.name!r}, {self.detail!r})"


class _Fixed(RuntimeHTTPError):
    """A subclass whose status and name never change."""

    STATUS: ClassVar[int] = 500
    NAME: ClassVar[str] = "InternalError"

    def __init__(
        self,
        detail: str,
        *,
        path: str | None = None,
        details: Sequence[Mapping[str, Any]] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(
            self.STATUS, self.NAME, detail, path=path, details=details, headers=headers
        )


class MalformedJSONError(_Fixed):
    """400: the body is not one JSON document (empty, truncated, bad escapes, too deep)."""

    STATUS = 400
    NAME = "MalformedJSONError"


class BadRequest(_Fixed):
    """400: the request cannot be answered without guessing (ambiguous credentials)."""

    STATUS = 400
    NAME = "BadRequest"


class Unauthorized(_Fixed):
    """401: no credentials, or credentials that do not verify."""

    STATUS = 401
    NAME = "Unauthorized"


class Forbidden(_Fixed):
    """403: the caller is known but its role may not do this."""

    STATUS = 403
    NAME = "Forbidden"


class PolicyViolationError(_Fixed):
    """403: a policy refused the input or the output (PRD 5.4.8)."""

    STATUS = 403
    NAME = "PolicyViolationError"


class ToolDeniedError(_Fixed):
    """403: the agent tried to call a tool the tool policy does not allow."""

    STATUS = 403
    NAME = "ToolDeniedError"


class PayloadTooLarge(_Fixed):
    """413: the request body (or an output under ``halt_on_violation``) is too large."""

    STATUS = 413
    NAME = "PayloadTooLarge"


class InputValidationError(_Fixed):
    """422: the input does not match the input schema; ``details`` lists every failing field."""

    STATUS = 422
    NAME = "ValidationError"


class RateLimited(_Fixed):
    """429: the caller's role exceeded its rate limit.

    ``retry_after`` is how many seconds until one more request would be allowed; it is sent
    as ``Retry-After`` (whole seconds, rounded up, at least 1). ``None``: no wait would help
    (a call larger than the limit ever allows), and no ``Retry-After`` is sent.
    """

    STATUS = 429
    NAME = "RateLimitExceeded"

    def __init__(
        self,
        detail: str,
        *,
        retry_after: float | None = 1.0,
        path: str | None = None,
        details: Sequence[Mapping[str, Any]] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        self.retry_after = None if retry_after is None else max(0.0, float(retry_after))
        merged = {}
        if self.retry_after is not None:
            merged["Retry-After"] = str(max(1, math.ceil(self.retry_after)))
        merged.update(headers or {})
        super().__init__(detail, path=path, details=details, headers=merged)


class TokenExpired(_Fixed):
    """498: the token verified but has expired (PRD 5.3.9)."""

    STATUS = 498
    NAME = "TokenExpired"


class KeyRevoked(_Fixed):
    """499: the API key was revoked (PRD 5.3.9)."""

    STATUS = 499
    NAME = "KeyRevoked"


class InternalError(_Fixed):
    """500: something in the runtime or a plugin failed; details stay in the server log."""

    STATUS = 500
    NAME = "InternalError"


class AgentError(_Fixed):
    """500: the agent raised (after its retries); the cause stays in the server log."""

    STATUS = 500
    NAME = "AgentError"


class SchemaMismatchError(_Fixed):
    """500: the agent's output does not match the output schema; ``details`` has the paths."""

    STATUS = 500
    NAME = "SchemaMismatchError"


class ServiceUnavailable(_Fixed):
    """503: the runtime is shutting down and takes no new runs, or what authentication
    needs (an OAuth2 issuer's keys) cannot be had."""

    STATUS = 503
    NAME = "ServiceUnavailable"


class StateStoreUnavailable(_Fixed):
    """503: the server that keeps the agent's conversations (its checkpointer's Redis or
    Postgres) cannot be reached; the run may be tried again once it is back."""

    STATUS = 503
    NAME = "StateStoreUnavailable"


class AgentTimeoutError(_Fixed):
    """504: the agent ran past ``arguments.timeout_sec``."""

    STATUS = 504
    NAME = "AgentTimeoutError"
