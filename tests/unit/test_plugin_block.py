"""A Dockfile's ``plugins`` block: installed plugins' policies and sinks act only where a
Dockfile names them, a named one that is missing (or failed to load) stops validation, and
its configuration is checked against the JSON Schema the plugin declares."""

from __future__ import annotations

import sys
import types
from importlib import metadata
from typing import Any

import agentdock_plugins.policies
import pytest
from agentdock import hookimpl, make_plugin_manager
from agentdock.findings import Code
from agentdock.plugins import PluginManager
from agentdock.validation import validate
from agentdock_runtime import compile_pipeline
from policy_support import BASE_DOCKFILE

PLANTED = "sk-planted-0123456789abcdef"

SCHEMA = {
    "type": "object",
    "properties": {"words": {"type": "array", "items": {"type": "string", "maxLength": 12}}},
    "required": ["words"],
    "additionalProperties": False,
}


class Adapter:
    """The ``testfw`` framework: returns its input."""

    def __init__(self, entry: Any, spec: Any) -> None:
        self.entry = entry

    @hookimpl
    def agentdock_register_adapters(self, register: Any) -> None:
        register("testfw", Adapter)


#: Each spec a ``shout`` policy was built for.
BUILT: list[Any] = []


class Shout:
    """A policy that lets everything through."""

    stage = "pre"

    def check(self, value: Any, context: Any) -> Any:
        return value


def _shout(spec: Any) -> Shout:
    BUILT.append(spec)
    return Shout()


def _plugin_module() -> types.ModuleType:
    module = types.ModuleType("shout_plugin")

    @hookimpl
    def agentdock_register_policies(register: Any) -> None:
        register("shout", _shout, description="shouts", config_schema=SCHEMA)

    @hookimpl
    def agentdock_register_telemetry_sinks(register: Any) -> None:
        register("shout_sink", lambda spec: None)

    module.agentdock_register_policies = agentdock_register_policies  # type: ignore[attr-defined]
    module.agentdock_register_telemetry_sinks = agentdock_register_telemetry_sinks  # type: ignore[attr-defined]
    return module


@pytest.fixture
def installed(monkeypatch: pytest.MonkeyPatch) -> PluginManager:
    """A manager with the built-ins a spec needs plus ``shout`` installed as an entry point
    of another distribution, the way ``pip install`` puts a plugin beside AgentDock."""
    monkeypatch.setitem(sys.modules, "shout_plugin", _plugin_module())
    entry = metadata.EntryPoint(name="shout", value="shout_plugin", group="agentdock")
    monkeypatch.setattr("agentdock.plugins.metadata.entry_points", lambda group: [entry])
    monkeypatch.delenv("AGENTDOCK_LOAD_PLUGINS", raising=False)
    manager = make_plugin_manager(entry_points=True)
    manager.register(Adapter(None, None), name="testfw")
    manager.register(agentdock_plugins.policies)
    return manager


def _document(**extra: Any) -> dict[str, Any]:
    return {
        **BASE_DOCKFILE,
        "agent": {"name": "shouter", "entrypoint": "app:graph", "framework": "testfw"},
        "policies": {"safety": {"max_output_chars": 100}},
        **extra,
    }


def _findings(document: dict[str, Any], manager: PluginManager) -> list[tuple[int, str, str]]:
    report = validate(document, skip_imports=True, plugins=manager)
    return [(f.code, f.dotted_path, f.message) for f in (*report.errors, *report.warnings)]


def test_an_installed_policy_acts_only_where_the_dockfile_names_it(
    installed: PluginManager,
) -> None:
    BUILT.clear()
    plain = validate(_document(), skip_imports=True, plugins=installed)
    compile_pipeline(plain.spec, entry=None, plugins=installed, insecure_no_auth=True)
    assert BUILT == []
    named = validate(
        _document(plugins={"shout": {"words": ["hey"]}}), skip_imports=True, plugins=installed
    )
    assert named.ok, named.errors
    assert named.spec.plugins == {"shout": {"words": ["hey"]}}
    compile_pipeline(named.spec, entry=None, plugins=installed, insecure_no_auth=True)
    assert [named.spec] == BUILT


