"""Where API keys are read from: the contract a verifier needs (:class:`KeyStore`), and a
registry database opened on first need (:class:`LazyRegistry`).

Apart from the verifier (:mod:`~agentdock_plugins.auth.apikey`), which only reads through
this contract, so a key view (:mod:`~agentdock_plugins.auth.keyfile`), a registry database
or a test's store are interchangeable behind it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Mapping
from typing import Protocol

from agentdock.registry import ApiKeyRecord, SQLStore, open_store

__all__ = ["KeyStore", "LazyRegistry"]


class KeyStore(Protocol):
    """What a verifier reads keys from: the registry (:class:`LazyRegistry`), a key view
    (:mod:`~agentdock_plugins.auth.keyfile`) or a database role. ``data_version`` and
    ``listen_key_changes``, where a store has them, are optional ways of hearing of
    changes."""

    def get_api_key(self, key_id: str) -> ApiKeyRecord | None: ...

    def get_api_keys(self, key_ids: Iterable[str]) -> dict[str, ApiKeyRecord]: ...

    def touch_api_keys(self, used: Mapping[str, float]) -> int: ...


class LazyRegistry:
    """A registry database (``url``: ``AGENTDOCK_RUNTIME_DATABASE_URL`` or
    ``AGENTDOCK_DATABASE_URL``), opened on first need, never migrated by the runtime (a
    least-privilege role may only read its agent's rows). A runtime of the embedded
    registry reads its key view instead (:class:`~agentdock_plugins.auth.keyfile.KeyViewStore`).
    """

    def __init__(self, *, url: str) -> None:
        self.url = url
        self._store: SQLStore | None = None
        self._lock = threading.Lock()
        self._on_change: Callable[[str | None], None] | None = None
        self._stop_listening: Callable[[], None] | None = None

    def _open(self) -> SQLStore | None:
        if self._store is None:
            with self._lock:
                if self._store is None:
                    store = open_store(url=self.url, migrate=False)
                    self._listen(store)
                    self._store = store
        return self._store

    def _listen(self, store: SQLStore) -> None:
        listen = getattr(store, "listen_key_changes", None)
        if listen is not None and self._on_change is not None and self._stop_listening is None:
            self._stop_listening = listen(self._on_change)

    def get_api_key(self, key_id: str) -> ApiKeyRecord | None:
        store = self._open()
        return store.get_api_key(key_id) if store is not None else None

    def get_api_keys(self, key_ids: Iterable[str]) -> dict[str, ApiKeyRecord]:
        store = self._open()
        return store.get_api_keys(key_ids) if store is not None else {}

    def touch_api_keys(self, used: Mapping[str, float]) -> int:
        store = self._open()
        return store.touch_api_keys(used) if store is not None else 0

    def data_version(self) -> int | None:
        """The SQLite file's ``data_version`` once it is open; None before, or for a store
        that announces its changes instead."""
        poll = getattr(self._store, "data_version", None)
        return int(poll()) if poll is not None else None

    def listen_key_changes(self, on_change: Callable[[str | None], None]) -> Callable[[], None]:
        """Have a store that announces changes (Postgres) call ``on_change``, from when it
        is opened; returns the function that stops listening."""
        with self._lock:
            self._on_change = on_change
            if self._store is not None:
                self._listen(self._store)
        return self._unlisten

    def _unlisten(self) -> None:
        stop, self._stop_listening = self._stop_listening, None
        if stop is not None:
            stop()

    def close(self) -> None:
        self._unlisten()
        if self._store is not None:
            self._store.close()
