"""What one control plane process holds: its registry, events, operations and settings."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agentdock.registry import SQLStore
from agentdock.registry.operationrows import STALE_AFTER, OperationRows

from agentdock_plugins.controlplane.events import EventLog
from agentdock_plugins.controlplane.logfollow import Followers
from agentdock_plugins.controlplane.metrics import FleetFigures
from agentdock_plugins.controlplane.operations import Operation, Operations, recover_abandoned
from agentdock_plugins.controlplane.shared import Shared
from agentdock_plugins.controlplane.uploads import (
    UPLOADS_KEEP_S,
    prune_uploads,
    referenced_uploads,
    unpack_project,
)
from agentdock_plugins.localstore.store import telemetry_db_path

__all__ = ["ControlPlane"]


@dataclass
class ControlPlane:
    """``auth`` False only with ``--insecure-no-auth`` on loopback (everyone is admin).
    ``projects`` is the directory a deploy's Dockfile path must lie under. ``target`` is
    where deploys and builds go when neither the request nor the Dockfile's
    ``deploy.target`` names one (None: ``local``); ``build_options`` go to every build
    (``base_image`` for the docker builder)."""

    store: SQLStore
    projects: Path
    auth: bool = True
    plugins: Any = None
    target: str | None = None
    build_options: dict[str, Any] = field(default_factory=dict)
    events: EventLog = field(default_factory=EventLog)
    operations: Operations = field(init=False)
    started_at: float = 0.0
    #: Seconds between two readings of every agent's health (``health_event``); 0: none.
    health_interval: float = 5.0
    #: The local telemetry store the metrics are read from (default: the environment's,
    #: which is the one the local runtimes of this home write).
    telemetry: Path | None = None
    #: The window of the home table's figures (p95, rate, error rate, cost), in seconds.
    figures_window_s: int = 3600
    #: How old those figures may be (seconds): one read serves every caller meanwhile.
    figures_ttl_s: float = 5.0
    fleet: FleetFigures = field(init=False)
    #: How old the agents table may be (seconds): one reading serves every caller meanwhile.
    table_ttl_s: float = 1.0
    table: Shared[list[dict[str, Any]]] = field(init=False)
    #: Seconds without a beat after which another process's running operation is taken
    #: for abandoned (its control plane stopped).
    abandoned_after_s: float = STALE_AFTER
    #: The logs followed live (``GET /controller/logs/{agent}/follow``), each by a thread.
    followers: Followers = field(default_factory=Followers)
    #: Each version's LangFuse address (None: no LangFuse), by version row id: a version
    #: never changes, and finding it loads the version's Dockfile.
    langfuse_hosts: dict[int, str | None] = field(default_factory=dict)
    #: How long an uploaded project no deployment was made from is kept after its last
    #: upload (seconds).
    uploads_keep_s: float = UPLOADS_KEEP_S
    #: Held while an upload is unpacked or the uploads are pruned: an archive uploaded
    #: again is marked new before a pruning can take it for old.
    uploads_lock: threading.Lock = field(default_factory=threading.Lock)
    #: When each platform key was last used, not yet written to the registry: a request
    #: only notes it (no write on the event loop); :meth:`flush_key_use` writes them in one
    #: transaction, with each health reading and before platform keys are listed.
    key_use: dict[str, float] = field(default_factory=dict)
    #: How often (seconds, at most) an open stream re-reads its caller's key, so that a
    #: revoked or expired key stops receiving events and log lines.
    stream_recheck_s: float = 1.0

    def note_key_use(self, key_id: str) -> None:
        """Note that ``key_id`` was used now (a dictionary write, no I/O)."""
        self.key_use[key_id] = time.time()

    def flush_key_use(self) -> int:
        """Write the noted uses as the keys' ``last_used_at`` (blocking: call off the loop)."""
        pending, self.key_use = self.key_use, {}
        return self.store.touch_api_keys(pending) if pending else 0

    def __post_init__(self) -> None:
        self.operations = Operations(self.events, rows=OperationRows(self.store))
        if self.telemetry is None:
            self.telemetry = telemetry_db_path()
        self.table = Shared(self.table_ttl_s)
        self.fleet = FleetFigures(self.telemetry, self.figures_window_s, self.figures_ttl_s)

    def recover_operations(self) -> list[Operation]:
        """End the operations a stopped control plane left running (at start-up)."""
        assert self.operations.rows is not None
        return recover_abandoned(
            self.operations.rows, self.events, self.store, self.plugins, self.abandoned_after_s
        )

    def receive_upload(self, archive: bytes) -> Path:
        """Unpack an uploaded project (:func:`unpack_project`), then prune the old ones;
        the directory it is in."""
        with self.uploads_lock:
            folder = unpack_project(self.projects, archive)
            self._prune_uploads()
        return folder

    def prune_uploads(self) -> list[Path]:
        """Remove the uploaded projects no deployment was made from (a recorded version's,
        a running or a pending one) once older than :attr:`uploads_keep_s` (at start-up and
        after each upload); the removed directories."""
        with self.uploads_lock:
            return self._prune_uploads()

    def _prune_uploads(self) -> list[Path]:
        store = self.store
        made = [d for agent in store.list_agents() for d in store.list_deployments(agent)]
        keep = referenced_uploads(self.projects, made)
        return prune_uploads(self.projects, keep, older_than_s=self.uploads_keep_s)

    @property
    def telemetry_path(self) -> Path:
        assert self.telemetry is not None  # set in __post_init__
        return self.telemetry
