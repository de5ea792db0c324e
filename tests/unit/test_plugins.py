"""The plugin manager: registration, collection, isolation of broken plugins."""

from __future__ import annotations

import types
from pathlib import Path
from typing import Any

import pytest
from agentdock import hookimpl
from agentdock.findings import Code, Finding, Severity
from agentdock.plugins import KINDS, PluginManager, make_plugin_manager


class EchoAdapter:
    def __init__(self, entry: Any, spec: Any) -> None:
        self.entry = entry


class AdapterPlugin:
    @hookimpl
    def agentdock_register_adapters(self, register: Any) -> None:
        register("echo", EchoAdapter, description="echoes")


class SecondEchoPlugin:
    @hookimpl
    def agentdock_register_adapters(self, register: Any) -> None:
        register("echo", object, description="a second echo")
        register("other", object)


class RaisingPlugin:
    @hookimpl
    def agentdock_register_adapters(self, register: Any) -> None:
        raise RuntimeError("cannot register today")


class ValidatingPlugin:
    @hookimpl
    def agentdock_validate_spec(self, spec: Any) -> list[Finding]:  # a subset of the params
        return [Finding(Code.PluginWarning, ("agent",), f"seen {spec}", severity=Severity.WARNING)]


def test_fresh_manager_has_no_entry_point_plugins() -> None:
    manager = make_plugin_manager()
    assert manager.plugins() == []
    assert manager.registrations("adapters") == {}


def test_registered_plugin_provides_adapter_by_name() -> None:
    manager = make_plugin_manager()
    manager.register(AdapterPlugin(), name="echo-plugin")
    try:
        reg = manager.get("adapters", "echo")
        assert reg is not None
        assert reg.factory is EchoAdapter
        assert reg.plugin == "echo-plugin"
        assert reg.description == "echoes"
        assert [p.name for p in manager.plugins()] == ["echo-plugin"]
        assert manager.plugins()[0].hooks == ("agentdock_register_adapters",)
    finally:
        manager.unregister("echo-plugin")
    assert manager.get("adapters", "echo") is None


def test_first_implementation_called_wins_and_conflict_is_reported() -> None:
    # pluggy's order: the last registered of two plain implementations is called first.
    manager = make_plugin_manager(plugins=[("a", SecondEchoPlugin()), ("b", AdapterPlugin())])
    adapters = manager.registrations("adapters")
    assert adapters["echo"].plugin == "b"
    assert adapters["other"].plugin == "a"
    assert any("'echo' from a ignored" in c for c in manager.conflicts())


def test_raising_hook_is_isolated_and_named() -> None:
    manager = make_plugin_manager(plugins=[("bad", RaisingPlugin()), ("good", AdapterPlugin())])
    assert set(manager.registrations("adapters")) == {"echo"}
    errors = manager.errors()
    assert len(errors) == 1
    assert errors[0].name == "bad"
    assert "RuntimeError: cannot register today" in errors[0].error


def test_duplicate_plugin_name_refused() -> None:
    manager = make_plugin_manager(plugins=[("same", AdapterPlugin())])
    with pytest.raises(ValueError, match="already registered"):
        manager.register(SecondEchoPlugin(), name="same")


def test_invalid_hookimpl_refused_with_clear_error() -> None:
    class Misspelled:
        @hookimpl
        def agentdock_register_adaptors(self, register: Any) -> None:  # not a hook
            return None

    manager = make_plugin_manager()
    with pytest.raises(ValueError, match="invalid"):
        manager.register(Misspelled(), name="misspelled")


def test_hook_may_accept_a_subset_of_parameters(tmp_path: Path) -> None:
    manager = make_plugin_manager(plugins=[("v", ValidatingPlugin())])
    findings = manager.validate_spec("SPEC", tmp_path)
    assert [f.message for f in findings] == ["seen SPEC (plugin v)"]


def test_one_finding_and_a_dotted_string_path_are_taken_and_the_plugin_named(
    tmp_path: Path,
) -> None:
    class One:
        @hookimpl
        def agentdock_validate_spec(self, spec: Any) -> Finding:
            return Finding(Code.PluginValidationError, "arguments.timeout", "too long")  # type: ignore[arg-type]

    findings = make_plugin_manager(plugins=[("one", One())]).validate_spec("SPEC", tmp_path)
    [finding] = findings
    assert finding.path == ("arguments", "timeout")
    assert finding.dotted_path == "arguments.timeout"
    assert finding.message == "too long (plugin one)"


