"""Checks of a Dockfile's ``plugins`` block (1.1): the plugins' policies and sinks an agent
uses, by the name each registers, and their configuration.

A name no installed plugin registers is an error (4011) that stops ``validate``, ``serve``,
``deploy`` and the runtime's start: an agent that relies on a policy must never run without
it because the plugin is missing or failed to load (the error then says why it failed). A
configuration is checked against the JSON Schema its plugin registered (``config_schema``);
each violation is a finding at its path under ``plugins.<name>``.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from agentdock.findings import Code, Finding, Severity

__all__ = ["PLUGIN_KINDS", "check_plugins", "schema_with_plugins"]

#: The kinds a ``plugins`` entry may name: the ones every matching plugin would otherwise
#: apply to each agent (adapters, auth providers, targets ... are chosen by their own keys).
PLUGIN_KINDS = ("policies", "telemetry_sinks")


def check_plugins(
    data: Mapping[str, Any],
    registered: Mapping[str, Any],
    builtin: Mapping[str, bool],
    load_errors: Sequence[str],
) -> Iterator[Finding]:
    """Findings for ``data["plugins"]``.

    :param registered: registrations of :data:`PLUGIN_KINDS` by name (``config_schema``
        and ``plugin`` attributes).
    :param builtin: whether each registered name is a built-in's.
    :param load_errors: one line per plugin that failed to load or register.
    """
    block = data.get("plugins")
    if not isinstance(block, Mapping):
        return
    for name, config in block.items():
        path = ("plugins", str(name))
        registration = registered.get(name)
        if registration is None:
            yield _missing(str(name), path, registered, builtin, load_errors)
            continue
        if builtin.get(name):
            yield Finding(
                Code.PluginValidationError,
                path,
                f"{name} is built in: it is configured by its own Dockfile keys, not here",
                hint="see docs/dockfile.md for the policies and observability blocks",
            )
            continue
        yield from _check_config(str(name), path, config or {}, registration)


def _missing(
    name: str,
    path: tuple[str, ...],
    registered: Mapping[str, Any],
    builtin: Mapping[str, bool],
    load_errors: Sequence[str],
) -> Finding:
    others = sorted(n for n in registered if not builtin.get(n))
    close = difflib.get_close_matches(name, others, n=1)
    if load_errors:
        hint = "plugins that failed to load: " + "; ".join(load_errors)
    elif close:
        hint = f"did you mean '{close[0]}'?"
    else:
        hint = (
            f"installed plugins' policies and sinks: {', '.join(others) or 'none'} "
            "(see `agentdock plugins`)"
        )
    return Finding(
        Code.PluginValidationError,
        path,
        f"no installed plugin registers a policy or telemetry sink named {name!r}",
        hint=hint,
    )


def _check_config(
    name: str, path: tuple[str, ...], config: Any, registration: Any
) -> Iterator[Finding]:
    schema = getattr(registration, "config_schema", None)
    if schema is None:
        if config:
            yield Finding(
                Code.PluginWarning,
                path,
                f"plugin {registration.plugin} declares no configuration for {name}: "
                "nothing checks these keys",
                severity=Severity.WARNING,
            )
        return
    import jsonschema_rs

    validator = jsonschema_rs.Draft202012Validator(dict(schema))
    for error in validator.iter_errors(config):
        rule = str(error.schema_path[-1]) if error.schema_path else "schema"
        # Messages about keys name keys only; any other would quote the value, which may
        # come from a secret (${VAR}): the rule it breaks is said instead.
        said = error.message if rule in _KEY_RULES else f"breaks the {rule!r} rule"
        yield Finding(
            Code.PluginValidationError,
            (*path, *error.instance_path),
            f"{said} of the configuration plugin {registration.plugin} declares",
        )


#: Schema rules whose messages name keys, never values.
_KEY_RULES = frozenset({"required", "additionalProperties", "propertyNames"})


def schema_with_plugins(schema: Mapping[str, Any], manager: Any) -> dict[str, Any]:
    """The Dockfile JSON Schema ``schema`` (1.1) with each installed plugin's policy or sink
    under ``plugins``: its description, and its ``config_schema`` where it declares one, so
    that an editor completes and checks its configuration too (``agentdock schema
    --plugins``)."""
    import copy

    out = copy.deepcopy(dict(schema))
    block = out.get("properties", {}).get("plugins")
    if block is None:  # 1.0 has no plugins block
        return out
    entries: dict[str, Any] = {}
    for kind in PLUGIN_KINDS:
        for name, registration in manager.registrations(kind).items():
            if manager.is_builtin(registration.plugin) or name in entries:
                continue
            entry = dict(registration.config_schema or {"type": ["object", "null"]})
            said = registration.description or f"a {kind[:-1].replace('_', ' ')}"
            entry["description"] = f"{said} (plugin {registration.plugin})"
            entries[name] = entry
    block["properties"] = entries
    return out
