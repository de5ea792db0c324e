"""The Python API: `agentdock.load` and `agentdock.validate` from a notebook."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import agentdock
import pytest
from agentdock import Code, Finding, Severity, hookimpl, make_plugin_manager
from agentdock.findings import ValidationReport, format_path
from agentdock.spec import DockSpec10, DockSpec11

BASE: dict[str, Any] = {
    "version": "1.1",
    "agent": {"name": "api-agent", "entrypoint": "agent:build", "framework": "langgraph"},
    "model": {"provider": "openai", "name": "gpt-4o-mini", "temperature": 0.2},
    "io_schema": {
        "input": {"type": "object", "required": ["q"], "properties": {"q": {"type": "string"}}},
        "output": {"type": "object", "properties": {"a": {"type": "string"}}},
    },
    "policies": {"safety": {"redact_patterns": [r"\d{16}"], "max_output_chars": 500}},
    "auth": {"mode": "api_key", "api_keys": {"enabled": True}},
    "expose": {"rest": True, "streaming": "sse"},
}


def doc(**changes: Any) -> dict[str, Any]:
    out = copy.deepcopy(BASE)
    for dotted, value in changes.items():
        node = out
        *parents, last = dotted.split("__")
        for key in parents:
            node = node.setdefault(key, {})
        if value is ...:
            node.pop(last, None)
        else:
            node[last] = value
    return out


def test_validate_mapping_gives_frozen_spec() -> None:
    report = agentdock.validate(doc(), skip_imports=True)
    assert report.ok, [f.one_line() for f in report.errors]
    assert isinstance(report.spec, DockSpec11)
    assert report.spec.agent.name == "api-agent"
    assert report.spec.expose.port == 8080  # default
    with pytest.raises(Exception, match="frozen"):
        report.spec.agent.name = "other"  # type: ignore[misc]


def test_validate_1_0_spec_type() -> None:
    report = agentdock.validate(doc(version="1.0"), skip_imports=True)
    assert report.ok
    assert isinstance(report.spec, DockSpec10)


def test_load_path_and_env(tmp_path: Path) -> None:
    (tmp_path / "Dockfile.yaml").write_text(
        "version: '1.1'\n"
        "agent: {name: file-agent, entrypoint: 'agent:build', framework: langgraph}\n"
        "model: {provider: custom, name: '${MODEL:-fake}'}\n"
        "io_schema:\n"
        "  input: {type: object, properties: {q: {type: string}}}\n"
        "  output: {type: object, properties: {a: {type: string}}}\n"
        "auth: {mode: api_key, api_keys: {enabled: true}}\n"
        "expose:\n  port: ${PORT:-9000}\n"
    )
    spec = agentdock.load(tmp_path / "Dockfile.yaml", env={"MODEL": "tiny"})
    assert spec.model.name == "tiny"
    assert spec.expose.port == 9000
    spec = agentdock.load(tmp_path, env={"PORT": "9100"})  # a directory means its Dockfile
    assert spec.model.name == "fake"
    assert spec.expose.port == 9100


def test_load_raises_with_full_report(tmp_path: Path) -> None:
    path = tmp_path / "Dockfile.yaml"
    path.write_text("version: '1.1'\nagent: {name: X}\n")
    with pytest.raises(agentdock.DockfileError) as info:
        agentdock.load(path)
    report = info.value.report
    assert not report.ok
    assert len(report.errors) >= 5  # every missing block and key, in one run
    assert str(path) in str(info.value)


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"auth": {"mode": "jwt"}}, {(4005, "auth.jwt.secret_key")}),
        (
            {"auth": {"mode": "jwt", "jwt": {"secret_key": "short-but-16-chars"}}},
            {(4005, "auth.jwt.secret_key")},
        ),
        ({"auth": {"mode": "api_key"}}, {(4005, "auth.api_keys.enabled")}),
        (
            {"auth": {"mode": "oauth2"}},
            {(4005, "auth.oauth2.issuer"), (4005, "auth.oauth2.jwks_url")},
        ),
        ({"version": "1.0", "auth": {"mode": "oauth2"}}, {(4005, "auth.mode")}),
        ({"expose": {"rest": False, "streaming": "none"}}, {(4010, "expose")}),
        ({"agent__framework": "crewai"}, {(4007, "agent.framework")}),
        (
            {"observability": {"langfuse": {"project": "p"}}},
            {
                (4008, "observability.langfuse.public_key"),
                (4008, "observability.langfuse.secret_key"),
            },
        ),
        (
            {"policies__safety__redact_patterns": ["(unclosed"]},
            {(4006, "policies.safety.redact_patterns[0]")},
        ),
        ({"io_schema__input__required": ["missing"]}, {(4004, "io_schema.input.required[0]")}),
        (
            {
                "auth": {
                    "mode": "api_key",
                    "api_keys": {"enabled": True},
                    "rate_limits": {"devs": "10/m"},
                }
            },
            {(4005, "auth.rate_limits.devs")},
        ),
        ({"version": "1.0", "build": {"hardware": "cpu"}}, {(4002, "build")}),
    ],
)
def test_semantic_errors(changes: dict[str, Any], expected: set[tuple[int, str]]) -> None:
    report = agentdock.validate(doc(**changes), skip_imports=True)
    assert {(int(f.code), f.dotted_path) for f in report.errors} == expected
    assert report.spec is None


def test_1_0_build_block_hint_says_declare_1_1() -> None:
    report = agentdock.validate(doc(version="1.0", build={"hardware": "cpu"}), skip_imports=True)
    [error] = report.errors
    assert error.hint is not None and '"1.1"' in error.hint


def test_literal_long_secret_is_warning_not_error() -> None:
    report = agentdock.validate(
        doc(
            auth={
                "mode": "jwt",
                "jwt": {"secret_key": "k" * 40},
                "roles": [{"name": "admin", "permissions": ["invoke"]}],
            }
        ),
        skip_imports=True,
    )
    assert report.ok
    assert [f.code for f in report.warnings] == [Code.LiteralSecretWarning]
    strict = agentdock.validate(
        doc(
            auth={
                "mode": "jwt",
                "jwt": {"secret_key": "k" * 40},
                "roles": [{"name": "admin", "permissions": ["invoke"]}],
            }
        ),
        strict=True,
        skip_imports=True,
    )
    assert not strict.ok
    assert [f.code for f in strict.errors] == [Code.LiteralSecretWarning]


def test_secret_values_never_quoted() -> None:
    secret = "tiny-secret-value"
    report = agentdock.validate(
        doc(auth={"mode": "jwt", "jwt": {"secret_key": secret, "expiry_minutes": "sixty"}}),
        skip_imports=True,
    )
    assert not report.ok
    text = repr(report.to_dict()) + repr(report.errors) + repr(report.warnings)
    assert secret not in text


def test_enum_typo_suggests() -> None:
    report = agentdock.validate(doc(model__provider="opnai"), skip_imports=True)
    [error] = report.errors
    assert error.code is Code.InvalidSchemaError
    assert error.hint == 'did you mean "openai"?'


def test_plugin_validate_spec_hook_findings_and_strict() -> None:
    class NoOpenAI:
        @hookimpl
        def agentdock_validate_spec(self, spec: Any) -> list[Finding]:
            return [
                Finding(
                    Code.PluginWarning,
                    ("model", "provider"),
                    "openai is discouraged",
                    severity=Severity.WARNING,
                )
            ]

    from agentdock.plugins import get_plugin_manager

    manager = make_plugin_manager(plugins=[("no-openai", NoOpenAI())])
    for name, reg in get_plugin_manager().registrations("adapters").items():

        class Provide:
            @hookimpl
            def agentdock_register_adapters(
                self, register: Any, _n: str = name, _f: Any = reg.factory
            ) -> None:
                register(_n, _f)

        manager.register(Provide(), name=f"adapter-{name}")
    report = agentdock.validate(doc(), skip_imports=True, plugins=manager)
    assert report.ok
    assert [(f.code, f.dotted_path) for f in report.warnings] == [
        (Code.PluginWarning, "model.provider")
    ]
    assert not agentdock.validate(doc(), strict=True, skip_imports=True, plugins=manager).ok


def test_report_shape() -> None:
    report = ValidationReport.from_findings(
        "f.yaml",
        [
            Finding(Code.InvalidSchemaError, ("a", 0, "b"), "m", line=3),
            Finding(Code.InvalidSchemaError, ("a", 0, "b"), "m", line=3),  # duplicate dropped
            Finding(Code.UnboundedOutputWarning, (), "w", severity=Severity.WARNING),
        ],
    )
    assert report.to_dict() == {
        "ok": False,
        "file": "f.yaml",
        "errors": [
            {
                "code": 4002,
                "name": "InvalidSchemaError",
                "path": "a[0].b",
                "message": "m",
                "hint": None,
                "line": 3,
            }
        ],
        "warnings": [
            {
                "code": 4105,
                "name": "UnboundedOutputWarning",
                "path": "",
                "message": "w",
                "hint": None,
                "line": None,
            }
        ],
    }
    assert format_path(("policies", "safety", "redact_patterns", 1)) == (
        "policies.safety.redact_patterns[1]"
    )
