"""What may load and what may take which name: the ``AGENTDOCK_LOAD_PLUGINS`` allowlist,
``AGENTDOCK_PLUGIN_REPLACES``, the hook API version a plugin names and the configuration
schema it gives. Each is read or checked once, when plugins load or register."""

from __future__ import annotations

import os
from collections.abc import Collection, Iterable, Mapping
from importlib import metadata

import pluggy

from agentdock import hookspecs
from agentdock.pluginrecords import (
    ALLOWLIST_ENV,
    KINDS,
    REPLACES_ENV,
)


def _replaces_from_env() -> frozenset[tuple[str, str, str]]:
    """``AGENTDOCK_PLUGIN_REPLACES``: comma-separated ``kind:name=plugin`` items."""
    return parse_replaces(os.environ.get(REPLACES_ENV, "").split(","))


def parse_replaces(items: Iterable[str]) -> frozenset[tuple[str, str, str]]:
    """``(kind, name, plugin)`` from ``kind:name=plugin`` items (blank ones skipped).

    :raises ValueError: an item of another form, or an unknown kind.
    """
    out: set[tuple[str, str, str]] = set()
    for raw in items:
        item = raw.strip()
        if not item:
            continue
        kind, _, rest = item.partition(":")
        name, _, plugin = rest.partition("=")
        if kind not in KINDS or not name or not plugin:
            raise ValueError(
                f"{REPLACES_ENV} item {item!r} is not kind:name=plugin with a kind of "
                f"{', '.join(KINDS)}"
            )
        out.add((kind, name, plugin))
    return frozenset(out)


def _check_hook_api(plugin: object) -> None:
    """Refuse a plugin written for a hook API this AgentDock does not offer
    (:data:`agentdock.hookspecs.REQUIRES_ATTRIBUTE`)."""
    wanted = getattr(plugin, hookspecs.REQUIRES_ATTRIBUTE, None)
    if wanted is None:
        return
    have = _api_version(hookspecs.HOOK_API_VERSION) or (0, 0)
    need = _api_version(wanted) if isinstance(wanted, str) else None
    if need is None:
        raise pluggy.PluginValidationError(
            plugin, f"{hookspecs.REQUIRES_ATTRIBUTE} = {wanted!r} is not a 'major.minor' string"
        )
    if need[0] != have[0] or need[1] > have[1]:
        raise pluggy.PluginValidationError(
            plugin,
            f"it was written for hook API {wanted}; this AgentDock has hook API "
            f"{hookspecs.HOOK_API_VERSION}",
        )


def _api_version(text: str) -> tuple[int, int] | None:
    major, dot, minor = text.strip().partition(".")
    if not (dot and major.isdigit() and minor.isdigit()):
        return None
    return int(major), int(minor)


def _check_config_schema(kind: str, name: str, schema: object) -> None:
    """A ``config_schema`` must be a JSON Schema (draft 2020-12) object.

    :raises ValueError: it is not (the plugin's hook then counts as raising).
    """
    import jsonschema_rs

    if not isinstance(schema, Mapping):
        raise ValueError(f"{kind} {name!r}: config_schema must be a mapping (a JSON Schema)")
    try:
        jsonschema_rs.Draft202012Validator(dict(schema))
    except Exception as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ValueError(f"{kind} {name!r}: config_schema is not a JSON Schema: {first}") from None


def _chosen(found: Iterable[metadata.EntryPoint], allow: Collection[str] | None) -> set[str]:
    """The entry points to load: all (no list); those named; or, when every item is
    ``-name``, all but those (so that leaving one plugin out never drops the built-ins)."""
    names = {ep.name for ep in found}
    if allow is None:
        return names
    if allow and all(item.startswith("-") for item in allow):
        return names - {item[1:] for item in allow}
    return {item for item in allow if not item.startswith("-")} - {
        item[1:] for item in allow if item.startswith("-")
    }


def _allowlist_from_env() -> frozenset[str] | None:
    raw = os.environ.get(ALLOWLIST_ENV)
    if raw is None:
        return None
    return frozenset(part.strip() for part in raw.split(",") if part.strip())
