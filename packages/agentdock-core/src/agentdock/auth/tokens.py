"""Minting JWTs for ``agentdock token issue`` (verification lives in the auth plugin).

Tokens carry the claims the runtime checks (PRD 5.3.3): ``sub``, ``role``, ``agent``,
``iat``, ``nbf`` and ``exp`` (always set: the runtime refuses tokens without one), plus
``iss``/``aud`` when the Dockfile configures them and a random ``jti``.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Mapping
from typing import Any

__all__ = ["HMAC_ALGORITHMS", "TokenError", "mint_token"]

HMAC_ALGORITHMS = frozenset({"HS256", "HS384", "HS512"})
#: HS256 keys shorter than this are refused (RFC 7518 3.2).
MIN_HMAC_KEY_BYTES = 32


class TokenError(ValueError):
    """A token cannot be minted (bad key, algorithm or lifetime); never quotes the key."""


def mint_token(
    *,
    key: str | bytes,
    agent: str,
    role: str,
    sub: str,
    ttl_seconds: int,
    algorithm: str = "HS256",
    issuer: str | None = None,
    audience: str | None = None,
    now: float | None = None,
    extra: Mapping[str, Any] | None = None,
) -> str:
    """A signed JWT for ``sub`` with ``role`` on ``agent``, valid for ``ttl_seconds``.

    :param key: the HMAC secret (HS*) or a PEM private key (RS*/ES*/PS*/EdDSA).
    :raises TokenError: the key is too short for HMAC, the lifetime is not positive, or the
        signing library refuses the key.
    """
    import jwt

    if ttl_seconds <= 0:
        raise TokenError("the token lifetime must be positive")
    if algorithm in HMAC_ALGORITHMS:
        raw = key.encode("utf-8") if isinstance(key, str) else key
        if len(raw) < MIN_HMAC_KEY_BYTES:
            raise TokenError(f"an {algorithm} secret must be at least {MIN_HMAC_KEY_BYTES} bytes")
    issued = int(now if now is not None else time.time())
    claims: dict[str, Any] = dict(extra or {})
    claims.update(
        sub=sub,
        role=role,
        agent=agent,
        iat=issued,
        nbf=issued,
        exp=issued + int(ttl_seconds),
        jti=secrets.token_hex(8),
    )
    if issuer is not None:
        claims["iss"] = issuer
    if audience is not None:
        claims["aud"] = audience
    try:
        return jwt.encode(claims, key, algorithm=algorithm)
    except Exception as exc:  # pyjwt raises several types for bad keys
        raise TokenError(f"cannot sign with {algorithm}: {type(exc).__name__}") from None
