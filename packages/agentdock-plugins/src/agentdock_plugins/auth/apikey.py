"""API-key verification against the registry store, without blocking the event loop.

A presented key ``adk_<id>_<secret>`` is looked up by its id. Rows are read in a worker
thread and cached in memory for ``cache_ttl`` seconds, so a busy key costs one SHA-256 (or
HMAC) and one :func:`hmac.compare_digest` per request and no I/O. A revocation made in this
process (:meth:`ApiKeyVerifier.invalidate`) takes effect at once; one made by another
process (``agentdock key revoke``) within ``cache_ttl`` seconds. ``last_used_at`` is
collected in memory and written in batches by a background thread every
``touch_interval`` seconds.

Refusals: unknown or malformed key, key of another agent, expired key, rotated key past its
grace period → 401; revoked key → 499 ``KeyRevoked``.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from agentdock.auth import MalformedKey, key_id_of, verify_key
from agentdock.registry import ApiKeyRecord, SQLiteStore, open_store
from agentdock_runtime.errors import KeyRevoked

from agentdock_plugins.auth.credentials import api_key_of, invalid, missing, presented_key

__all__ = [
    "DEFAULT_CACHE_TTL",
    "DEFAULT_TOUCH_INTERVAL",
    "ApiKeyProvider",
    "ApiKeyVerifier",
    "LazyRegistry",
]

log = logging.getLogger("agentdock.auth")

#: Seconds a key row read from the store is trusted before it is read again.
DEFAULT_CACHE_TTL = 5.0
#: Seconds between batched ``last_used_at`` writes.
DEFAULT_TOUCH_INTERVAL = 10.0
_MAX_CACHE = 10_000


class LazyRegistry:
    """The registry at ``path``, opened on first need and never created by the runtime.

    A runtime only reads keys: when no registry exists yet every key is unknown (401), and
    keys created later with ``agentdock key create`` are found without a restart.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._store: SQLiteStore | None = None
        self._lock = threading.Lock()

    def _open(self) -> SQLiteStore | None:
        if self._store is None:
            with self._lock:
                if self._store is None and self.path.is_file():
                    self._store = open_store(self.path)
        return self._store

    def get_api_key(self, key_id: str) -> ApiKeyRecord | None:
        store = self._open()
        return store.get_api_key(key_id) if store is not None else None

    def touch_api_keys(self, used: Mapping[str, float]) -> int:
        store = self._open()
        return store.touch_api_keys(used) if store is not None else 0

    def close(self) -> None:
        if self._store is not None:
            self._store.close()


