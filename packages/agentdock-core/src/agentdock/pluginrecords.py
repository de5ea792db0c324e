"""What the plugin manager records: a registration, a loaded plugin, a plugin's error, and
the names (entry-point group, built-in distribution, kinds) they are keyed by."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

ENTRY_POINT_GROUP = "agentdock"
BUILTIN_DISTRIBUTION = "agentdock-plugins"
ALLOWLIST_ENV = "AGENTDOCK_LOAD_PLUGINS"
REPLACES_ENV = "AGENTDOCK_PLUGIN_REPLACES"
#: The package of the built-in plugins (registered in process, they have no distribution).
BUILTIN_PACKAGE = "agentdock_plugins"

#: Kinds of things plugins register, each collected by ``agentdock_register_<kind>``.
KINDS: tuple[str, ...] = (
    "adapters",
    "policies",
    "telemetry_sinks",
    "auth_providers",
    "builders",
    "targets",
    "hardware_profiles",
    "servers",
    "stores",
    "audit_rules",
)


@dataclass(frozen=True, slots=True)
class Registration:
    """One thing a plugin provides: ``factory`` registered under ``name`` for ``kind``."""

    kind: str
    name: str
    factory: Any
    description: str
    plugin: str
    #: The JSON Schema (draft 2020-12) of its entry in a Dockfile's ``plugins`` block, or None.
    config_schema: Mapping[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class PluginInfo:
    """A loaded plugin and where it came from."""

    name: str
    module: str
    distribution: str | None
    version: str | None
    builtin: bool
    hooks: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class PluginError:
    """A plugin that could not load, or whose hook raised."""

    name: str
    distribution: str | None
    error: str
    detail: str = ""


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    first = text[0] if text else ""
    line = f"{type(exc).__name__}: {first}" if first else type(exc).__name__
    return line[:300]
