"""``POST /runs/wait`` and ``POST /threads/{thread_id}/runs/wait``, less the framing.

``runs.wait`` is the call a Platform client makes most, so, like ``/invoke``, it is answered
by the ASGI fast path in front of Litestar's router (:mod:`..fastpath`) as well as by its
Litestar routes (:mod:`.runroutes`, for what the fast path passes on: requests with an
``Origin`` when CORS is configured). Both read the body and answer through here, so the
checks, the run and the reply are the same whichever way the request came.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from agentdock_plugins.litestar.platform.context import Platform
    from agentdock_plugins.litestar.platform.replies import Reply

__all__ = ["NOT_WAIT", "WaitRoute"]

_THREADS: Final = "/threads/"
_WAIT: Final = "/runs/wait"
#: :meth:`WaitRoute.thread_of` for a path that is not a ``runs.wait`` route.
NOT_WAIT: Final = "/"


class WaitRoute:
    """The two ``runs.wait`` routes of one agent's :class:`.Platform`."""

    __slots__ = ("_platform",)

    def __init__(self, platform: Platform) -> None:
        self._platform = platform

    @staticmethod
    def thread_of(path: str) -> str | None:
        """``None`` for ``/runs/wait``, the thread id for ``/threads/{id}/runs/wait`` (one
        non-empty path segment, as the Litestar route matches it), else :data:`NOT_WAIT`
        (a ``/`` is never a thread id here)."""
        if path == _WAIT:
            return None
        if path.startswith(_THREADS) and path.endswith(_WAIT):
            thread = path[len(_THREADS) : -len(_WAIT)]
            if thread and "/" not in thread:
                return thread
        return NOT_WAIT

    async def run(self, body: bytes, headers: Mapping[str, str], thread_id: str | None) -> Reply:
        """The run waited for: its output, or its failure, as a reply."""
        p = self._platform
        request = await p.run_request(body, headers, mode="invoke")
        if thread_id is None:
            return await p.wait_stateless(request, headers)
        return await p.wait(await p.start(request, thread_id, headers, wait=True))
