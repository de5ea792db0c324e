"""Reading credentials out of request headers, and the 401 and 400 answers that go with them.

Credentials are size-checked before any parsing: a header larger than
:data:`MAX_CREDENTIAL_BYTES` is refused outright, so an 8 KB token costs a length check,
not a base64 decode and a JSON parse.

A request is answered only when it is clear which credential it carries. A credential
header holding several values (repeated: the server joins repeats with ``", "``, and no
key or token contains a comma) and an empty credential header sent beside the other one
are refused with 400 ``BadRequest`` rather than resolved by picking one: picking let an
empty ``x-api-key`` beat a valid bearer key and a repeated header silently use its last
value.
"""

from __future__ import annotations

from collections.abc import Mapping

from agentdock_runtime.errors import BadRequest, Unauthorized

__all__ = [
    "MAX_CREDENTIAL_BYTES",
    "api_key_of",
    "bearer_of",
    "check_both",
    "invalid",
    "missing",
    "presented_key",
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


def _several(header: str) -> BadRequest:
    return BadRequest(
        f"the request carries more than one {header} value (a repeated header or a list); "
        "send exactly one credential"
    )


def _blank_bearer(value: str) -> bool:
    value = value.strip()
    return not value or value.lower() == "bearer"


def check_both(headers: Mapping[str, str]) -> None:
    """For a request carrying both ``x-api-key`` and ``Authorization``: refuse (400) an
    empty one beside the other, and a repeated ``x-api-key`` even where the bearer wins."""
    if not headers["x-api-key"].strip():
        raise BadRequest(
            "the request carries an empty x-api-key header beside an Authorization header; "
            "send one credential"
        )
    if _blank_bearer(headers["authorization"]):
        raise BadRequest(
            "the request carries an empty Authorization header beside an x-api-key header; "
            "send one credential"
        )
    if "," in headers["x-api-key"]:
        raise _several("x-api-key")


def bearer_of(headers: Mapping[str, str]) -> str | None:
    """The token of ``Authorization: Bearer <token>``; None when there is no such header.

    :raises Unauthorized: another scheme, an empty or an oversized token.
    :raises BadRequest: several values.
    """
    value = headers.get("authorization")
    if value is None:
        return None
    if len(value) > MAX_CREDENTIAL_BYTES + 7:
        raise invalid("the Authorization header is too large")
    if "," in value:
        raise _several("Authorization")
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
    :raises BadRequest: several values.
    """
    value = headers.get("x-api-key")
    if value is None:
        return None
    if len(value) > MAX_CREDENTIAL_BYTES:
        raise invalid("the x-api-key header is too large", "ApiKey")
    if "," in value:
        raise _several("x-api-key")
    value = value.strip()
    if not value:
        raise invalid("the x-api-key header is empty", "ApiKey")
    return value


def presented_key(headers: Mapping[str, str]) -> str | None:
    """The API key of a request: ``x-api-key`` or ``Authorization: Bearer <key>``; None
    when neither is sent.

    :raises BadRequest: both headers sent and they do not carry one same key.
    """
    if "authorization" not in headers:
        return api_key_of(headers)
    if "x-api-key" not in headers:
        return bearer_of(headers)
    check_both(headers)
    key = api_key_of(headers)
    scheme, _, token = headers["authorization"].strip().partition(" ")
    if scheme.lower() != "bearer" or token.strip() != key:
        raise BadRequest(
            "the request carries an x-api-key and an Authorization header with different "
            "credentials; send one"
        )
    return key
