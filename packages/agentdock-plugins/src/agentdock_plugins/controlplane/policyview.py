"""The Policies tab: which built-in policies a recorded Dockfile turns on, and with what,
and which plugin-provided policies its ``plugins`` block names.

Read from the version's snapshot as the registry keeps it, so a ``${VAR}`` stays a
placeholder: nothing here looks a value up in any environment. Whether a policy is on is
decided from the ``policies`` block with the Dockfile's defaults filled in (the pydantic
model of the block), by the same conditions under which each factory of
:mod:`agentdock_plugins.policies` builds its policy. The factories themselves are not
called: building the injection policy loads its model, which a page view must not pay for.
The stage of each policy is the one its registration describes (``pre``, ``tool``,
``tool_output``, ``post``).

A plugin's policy acts in a runtime when the Dockfile's ``plugins`` block names it (an
installed plugin acts nowhere else), with that entry as its configuration: the rows show
each such entry the control plane's plugins register as a policy, its settings as written.
Its factory is not called either (a plugin's code does not run for a page view), so the
stage is the factory's own ``stage`` attribute when it declares one (a policy class), else
unknown. An entry no plugin here registers is listed as not installed: the runtime may have
it (an image built elsewhere), the control plane cannot say what it does.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from agentdock.pluginrecords import KINDS
from agentdock.spec.models import PoliciesCfg
from pydantic import ValidationError

from agentdock_plugins.policies import FACTORIES

__all__ = ["plugin_policy_rows", "policy_rows"]

#: The stages a policy may run at.
STAGES = ("pre", "tool", "tool_output", "post")

#: The settings (paths under ``policies``) each built-in policy reads.
SETTINGS: dict[str, tuple[str, ...]] = {
    "redact_input": ("safety.redact_patterns", "safety.pii", "safety.halt_on_violation"),
    "prompt_injection": (
        "safety.block_prompt_injection",
        "safety.injection_threshold",
        "safety.injection.tiers",
        "safety.injection.classifier_threshold",
        "safety.injection.languages",
        "safety.injection.action",
        "safety.injection.detector",
    ),
    "tool_gate": ("tools.deny_by_default", "tools.allowed"),
    "tool_output_injection": (
        "safety.injection.tool_output",
        "safety.injection.action",
        "safety.injection.tool_output_action",
    ),
    "redact_output": ("safety.redact_patterns", "safety.pii", "safety.halt_on_violation"),
    "compliance_keywords": ("safety.compliance_keywords", "safety.halt_on_violation"),
    "max_output_chars": ("safety.max_output_chars", "safety.halt_on_violation"),
}

_Rule = Callable[[Mapping[str, Any]], bool]


def _redacts(block: Mapping[str, Any]) -> bool:
    safety = block["safety"]
    return bool(safety.get("redact_patterns") or safety.get("pii"))


#: When each factory builds its policy (the conditions of its ``return None``).
ON: dict[str, _Rule] = {
    "redact_input": _redacts,
    "prompt_injection": lambda b: bool(b["safety"].get("block_prompt_injection")),
    "tool_gate": lambda b: bool(b["tools"].get("deny_by_default")),
    "tool_output_injection": lambda b: bool(
        (b["safety"].get("injection") or {}).get("tool_output")
    ),
    "redact_output": _redacts,
    "compliance_keywords": lambda b: bool(b["safety"].get("compliance_keywords")),
    "max_output_chars": lambda b: b["safety"].get("max_output_chars") is not None,
}

_MISSING = object()


def _at(tree: Any, dotted: str) -> Any:
    for part in dotted.split("."):
        if not isinstance(tree, Mapping) or part not in tree:
            return _MISSING
        tree = tree[part]
    return tree


def policy_rows(document: Mapping[str, Any]) -> list[dict[str, Any]]:
    """One row per built-in policy, in run order: ``name``, ``stage``, ``description``,
    ``on`` (None when the block does not validate, so nothing can be said), and
    ``settings``: ``(path, value, written)`` with ``written`` False for a default."""
    written = document.get("policies")
    written = written if isinstance(written, Mapping) else {}
    try:
        effective: Mapping[str, Any] | None = PoliciesCfg.model_validate(written).model_dump(
            mode="json"
        )
    except ValidationError:  # a ${VAR} where a number goes: only what is written is known
        effective = None
    rows = []
    for name, _, description in FACTORIES:
        stage, _, what = description.partition(": ")
        settings = []
        for path in SETTINGS.get(name, ()):
            value = _at(written, path)
            if value is not _MISSING:
                settings.append((path, value, True))
            elif effective is not None and _at(effective, path) is not _MISSING:
                settings.append((path, _at(effective, path), False))
        rows.append(
            {
                "name": name,
                "stage": stage,
                "description": what,
                "on": ON[name](effective) if effective is not None and name in ON else None,
                "settings": settings,
            }
        )
    return rows


def _written(tree: Any, prefix: str) -> list[tuple[str, Any, bool]]:
    """Every leaf of a plugin's configuration as written, ``(path, value, True)``; a list is
    one value."""
    if not isinstance(tree, Mapping) or not tree:
        return [(prefix, tree, True)] if tree not in ({}, None) else []
    found: list[tuple[str, Any, bool]] = []
    for key, value in tree.items():
        found += _written(value, f"{prefix}.{key}")
    return found


def plugin_policy_rows(document: Mapping[str, Any], plugins: Any) -> list[dict[str, Any]]:
    """One row per entry of the Dockfile's ``plugins`` block that ``plugins`` (a plugin
    manager) registers as a policy, in the block's order: ``name``, ``plugin`` (its
    distribution, else the plugin's name), ``stage`` (None: not declared), ``description``,
    ``installed`` (False for an entry nothing here registers, listed with what is written)
    and ``settings`` as :func:`policy_rows` gives them (all written). Entries registered
    only as another kind (a telemetry sink) are left out, and so are the built-ins, which
    the block cannot name."""
    block = document.get("plugins")
    if not isinstance(block, Mapping):
        return []
    policies = plugins.registrations("policies")
    others = {name for kind in KINDS if kind != "policies" for name in plugins.registrations(kind)}
    sources = {info.name: info.distribution or info.name for info in plugins.plugins()}
    rows = []
    for name, config in block.items():
        name = str(name)
        registration = policies.get(name)
        if registration is None and name in others:
            continue
        if registration is not None and plugins.is_builtin(registration.plugin):
            continue
        stage = getattr(registration.factory, "stage", None) if registration else None
        rows.append(
            {
                "name": name,
                "plugin": sources.get(registration.plugin, registration.plugin)
                if registration
                else None,
                "stage": stage if stage in STAGES else None,
                "description": registration.description if registration else "",
                "installed": registration is not None,
                "settings": _written(config, f"plugins.{name}"),
            }
        )
    return rows
