"""Mode ``oauth2``: bearer tokens from an external issuer, verified through its JWKS.

The issuer's key set is fetched with httpx (never blocking the event loop, every fetch
bounded in time and size), cached for ``jwks_ttl`` seconds, and fetched again when a token
names an unknown ``kid`` (key rotation at the issuer), at most once every
``min_refresh_interval`` seconds so that a flood of tokens with made-up key ids cannot turn
the runtime into a JWKS hammer; :mod:`.jwks` holds the fetch and the cache. ``iss`` and
``aud`` are checked (``issuer`` is required by validation), algorithms are pinned (default
RS256), and a JWK whose type does not fit the pinned algorithms is never used.

The provider offers :meth:`OAuth2Provider.readiness` (the server's ``/ready`` answers 503
until a key set was fetched, so a replica is not sent traffic it would refuse) and
:meth:`OAuth2Provider.key_set_stats` (fetch outcomes and key-set age for the metrics).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import jwt

from agentdock_plugins.auth.credentials import bearer_of, invalid, missing
from agentdock_plugins.auth.jwks import (
    DEFAULT_FETCH_DEADLINE,
    DEFAULT_JWKS_TTL,
    DEFAULT_MIN_REFRESH,
    MAX_JWKS_BYTES,
    MAX_JWKS_KEYS,
    JwksCache,
    KeySetStats,
)
from agentdock_plugins.auth.jwt import JwtVerifier, identity_from_claims

if TYPE_CHECKING:
    from agentdock.spec import DockSpec

__all__ = ["DEFAULT_JWKS_TTL", "DEFAULT_MIN_REFRESH", "JwksCache", "OAuth2Provider"]


class OAuth2Provider:
    """Verifies external bearer tokens: signature (JWKS), ``iss``, ``aud``, ``exp``.

    :param min_refresh_interval: seconds between refetches for unknown key ids, and the
        back-off after a failed fetch.
    :param jwks_ttl: seconds a key set is used before it is refreshed in the background.
    :param fetch_deadline: seconds one fetch of the key set may take in all.
    :param max_jwks_bytes: the largest key-set document read.
    :param max_jwks_keys: the most keys a key-set document may hold.
    """

    schemes: tuple[str, ...] = ("Bearer",)

    def __init__(
        self,
        spec: DockSpec,
        *,
        min_refresh_interval: float = DEFAULT_MIN_REFRESH,
        jwks_ttl: float = DEFAULT_JWKS_TTL,
        fetch_deadline: float = DEFAULT_FETCH_DEADLINE,
        max_jwks_bytes: int = MAX_JWKS_BYTES,
        max_jwks_keys: int = MAX_JWKS_KEYS,
    ) -> None:
        cfg = getattr(spec.auth, "oauth2", None)  # a Dockfile 1.1 block
        if cfg is None or not cfg.jwks_url or not cfg.issuer:
            raise ValueError("mode oauth2 needs auth.oauth2.issuer and auth.oauth2.jwks_url")
        self.agent: str = spec.agent.name
        self.verifier = JwtVerifier(
            algorithms=list(cfg.algorithms or ["RS256"]),
            audience=cfg.audience,
            issuer=cfg.issuer,
        )
        self.jwks = JwksCache(
            cfg.jwks_url,
            ttl=jwks_ttl,
            min_refresh_interval=min_refresh_interval,
            deadline=fetch_deadline,
            max_bytes=max_jwks_bytes,
            max_keys=max_jwks_keys,
        )

    def readiness(self) -> str | None:
        """``None`` once the issuer's keys were fetched; else why requests cannot be
        verified yet. Starts a fetch when one is due (never waits for it)."""
        jwks = self.jwks
        if jwks.ready:
            return None
        jwks.prefetch()
        last = jwks.last_outcome
        tried = f" (last attempt: {last.replace('_', ' ')})" if last is not None else ""
        return f"the token issuer's signing keys have not been fetched yet{tried}"

    def key_set_stats(self) -> KeySetStats:
        """Fetches by outcome and the age of the key set in use, for the metrics."""
        return self.jwks.stats()

    async def authenticate(self, headers: Mapping[str, str]) -> Mapping[str, Any]:
        token = bearer_of(headers)
        if token is None:
            raise missing(self.schemes)
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise invalid("the token is malformed") from None
        alg = header.get("alg")
        if alg not in self.verifier.algorithms:
            raise invalid("the token's algorithm is not allowed")
        kid = header.get("kid")
        jwk = await self.jwks.key(kid if isinstance(kid, str) else None)
        declared = getattr(jwk, "_jwk_data", {}).get("alg")
        if declared is not None and declared != alg:
            raise invalid("the token's algorithm does not match its key")
        claims = self.verifier.verify(token, jwk.key)
        return identity_from_claims(claims, self.agent, mode="oauth2")
