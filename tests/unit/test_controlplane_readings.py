"""What the dashboard reads out of a recorded Dockfile: the Policies tab's rows and the
LangFuse address of the Traces tab's links, from well-formed and hostile snapshots."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from agentdock.registry import VersionRecord
from agentdock_plugins.controlplane.langfuselink import langfuse_host, trace_link
from agentdock_plugins.controlplane.policyview import plugin_policy_rows, policy_rows

ECHO = (Path(__file__).resolve().parents[2] / "examples" / "echo" / "Dockfile.yaml").read_text()
TRACE = "0af7651916cd43dd8448eb211c80319c"


def _rows(document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {row["name"]: row for row in policy_rows(document)}


def test_policy_rows_follow_the_factories_conditions_with_defaults() -> None:
    rows = _rows({"policies": {"tools": {"deny_by_default": False}}})
    assert rows["tool_gate"]["on"] is False
    assert rows["prompt_injection"]["on"] is True  # block_prompt_injection defaults to true
    assert rows["redact_input"]["on"] is False and rows["max_output_chars"]["on"] is False
    assert ("tools.deny_by_default", False, True) in rows["tool_gate"]["settings"]
    assert ("tools.allowed", [], False) in rows["tool_gate"]["settings"]
    assert [r["stage"] for r in policy_rows({})] == [
        "pre",
        "pre",
        "tool",
        "tool_output",
        "post",
        "post",
        "post",
    ]


@pytest.mark.parametrize(
    "document",
    [
        {},
        {"policies": 5},
        {"policies": None},
        {"policies": {"safety": "everything"}},
        {"policies": {"safety": {"pii": "email", "injection": [1, 2]}}},
        {"policies": {"tools": {"allowed": {"a": {"b": "<script>"}}}}},
        {"policies": {"safety": {"max_output_chars": "${LIMIT}"}}},
    ],
)
def test_policy_rows_never_fail_on_a_hostile_block(document: dict[str, Any]) -> None:
    rows = policy_rows(document)
    assert len(rows) == 7
    for row in rows:
        assert row["on"] in (True, False, None)


@pytest.fixture(scope="module")
def with_plugin() -> Any:
    from agentdock.testing import plugin_manager
    from policy_plugin import PolicyPlugin

    return plugin_manager(("shout-plugin", PolicyPlugin()))


def test_plugin_policy_rows_list_named_policies_as_written(with_plugin: Any) -> None:
    block = {
        "no-shouting": {"words": ["${WORD}"], "nested": {"deep": {"x": 1}}, "empty": {}},
        "audit-trail": None,
        "trail-sink": {},  # a telemetry sink: not a policy
        "redact_input": {},  # a built-in's name: not a plugin's policy
        "elsewhere": {"level": 3},  # nothing here registers it
    }
    rows = {r["name"]: r for r in plugin_policy_rows({"plugins": block}, with_plugin)}
    assert list(rows) == ["no-shouting", "audit-trail", "elsewhere"]
    assert rows["no-shouting"]["stage"] == "pre" and rows["no-shouting"]["installed"]
    assert rows["no-shouting"]["settings"] == [
        ("plugins.no-shouting.words", ["${WORD}"], True),
        ("plugins.no-shouting.nested.deep.x", 1, True),
    ]
    assert rows["audit-trail"]["stage"] is None and rows["audit-trail"]["settings"] == []
    assert rows["elsewhere"]["installed"] is False and rows["elsewhere"]["plugin"] is None
    assert rows["elsewhere"]["settings"] == [("plugins.elsewhere.level", 3, True)]


@pytest.mark.parametrize(
    "block",
    [5, None, [], "no-shouting", {"no-shouting": "loud"}, {"no-shouting": [1, 2]}, {7: {}}],
)
def test_plugin_policy_rows_never_fail_on_a_hostile_block(with_plugin: Any, block: Any) -> None:
    for row in plugin_policy_rows({"plugins": block}, with_plugin):
        assert isinstance(row["name"], str) and isinstance(row["settings"], list)


def _record(snapshot: str) -> VersionRecord:
    return VersionRecord(
        id=1,
        agent="echo",
        version="0.1.0",
        content_hash="0" * 64,
        snapshot=snapshot,
        created_at=0.0,
        created_by=None,
    )


def _with_langfuse(host: str) -> str:
    return (
        ECHO
        + "\nobservability:\n  langfuse:\n    public_key: pk\n    secret_key: ${LF_SECRET}\n"
        + (f"    host: {host}\n" if host else "")
    )


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("", "https://cloud.langfuse.com"),
        ("https://lf.example.com/", "https://lf.example.com"),
        ("https://u:p@lf.example.com:8443/base/", "https://lf.example.com:8443/base"),
        ("http://[::1]:3000", "http://[::1]:3000"),
        ("https://lf.example.com:99999", None),  # a port no URL has
        ("ftp://lf.example.com", None),  # the Dockfile refuses it: no spec, no link
        ("${LF_HOST}", None),  # a placeholder the environment does not set
    ],
)
def test_langfuse_host_of_a_snapshot(host: str, expected: str | None) -> None:
    environ = {"LF_SECRET": "sk-planted"}
    assert langfuse_host(_record(_with_langfuse(host)), environ) == expected


def test_no_langfuse_host_without_keys_or_with_a_broken_snapshot() -> None:
    assert langfuse_host(_record(ECHO), {}) is None
    assert langfuse_host(_record("version: '1.1'\nagent: [\n"), {}) is None
    assert langfuse_host(_record("- just\n- a list\n"), {}) is None


def test_trace_links_only_for_trace_ids() -> None:
    assert trace_link("https://lf", TRACE) == f"https://lf/trace/{TRACE}"
    for bad in (None, "", "x" * 32, TRACE.upper(), TRACE + "0", "../" + TRACE[3:], 5):
        assert trace_link("https://lf", bad) is None
    assert trace_link(None, TRACE) is None
