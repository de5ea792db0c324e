"""Mode ``oauth2``: bearer tokens from an external issuer, verified through its JWKS.

The issuer's key set is fetched with httpx (never blocking the event loop), cached for
``jwks_ttl`` seconds, and fetched again when a token names an unknown ``kid`` (key
rotation at the issuer), at most once every ``min_refresh_interval`` seconds so that a
flood of tokens with made-up key ids cannot turn the runtime into a JWKS hammer.
Concurrent requests share one fetch. ``iss`` and ``aud`` are checked (``issuer`` is
required by validation), algorithms are pinned (default RS256), and a JWK whose type does
not fit the pinned algorithms is never used.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping
from typing import Any

import jwt

from agentdock_plugins.auth.credentials import bearer_of, invalid, missing
from agentdock_plugins.auth.jwt import JwtVerifier, identity_from_claims

__all__ = ["DEFAULT_JWKS_TTL", "DEFAULT_MIN_REFRESH", "JwksCache", "OAuth2Provider"]

log = logging.getLogger("agentdock.auth")

DEFAULT_JWKS_TTL = 3600.0
DEFAULT_MIN_REFRESH = 30.0


class JwksCache:
    """The issuer's signing keys by ``kid``, fetched lazily and refreshed on demand."""

    def __init__(
        self,
        url: str,
        *,
        ttl: float = DEFAULT_JWKS_TTL,
        min_refresh_interval: float = DEFAULT_MIN_REFRESH,
        timeout: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.url = url
        self.ttl = ttl
        self.min_refresh_interval = min_refresh_interval
        self.timeout = timeout
        self._clock = clock
        self._keys: dict[str, Any] = {}
        self._fetched_at: float | None = None
        #: When an unknown ``kid`` last caused a fetch (refetches are rate-limited).
        self._forced_at: float | None = None
        self._failed_at: float | None = None
        self._lock: asyncio.Lock | None = None
        #: How many times the key set was fetched (for tests and diagnostics).
        self.fetches = 0

    async def _fetch(self) -> None:
        import httpx

        async with httpx.AsyncClient(timeout=self.timeout, follow_redirects=False) as client:
            response = await client.get(self.url, headers={"accept": "application/json"})
            response.raise_for_status()
            data = response.json()
        keys: dict[str, Any] = {}
        for entry in data.get("keys", []) if isinstance(data, Mapping) else []:
            try:
                jwk = jwt.PyJWK.from_dict(entry)
            except Exception as exc:  # a key type this runtime cannot use
                log.info("skipping a JWKS entry (%s)", type(exc).__name__)
                continue
            keys[str(entry.get("kid", ""))] = jwk
        self._keys = keys
        self._fetched_at = self._clock()
        self.fetches += 1

    async def _refresh(self, *, forced: bool) -> None:
        if self._lock is None:
            self._lock = asyncio.Lock()
        before = (self._fetched_at, self._failed_at)
        async with self._lock:
            if (self._fetched_at, self._failed_at) != before:
                # Another request fetched, or tried and failed, while this one waited.
                if self._fetched_at is None:
                    raise invalid("the token issuer's keys are unavailable")
                return
            now = self._clock()
            if self._failed_at is not None and now - self._failed_at < self.min_refresh_interval:
                # The issuer failed a moment ago: no new attempt per request.
                if self._fetched_at is None:
                    raise invalid("the token issuer's keys are unavailable")
                return
            if forced:
                if (
                    self._forced_at is not None
                    and now - self._forced_at < self.min_refresh_interval
                ):
                    return
                self._forced_at = now
            try:
                await self._fetch()
                self._failed_at = None
            except Exception as exc:  # the issuer is down: keep the old keys
                self._failed_at = now
                log.warning("could not fetch the JWKS (%s)", type(exc).__name__)
                if self._fetched_at is None:
                    raise invalid("the token issuer's keys are unavailable") from None

    async def key(self, kid: str | None) -> Any:
        """The JWK for ``kid`` (the only key when the token names none)."""
        now = self._clock()
        if self._fetched_at is None or now - self._fetched_at >= self.ttl:
            await self._refresh(forced=False)
        found = self._pick(kid)
        if found is None:
            await self._refresh(forced=True)
            found = self._pick(kid)
        if found is None:
            raise invalid("the token was signed with an unknown key")
        return found

    def _pick(self, kid: str | None) -> Any:
        if kid is None:
            return next(iter(self._keys.values())) if len(self._keys) == 1 else None
        return self._keys.get(kid)


class OAuth2Provider:
    """Verifies external bearer tokens: signature (JWKS), ``iss``, ``aud``, ``exp``."""

    schemes: tuple[str, ...] = ("Bearer",)

    def __init__(
        self,
        spec: Any,
        *,
        min_refresh_interval: float = DEFAULT_MIN_REFRESH,
        jwks_ttl: float = DEFAULT_JWKS_TTL,
    ) -> None:
        cfg = spec.auth.oauth2
        if cfg is None or not cfg.jwks_url or not cfg.issuer:
            raise ValueError("mode oauth2 needs auth.oauth2.issuer and auth.oauth2.jwks_url")
        self.agent: str = spec.agent.name
        self.verifier = JwtVerifier(
            algorithms=list(cfg.algorithms or ["RS256"]),
            audience=cfg.audience,
            issuer=cfg.issuer,
        )
        self.jwks = JwksCache(cfg.jwks_url, ttl=jwks_ttl, min_refresh_interval=min_refresh_interval)

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