def test_a_named_plugin_that_is_missing_stops_validation(installed: PluginManager) -> None:
    found = _findings(_document(plugins={"shuot": {}}), installed)
    assert found == [
        (
            Code.PluginValidationError,
            "plugins.shuot",
            "no installed plugin registers a policy or telemetry sink named 'shuot'",
        )
    ]
    report = validate(_document(plugins={"shuot": {}}), skip_imports=True, plugins=installed)
    assert "did you mean 'shout'?" in report.errors[0].hint


def test_a_plugin_that_failed_to_load_is_named_where_its_policy_is_asked_for(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    broken = metadata.EntryPoint(name="shout", value="no_such_module_here", group="agentdock")
    monkeypatch.setattr("agentdock.plugins.metadata.entry_points", lambda group: [broken])
    monkeypatch.delenv("AGENTDOCK_LOAD_PLUGINS", raising=False)
    manager = make_plugin_manager(entry_points=True)
    manager.register(Adapter(None, None), name="testfw")
    report = validate(_document(plugins={"shout": None}), skip_imports=True, plugins=manager)
    [error] = report.errors
    assert error.code == Code.PluginValidationError and error.dotted_path == "plugins.shout"
    assert "shout: ModuleNotFoundError" in (error.hint or "")


def test_configuration_is_checked_against_the_plugin_s_schema_without_its_values(
    installed: PluginManager,
) -> None:
    found = _findings(_document(plugins={"shout": {"words": [PLANTED], "loud": True}}), installed)
    assert [(code, path) for code, path, _ in found] == [
        (Code.PluginValidationError, "plugins.shout.words[0]"),
        (Code.PluginValidationError, "plugins.shout"),
    ] or [(code, path) for code, path, _ in found] == [
        (Code.PluginValidationError, "plugins.shout"),
        (Code.PluginValidationError, "plugins.shout.words[0]"),
    ]
    messages = " ".join(message for _, _, message in found)
    assert "'maxLength' rule" in messages and "'loud' was unexpected" in messages
    assert PLANTED not in messages
    assert "plugin shout declares" in messages


def test_a_built_in_name_is_not_configured_here(installed: PluginManager) -> None:
    [(code, path, message)] = _findings(_document(plugins={"redact_input": {}}), installed)
    assert (code, path) == (Code.PluginValidationError, "plugins.redact_input")
    assert "is built in" in message


def test_the_block_needs_version_1_1(installed: PluginManager) -> None:
    document = _document(plugins={"shout": {"words": []}})
    document["version"] = "1.0"
    found = _findings(document, installed)
    assert any(path == "plugins" and code == Code.InvalidSchemaError for code, path, _ in found)


def test_a_config_schema_that_is_not_one_is_the_plugin_s_error() -> None:
    class Bad:
        @hookimpl
        def agentdock_register_policies(self, register: Any) -> None:
            register("bad", object, config_schema={"type": "nope"})

    manager = make_plugin_manager(plugins=[("bad", Bad())])
    assert manager.registrations("policies") == {}
    [error] = manager.errors()
    assert "config_schema is not a JSON Schema" in error.error


def test_the_schema_shows_installed_plugins_configuration(installed: PluginManager) -> None:
    from agentdock.spec.pluginblock import schema_with_plugins
    from agentdock.spec.reference import render_reference
    from agentdock.spec.schema import load_schema

    schema = schema_with_plugins(load_schema("1.1"), installed)
    entries = schema["properties"]["plugins"]["properties"]
    assert set(entries) == {"shout", "shout_sink"}  # no built-in
    assert entries["shout"]["properties"] == SCHEMA["properties"]
    assert entries["shout"]["description"] == "shouts (plugin shout)"
    assert entries["shout_sink"]["type"] == ["object", "null"]
    assert load_schema("1.1")["properties"]["plugins"].get("properties") is None  # a copy
    table = render_reference("1.1", schema=schema)
    assert "| `plugins.shout.words` | array of string | yes |" in table
    # A document the schema allows: the entries are checked as validate checks them.
    report = validate(
        _document(plugins={"shout": {"words": ["a"]}}), skip_imports=True, plugins=installed
    )
    assert report.ok, report.errors