class ApiKeyVerifier:
    """Checks presented keys of one agent against a store."""

    def __init__(
        self,
        store: SQLiteStore | LazyRegistry,
        agent: str,
        *,
        cache_ttl: float = DEFAULT_CACHE_TTL,
        touch_interval: float = DEFAULT_TOUCH_INTERVAL,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self.agent = agent
        #: A per-tenant instance accepts only its own keys (the deploy target sets it).
        self.instance = os.environ.get("AGENTDOCK_INSTANCE", "")
        self.cache_ttl = cache_ttl
        self.touch_interval = touch_interval
        self._clock = clock
        self._cache: dict[str, tuple[float, ApiKeyRecord | None]] = {}
        self._used: dict[str, float] = {}
        self._used_lock = threading.Lock()
        self._stop = threading.Event()
        self._flusher: threading.Thread | None = None

    # -- lookup ---------------------------------------------------------------------------

    def invalidate(self, key_id: str | None = None) -> None:
        """Forget one cached row (or all): the next request reads the store again."""
        if key_id is None:
            self._cache.clear()
        else:
            self._cache.pop(key_id, None)

    def _cached(self, key_id: str, now: float) -> tuple[bool, ApiKeyRecord | None]:
        hit = self._cache.get(key_id)
        if hit is not None and now - hit[0] < self.cache_ttl:
            return True, hit[1]
        return False, None

    def _remember(self, key_id: str, record: ApiKeyRecord | None, now: float) -> None:
        if len(self._cache) >= _MAX_CACHE:
            self._cache.clear()
        self._cache[key_id] = (now, record)

    async def lookup(self, key_id: str) -> ApiKeyRecord | None:
        """The key's row, from the cache or (in a worker thread) from the store."""
        now = self._clock()
        hit, record = self._cached(key_id, now)
        if hit:
            return record
        record = await asyncio.to_thread(self.store.get_api_key, key_id)
        self._remember(key_id, record, now)
        return record

    def lookup_blocking(self, key_id: str) -> ApiKeyRecord | None:
        """As :meth:`lookup`, for callers outside an event loop."""
        now = self._clock()
        hit, record = self._cached(key_id, now)
        if hit:
            return record
        record = self.store.get_api_key(key_id)
        self._remember(key_id, record, now)
        return record

    # -- verification ---------------------------------------------------------------------

    def check(self, key: str, key_id: str, record: ApiKeyRecord | None) -> dict[str, Any]:
        """The identity for a key whose row is ``record``, or the refusal."""
        if record is None or record.agent != self.agent or record.instance != self.instance:
            raise invalid("unknown API key", "ApiKey")
        if not verify_key(key, record.hashed_key, record.hash_algorithm):
            raise invalid("unknown API key", "ApiKey")
        now = self._clock()
        state = record.state(now)
        if state == "revoked":
            raise KeyRevoked("the API key was revoked")
        if state == "expired":
            raise invalid("the API key has expired", "ApiKey")
        if state == "rotated":
            raise invalid("the API key was rotated and its grace period is over", "ApiKey")
        self._note_use(key_id, now)
        identity: dict[str, Any] = {
            "sub": f"key:{key_id}",
            "role": record.role,
            "agent": self.agent,
            "key_id": key_id,
            "auth": "api_key",
        }
        return identity

    async def verify(self, key: str) -> dict[str, Any]:
        try:
            key_id = key_id_of(key)
        except MalformedKey:
            raise invalid("the API key is malformed", "ApiKey") from None
        return self.check(key, key_id, await self.lookup(key_id))

    async def authenticate_key(
        self, headers: Mapping[str, str], schemes: tuple[str, ...] = ("ApiKey",)
    ) -> dict[str, Any]:
        key = api_key_of(headers)
        if key is None:
            raise missing(schemes)
        return await self.verify(key)

    # -- last_used_at ---------------------------------------------------------------------

    def _note_use(self, key_id: str, now: float) -> None:
        with self._used_lock:
            self._used[key_id] = now
        if self._flusher is None:
            self._flusher = threading.Thread(
                target=self._flush_loop, name="agentdock-key-touch", daemon=True
            )
            self._flusher.start()

    def flush(self) -> int:
        """Write the pending ``last_used_at`` times now; returns the rows updated."""
        with self._used_lock:
            pending, self._used = self._used, {}
        if not pending:
            return 0
        try:
            return self.store.touch_api_keys(pending)
        except Exception as exc:  # a locked or read-only registry must not break serving
            log.warning("could not record API key use (%s)", type(exc).__name__)
            return 0

    def _flush_loop(self) -> None:
        while not self._stop.wait(self.touch_interval):
            self.flush()

    def close(self) -> None:
        """Stop the background writer after one last flush."""
        self._stop.set()
        if self._flusher is not None:
            self._flusher.join(timeout=5)
        self.flush()
        if isinstance(self.store, LazyRegistry):
            self.store.close()


class ApiKeyProvider:
    """Mode ``api_key``: ``x-api-key: adk_...`` (or ``Authorization: Bearer adk_...``; both
    only with the same key)."""

    schemes: tuple[str, ...] = ("ApiKey",)

    def __init__(self, verifier: ApiKeyVerifier) -> None:
        self.verifier = verifier

    async def authenticate(self, headers: Mapping[str, str]) -> Mapping[str, Any]:
        key = presented_key(headers)
        if key is None:
            raise missing(self.schemes)
        return await self.verifier.verify(key)

    def close(self) -> None:
        self.verifier.close()
