"""Building without starting: ``agentdock.build``, ``agentdock build`` and the control plane's
``POST /build/start`` / ``GET /build/status/{id}``, against the fake builder and target."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from _cli import run_cli
from agentdock.deployment import InvalidDeployInput, VersionConflict, build, deploy
from agentdock.registry import open_store
from controlplane_support import DEADLINE, Plane
from deploy_fakes import FakePlugin

pytest_plugins = ("deploy_fixtures", "controlplane_fixtures")


def _recorded(agent: str) -> tuple[list[str], list[Any]]:
    with open_store() as store:
        versions = [v.version for v in store.list_versions(agent)]
        return versions, store.list_deployments(agent)


def test_a_build_records_the_version_and_starts_nothing(
    project: Path, fakes: tuple[Any, FakePlugin]
) -> None:
    manager, plugin = fakes
    steps: list[str] = []
    built = build(
        project / "Dockfile.yaml",
        target="fake",
        plugins=manager,
        check_imports=False,
        progress=lambda step, message, **_: steps.append(step),
    )
    assert (built.agent, built.version, built.builder) == ("echo", "0.1.0", "fake")
    assert built.new_version and not built.artifact.cached
    assert "build" in steps
    assert _recorded("echo") == (["0.1.0"], [])
    assert plugin.target.running == {}

    again = build(project / "Dockfile.yaml", target="fake", plugins=manager, check_imports=False)
    assert not again.new_version and again.artifact.cached
    assert again.artifact.ref == built.artifact.ref


def test_a_deploy_after_a_build_starts_what_was_built(
    project: Path, fakes: tuple[Any, FakePlugin]
) -> None:
    manager, plugin = fakes
    built = build(project / "Dockfile.yaml", target="fake", plugins=manager, check_imports=False)
    done = deploy(project / "Dockfile.yaml", target="fake", plugins=manager, check_imports=False)
    assert done.version == built.version
    assert done.artifact is not None and done.artifact.cached
    assert done.artifact.ref == built.artifact.ref
    assert not done.new_version
    assert len(plugin.target.running) == 1


def test_a_build_refuses_what_a_deploy_refuses(
    project: Path, fakes: tuple[Any, FakePlugin]
) -> None:
    manager, _ = fakes
    dockfile = project / "Dockfile.yaml"
    build(dockfile, target="fake", plugins=manager, check_imports=False, version="1.0.0")
    (project / "echo" / "extra.py").write_text("X = 1\n")
    with pytest.raises(VersionConflict) as taken:
        build(dockfile, target="fake", plugins=manager, check_imports=False, version="1.0.0")
    assert taken.value.exit_code == 1
    dockfile.write_text(dockfile.read_text().replace("\nagent:\n", "\nagnet:\n", 1))
    with pytest.raises(InvalidDeployInput) as invalid:
        build(dockfile, target="fake", plugins=manager, check_imports=False)
    assert invalid.value.exit_code == 1
    assert _recorded("echo")[0] == ["1.0.0"]


def test_the_build_command_reports_json_and_exit_codes(
    project: Path, cli_fakes: FakePlugin, tmp_path: Path
) -> None:
    code, out, err = run_cli(
        ["build", str(project / "Dockfile.yaml"), "--target", "fake", "--json"], cwd=tmp_path
    )
    assert code == 0, out + err
    lines = [json.loads(line) for line in out.splitlines()]
    result = lines[-1]
    assert result["event"] == "result" and result["ok"] is True
    assert (result["agent"], result["version"], result["cached"]) == ("echo", "0.1.0", False)
    assert any(e.get("step") == "build" for e in lines[:-1])
    assert cli_fakes.target.running == {}

    code, out, _ = run_cli(["build", str(project / "Dockfile.yaml"), "--target", "fake"])
    assert code == 0 and "cache hit" in out and "already recorded" in out

    code, out, err = run_cli(["build", str(tmp_path / "missing.yaml"), "--json"])
    assert code == 5, out + err


def _start(cp: Plane, body: dict[str, Any], role: str = "developer") -> Any:
    return cp.client.post("/build/start", json=body, headers=cp.auth(role))


def _wait_build(cp: Plane, op_id: str) -> dict[str, Any]:
    import time

    deadline = time.monotonic() + DEADLINE
    while True:
        answer = cp.client.get(f"/build/status/{op_id}", headers=cp.auth("viewer"))
        assert answer.status_code == 200, answer.text
        body: dict[str, Any] = answer.json()
        if body["status"] in ("succeeded", "failed"):
            return body
        assert time.monotonic() < deadline, body
        time.sleep(0.02)


def test_build_start_answers_at_once_and_status_follows_it(cp: Plane, echo: Path) -> None:
    started = _start(cp, {"dockfile": str(echo)})
    assert started.status_code == 202, started.text
    op_id = started.json()["operation_id"]
    assert started.json()["status_url"] == f"/build/status/{op_id}"
    op = _wait_build(cp, op_id)
    assert op["status"] == "succeeded", op
    assert op["kind"] == "build"
    assert (op["result"]["agent"], op["result"]["version"]) == ("echo", "0.1.0")
    assert [s["step"] for s in op["steps"]][:1] == ["validate"]
    assert "build" in {s["step"] for s in op["steps"]}
    assert cp.plane.store.list_deployments("echo") == []
    status = cp.client.get("/controller/status/echo", headers=cp.auth("viewer")).json()
    assert status.get("status") != "active"
    builds = [
        e
        for e in cp.client.get("/audit", headers=cp.auth("viewer")).json()
        if e["action"] == "controlplane.build"
    ]
    assert builds and builds[0]["agent"] == "echo"
    assert builds[0]["actor"] == "key:" + cp.keys["developer"].split("_")[1]


def test_a_viewer_may_not_build_and_nothing_is_recorded(cp: Plane, echo: Path) -> None:
    before = len(cp.plane.store.list_audit(limit=1000))
    assert cp.client.post("/build/start", json={"dockfile": str(echo)}).status_code == 401
    answer = _start(cp, {"dockfile": str(echo)}, role="viewer")
    assert answer.status_code == 403
    assert len(cp.plane.store.list_audit(limit=1000)) == before
    assert cp.plane.operations.recent() == []
    assert cp.client.get("/build/status/op-1-00000000").status_code == 401


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"dockfile": "../outside/Dockfile.yaml"}, 400),
        ({"dockfile": "/etc/passwd"}, 400),
        ({"dockfile": "echo/Dockfile.yaml", "target": "../x"}, 400),
        ({"dockfile": "echo/Dockfile.yaml", "extra": 1}, 400),
        ({}, 400),
        ({"dockfile": "nothing-here/Dockfile.yaml"}, 404),
    ],
)
def test_bad_build_requests_are_refused_before_any_work(
    cp: Plane, echo: Path, body: dict[str, Any], status: int
) -> None:
    answer = _start(cp, body)
    assert answer.status_code == status, answer.text
    assert answer.json()["code"] == status
    assert cp.plane.operations.recent() == []


def test_build_status_knows_only_builds(cp: Plane, echo: Path) -> None:
    deployed = cp.client.post(
        "/controller/deploy", json={"dockfile": str(echo)}, headers=cp.auth("developer")
    )
    op_id = deployed.json()["operation_id"]
    cp.wait(op_id)
    for path, status in (
        (f"/build/status/{op_id}", 404),
        ("/build/status/op-99-0000abcd", 404),
        ("/build/status/not-an-op", 400),
        ("/build/status/..%2F..%2Fetc", 404),
    ):
        answer = cp.client.get(path, headers=cp.auth("viewer"))
        assert answer.status_code == status, (path, answer.text)


def test_a_build_for_an_unknown_target_ends_failed_with_its_cause(cp: Plane, echo: Path) -> None:
    op = _wait_build(
        cp, _start(cp, {"dockfile": str(echo), "target": "nowhere"}).json()["operation_id"]
    )
    assert op["status"] == "failed"
    assert "nowhere" in json.dumps(op["error"])
    assert cp.plane.store.list_versions("echo") == []


def test_build_routes_are_documented(cp: Plane) -> None:
    paths = cp.client.get("/openapi.json").json()["paths"]
    assert "post" in paths["/build/start"]
    assert "get" in paths["/build/status/{op_id}"]
