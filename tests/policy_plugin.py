"""A third party's policy plugin, for the control plane's Policies tab: ``no-shouting`` (a
policy class declaring its stage), ``audit-trail`` (a factory function, no stage declared)
and ``trail-sink`` (a telemetry sink, not a policy), registered the way the plugin testing
kit registers the plugin under test."""

from __future__ import annotations

from typing import Any

from agentdock import hookimpl
from agentdock.plugins import PluginManager
from agentdock.testing import plugin_manager

__all__ = ["PLUGINS_BLOCK", "PolicyPlugin", "Shouting", "with_policy_plugin"]

#: A Dockfile's plugins block naming all three, a placeholder and markup among the settings.
PLUGINS_BLOCK = (
    "plugins:\n"
    '  no-shouting: {words: ["${SECRET_WORD}", "<b>LOUD</b>"], nested: {level: 2}}\n'
    "  audit-trail: {}\n"
    "  trail-sink: {}\n"
)


class Shouting:
    """A third party's policy: a class, so its stage is known without building it."""

    stage = "pre"

    def __init__(self, spec: Any) -> None:
        self.words = spec.plugins["no-shouting"].get("words", [])

    def check(self, value: Any, context: Any) -> Any:
        return value


class PolicyPlugin:
    """A policy plugin as a third party writes one, registered the way the plugin testing
    kit registers the plugin under test (in process)."""

    @hookimpl
    def agentdock_register_policies(self, register: Any) -> None:
        register(
            "no-shouting",
            Shouting,
            description="lower-cases shouted input",
            config_schema={"type": "object", "properties": {"words": {"type": "array"}}},
        )
        register("audit-trail", lambda spec: None, description="keeps <i>every</i> run")

    @hookimpl
    def agentdock_register_telemetry_sinks(self, register: Any) -> None:
        register("trail-sink", lambda spec: None, description="a sink, not a policy")


def with_policy_plugin(fake: Any) -> PluginManager:
    """The built-ins, the fake builder and target (``fake``, a deploy_fakes.FakePlugin)
    and the policy plugin (as ``shout-plugin``)."""
    return plugin_manager(("shout-plugin", PolicyPlugin()), ("fake", fake))
