"""Whether a post policy is looking at a stream token or at the whole output of ``invoke``.

Post policies receive both through ``check``: the validated output once per ``invoke``, the
``{"text": ...}`` data of every token of a stream. The run context says which
(``RunContext.mode``).
"""

from __future__ import annotations

from agentdock.run import RunContext

__all__ = ["is_streaming"]


def is_streaming(context: RunContext) -> bool:
    return context.mode == "stream"
