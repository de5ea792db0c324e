"""The LangGraph Platform API, so that ``langgraph-sdk`` and ``RemoteGraph`` talk to an
AgentDock agent unchanged (the URL and the key are all a client changes).

Served beside AgentDock's own routes when the agent is a LangGraph graph:

* assistants: ``POST /assistants/search``, ``GET /assistants/{id}``, ``…/graph``,
  ``…/schemas`` (one assistant: the agent; its id is a UUID derived from its name, and the
  name is accepted wherever an id is);
* threads: ``POST /threads``, ``POST /threads/search``, ``GET``/``DELETE /threads/{id}``,
  ``GET``/``POST /threads/{id}/state``, ``GET /threads/{id}/state/{checkpoint_id}``,
  ``POST /threads/{id}/state/checkpoint``, ``GET``/``POST /threads/{id}/history``, kept in
  the agent's LangGraph checkpointer;
* runs: ``POST /runs/wait``, ``/runs/stream``, ``/runs`` and the same under
  ``/threads/{id}/runs…``; ``GET /threads/{id}/runs``, ``…/runs/{run_id}``, ``…/join``,
  ``…/stream``; ``POST …/cancel``;
* crons: 501 with the error envelope (to an admitted caller; 401 to anyone else);
* LangServe's ``/langserve/{agent}/invoke``, ``…/batch`` and ``…/stream``
  (:mod:`.langserve`), for ``RemoteRunnable``;
* MCP at ``/mcp/`` (:mod:`.mcp`) and A2A at ``/a2a/{agent}`` (:mod:`.a2a`), for any agent.

The Dockfile's ``expose.protocols`` picks among them (:func:`served_protocols`).

:mod:`.routes` builds the handlers once per agent: one :class:`~.context.Platform` (the
agent, its assistant, threads and runs, and who calls: see :mod:`.context` for auth) shared
by :mod:`.assistantroutes`, :mod:`.threadroutes` and :mod:`.runroutes`; what they read from
a request and answer with is :mod:`.replies`.
Every run goes through the agent's pipeline (:mod:`.runs`).
Threads and runs are kept in the process (:mod:`.records`) or in the registry store, where
every replica of the agent shares them (:mod:`.storedrecords`).
This package root imports nothing heavy: the server imports :mod:`.routes` when it builds
the application, the OpenAPI document :mod:`.openapi`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from agentdock.spec import DockSpec

__all__ = ["PROTOCOLS", "served_protocols", "serves_platform"]

#: Every protocol ``expose.protocols`` may name.
PROTOCOLS = ("langgraph", "langserve", "mcp", "a2a")
_LANGGRAPH_ONLY = frozenset({"langgraph", "langserve"})


def serves_platform(pipeline: object, spec: DockSpec) -> bool:
    """Whether the agent speaks the Platform API: a LangGraph agent (``framework:
    langgraph``, its adapter exposing ``stateful_graph``); the OpenAPI document lists the
    routes on the same condition."""
    adapter = getattr(pipeline, "adapter", None)
    return spec.agent.framework == "langgraph" and hasattr(adapter, "stateful_graph")


def served_protocols(spec: DockSpec, *, secured: bool, langgraph: bool) -> frozenset[str]:
    """The protocols served beside AgentDock's own routes, decided once at start-up.

    ``expose.protocols`` when the Dockfile names them; absent, all of them when requests
    are authenticated and none when the agent is served without auth (an open MCP or A2A
    endpoint is one any local program, or any model, may call): what is served without
    auth is what the Dockfile asks for. The LangGraph Platform API and LangServe need a
    LangGraph agent (``langgraph``).
    """
    declared = getattr(spec.expose, "protocols", None)
    if declared is None:
        chosen = frozenset(PROTOCOLS) if secured else frozenset()
    else:
        chosen = frozenset(declared)
    return chosen if langgraph else chosen - _LANGGRAPH_ONLY
