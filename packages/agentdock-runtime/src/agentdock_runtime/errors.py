"""The errors a run can end with: the classes of :mod:`agentdock.httperrors`, where plugins
that depend on ``agentdock-core`` alone find them too (the same objects, so ``except`` and
``isinstance`` hold whichever module named them)."""

from __future__ import annotations

from agentdock.httperrors import (
    AgentError,
    AgentTimeoutError,
    BadRequest,
    FieldError,
    Forbidden,
    InputValidationError,
    InternalError,
    KeyRevoked,
    MalformedJSONError,
    PayloadTooLarge,
    PolicyViolationError,
    RateLimited,
    RuntimeHTTPError,
    SchemaMismatchError,
    ServiceUnavailable,
    TokenExpired,
    ToolDeniedError,
    Unauthorized,
)

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
    "TokenExpired",
    "ToolDeniedError",
    "Unauthorized",
]
