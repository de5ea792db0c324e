"""Built-in plugin: the policy engine (redaction, PII, injection, tool gating, output limits).

Each policy is its own small factory, called once with the resolved spec; it returns ``None``
when the Dockfile does not configure it, so an unconfigured policy costs nothing per request.
Registration order is run order within a stage: on the input, redaction before the injection
score (the scorer sees what the agent will see); on the output, redaction first, then the
compliance keywords (on redacted text), then the length guard (so a cut never splits a
redaction marker from what it replaced). See ``docs/policies.md``.
"""

from __future__ import annotations

from typing import Any

from agentdock import hookimpl

from agentdock_plugins.policies.compliance import compliance_check
from agentdock_plugins.policies.output_limit import output_limit
from agentdock_plugins.policies.prompt_injection import prompt_injection
from agentdock_plugins.policies.redaction import input_redaction, output_redaction
from agentdock_plugins.policies.tool_gate import tool_gate

__all__ = ["FACTORIES", "agentdock_register_policies"]

#: ``(name, factory, description)`` of every built-in policy, in run order per stage.
FACTORIES: tuple[tuple[str, Any, str], ...] = (
    ("redact_input", input_redaction, "pre: redact_patterns and PII recognisers on the input"),
    ("prompt_injection", prompt_injection, "pre: heuristic prompt-injection score, 403 past it"),
    ("tool_gate", tool_gate, "tool: only tools in policies.tools.allowed may run"),
    ("redact_output", output_redaction, "post: redaction of the output and of streamed tokens"),
    ("compliance_keywords", compliance_check, "post: flag or refuse output with listed terms"),
    ("max_output_chars", output_limit, "post: truncate (or 413) output past the limit"),
)


@hookimpl
def agentdock_register_policies(register: Any) -> None:
    for name, factory, description in FACTORIES:
        register(name, factory, description=description)
