"""Indirect prompt injection (stage ``tool_output``): ``policies.safety.injection.tool_output``.

Tool results and retrieved documents are where an agent meets text nobody vetted. Every
string a listed tool returns (``["*"]``: every tool) goes through the same detector as the
input (:class:`~agentdock_plugins.policies.injection_detect.Detector`, the same tiers,
languages and thresholds) as the tool returns, before the agent reads it. On a detection,
``injection.tool_output_action`` (default: ``injection.action``) decides: ``block`` stops the
run with 403 ``ToolDeniedError`` naming the tool, the tier, its score and the rules (the
agent gets an error in place of the result, never the text); ``replace`` puts a notice
(:func:`notice`: the tier, the score and the rules, never the text) in place of the result
and lets the agent go on; ``flag`` and ``log`` let the result through. Each decision is one
``policy_event`` (stage ``tool_output``; action ``redact`` for a replaced result) with the
tier, the score and the rules, never the text.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

from agentdock.run import ReplaceToolOutput, ToolCall, ToolDenied

from agentdock_plugins.policies.events import Stage
from agentdock_plugins.policies.injection_detect import Decision, Detector
from agentdock_plugins.policies.injection_input import detector_for, first_injection

if TYPE_CHECKING:
    from agentdock.spec import DockSpec

__all__ = ["POLICY", "ToolOutputAction", "ToolOutputInjection", "notice", "tool_output_injection"]

POLICY = "safety.injection.tool_output"
#: In ``tool_output``: every tool.
EVERY_TOOL = "*"
#: What a detection in a tool's result does.
ToolOutputAction = Literal["block", "replace", "flag", "log"]


def notice(decision: Decision) -> str:
    """What the agent reads in place of a replaced result: that it was withheld and why,
    never the text."""
    return (
        f"[tool result withheld by policy {POLICY}: possible prompt injection "
        f"(tier {decision.tier}, score {decision.score:g}; rules: {', '.join(decision.rules)})]"
    )


def _reason(decision: Decision) -> str:
    return (
        f"its output holds a possible prompt injection (tier {decision.tier}, "
        f"score {decision.score:g}; rules: {', '.join(decision.rules)})"
    )


def _content(output: Any) -> Any:
    """What a tool returned, as data: a LangChain ``ToolMessage`` holds it in ``content``."""
    content = getattr(output, "content", None)
    return output if content is None else content


class ToolOutputInjection:
    """Stage ``tool_output``: refuse (or flag, or log) tool results that hold an injection."""

    stage: Stage = "tool_output"

    def __init__(
        self, detector: Detector, *, action: ToolOutputAction = "block", tools: frozenset[str]
    ) -> None:
        self.detector = detector
        self.action = action
        self.tools = tools

    def check(self, call: ToolCall, output: Any, context: Any) -> ReplaceToolOutput | None:
        if EVERY_TOOL not in self.tools and call.name not in self.tools:
            return None
        # A replaced result is withheld whole, as a blocked one: one decision is enough.
        event = "redact" if self.action == "replace" else self.action
        found = first_injection(self.detector, _content(output), context, stage=self.stage,
                                policy=POLICY, action=event)  # fmt: skip
        if found is None:
            return None
        _, decision = found
        if self.action == "block":
            raise ToolDenied(call.name, _reason(decision))
        if self.action == "replace":
            return ReplaceToolOutput(notice(decision), _reason(decision))
        return None


def tool_output_injection(spec: DockSpec) -> ToolOutputInjection | None:
    safety = spec.policies.safety
    cfg = getattr(safety, "injection", None)
    tools = getattr(cfg, "tool_output", None)
    if not tools:
        return None
    detector, action = detector_for(safety)
    chosen: ToolOutputAction = getattr(cfg, "tool_output_action", None) or action
    return ToolOutputInjection(detector, action=chosen, tools=frozenset(tools))
