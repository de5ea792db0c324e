"""API-key verification against a store of key rows, without blocking the event loop.

The store is the runtime's key view (:class:`~agentdock_plugins.auth.keyfile.KeyViewStore`:
its own agent's and instance's rows, never the embedded registry file) or, with a
database URL, a registry database
(:class:`~agentdock_plugins.auth.keystores.LazyRegistry`; best through a role that may only
read this agent's rows: ``agentdock postgres runtime-role``).

A presented key ``adk_<id>_<secret>`` is looked up by its id. Rows are read in a worker
thread and kept in memory, so a busy key costs one SHA-256 (or HMAC), one
:func:`hmac.compare_digest` and one generation check per request, and no I/O.

A kept row is trusted until the registry says it changed, at most ``cache_ttl`` seconds.
A background thread learns of changes without ever writing to the registry (see
:mod:`agentdock.registry.keychanges`):

- Key view: it compares the view file's ``stat`` signature every ``registry_poll`` seconds
  (one system call, off the request path); ``agentdock key revoke`` replaces the file.
- PostgreSQL: the store's ``LISTEN`` connection hears the ``NOTIFY`` the revoking
  transaction sends.
- Redis (``AGENTDOCK_REDIS_URL``): a subscription hears what ``key revoke`` published.

On a change the thread re-reads every kept row in one query and bumps the cache's
generation, so a row read before the change, still in flight in a worker thread, is never
trusted afterwards. A revocation, a rotation (or any other change of a key's row) thus
takes effect within ``registry_poll`` seconds on the host and within a message's travel
time elsewhere; a revocation made in this process (:meth:`ApiKeyVerifier.invalidate`) at
once. ``last_used_at`` is collected in memory and written in batches by the same thread
every ``touch_interval`` seconds: to ``key-use.json`` in the runtime's state directory
with a key view (never the registry), to the database's ``last_used_at`` column with a
URL (a runtime role may update that column of its own rows and nothing else).

Refusals: unknown or malformed key, key of another agent, expired key, rotated key past its
grace period → 401; revoked key → 499 ``KeyRevoked``.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
import time
import weakref
from collections.abc import Callable, Mapping
from typing import Any

from agentdock.auth import MalformedKey, key_id_of, pepper_id, verify_key
from agentdock.registry import ApiKeyRecord, changed_agent
from agentdock_runtime.errors import KeyRevoked

from agentdock_plugins.auth.credentials import api_key_of, invalid, missing, presented_key
from agentdock_plugins.auth.keystores import KeyStore, LazyRegistry

__all__ = [
    "DEFAULT_CACHE_TTL",
    "DEFAULT_REGISTRY_POLL",
    "DEFAULT_TOUCH_INTERVAL",
    "ApiKeyProvider",
    "ApiKeyVerifier",
    "KeyStore",
    "LazyRegistry",
]

log = logging.getLogger("agentdock.auth")

#: Seconds a key row is trusted at most, even when no change is heard (a channel down).
DEFAULT_CACHE_TTL = 5.0
#: Seconds between two checks of the key view (its ``stat`` signature) for changes.
DEFAULT_REGISTRY_POLL = 0.2
#: Seconds between batched ``last_used_at`` writes.
DEFAULT_TOUCH_INTERVAL = 10.0
_MAX_CACHE = 10_000

#: A kept row: when it was read, the cache generation it was read in, the row (None: no key).
_Entry = tuple[float, int, ApiKeyRecord | None]


def _weak(method: Callable[[Any], None]) -> Callable[[Any], None]:
    """``method`` called through a weak reference: a listener thread holding it does not
    keep the verifier alive."""
    ref = weakref.WeakMethod(method)

    def call(message: Any) -> None:
        target = ref()
        if target is not None:
            target(message)

    return call


def _background(
    ref: weakref.ref[ApiKeyVerifier],
    wake: threading.Event,
    stop: threading.Event,
    period: float,
) -> None:
    """The verifier's thread: change checks and ``last_used_at`` writes. It ends with
    :meth:`ApiKeyVerifier.close`, or once the verifier is dropped."""
    while not stop.is_set():
        wake.wait(period)
        wake.clear()
        if stop.is_set():
            return
        verifier = ref()
        if verifier is None:
            return
        try:
            verifier._tick()
        except Exception as exc:  # the thread must outlive any one failure
            log.warning("API key background work failed (%s)", type(exc).__name__)
        del verifier


def _stop_all(
    stop: threading.Event, wake: threading.Event, feeds: list[Callable[[], None]]
) -> None:
    stop.set()
    wake.set()
    while True:
        try:
            stop_feed = feeds.pop()
        except IndexError:  # none left (close() and the finalizer may both get here)
            return
        stop_feed()


class ApiKeyVerifier:
    """Checks presented keys of one agent against a store."""

    def __init__(
        self,
        store: KeyStore,
        agent: str,
        *,
        cache_ttl: float | None = None,
        registry_poll: float | None = DEFAULT_REGISTRY_POLL,
        redis_url: str | None = None,
        touch_interval: float = DEFAULT_TOUCH_INTERVAL,
        clock: Callable[[], float] = time.time,
    ) -> None:
        """:param cache_ttl: seconds a row is trusted at most (default
            :data:`DEFAULT_CACHE_TTL`, read when the verifier is made).
        :param registry_poll: seconds between ``data_version`` reads of a SQLite registry;
            None: no polling (changes then come from Postgres or Redis, or the TTL).
        :param redis_url: hear key changes published on this Redis.
        """
        self.store = store
        self.agent = agent
        #: A per-tenant instance accepts only its own keys (the deploy target sets it).
        self.instance = os.environ.get("AGENTDOCK_INSTANCE", "")
        self.cache_ttl = DEFAULT_CACHE_TTL if cache_ttl is None else cache_ttl
        self.registry_poll = registry_poll
        self.redis_url = redis_url
        self.touch_interval = touch_interval
        self._clock = clock
        self._pepper_id = pepper_id()
        self._pepper_warned: set[str] = set()
        self._cache: dict[str, _Entry] = {}
        #: Bumped on every change heard: entries of an older generation are not trusted.
        self._generation = 0
        self._generation_lock = threading.Lock()
        self._used: dict[str, float] = {}
        self._used_lock = threading.Lock()
        poll = getattr(store, "data_version", None) if registry_poll is not None else None
        self._poll: Callable[[], int | None] | None = poll
        self._version: int | None = None
        self._checks_failing = False
        #: Set by a listener thread when a change was announced.
        self._announced = False
        self._flush_at = time.monotonic() + touch_interval
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._feeds: list[Callable[[], None]] = []
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()
        weakref.finalize(self, _stop_all, self._stop, self._wake, self._feeds)

    # -- lookup ---------------------------------------------------------------------------

    def invalidate(self, key_id: str | None = None) -> None:
        """Forget one kept row (or all): the next request reads the store again."""
        if key_id is None:
            self._bump()
            self._cache.clear()
        else:
            self._cache.pop(key_id, None)

    def _bump(self) -> int:
        with self._generation_lock:
            self._generation += 1
            return self._generation

    def _cached(self, key_id: str, now: float) -> tuple[bool, ApiKeyRecord | None]:
        hit = self._cache.get(key_id)
        if hit is not None and hit[1] == self._generation and now - hit[0] < self.cache_ttl:
            return True, hit[2]
        return False, None

    def _remember(
        self, key_id: str, record: ApiKeyRecord | None, now: float, generation: int
    ) -> None:
        if len(self._cache) >= _MAX_CACHE:
            self._cache.clear()
        self._cache[key_id] = (now, generation, record)

    def _read(self, key_id: str) -> ApiKeyRecord | None:
        if self._thread is None:
            self._start()
        return self.store.get_api_key(key_id)

    async def lookup(self, key_id: str) -> ApiKeyRecord | None:
        """The key's row, from memory or (in a worker thread) from the store."""
        now = self._clock()
        hit, record = self._cached(key_id, now)
        if hit:
            return record
        generation = self._generation
        record = await asyncio.to_thread(self._read, key_id)
        self._remember(key_id, record, now, generation)
        return record

    def lookup_blocking(self, key_id: str) -> ApiKeyRecord | None:
        """As :meth:`lookup`, for callers outside an event loop."""
        now = self._clock()
        hit, record = self._cached(key_id, now)
        if hit:
            return record
        generation = self._generation
        record = self._read(key_id)
        self._remember(key_id, record, now, generation)
        return record

    # -- freshness ------------------------------------------------------------------------

    def changed(self, message: str | bytes | None = None) -> None:
        """A change was announced (from a listener thread): the kept rows are re-read at
        once, unless ``message`` names another agent."""
        agent = changed_agent(message)
        if agent is not None and agent != self.agent:
            return
        self._announced = True
        self._wake.set()

    def refresh(self) -> None:
        """Re-read every kept row in one query and start a new generation (rows read
        before now, even those still in flight, are no longer trusted). When the store
        cannot be read, nothing kept is trusted any more and the error is raised."""
        ids = [key_id for key_id, entry in list(self._cache.items()) if entry[2] is not None]
        try:
            rows = self.store.get_api_keys(ids) if ids else {}
        except BaseException:
            self._bump()
            raise
        now = self._clock()
        generation = self._bump()
        for key_id in ids:
            self._cache[key_id] = (now, generation, rows.get(key_id))

    def _registry_moved(self) -> bool:
        if self._poll is None:
            return False
        version = self._poll()
        if version is None or version == self._version:
            return False
        # The first reading counts too: a commit may have come between a row's read and it.
        self._version = version
        return True

    def _tick(self) -> None:
        announced, self._announced = self._announced, False
        try:
            if self._registry_moved() or announced:
                self.refresh()
        except Exception as exc:
            # Changes cannot be checked: trust nothing kept, so requests read the store.
            self._bump()
            self._announced = True
            if not self._checks_failing:
                log.warning(
                    "cannot check the registry for API key changes (%s); every request "
                    "reads its key meanwhile",
                    type(exc).__name__,
                )
                self._checks_failing = True
        else:
            if self._checks_failing:
                log.warning("API key changes are checked again")
                self._checks_failing = False
        now = time.monotonic()
        if now >= self._flush_at:
            self._flush_at = now + self.touch_interval
            self.flush()

    def _start(self) -> None:
        """Start the background thread and the listeners (once, off the event loop)."""
        with self._start_lock:
            if self._thread is not None or self._stop.is_set():
                return
            listen = getattr(self.store, "listen_key_changes", None)
            if listen is not None:
                self._feeds.append(listen(_weak(self.changed)))
            if self.redis_url:
                from agentdock_plugins.auth.redisfeed import RedisKeyChanges

                self._feeds.append(RedisKeyChanges(self.redis_url, _weak(self.changed)).stop)
            periods = [self.touch_interval]
            if self._poll is not None and self.registry_poll is not None:
                periods.append(self.registry_poll)
            thread = threading.Thread(
                target=_background,
                args=(weakref.ref(self), self._wake, self._stop, min(periods)),
                name="agentdock-keys",
                daemon=True,
            )
            thread.start()
            self._thread = thread

    # -- verification ---------------------------------------------------------------------

    def check(self, key: str, key_id: str, record: ApiKeyRecord | None) -> dict[str, Any]:
        """The identity for a key whose row is ``record``, or the refusal."""
        if record is None or record.agent != self.agent or record.instance != self.instance:
            raise invalid("unknown API key", "ApiKey")
        if not verify_key(key, record.hashed_key, record.hash_algorithm):
            self._pepper_hint(record)
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

    def _pepper_hint(self, record: ApiKeyRecord) -> None:
        """A key that fails to verify against a row made with another pepper (or with one
        while this runtime has none): say so once per pepper, in the log only (the caller
        still gets "unknown API key")."""
        if record.pepper_id is None or record.pepper_id == self._pepper_id:
            return
        if record.pepper_id in self._pepper_warned:
            return
        self._pepper_warned.add(record.pepper_id)
        mine = f"pepper {self._pepper_id}" if self._pepper_id else "no pepper"
        log.warning(
            "API key %s was made with pepper %s but this runtime has %s "
            "(AGENTDOCK_KEY_PEPPER): keys made with that pepper are refused",
            record.key_id,
            record.pepper_id,
            mine,
        )

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
        if self._thread is None:
            self._start()

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

    def close(self) -> None:
        """Stop the background thread and the listeners after one last flush."""
        _stop_all(self._stop, self._wake, self._feeds)
        if self._thread is not None:
            self._thread.join(timeout=5)
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
