"""AgentDock calls a hook's implementations in pluggy's order and refuses hook wrappers.

pluggy calls ``tryfirst`` implementations first, then the others from the last registered to
the first, then ``trylast`` ones; where two plugins give the same name, the first called
wins. AgentDock calls each implementation on its own (so that one failing plugin never takes
the others down), which a wrapper cannot take part in: a plugin with one is refused."""

from __future__ import annotations

import sys
import types
from importlib import metadata
from typing import Any

import pytest
from agentdock import hookimpl
from agentdock.plugins import make_plugin_manager


def _adapter(name: str, *, tryfirst: bool = False, trylast: bool = False) -> object:
    class Plugin:
        @hookimpl(tryfirst=tryfirst, trylast=trylast)
        def agentdock_register_adapters(self, register: Any) -> None:
            register("echo", name)

    return Plugin()


def test_a_tryfirst_implementation_wins_a_name_whenever_it_registered() -> None:
    manager = make_plugin_manager(
        plugins=[("plain", _adapter("plain")), ("first", _adapter("first", tryfirst=True))]
    )
    assert manager.registrations("adapters")["echo"].factory == "first"
    [conflict] = manager.conflicts()
    assert conflict == "adapters 'echo' from plain ignored: already registered by first"


def test_a_trylast_implementation_never_wins_a_taken_name() -> None:
    manager = make_plugin_manager(
        plugins=[("plain", _adapter("plain")), ("last", _adapter("last", trylast=True))]
    )
    assert manager.registrations("adapters")["echo"].factory == "plain"


def test_plain_implementations_are_called_last_registered_first() -> None:
    manager = make_plugin_manager(plugins=[("a", _adapter("a")), ("b", _adapter("b"))])
    assert manager.registrations("adapters")["echo"].plugin == "b"
    called = [name for name, _ in manager.call_each("agentdock_register_adapters", register=print)]
    assert called == ["b", "a"]


class OldStyleWrapper:
    @hookimpl(hookwrapper=True)
    def agentdock_register_adapters(self, register: Any) -> Any:
        yield


class NewStyleWrapper:
    @hookimpl(wrapper=True)
    def agentdock_validate_spec(self, spec: Any) -> Any:
        return (yield)


@pytest.mark.parametrize("plugin", [OldStyleWrapper(), NewStyleWrapper()])
def test_a_hook_wrapper_is_refused_with_its_hook_named(plugin: object) -> None:
    manager = make_plugin_manager()
    with pytest.raises(ValueError, match="wrapper") as caught:
        manager.register(plugin, name="wrapping")
    hook = next(name for name in dir(plugin) if name.startswith("agentdock_"))
    assert hook in str(caught.value)
    assert manager.plugins() == []


def test_an_entry_point_with_a_hook_wrapper_is_a_plugin_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    module = types.ModuleType("wrapping_plugin")
    module.agentdock_register_adapters = OldStyleWrapper().agentdock_register_adapters  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "wrapping_plugin", module)
    entry = metadata.EntryPoint(name="wrapping", value="wrapping_plugin", group="agentdock")
    monkeypatch.setattr("agentdock.plugins.metadata.entry_points", lambda group: [entry])
    monkeypatch.delenv("AGENTDOCK_LOAD_PLUGINS", raising=False)
    manager = make_plugin_manager(entry_points=True)
    assert manager.registrations("adapters") == {}
    [error] = manager.errors()
    assert error.name == "wrapping"
    assert "agentdock_register_adapters" in error.error and "wrapper" in error.error


def _written_for(version: object) -> object:
    class Plugin:
        agentdock_hook_api = version

        @hookimpl
        def agentdock_register_adapters(self, register: Any) -> None:
            register("echo", object)

    return Plugin()


def test_a_plugin_written_for_this_hook_api_or_an_older_minor_loads() -> None:
    from agentdock.hookspecs import HOOK_API_VERSION

    major = HOOK_API_VERSION.split(".")[0]
    for version in (HOOK_API_VERSION, f"{major}.0"):
        manager = make_plugin_manager(plugins=[("p", _written_for(version))])
        assert "echo" in manager.registrations("adapters")


@pytest.mark.parametrize("version", ["1.99", "2.0", "0.9", "one", 1.1])
def test_a_plugin_written_for_another_hook_api_is_refused_naming_both(version: object) -> None:
    from agentdock.hookspecs import HOOK_API_VERSION

    with pytest.raises(ValueError, match=r"hook API|major\.minor") as caught:
        make_plugin_manager(plugins=[("p", _written_for(version))])
    if isinstance(version, str) and "." in version:
        assert f"hook API {version}" in str(caught.value)
        assert f"this AgentDock has hook API {HOOK_API_VERSION}" in str(caught.value)
