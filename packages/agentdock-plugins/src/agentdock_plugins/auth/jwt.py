"""JWT verification with pinned algorithms (modes ``jwt`` and ``oauth2``).

The verifier accepts only the algorithms the Dockfile names, and all of them come from one
family with one key: HMAC with the Dockfile secret, or an asymmetric public key. That
removes both classic attacks: ``alg: none`` is never in the list, and a token "signed" with
HS256 using the RS public key as the HMAC secret is refused because HS256 is not allowed
when a public key is configured (and pyjwt refuses PEM keys as HMAC secrets besides).
``exp`` is required; ``nbf`` and ``iat`` are honoured with a small leeway; ``aud`` and
``iss`` are checked when configured; ``agent`` must name this agent.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import jwt
from agentdock_runtime.errors import TokenExpired

from agentdock_plugins.auth.credentials import (
    MAX_CREDENTIAL_BYTES,
    bearer_of,
    check_both,
    invalid,
    missing,
)

if TYPE_CHECKING:
    from agentdock.spec import DockSpec

    from agentdock_plugins.auth.apikey import ApiKeyVerifier

__all__ = [
    "ASYMMETRIC_ALGORITHMS",
    "DEFAULT_LEEWAY",
    "HMAC_ALGORITHMS",
    "VERIFIED_CACHE_SIZE",
    "JwtOrKeyProvider",
    "JwtProvider",
    "JwtVerifier",
    "identity_from_claims",
]

HMAC_ALGORITHMS = frozenset({"HS256", "HS384", "HS512"})
ASYMMETRIC_ALGORITHMS = frozenset(
    {"RS256", "RS384", "RS512", "ES256", "ES384", "ES512", "PS256", "PS384", "PS512", "EdDSA"}
)
#: Seconds of clock skew tolerated on ``exp``, ``nbf`` and ``iat``.
DEFAULT_LEEWAY = 30
#: Verified tokens remembered per provider (oldest forgotten first).
VERIFIED_CACHE_SIZE = 4096


def identity_from_claims(claims: Mapping[str, Any], agent: str, *, mode: str) -> dict[str, Any]:
    """The caller's identity from verified claims; raises 401 on a missing or wrong claim."""
    sub = claims.get("sub")
    role = claims.get("role")
    if not isinstance(sub, str) or not sub:
        raise invalid("the token has no sub claim")
    if not isinstance(role, str) or not role:
        raise invalid("the token has no role claim")
    target = claims.get("agent")
    if mode == "jwt" and target is None:
        raise invalid("the token has no agent claim")
    if target is not None and target != agent:
        raise invalid("the token was issued for another agent")
    return {"sub": sub, "role": role, "agent": agent, "auth": mode}


class JwtVerifier:
    """Verifies a compact JWT against one key and a pinned algorithm list."""

    def __init__(
        self,
        *,
        algorithms: Sequence[str],
        audience: str | None = None,
        issuer: str | None = None,
        leeway: float = DEFAULT_LEEWAY,
    ) -> None:
        algs = list(algorithms)
        if not algs:
            raise ValueError("at least one JWT algorithm is required")
        unknown = [a for a in algs if a not in HMAC_ALGORITHMS | ASYMMETRIC_ALGORITHMS]
        if unknown:
            raise ValueError(f"unsupported JWT algorithm(s): {', '.join(unknown)}")
        families = {a in HMAC_ALGORITHMS for a in algs}
        if len(families) > 1:
            raise ValueError("HMAC and public-key JWT algorithms cannot be mixed")
        self.algorithms = algs
        self.audience = audience
        self.issuer = issuer
        self.leeway = leeway
        self._options: Any = {
            "require": ["exp", "sub"],
            "verify_aud": audience is not None,
            "verify_iss": issuer is not None,
        }

    def verify(self, token: str, key: Any) -> dict[str, Any]:
        """The verified claims; raises 498 for an expired token and 401 for anything else."""
        if len(token) > MAX_CREDENTIAL_BYTES:
            raise invalid("the token is too large")
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key,
                algorithms=self.algorithms,
                audience=self.audience,
                issuer=self.issuer,
                leeway=self.leeway,
                options=self._options,
            )
        except jwt.ExpiredSignatureError:
            raise TokenExpired(
                "the token has expired; request a new one",
                headers={"WWW-Authenticate": 'Bearer realm="agentdock", error="invalid_token"'},
            ) from None
        except Exception as exc:  # PyJWT's errors, or e.g. a key type error from a hostile header
            raise invalid(_rejection(exc)) from None
        return claims


