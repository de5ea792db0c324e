"""A request the control plane cannot read is refused with the field at fault and why,
not only "validation failed": a client, a script or the CLI's ``--server`` must be able to
say which argument to change."""

from __future__ import annotations

from typing import Any

import pytest
from controlplane_support import Plane

pytest_plugins = ("deploy_fixtures", "controlplane_fixtures")

CASES: list[tuple[str, str, dict[str, Any], str]] = [
    ("post", "/controller/deploy", {"json": {"dockfile": 5}}, "dockfile"),
    ("post", "/validate", {"json": {"dockfile": "x", "strict": "yes"}}, "strict"),
    ("post", "/controller/rollback", {"json": {"agent": "<script>"}}, "agent"),
    ("get", "/controller/logs/echo?tail=-1", {}, "tail"),
    ("get", "/audit?limit=100000000", {}, "limit"),
    ("get", "/controller/status/UPPER", {}, "agent"),
]


@pytest.mark.parametrize(("method", "path", "kwargs", "field"), CASES)
def test_a_bad_field_is_named_with_its_cause(
    cp: Plane, method: str, path: str, kwargs: dict[str, Any], field: str
) -> None:
    answer = cp.client.request(method, path, headers=cp.auth("admin"), **kwargs)
    assert answer.status_code == 400, answer.text
    body = answer.json()
    assert body["error"] == "BadRequest"
    assert body["path"] == field
    assert body["detail"].startswith(f"{field}: ")
    assert len(body["detail"]) > len(field) + 2
    assert body["details"][0]["path"] == field
    assert "\n" not in body["detail"]


def test_a_refused_field_is_not_echoed_with_the_query(cp: Plane) -> None:
    answer = cp.client.get(
        "/controller/logs/echo",
        params={"tail": "-1", "other": "adk_planted_x"},
        headers=cp.auth("admin"),
    )
    assert answer.status_code == 400
    assert "adk_planted_x" not in answer.text