def test_validate_spec_hook_that_raises_becomes_warning(tmp_path: Path) -> None:
    class Boom:
        @hookimpl
        def agentdock_validate_spec(self, spec: Any, project_dir: Path) -> None:
            raise KeyError("nope")

    manager = make_plugin_manager(plugins=[("boom", Boom())])
    findings = manager.validate_spec(object(), tmp_path)
    assert len(findings) == 1
    assert findings[0].code is Code.PluginWarning
    assert findings[0].severity is Severity.WARNING
    assert "boom" in findings[0].message


def test_module_plugin_and_every_kind_collects() -> None:
    module = types.ModuleType("all_kinds")
    for kind in KINDS:

        def impl(register: Any, _kind: str = kind) -> None:
            register(f"{_kind}-one", object)

        impl.__name__ = f"agentdock_register_{kind}"
        setattr(module, impl.__name__, hookimpl(impl))
    manager = make_plugin_manager(plugins=[("all", module)])
    for kind in KINDS:
        assert list(manager.registrations(kind)) == [f"{kind}-one"]
    with pytest.raises(ValueError, match="unknown plugin kind"):
        manager.registrations("widgets")


def test_entry_points_load_builtins_through_the_same_group() -> None:
    manager = PluginManager(load_entry_points=True, allowlist=None)
    names = {p.name: p for p in manager.plugins()}
    assert {"langgraph", "langchain"} <= set(names)
    assert names["langgraph"].builtin
    assert names["langgraph"].distribution == "agentdock-plugins"
    assert set(manager.registrations("adapters")) >= {"langgraph", "langchain"}


def test_allowlist_limits_entry_points(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AGENTDOCK_LOAD_PLUGINS", "langchain")
    manager = PluginManager(load_entry_points=True)
    assert [p.name for p in manager.plugins()] == ["langchain"]
    monkeypatch.setenv("AGENTDOCK_LOAD_PLUGINS", "")
    assert PluginManager(load_entry_points=True).plugins() == []


def test_minus_items_leave_plugins_out_and_keep_every_other(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    everything = {p.name for p in PluginManager(load_entry_points=True, allowlist=None).plugins()}
    monkeypatch.setenv("AGENTDOCK_LOAD_PLUGINS", "-langchain, -hardware")
    manager = PluginManager(load_entry_points=True)
    assert {p.name for p in manager.plugins()} == everything - {"langchain", "hardware"}
    assert manager.errors() == []


def test_a_name_no_plugin_has_is_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AGENTDOCK_LOAD_PLUGINS", "langgraph,langgrpah,-nosuch")
    manager = PluginManager(load_entry_points=True)
    assert [p.name for p in manager.plugins()] == ["langgraph"]
    assert sorted(e.name for e in manager.errors()) == ["langgrpah", "nosuch"]
    assert all("no installed plugin is" in e.error for e in manager.errors())


def test_register_commands_hook_adds_cli_command() -> None:
    import click

    class Commands:
        @hookimpl
        def agentdock_register_commands(self, cli: click.Group) -> None:
            @cli.command("hello")
            def hello() -> None:
                click.echo("hi")

    group = click.Group("root")
    make_plugin_manager(plugins=[("cmds", Commands())]).register_commands(group)
    assert "hello" in group.commands


def test_there_is_no_spec_parser_hook() -> None:
    # The loader reads YAML Dockfiles only; a parser hook it never called is gone, and a
    # plugin still implementing it is told so instead of being silently ignored.
    class TomlParser:
        @hookimpl
        def agentdock_register_spec_parsers(self, register: Any) -> None:
            register(".toml", object)

    assert "spec_parsers" not in KINDS
    with pytest.raises(ValueError, match="agentdock_register_spec_parsers"):
        make_plugin_manager().register(TomlParser(), name="toml")


def test_a_failing_command_hook_is_said_before_the_unknown_command(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from agentdock_cli import main as cli_main
    from click.testing import CliRunner

    class Broken:
        @hookimpl
        def agentdock_register_commands(self, cli: Any) -> None:
            raise RuntimeError("cannot add hello today")

    manager = make_plugin_manager(plugins=[("hello_plugin", Broken())])
    monkeypatch.setattr("agentdock.plugins._default", manager)
    monkeypatch.setattr(cli_main, "_reporting", False)
    monkeypatch.setattr(cli_main.cli, "_plugin_commands_added", False)
    result = CliRunner().invoke(cli_main.cli, ["hello"])
    assert result.exit_code == 2
    assert (
        "plugin hello_plugin: agentdock_register_commands raised RuntimeError: "
        "cannot add hello today" in result.output
    )
    assert "No such command 'hello'" in result.output
