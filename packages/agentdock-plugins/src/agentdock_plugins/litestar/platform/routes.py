"""The LangGraph Platform API's routes for one agent (see :mod:`.` for the list): the
shared :class:`~.context.Platform`, built once, and each resource's handlers on it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from agentdock_runtime import Pipeline

from agentdock_plugins.litestar.platform.assistantroutes import assistant_handlers
from agentdock_plugins.litestar.platform.context import NAMESPACE_GRAPH, Platform, assistant_id
from agentdock_plugins.litestar.platform.records import Records
from agentdock_plugins.litestar.platform.replies import small_int
from agentdock_plugins.litestar.platform.runroutes import run_handlers
from agentdock_plugins.litestar.platform.storedrecords import records_from_env
from agentdock_plugins.litestar.platform.storeroutes import store_handlers
from agentdock_plugins.litestar.platform.threadroutes import thread_handlers
from agentdock_plugins.litestar.platform.waitroute import WaitRoute

if TYPE_CHECKING:
    from agentdock.spec import DockSpec

__all__ = [
    "NAMESPACE_GRAPH",
    "assistant_id",
    "platform_handlers",
    "platform_routes",
    "small_int",
]


def platform_handlers(
    pipeline: Pipeline,
    spec: DockSpec,
    *,
    heartbeat_sec: float,
    records: Records | None = None,
) -> list[Any]:
    """The Litestar handlers of the Platform API for ``pipeline`` (built once)."""
    return platform_routes(pipeline, spec, heartbeat_sec=heartbeat_sec, records=records)[0]


def platform_routes(
    pipeline: Pipeline,
    spec: DockSpec,
    *,
    heartbeat_sec: float,
    records: Records | None = None,
) -> tuple[list[Any], WaitRoute]:
    """The Litestar handlers of the Platform API for ``pipeline`` and its ``runs.wait``
    routes for the ASGI fast path, sharing one :class:`.Platform` (built once)."""
    p = Platform(
        pipeline,
        spec,
        records if records is not None else records_from_env(spec.agent.name),
        heartbeat_sec,
    )
    handlers = [*assistant_handlers(p), *thread_handlers(p), *run_handlers(p), *store_handlers(p)]
    return handlers, WaitRoute(p)
