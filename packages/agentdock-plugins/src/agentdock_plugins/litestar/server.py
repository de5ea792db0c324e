"""The ``litestar`` server plugin object: an ASGI app factory and a uvicorn runner."""

from __future__ import annotations

import math
from typing import Any

from agentdock_plugins.litestar.app import DEFAULT_HEARTBEAT_SEC, DEFAULT_MAX_BODY_BYTES

__all__ = ["LitestarServer"]


class LitestarServer:
    """Serves one compiled pipeline (satisfies :class:`agentdock.protocols.Server`)."""

    def __init__(
        self,
        spec: Any,
        *,
        max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
        heartbeat_sec: float = DEFAULT_HEARTBEAT_SEC,
        replay: Any | None = None,
    ) -> None:
        """:param replay: a :class:`~agentdock_plugins.litestar.sse.StreamReplay` (the window
        of recent stream frames for ``Last-Event-ID``); default: one per application."""
        self.spec = spec
        self.max_body_bytes = max_body_bytes
        self.heartbeat_sec = heartbeat_sec
        self.replay = replay

    def app(self, pipeline: Any) -> Any:
        """The Litestar ASGI application for ``pipeline`` (built once)."""
        from agentdock_plugins.litestar.app import create_app

        return create_app(
            pipeline,
            self.spec,
            max_body_bytes=self.max_body_bytes,
            heartbeat_sec=self.heartbeat_sec,
            replay=self.replay,
        )

    def serve(
        self, pipeline: Any, host: str, port: int, *, drain_timeout: float | None = None
    ) -> None:
        """Run under uvicorn until SIGINT or SIGTERM, then shut down gracefully and return.

        :param drain_timeout: seconds in-flight requests get to finish after the signal
            (default: as long as they take).
        """
        from agentdock_plugins.litestar.running import run

        options: dict[str, Any] = {}
        if drain_timeout is not None:
            options["timeout_graceful_shutdown"] = max(1, math.ceil(drain_timeout))
        run(self.app(pipeline), host=host, port=port, **options)
