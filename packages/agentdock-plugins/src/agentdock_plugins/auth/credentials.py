"""Reading credentials out of request headers, and the 401 answers that go with them.

Credentials are size-checked before any parsing: a header larger than
:data:`MAX_CREDENTIAL_BYTES` is refused outright, so an 8 KB token costs a length check,
not a base64 decode and a JSON parse.
"""

from __future__ import annotations

from collections.abc import Mapping

from agentdock_runtime.errors import Unauthorized

__all__ = [
    "MAX_CREDENTIAL_BYTES",
    "api_key_of",
    "bearer_of",
    "invalid",
    "missing",
]

#: Longest token or key accepted (real JWTs are a few hundred bytes).
MAX_CREDENTIAL_BYTES = 4096
REALM = 'realm="agentdock"'


def missing(schemes: tuple[str, ...]) -> Unauthorized:
    """401 for a request without credentials; ``WWW-Authenticate`` names what is accepted."""
    challenge = ", ".join(f"{scheme} {REALM}" for scheme in schemes)
    wanted = " or ".join(
        "an Authorization: Bearer token" if s == "Bearer" else "an x-api-key header"
        for s in schemes
    )
    return Unauthorized(
        f"missing credentials: send {wanted}", headers={"WWW-Authenticate": challenge}
    )


def invalid(detail: str, scheme: str = "Bearer") -> Unauthorized:
    """401 for credentials that do not verify (RFC 6750 ``error="invalid_token"``)."""
    return Unauthorized(
        detail, headers={"WWW-Authenticate": f'{scheme} {REALM}, error="invalid_token"'}
    )


def bearer_of(headers: Mapping[str, str]) -> str | None:
    """The token of ``Authorization: Bearer <token>``; None when there is no such header.

    :raises Unauthorized: another scheme, an empty or an oversized token.
    """
    value = headers.get("authorization")
    if value is None:
        return None
    if len(value) > MAX_CREDENTIAL_BYTES + 7:
        raise invalid("the Authorization header is too large")
    scheme, _, token = value.strip().partition(" ")
    if scheme.lower() != "bearer":
        raise invalid("the Authorization header must use the Bearer scheme")
    token = token.strip()
    if not token:
        raise invalid("the bearer token is empty")
    return token


def api_key_of(headers: Mapping[str, str]) -> str | None:
    """The value of ``x-api-key``; None when absent.

    :raises Unauthorized: empty or oversized.
    """
    value = headers.get("x-api-key")
    if value is None:
        return None
    if len(value) > MAX_CREDENTIAL_BYTES:
        raise invalid("the x-api-key header is too large", "ApiKey")
    value = value.strip()
    if not value:
        raise invalid("the x-api-key header is empty", "ApiKey")
    return value
