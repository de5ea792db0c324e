"""Dockfile 1.1 ``deploy:`` checks: impossible resources and autoscale ranges, quantities."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import agentdock
import pytest
import yaml
from agentdock.spec.quantities import cpu_millis, memory_bytes
from hypothesis import given
from hypothesis import strategies as st

BASE = yaml.safe_load(
    (Path(__file__).resolve().parents[2] / "examples" / "echo" / "Dockfile.yaml").read_text()
)


def _report(deploy: dict[str, Any]):
    document = copy.deepcopy(BASE)
    document["deploy"] = deploy
    return agentdock.validate(document, skip_imports=True)


@pytest.mark.parametrize(
    ("deploy", "path", "words"),
    [
        ({"resources": {"cpu": "2", "limits": {"cpu": "500m"}}}, "deploy.resources.cpu", "above"),
        (
            {"resources": {"memory": "1Gi", "limits": {"memory": "512Mi"}}},
            "deploy.resources.memory",
            "above",
        ),
        (
            {"autoscale": {"min_replicas": 5, "max_replicas": 2}},
            "deploy.autoscale.min_replicas",
            "above",
        ),
        ({"replicas": -1}, "deploy.replicas", "at least 1"),
        ({"replicas": 0}, "deploy.replicas", "at least 1"),
        ({"autoscale": {"min_replicas": 1}}, "deploy.autoscale", "max_replicas"),
        ({"resources": {"cpu": "-1"}}, "deploy.resources.cpu", ""),
        ({"resources": {"gpu": -1}}, "deploy.resources.gpu", ""),
        ({"node_selector": {"bad key!": "x"}}, "deploy.node_selector", ""),
    ],
)
def test_impossible_deploy_blocks_are_errors(deploy, path: str, words: str) -> None:
    report = _report(deploy)
    assert not report.ok
    (finding,) = report.errors
    assert finding.code == agentdock.Code.InvalidSchemaError
    assert ".".join(map(str, finding.path)).startswith(path), finding.one_line()
    assert words in finding.one_line()


def test_a_possible_deploy_block_is_valid_and_frozen() -> None:
    report = _report(
        {
            "replicas": 2,
            "autoscale": {"min_replicas": 2, "max_replicas": 6, "cpu_percent": 70},
            "resources": {"cpu": "500m", "memory": "256Mi", "limits": {"cpu": "1"}},
            "node_selector": {"nvidia.com/gpu.present": "true"},
        }
    )
    assert report.ok, [f.one_line() for f in report.errors]
    deploy = report.spec.deploy
    assert deploy.autoscale.max_replicas == 6
    assert deploy.resources.limit("cpu") == "1" and deploy.resources.limit("memory") == "256Mi"


def test_quantities() -> None:
    assert cpu_millis("500m") == 500 and cpu_millis("1.5") == 1500 and cpu_millis(2) == 2000
    assert memory_bytes("512Mi") == 512 * 2**20 and memory_bytes("1G") == 10**9
    for bad in ("", "1.5m5", "-1", "1Gb", "abc"):
        with pytest.raises(ValueError):
            memory_bytes(bad)
        with pytest.raises(ValueError):
            cpu_millis(bad)


@given(st.integers(1, 10**6), st.integers(1, 10**6))
def test_cpu_request_above_limit_is_found_exactly_when_it_is(request_m: int, limit_m: int) -> None:
    report = _report({"resources": {"cpu": f"{request_m}m", "limits": {"cpu": f"{limit_m}m"}}})
    assert report.ok == (request_m <= limit_m)
