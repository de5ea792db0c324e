"""The built-in deployment-readiness rules of ``agentdock audit``, registered through
``agentdock_register_audit_rules`` like any third-party rule.

Each rule is a small class whose docstring says what it catches and why it matters; the
modules group them by family (network and configuration, paths, service behaviour,
secrets, Dockerfiles, agent code). docs/audit.md lists every rule with an example.
"""

from __future__ import annotations

from typing import Any

from agentdock import hookimpl

__all__ = ["RULES", "agentdock_register_audit_rules"]


def __getattr__(name: str) -> Any:
    if name == "RULES":  # loaded on first use: see .rules
        from agentdock_plugins.audit.rules import RULES

        return RULES
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


@hookimpl
def agentdock_register_audit_rules(register: Any) -> None:
    from agentdock_plugins.audit.rules import RULES

    for rule in RULES:
        doc = (rule.__doc__ or "").strip().split("\n\n", 1)[0]
        register(rule.id, rule, description=" ".join(doc.split()))
