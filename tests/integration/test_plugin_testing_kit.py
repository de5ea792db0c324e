"""The kit a plugin author tests with: the built-ins plus the plugin under test, served
in-process (``agentdock.testing.plugin_manager``, the ``agentdock_client`` fixture)."""

from __future__ import annotations

import json
import types
from pathlib import Path
from typing import Any

import agentdock_plugins.policies
import pytest
from agentdock import hookimpl, make_plugin_manager
from agentdock.testing import client, plugin_manager

ECHO = Path(__file__).resolve().parents[2] / "examples" / "echo" / "Dockfile.yaml"


class RefuseForbidden:
    """A pre policy that refuses the word "forbidden"."""

    stage = "pre"

    def check(self, value: Any, context: Any) -> Any:
        from agentdock.httperrors import PolicyViolationError  # core is enough

        if "forbidden" in str(value):
            raise PolicyViolationError("the word is forbidden")
        return value


def _plugin() -> types.ModuleType:
    module = types.ModuleType("refuse_forbidden_plugin")

    @hookimpl
    def agentdock_register_policies(register: Any) -> None:
        register("refuse_forbidden", lambda spec: RefuseForbidden())

    module.agentdock_register_policies = agentdock_register_policies  # type: ignore[attr-defined]
    return module


def test_a_fresh_manager_cannot_serve_but_the_kit_s_can() -> None:
    # A fresh manager holds only what it is given: no adapter, no server.
    with pytest.raises(Exception, match="no adapter plugin provides framework 'langgraph'"):
        client(ECHO, insecure_no_auth=True, plugins=make_plugin_manager(plugins=[_plugin()]))
    with client(ECHO, insecure_no_auth=True, plugins=plugin_manager(_plugin())) as http:
        assert http.post("/invoke", json={"text": "hi"}).json() == {"text": "HI"}
        assert http.post("/invoke", json={"text": "forbidden"}).status_code == 403


def test_the_fixture_serves_with_the_plugin_under_test(agentdock_client: Any) -> None:
    http = agentdock_client(ECHO, _plugin(), insecure_no_auth=True)
    assert http.get("/ready").status_code == 200
    refused = http.post("/invoke", json={"text": "a forbidden word"})
    assert refused.status_code == 403
    assert "PolicyViolation" in refused.text


def test_an_installed_plugin_under_test_is_not_registered_twice() -> None:
    # As an editable install of the plugin being tested: its entry point and the module.
    manager = plugin_manager(agentdock_plugins.policies, entry_points=True)
    assert manager.errors() == []
    assert [p.name for p in manager.plugins()].count("agentdock_plugins.policies") == 1
    assert "policies" not in [p.name for p in manager.plugins()]
    assert manager.get("policies", "redact_input") is not None
    # Every other installed plugin is there.
    assert {"langgraph", "litestar"} <= {p.name for p in manager.plugins()}


class RaisesOnRegister:
    @hookimpl
    def agentdock_register_telemetry_sinks(self, register: Any) -> None:
        raise RuntimeError("no sink today")


def test_a_plugin_that_failed_is_named_in_health_and_metrics() -> None:
    manager = plugin_manager(("broken_sink", RaisesOnRegister()))
    with client(ECHO, insecure_no_auth=True, plugins=manager) as http:
        health = http.get("/health").json()
        assert health["plugin_errors"] == ["broken_sink"]
        assert "no sink today" not in json.dumps(health)  # why is in the log only
        metrics = http.get("/metrics").text
        assert 'agentdock_plugin_errors{plugin="broken_sink"} 1.0' in metrics
    with client(ECHO, insecure_no_auth=True, plugins=plugin_manager()) as http:
        assert "plugin_errors" not in http.get("/health").json()


def test_the_errors_a_plugin_raises_are_core_s_and_the_runtime_s_alike() -> None:
    import agentdock.httperrors as core
    import agentdock_runtime.errors as runtime

    assert set(runtime.__all__) == set(core.__all__)
    for name in core.__all__:
        assert getattr(runtime, name) is getattr(core, name), name
