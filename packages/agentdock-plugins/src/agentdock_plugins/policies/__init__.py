"""Built-in plugin: the policy engine (redaction, PII, injection, tool gating, output limits).

Each policy is its own small factory, called once with the resolved spec; it returns ``None``
when the Dockfile does not configure it, so an unconfigured policy costs nothing per request.
Registration order is run order within a stage: on the input, redaction before the injection
score (the scorer sees what the agent will see); on the output, redaction first, then the
compliance keywords (on redacted text), then the length guard (so a cut never splits a
redaction marker from what it replaced). See ``docs/policies.md``.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from agentdock import hookimpl

if TYPE_CHECKING:
    from agentdock.spec import DockSpec

__all__ = ["FACTORIES", "agentdock_register_policies", "factories"]

#: ``(name, "module:factory", description)`` of every built-in policy, in run order per
#: stage. Modules are imported when the runtime builds the policy, never by ``validate``.
FACTORIES: tuple[tuple[str, str, str], ...] = (
    ("redact_input", "redaction:input_redaction", "pre: redact_patterns and PII recognisers"),
    ("prompt_injection", "injection_input:prompt_injection", "pre: prompt-injection score"),
    ("tool_gate", "tool_gate:tool_gate", "tool: only tools in policies.tools.allowed may run"),
    (
        "tool_output_injection",
        "injection_tool_output:tool_output_injection",
        "tool_output: prompt-injection check of the listed tools' results",
    ),
    ("redact_output", "redaction:output_redaction", "post: redaction of output and tokens"),
    ("compliance_keywords", "compliance:compliance_check", "post: flag or refuse listed terms"),
    ("max_output_chars", "output_limit:output_limit", "post: truncate (or 413) past the limit"),
)


def _lazy(target: str) -> Callable[[Any], Any]:
    module, _, name = target.partition(":")

    def factory(spec: DockSpec) -> Any:
        built = getattr(importlib.import_module(f"{__name__}.{module}"), name)
        return built(spec)

    factory.__name__ = name
    return factory


def factories() -> list[tuple[str, Callable[[Any], Any]]]:
    """``(name, factory)`` of every built-in policy, in run order per stage."""
    return [(name, _lazy(target)) for name, target, _ in FACTORIES]


@hookimpl
def agentdock_register_policies(register: Any) -> None:
    for (name, factory), (_, _, description) in zip(factories(), FACTORIES, strict=True):
        register(name, factory, description=description)
