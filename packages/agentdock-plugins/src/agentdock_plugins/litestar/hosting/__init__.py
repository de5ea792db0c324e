"""One server hosting every agent of a directory (``agentdock serve DIR``).

Design: each agent gets the very application a one-agent server builds for it (its own
pipeline, auth, roles, policies, limits, middleware; :func:`.hosted.build_hosted` calls the
runtime's ``load_agent``, ``compile_pipeline`` and the server plugin's ``app``), and one
dispatching ASGI layer in front (:class:`.host.AgentHost`) hands ``/agents/{name}/...`` to
that agent's application with the prefix moved to ``root_path``. Per request, that is a
``str.partition`` and one dict lookup. Everything else goes to a small Litestar application
of the host's own (:mod:`.site`: ``/health``, ``/ready``, ``/metrics`` across agents, the
``/agents`` list), except when exactly one agent is hosted: then its application answers
the root paths too, so a directory of one agent serves exactly as its Dockfile alone does.

Hot reload (:mod:`.watch`) rebuilds an agent off the event loop and swaps its dict entry
in one assignment: requests already in its old application finish there, and the old
application is shut down (its lifespan ends, its pipeline closes) once the last one ends.
"""

from __future__ import annotations

from agentdock.agentdirs import HostingError, agent_directories

from agentdock_plugins.litestar.hosting.host import AgentHost

__all__ = ["AgentHost", "HostingError", "agent_directories"]
