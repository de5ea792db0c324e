"""``arguments.timeout_sec`` and ``max_retries``: ``validate`` refuses what the runtime would
refuse at start-up, so a deploy does not build a bundle for a runtime that exits at once."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import agentdock
import pytest
import yaml
from agentdock.spec.runarguments import argument_problems
from agentdock_runtime.runsettings import PipelineError, RunSettings

BASE = yaml.safe_load(
    (Path(__file__).resolve().parents[2] / "examples" / "echo" / "Dockfile.yaml").read_text()
)

BAD: list[tuple[dict[str, Any], str]] = [
    ({"timeout_sec": "abc"}, "arguments.timeout_sec"),
    ({"timeout_sec": 0}, "arguments.timeout_sec"),
    ({"timeout_sec": -5}, "arguments.timeout_sec"),
    ({"timeout_sec": True}, "arguments.timeout_sec"),
    ({"max_retries": -3}, "arguments.max_retries"),
    ({"max_retries": 1.5}, "arguments.max_retries"),
    ({"max_retries": "2"}, "arguments.max_retries"),
]
GOOD: list[dict[str, Any]] = [
    {},
    {"timeout_sec": 30},
    {"timeout_sec": 0.5},
    {"timeout_sec": None},
    {"max_retries": 0},
    {"max_retries": 2, "enable_streaming": True},
]


def _validate(arguments: dict[str, Any]) -> agentdock.ValidationReport:
    document = copy.deepcopy(BASE)
    document["arguments"] = arguments
    return agentdock.validate(document, skip_imports=True)


@pytest.mark.parametrize(("arguments", "path"), BAD)
def test_validate_refuses_arguments_the_runtime_refuses(
    arguments: dict[str, Any], path: str
) -> None:
    report = _validate(arguments)
    assert not report.ok
    found = [e for e in report.errors if e.dotted_path == path]
    assert found, [e.dotted_path for e in report.errors]
    assert found[0].code == 4002
    with pytest.raises(PipelineError):
        RunSettings.from_arguments(arguments)


@pytest.mark.parametrize("arguments", GOOD)
def test_validate_accepts_arguments_the_runtime_accepts(arguments: dict[str, Any]) -> None:
    assert _validate(arguments).ok, _validate(arguments).errors
    RunSettings.from_arguments(arguments)
    assert argument_problems(arguments) == []


def test_an_unresolved_placeholder_is_not_judged() -> None:
    """``validate --allow-unresolved`` keeps ``${NAME}``: its value is not known yet."""
    unresolved = {"timeout_sec": "${TIMEOUT}", "max_retries": "${RETRIES}"}
    assert argument_problems(unresolved, unresolved_ok=True) == []
    assert [key for key, _ in argument_problems(unresolved)] == ["timeout_sec", "max_retries"]
    with pytest.raises(PipelineError):
        RunSettings.from_arguments(unresolved)
