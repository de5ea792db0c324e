"""A runtime's API keys from its key view, the file the CLI writes for it alone.

With the embedded registry a runtime never opens ``registry.db`` (a reader of a WAL
database can write it): it reads ``keys.json``, the view of its own agent and instance
that every key change rewrites (:mod:`agentdock.registry.keyview`). :class:`KeyViewStore`
gives :class:`~agentdock_plugins.auth.apikey.ApiKeyVerifier` what it asks of a store:

- rows by key id, from the file's contents kept in memory and read again only when the
  file's ``(device, inode, mtime, size)`` changed: a ``stat``, in a worker thread;
- :meth:`KeyViewStore.data_version`, that signature as a number: the verifier's background
  thread compares it every ``registry_poll`` seconds (0.2), so a revocation reaches a
  running runtime as fast as the registry's ``data_version`` did;
- ``last_used_at`` written to ``key-use.json`` in the runtime's state directory, which
  ``agentdock key list`` merges for this agent's and instance's keys only.

Where it looks: ``AGENTDOCK_KEY_VIEW`` (a file; what a container gets), else
``<home>/keys/<agent>[.<instance>]/keys.json`` of the AgentDock home
(``AGENTDOCK_HOME``, or the one found from the working directory). Key use goes to
``$AGENTDOCK_STATE_DIR/key-use.json``, else ``<home>/state/<agent>[.<instance>]/``.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Iterable, Mapping
from pathlib import Path

from agentdock.auth import HMAC_SHA256, pepper_id
from agentdock.home import agentdock_home
from agentdock.registry import ApiKeyRecord
from agentdock.registry.keyview import (
    KEY_USE_FILE,
    VIEW_FILE,
    KeyViewError,
    read_view,
    state_dir,
    view_dir,
    write_key_use,
)

__all__ = ["KEY_VIEW_ENV", "KeyViewStore", "pepper_mismatch"]

KEY_VIEW_ENV = "AGENTDOCK_KEY_VIEW"
STATE_DIR_ENV = "AGENTDOCK_STATE_DIR"

log = logging.getLogger("agentdock.auth")

_Signature = tuple[int, int, int, int]
_MISSING: _Signature = (0, 0, 0, 0)


def pepper_mismatch(records: Iterable[ApiKeyRecord], mine: str | None) -> dict[str, int]:
    """Pepper fingerprints of ``hmac-sha256`` rows other than ``mine``, with their counts."""
    found: dict[str, int] = {}
    for record in records:
        if record.hash_algorithm == HMAC_SHA256 and record.pepper_id not in (None, mine):
            assert record.pepper_id is not None
            found[record.pepper_id] = found.get(record.pepper_id, 0) + 1
    return found


def _signature(path: Path) -> _Signature:
    try:
        st = os.stat(path)
    except OSError:
        return _MISSING
    return (st.st_dev, st.st_ino, st.st_mtime_ns, st.st_size)


class KeyViewStore:
    """One agent's and instance's key rows, read from its key view (see the module doc)."""

    def __init__(
        self, view: Path, agent: str, instance: str = "", *, key_use: Path | None = None
    ) -> None:
        self.path = view
        self.agent = agent
        self.instance = instance
        self.key_use = key_use
        self._lock = threading.Lock()
        self._seen: _Signature | None = None
        self._rows: dict[str, ApiKeyRecord] = {}
        self._problem: str | None = None
        self._pepper_id = pepper_id()
        self._warned_peppers: set[str] = set()

    @classmethod
    def from_env(cls, agent: str, environ: Mapping[str, str] | None = None) -> KeyViewStore:
        """The view and key-use file this runtime's environment names."""
        env = os.environ if environ is None else environ
        instance = env.get("AGENTDOCK_INSTANCE", "")
        explicit = env.get(KEY_VIEW_ENV, "").strip()
        home = agentdock_home(environ=env)
        view = Path(explicit) if explicit else view_dir(home, agent, instance) / VIEW_FILE
        state = env.get(STATE_DIR_ENV, "").strip()
        use_dir = Path(state) if state else state_dir(home, agent, instance)
        return cls(view, agent, instance, key_use=use_dir / KEY_USE_FILE)

    # -- reading ------------------------------------------------------------------------

    def _current(self) -> dict[str, ApiKeyRecord]:
        signature = _signature(self.path)
        with self._lock:
            if signature == self._seen:
                return self._rows
            try:
                rows = read_view(self.path, self.agent, self.instance)
            except (KeyViewError, OSError) as exc:
                # Fail closed: no row, so every key is refused, and say why once.
                rows = {}
                problem = f"{type(exc).__name__}: {exc}"
                if problem != self._problem:
                    log.warning("cannot read the key view %s (%s)", self.path, problem)
                self._problem = problem
            else:
                self._problem = None
            self._seen, self._rows = signature, rows
        self._check_pepper(rows.values())
        return rows

    def _check_pepper(self, records: Iterable[ApiKeyRecord]) -> None:
        for fingerprint, count in pepper_mismatch(records, self._pepper_id).items():
            if fingerprint in self._warned_peppers:
                continue
            self._warned_peppers.add(fingerprint)
            mine = f"pepper {self._pepper_id}" if self._pepper_id else "no pepper"
            log.warning(
                "%d API key(s) of %s were made with pepper %s but this runtime has %s "
                "(AGENTDOCK_KEY_PEPPER): they will be refused until it gets that pepper",
                count,
                self.agent,
                fingerprint,
                mine,
            )

    def load(self) -> int:
        """Read the view now (at start-up: a pepper mismatch is warned of at once);
        returns how many rows it holds."""
        return len(self._current())

    def get_api_key(self, key_id: str) -> ApiKeyRecord | None:
        return self._current().get(key_id)

    def get_api_keys(self, key_ids: Iterable[str]) -> dict[str, ApiKeyRecord]:
        rows = self._current()
        return {k: rows[k] for k in key_ids if k in rows}

    def data_version(self) -> int:
        """A number that changes whenever the view file is replaced (a ``stat``)."""
        return hash(_signature(self.path))

    # -- last use -------------------------------------------------------------------------

    def touch_api_keys(self, used: Mapping[str, float]) -> int:
        """Record the latest use of this instance's keys in ``key-use.json``."""
        if self.key_use is None or not used:
            return 0
        rows = self._current()
        own = {k: at for k, at in used.items() if k in rows}
        return write_key_use(self.key_use, own) if own else 0

    def close(self) -> None:
        return None
