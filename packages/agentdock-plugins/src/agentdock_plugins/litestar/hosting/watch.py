"""Hot reload: watch the hosting directory and refresh the agents whose files changed.

watchfiles (the library uvicorn's ``--reload`` uses) reports batches of changes; each
changed path names the agent directory it lies in, and each such directory is refreshed
once per batch (:meth:`.host.AgentHost.refresh`: load, reload or unload). A refresh that
fails is reported by the host and never ends the watch.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import TYPE_CHECKING

import watchfiles
from agentdock.agentdirs import DOCKFILE, agent_directory_of

if TYPE_CHECKING:
    from agentdock_plugins.litestar.hosting.host import AgentHost

__all__ = ["DEBOUNCE_MS", "WATCH_FILTER", "Watcher"]

#: Milliseconds of quiet before a batch of changes is acted on (an editor's save, a copy).
DEBOUNCE_MS = 300

#: watchfiles' defaults (caches, virtual environments, VCS), and AgentDock's own state
#: (checkpoints, local telemetry): files the agents write must not reload them.
WATCH_FILTER = watchfiles.DefaultFilter(
    ignore_dirs=(*watchfiles.DefaultFilter.ignore_dirs, ".agentdock")
)

log = logging.getLogger("agentdock.serve")


class Watcher:
    """The background task watching ``host.directory``."""

    def __init__(self, host: AgentHost) -> None:
        self.host = host
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        self._stop.set()
        if self._task is not None:
            await self._task

    async def _run(self) -> None:
        root = self.host.directory
        async for changes in watchfiles.awatch(
            root, watch_filter=WATCH_FILTER, stop_event=self._stop, debounce=DEBOUNCE_MS, step=50
        ):
            directories = {agent_directory_of(Path(path), root) for _, path in changes}
            # Unloads first: an agent moved to another directory is free to load there.
            for directory in sorted(
                (d for d in directories if d is not None),
                key=lambda d: ((d / DOCKFILE).is_file(), d),
            ):
                try:
                    await self.host.refresh(directory)
                except Exception:
                    log.exception("reloading %s failed", directory)
