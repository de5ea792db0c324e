"""Tool gating (stage ``tool``): only the tools in ``policies.tools.allowed`` may run.

The run's tool gate (``context.tools``) asks every tool policy before a tool call; this policy
raises :class:`agentdock.run.ToolDenied` there for a tool outside the allow-list, so the tool
never runs and the runtime answers 403 ``ToolDeniedError``. ``deny_by_default: true`` (the default)
makes an empty list deny every tool; with ``deny_by_default: false`` nothing is gated.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from agentdock.run import ToolCall, ToolDenied

from agentdock_plugins.policies.events import Stage, report

if TYPE_CHECKING:
    from agentdock.spec import DockSpec

__all__ = ["POLICY", "ToolAllowList", "tool_gate"]

POLICY = "tools.allowed"


class ToolAllowList:
    """Stage ``tool``: refuse tools outside the allow-list (a frozen set, built once)."""

    stage: Stage = "tool"

    def __init__(self, allowed: frozenset[str]) -> None:
        self.allowed = allowed

    def check(self, call: ToolCall, context: Any) -> None:
        if call.name in self.allowed:
            return
        started = time.perf_counter()
        report(
            context,
            stage="tool",
            policy=POLICY,
            action="deny",
            matches=1,
            started=started,
            kinds=(call.name,),
        )
        raise ToolDenied(call.name, "not in policies.tools.allowed")


def tool_gate(spec: DockSpec) -> ToolAllowList | None:
    tools = spec.policies.tools
    if not tools.deny_by_default:
        return None
    return ToolAllowList(frozenset(tools.allowed))
