"""The ``litestar`` server plugin object: an ASGI app factory and a uvicorn runner."""

from __future__ import annotations

import dataclasses
import math
import os
from typing import TYPE_CHECKING, Any

from agentdock_plugins.litestar.app import DEFAULT_HEARTBEAT_SEC
from agentdock_plugins.litestar.limits import ServerLimits

if TYPE_CHECKING:
    from collections.abc import Mapping
    from pathlib import Path

    from agentdock.spec import DockSpec

__all__ = ["LitestarServer"]


class LitestarServer:
    """Serves one compiled pipeline (satisfies :class:`agentdock.protocols.Server`), or
    every agent of a directory (:class:`agentdock.capabilities.DirectoryServing`)."""

    def __init__(
        self,
        spec: DockSpec,
        *,
        limits: ServerLimits | None = None,
        max_body_bytes: int | None = None,
        heartbeat_sec: float = DEFAULT_HEARTBEAT_SEC,
        replay: Any | None = None,
    ) -> None:
        """:param limits: the bounds clients are held to (default: from the ``AGENTDOCK_*``
            variables of :mod:`.limits`, read once, here).
        :param max_body_bytes: overrides ``limits.max_body_bytes``.
        :param replay: a :class:`~agentdock_plugins.litestar.sse.StreamReplay` (the window
            of recent stream frames for ``Last-Event-ID``); default: one per application.
        :raises ValueError: a limit, or an ``AGENTDOCK_*`` variable for one, is malformed.
        """
        limits = limits if limits is not None else ServerLimits.from_env(os.environ)
        if max_body_bytes is not None:
            limits = dataclasses.replace(limits, max_body_bytes=max_body_bytes)
        self.spec = spec
        self.limits = limits
        self.heartbeat_sec = heartbeat_sec
        self.replay = replay

    @property
    def max_body_bytes(self) -> int:
        return self.limits.max_body_bytes

    def app(self, pipeline: Any) -> Any:
        """The Litestar ASGI application for ``pipeline`` (built once)."""
        from agentdock_plugins.litestar.app import create_app

        return create_app(
            pipeline,
            self.spec,
            limits=self.limits,
            heartbeat_sec=self.heartbeat_sec,
            replay=self.replay,
        )

    def uvicorn_options(self) -> dict[str, Any]:
        """``uvicorn.Config`` arguments enforcing the limits, for a caller that runs uvicorn
        itself (several workers, reload)."""
        from agentdock_plugins.litestar.running import uvicorn_options

        return uvicorn_options(self.limits)

    def serve(
        self, pipeline: Any, host: str, port: int, *, drain_timeout: float | None = None
    ) -> None:
        """Run under uvicorn until SIGINT or SIGTERM, then shut down gracefully and return.

        :param drain_timeout: seconds in-flight requests get to finish after the signal
            (default: as long as they take).
        """
        from agentdock_runtime.hostcheck import served_app

        from agentdock_plugins.litestar.running import run

        options: dict[str, Any] = {}
        if drain_timeout is not None:
            options["timeout_graceful_shutdown"] = max(1, math.ceil(drain_timeout))
        # Without authentication, only requests addressed to this machine (DNS rebinding).
        served = served_app(
            self.app(pipeline), insecure_no_auth=not getattr(pipeline, "authenticated", True)
        )
        run(served, host=host, port=port, limits=self.limits, **options)

    def serve_directory(
        self,
        directory: Path,
        specs: Mapping[Path, DockSpec],
        host: str,
        port: int,
        *,
        plugins: Any,
        insecure_no_auth: bool,
        watch: bool,
        drain_timeout: float | None = None,
    ) -> None:
        """Build every agent of ``specs`` (:mod:`.hosting`), then serve them all under
        uvicorn until SIGINT or SIGTERM and return.

        :raises ValueError: two agents share a name.
        """
        from agentdock_runtime.hostcheck import served_app

        from agentdock_plugins.litestar.hosting import AgentHost
        from agentdock_plugins.litestar.running import run

        host_app = AgentHost(
            directory, plugins=plugins, insecure_no_auth=insecure_no_auth, watch=watch
        )
        host_app.load_all(specs)
        options: dict[str, Any] = {}
        if drain_timeout is not None:
            options["timeout_graceful_shutdown"] = max(1, math.ceil(drain_timeout))
        served = served_app(host_app, insecure_no_auth=insecure_no_auth)
        run(served, host=host, port=port, limits=self.limits, **options)