#: The one-line cause a caller is told for each of PyJWT's refusals; anything else (a
#: malformed token, a key type error from a hostile header) is "malformed".
_REJECTIONS: tuple[tuple[type[Exception], str], ...] = (
    (jwt.ImmatureSignatureError, "the token is not valid yet (nbf or iat in the future)"),
    (jwt.InvalidAudienceError, "the token's audience is not this agent"),
    (jwt.InvalidIssuerError, "the token's issuer is not trusted"),
    (jwt.InvalidAlgorithmError, "the token's algorithm is not allowed"),
    (jwt.InvalidSignatureError, "the token's signature does not verify"),
)


def _rejection(exc: Exception) -> str:
    """Why ``jwt.decode`` refused a token, in one line that names no key or claim value."""
    if isinstance(exc, jwt.MissingRequiredClaimError):
        return f"the token has no {exc.claim} claim"
    for kind, cause in _REJECTIONS:
        if isinstance(exc, kind):
            return cause
    return "the token is malformed"


def _hmac_key(secret: str) -> bytes:
    return secret.encode("utf-8")


def _public_key(pem: str) -> Any:
    from cryptography.hazmat.primitives.serialization import load_pem_public_key

    try:
        return load_pem_public_key(pem.encode("utf-8"))
    except Exception as exc:
        raise ValueError(
            f"auth.jwt.public_key is not a PEM public key ({type(exc).__name__})"
        ) from None


class JwtProvider:
    """Mode ``jwt``: ``Authorization: Bearer <token>``, verified without I/O (a sync check)."""

    schemes: tuple[str, ...] = ("Bearer",)

    def __init__(self, spec: DockSpec) -> None:
        cfg = spec.auth.jwt
        if cfg is None:
            raise ValueError("mode jwt needs auth.jwt")
        algorithms = list(getattr(cfg, "algorithms", None) or ["HS256"])
        self.agent: str = spec.agent.name
        self.verifier = JwtVerifier(
            algorithms=algorithms,
            audience=getattr(cfg, "audience", None),
            issuer=getattr(cfg, "issuer", None),
        )
        if algorithms[0] in HMAC_ALGORITHMS:
            secret = getattr(cfg, "secret_key", None)
            if not secret or "${" in secret:
                raise ValueError(
                    "mode jwt with an HMAC algorithm needs a resolved auth.jwt.secret_key"
                )
            self._key: Any = _hmac_key(secret)
        else:
            public_key = getattr(cfg, "public_key", None)
            if not public_key or "${" in public_key:
                raise ValueError(f"mode jwt with {algorithms[0]} needs auth.jwt.public_key")
            self._key = _public_key(public_key)
        #: token → (identity, expiry incl. leeway) of tokens that verified.
        self._verified: dict[str, tuple[dict[str, Any], float]] = {}

    def verify_token(self, token: str) -> dict[str, Any]:
        """The identity of a token; a token verified before costs a dict lookup and an
        ``exp`` check (clients reuse a token for many requests)."""
        hit = self._verified.get(token)
        if hit is not None:
            identity, expires = hit
            if time.time() < expires:
                return dict(identity)
            del self._verified[token]
        claims = self.verifier.verify(token, self._key)
        identity = identity_from_claims(claims, self.agent, mode="jwt")
        exp = claims.get("exp")
        if isinstance(exp, int | float):
            if len(self._verified) >= VERIFIED_CACHE_SIZE:
                del self._verified[next(iter(self._verified))]
            self._verified[token] = (identity, float(exp) + self.verifier.leeway)
        return dict(identity)

    def authenticate(self, headers: Mapping[str, str]) -> Mapping[str, Any]:
        token = bearer_of(headers)
        if token is None:
            raise missing(self.schemes)
        return self.verify_token(token)

    def close(self) -> None:
        return None


class JwtOrKeyProvider(JwtProvider):
    """Mode ``jwt`` with ``auth.api_keys.enabled``: a bearer token or an ``x-api-key``.

    The bearer token wins when both are present (an empty or repeated header beside the
    other is refused with 400, as :func:`~.credentials.check_both` says).
    """

    schemes: tuple[str, ...] = ("Bearer", "ApiKey")

    def __init__(self, spec: DockSpec, *, api_keys: ApiKeyVerifier) -> None:
        super().__init__(spec)
        self.api_keys = api_keys

    async def authenticate(self, headers: Mapping[str, str]) -> Mapping[str, Any]:  # type: ignore[override]
        if "x-api-key" in headers and "authorization" in headers:
            check_both(headers)
        token = bearer_of(headers)
        if token is not None:
            return self.verify_token(token)
        return await self.api_keys.authenticate_key(headers, self.schemes)

    def close(self) -> None:
        self.api_keys.close()
