"""One hosted agent: its application, built as a one-agent server builds it, and its life.

The application's lifespan is driven here (asgi-lifespan's ``LifespanManager``), since the
host's server only speaks to the host: start-up before the agent takes a request, shutdown
(its pipeline closed, telemetry flushed) once it is unloaded or replaced and the requests
it was serving have ended.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from agentdock_runtime import compile_pipeline
from agentdock_runtime.app import build_server_app, load_agent
from asgi_lifespan import LifespanManager

if TYPE_CHECKING:
    from agentdock.plugins import PluginManager
    from agentdock.spec import DockSpec
    from agentdock_runtime import Pipeline

__all__ = ["HostedAgent", "build_hosted", "outranks"]


@dataclass(eq=False, slots=True)
class HostedAgent:
    """An agent's application and what the host needs to serve, report and retire it."""

    name: str
    directory: Path
    spec: DockSpec
    app: Any
    #: The agent's pipeline (its auth and access rules decide who sees the host's list).
    pipeline: Pipeline
    loaded_at: float = field(default_factory=time.time)
    #: Requests (HTTP, WebSocket) inside :attr:`app` now.
    inflight: int = 0
    #: Replaced or unloaded: shut down once :attr:`inflight` falls to 0.
    retired: bool = False
    _lifespan: LifespanManager | None = None
    _idle: asyncio.Event | None = None
    #: ``/agents/{name}``, as text and as bytes (the request's ``root_path`` and
    #: ``raw_path``), made once.
    prefix: str = field(init=False)
    raw_prefix: bytes = field(init=False)
    #: Its ``/metrics`` is served without credentials (``observability.metrics.public``).
    metrics_public: bool = field(init=False)

    def __post_init__(self) -> None:
        from agentdock.spec.models import MetricsCfg11

        self.prefix = f"/agents/{self.name}"
        self.raw_prefix = self.prefix.encode()
        metrics = self.spec.observability.metrics
        self.metrics_public = isinstance(metrics, MetricsCfg11) and metrics.public

    async def start(self) -> None:
        """Run the application's start-up (no time limit: an agent may load a model)."""
        self._lifespan = LifespanManager(self.app, startup_timeout=None, shutdown_timeout=None)
        await self._lifespan.__aenter__()

    async def stop(self) -> None:
        """Run the application's shutdown (idempotent)."""
        lifespan, self._lifespan = self._lifespan, None
        if lifespan is not None:
            await lifespan.__aexit__(None, None, None)

    def left(self) -> None:
        """A request left :attr:`app` (called by the host after each one)."""
        self.inflight -= 1
        if self.retired and not self.inflight and self._idle is not None:
            self._idle.set()

    async def retire(self) -> None:
        """Stop taking requests (the host no longer routes here), wait for those inside,
        then shut down."""
        self.retired = True
        if self.inflight:
            self._idle = asyncio.Event()
            await self._idle.wait()
        await self.stop()


def build_hosted(
    spec: DockSpec,
    directory: Path,
    hosting_dir: Path,
    *,
    plugins: PluginManager,
    insecure_no_auth: bool,
) -> HostedAgent:
    """The agent of ``spec`` (its code in ``directory``), built exactly as ``agentdock
    serve FILE`` builds it, its modules imported afresh (blocking: run it off the loop)."""
    agent = load_agent(spec, project_dir=directory, plugins=plugins, fresh_under=hosting_dir)
    pipeline = compile_pipeline(
        spec, entry=agent.entry, plugins=plugins, insecure_no_auth=insecure_no_auth
    )
    application = build_server_app(spec, pipeline, plugins=plugins)
    return HostedAgent(spec.agent.name, directory, spec, application, pipeline)


def outranks(status: int, kept: int | None) -> bool:
    """Whether an agent's refusal ``status`` is the one to answer rather than ``kept`` (the
    status kept so far, None for none), agents being asked in name order: the first, except
    that the refusal of an agent that knew the caller (its 403, 404, 429: the credential is
    good) comes before the 401 of one that did not, which would tell the caller its good
    key is wrong."""
    return kept is None or (kept == 401 and status != 401)
