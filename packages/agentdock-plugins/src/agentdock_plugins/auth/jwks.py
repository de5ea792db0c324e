"""The issuer's signing keys (JWKS) for mode ``oauth2``: a bounded fetch and a cache that
never makes a request with a known key wait.

An identity provider is outside the runtime's control, so every fetch is bounded as a
whole, not per operation: one wall-clock deadline covers connecting, the headers, the body
and parsing (httpx's own timeouts apply per read, so a server sending one byte every two
seconds would otherwise never time out); the body is read as a stream and refused past
:data:`MAX_JWKS_BYTES`, before it is parsed; a document with more than :data:`MAX_JWKS_KEYS`
keys is refused before any key is built. A refused or failed fetch keeps the keys fetched
before and is counted by outcome (:data:`FETCH_OUTCOMES`).

At most one fetch runs at a time (a single flight). A request whose ``kid`` is known is
answered from the keys in hand even when they are older than the TTL: it starts a
background refresh and does not wait for it. A request whose ``kid`` is unknown waits for
the one fetch in flight (never longer than its deadline), and gets 503 when the keys cannot
be had (none was ever fetched, or the refetch for its key failed) or 401 when the issuer
answered and does not know the key. Building the HTTP client (it loads the CA bundle) and
parsing run in a worker thread, off the event loop.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import httpx
import jwt
from agentdock_runtime.errors import ServiceUnavailable

from agentdock_plugins.auth.credentials import invalid

__all__ = [
    "DEFAULT_FETCH_DEADLINE",
    "DEFAULT_JWKS_TTL",
    "DEFAULT_MIN_REFRESH",
    "FETCH_OUTCOMES",
    "MAX_JWKS_BYTES",
    "MAX_JWKS_KEYS",
    "JwksCache",
    "JwksRefused",
    "KeySetStats",
    "parse_jwks",
]

log = logging.getLogger("agentdock.auth")

#: Seconds a fetched key set is used before it is fetched again (in the background).
DEFAULT_JWKS_TTL = 3600.0
#: Seconds between two fetches caused by unknown key ids, and after a failed fetch.
DEFAULT_MIN_REFRESH = 30.0
#: Seconds one whole fetch may take: connect, headers, body and parsing together.
DEFAULT_FETCH_DEADLINE = 10.0
#: Largest JWKS document read (real ones are a few kilobytes).
MAX_JWKS_BYTES = 1 << 20
#: Most keys a JWKS document may hold (real ones hold a handful).
MAX_JWKS_KEYS = 100
#: How a fetch ended, as counted in ``agentdock_auth_keys_fetch_total{outcome}``.
FETCH_OUTCOMES = (
    "ok",
    "timeout",
    "unreachable",
    "http_error",
    "too_large",
    "too_many_keys",
    "invalid",
)
UNAVAILABLE_DETAIL = "the token issuer's signing keys are unavailable; try again later"


class JwksRefused(Exception):
    """A JWKS answer the runtime will not use; ``outcome`` is one of :data:`FETCH_OUTCOMES`."""

    def __init__(self, outcome: str, cause: str) -> None:
        super().__init__(cause)
        self.outcome = outcome
        self.cause = cause


@dataclass(frozen=True, slots=True)
class KeySetStats:
    """What an auth provider with remote keys reports to the metrics.

    :param fetches: fetches so far by outcome (every outcome present, from 0).
    :param age_seconds: seconds since the key set in use was fetched; ``inf`` when none was.
    """

    fetches: Mapping[str, int]
    age_seconds: float


def parse_jwks(body: bytes, max_keys: int = MAX_JWKS_KEYS) -> dict[str, Any]:
    """The usable keys of a JWKS document by ``kid``.

    Entries this runtime cannot use (an unknown key type, a malformed key) are skipped.

    :raises JwksRefused: not a JSON object with a ``keys`` list, more than ``max_keys``
        entries, or not one usable key.
    """
    try:
        data = json.loads(body)
    except ValueError:
        raise JwksRefused("invalid", "the answer is not JSON") from None
    entries = data.get("keys") if isinstance(data, Mapping) else None
    if not isinstance(entries, list):
        raise JwksRefused("invalid", "the answer has no keys list")
    if len(entries) > max_keys:
        raise JwksRefused("too_many_keys", f"{len(entries)} keys (at most {max_keys})")
    keys: dict[str, Any] = {}
    skipped = 0
    for entry in entries:
        try:
            jwk = jwt.PyJWK.from_dict(entry)
        except Exception:  # a key type this runtime cannot use, or not a key at all
            skipped += 1
            continue
        keys[str(entry.get("kid", ""))] = jwk
    if skipped:
        log.info("skipped %d JWKS entries this runtime cannot use", skipped)
    if not keys:
        raise JwksRefused("invalid", "no usable signing key")
    return keys


def _where(url: str) -> str:
    """The URL without credentials, query or fragment, for log lines."""
    try:
        parsed = httpx.URL(url)
        return str(parsed.copy_with(username=None, password=None, query=None, fragment=None))
    except Exception:
        return "the configured jwks_url"


class JwksCache:
    """The issuer's signing keys by ``kid``, fetched lazily, refreshed on demand.

    :param ttl: seconds before a key set is refreshed (in the background).
    :param min_refresh_interval: seconds between fetches for unknown key ids, and the
        back-off after a failed fetch.
    :param deadline: seconds one fetch may take in all.
    :param max_bytes: the largest document read.
    :param max_keys: the most keys a document may hold.
    """

    def __init__(
        self,
        url: str,
        *,
        ttl: float = DEFAULT_JWKS_TTL,
        min_refresh_interval: float = DEFAULT_MIN_REFRESH,
        deadline: float = DEFAULT_FETCH_DEADLINE,
        max_bytes: int = MAX_JWKS_BYTES,
        max_keys: int = MAX_JWKS_KEYS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.url = url
        self.ttl = ttl
        self.min_refresh_interval = min_refresh_interval
        self.deadline = deadline
        self.max_bytes = max_bytes
        self.max_keys = max_keys
        self._clock = clock
        self._where = _where(url)
        self._keys: dict[str, Any] = {}
        self._fetched_at: float | None = None
        #: When an unknown ``kid`` last caused a fetch (such fetches are rate-limited).
        self._forced_at: float | None = None
        #: When the last fetch failed; ``None`` once one succeeds.
        self._failed_at: float | None = None
        self._task: asyncio.Task[None] | None = None
        #: Fetches by outcome (:data:`FETCH_OUTCOMES`).
        self.outcomes: dict[str, int] = dict.fromkeys(FETCH_OUTCOMES, 0)
        #: How the last fetch ended (``None`` before the first).
        self.last_outcome: str | None = None

    @property
    def fetches(self) -> int:
        """Successful fetches so far."""
        return self.outcomes["ok"]

    @property
    def ready(self) -> bool:
        """Whether a key set was ever fetched (tokens can be verified)."""
        return self._fetched_at is not None

    @property
    def refreshing(self) -> bool:
        """Whether a fetch is under way."""
        return self._task is not None and not self._task.done()

    @property
    def kids(self) -> list[str]:
        """The key ids in hand."""
        return list(self._keys)

    def stats(self) -> KeySetStats:
        fetched = self._fetched_at
        age = math.inf if fetched is None else max(0.0, self._clock() - fetched)
        return KeySetStats(fetches=dict(self.outcomes), age_seconds=age)

    def prefetch(self) -> None:
        """Start fetching when no key set was ever fetched and a fetch is due (for start-up
        and readiness probes, which never wait for it). Outside an event loop it does
        nothing: the first request fetches."""
        if self._fetched_at is None:
            try:
                asyncio.get_running_loop()
            except RuntimeError:
                return
            self._start(forced=False)

    async def key(self, kid: str | None) -> Any:
        """The JWK for ``kid`` (the only key when the token names none).

        :raises Unauthorized: the issuer does not know the key.
        :raises ServiceUnavailable: the keys cannot be had (never fetched, or the refetch
            that could have brought this key failed).
        """
        found = self._pick(kid)
        fetched = self._fetched_at
        if fetched is not None and self._clock() - fetched < self.ttl:
            if found is not None:
                return found
            task = self._start(forced=True)
        elif found is not None:
            self._start(forced=False)  # stale: refresh in the background, never wait
            return found
        else:
            task = self._start(forced=False)
        if task is not None:
            # Shielded: a caller that goes away does not cancel the fetch others wait on.
            await asyncio.shield(task)
            found = self._pick(kid)
            if found is not None:
                return found
        if self._fetched_at is None or self._failed_at is not None:
            raise self._unavailable()
        raise invalid("the token was signed with an unknown key")

    def _pick(self, kid: str | None) -> Any:
        if kid is None:
            return next(iter(self._keys.values())) if len(self._keys) == 1 else None
        return self._keys.get(kid)

    def _unavailable(self) -> ServiceUnavailable:
        wait = self.min_refresh_interval
        if self._failed_at is not None:
            wait -= self._clock() - self._failed_at
        return ServiceUnavailable(
            UNAVAILABLE_DETAIL, headers={"Retry-After": str(max(1, math.ceil(wait)))}
        )

    def _start(self, *, forced: bool) -> asyncio.Task[None] | None:
        """The fetch in flight, or a new one when one is due; ``None`` when none may start."""
        loop = asyncio.get_running_loop()
        task = self._task
        if task is not None and not task.done() and task.get_loop() is loop:
            return task
        now = self._clock()
        if self._failed_at is not None and now - self._failed_at < self.min_refresh_interval:
            return None  # the issuer failed a moment ago: no new attempt per request
        if forced:
            if self._forced_at is not None and now - self._forced_at < self.min_refresh_interval:
                return None  # made-up key ids do not turn the runtime into a JWKS hammer
            self._forced_at = now
        self._task = loop.create_task(self._fetch(), name="agentdock-jwks-fetch")
        return self._task

    async def _fetch(self) -> None:
        """One bounded fetch; records its outcome and never raises (but for cancellation)."""
        keys: dict[str, Any] = {}
        cause = ""
        try:
            async with asyncio.timeout(self.deadline):
                body = await self._download()
                keys = await asyncio.to_thread(parse_jwks, body, self.max_keys)
            outcome = "ok"
        except JwksRefused as exc:
            outcome, cause = exc.outcome, exc.cause
        except (TimeoutError, httpx.TimeoutException):
            outcome, cause = "timeout", f"no complete answer within {self.deadline:g} s"
        except (httpx.TransportError, OSError) as exc:
            outcome, cause = "unreachable", type(exc).__name__
        except Exception as exc:  # an answer httpx could not read
            outcome, cause = "invalid", type(exc).__name__
        self.outcomes[outcome] += 1
        self.last_outcome = outcome
        if outcome == "ok":
            self._keys = keys
            self._fetched_at = self._clock()
            self._failed_at = None
            return
        self._failed_at = self._clock()
        kept = (
            f"keeping the {len(self._keys)} keys fetched before"
            if self._fetched_at is not None
            else "no keys yet: tokens are refused with 503"
        )
        log.warning(
            "could not fetch the JWKS from %s: %s (%s); %s", self._where, outcome, cause, kept
        )

    async def _download(self) -> bytes:
        # Building a client loads the CA bundle (tens of milliseconds): not on the loop.
        client = await asyncio.to_thread(
            httpx.AsyncClient, timeout=self.deadline, follow_redirects=False
        )
        async with (
            client,
            client.stream(
                "GET",
                self.url,
                headers={"accept": "application/json", "accept-encoding": "identity"},
            ) as response,
        ):
            if not response.is_success:
                raise JwksRefused("http_error", f"HTTP {response.status_code}")
            encoding = response.headers.get("content-encoding", "identity").strip().lower()
            if encoding not in ("", "identity"):
                # Asked for identity: a compressed body could expand past any bound.
                raise JwksRefused("invalid", f"a {encoding[:20]!r}-encoded body")
            declared = response.headers.get("content-length", "")
            if declared.isdigit() and int(declared) > self.max_bytes:
                raise JwksRefused("too_large", f"{declared} bytes (at most {self.max_bytes})")
            body = bytearray()
            async for chunk in response.aiter_raw():
                body += chunk
                if len(body) > self.max_bytes:
                    raise JwksRefused("too_large", f"more than {self.max_bytes} bytes")
            return bytes(body)
