"""Indirect prompt injection (stage ``tool_output``): ``policies.safety.injection.tool_output``.

Tool results and retrieved documents are where an agent meets text nobody vetted. Every
string a listed tool returns (``["*"]``: every tool) goes through the same detector as the
input (:class:`~agentdock_plugins.policies.injection_detect.Detector`, the same tiers,
languages and thresholds) as the tool returns, before the agent reads it. On a detection,
``injection.action`` decides: ``block`` stops the run with 403 ``ToolDeniedError`` naming the
tool, the tier, its score and the rules (the agent gets an error in place of the result, never
the text); ``flag`` and ``log`` let the result through. Each decision is one ``policy_event``
(stage ``tool_output``) with the tier, the score and the rules, never the text.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from agentdock.run import ToolCall, ToolDenied

from agentdock_plugins.policies.events import Stage
from agentdock_plugins.policies.injection_detect import Detector
from agentdock_plugins.policies.injection_input import (
    InjectionAction,
    detector_for,
    first_injection,
)

if TYPE_CHECKING:
    from agentdock.spec import DockSpec

__all__ = ["POLICY", "ToolOutputInjection", "tool_output_injection"]

POLICY = "safety.injection.tool_output"
#: In ``tool_output``: every tool.
EVERY_TOOL = "*"


def _content(output: Any) -> Any:
    """What a tool returned, as data: a LangChain ``ToolMessage`` holds it in ``content``."""
    content = getattr(output, "content", None)
    return output if content is None else content


class ToolOutputInjection:
    """Stage ``tool_output``: refuse (or flag, or log) tool results that hold an injection."""

    stage: Stage = "tool_output"

    def __init__(
        self, detector: Detector, *, action: InjectionAction = "block", tools: frozenset[str]
    ) -> None:
        self.detector = detector
        self.action = action
        self.tools = tools

    def check(self, call: ToolCall, output: Any, context: Any) -> None:
        if EVERY_TOOL not in self.tools and call.name not in self.tools:
            return
        found = first_injection(self.detector, _content(output), context, stage=self.stage,
                                policy=POLICY, action=self.action)  # fmt: skip
        if found is not None and self.action == "block":
            _, decision = found
            raise ToolDenied(
                call.name,
                f"its output holds a possible prompt injection (tier {decision.tier}, "
                f"score {decision.score:g}; rules: {', '.join(decision.rules)})",
            )


def tool_output_injection(spec: DockSpec) -> ToolOutputInjection | None:
    safety = spec.policies.safety
    cfg = getattr(safety, "injection", None)
    tools = getattr(cfg, "tool_output", None)
    if not tools:
        return None
    detector, action = detector_for(safety)
    return ToolOutputInjection(detector, action=action, tools=frozenset(tools))
