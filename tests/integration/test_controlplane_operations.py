"""The control plane's operations outlive its process: kept in the registry, listed by the
next control plane, and ended ``failed`` (the registry cleaned up) when the control plane
that ran them stopped in the middle."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from agentdock.registry import open_store, operationrows
from agentdock.registry.operationrows import OperationRow, OperationRows
from agentdock_plugins.controlplane.app import controlplane_app
from agentdock_plugins.controlplane.principals import create_platform_key
from agentdock_plugins.controlplane.state import ControlPlane
from controlplane_support import DEADLINE, Plane
from litestar.testing import TestClient

pytest_plugins = ("deploy_fixtures", "controlplane_fixtures", "pgserver")

TESTS = Path(__file__).resolve().parents[1]


def _row(op_id: str, worker: str, status: str = "running", **extra: Any) -> OperationRow:
    fields: dict[str, Any] = {
        "id": op_id,
        "kind": "deploy",
        "agent": "echo",
        "started_by": "key:0123456789ab",
        "status": status,
        "started_at": time.time(),
        "finished_at": None,
        "steps": [{"step": "build", "message": "building", "at": time.time()}],
        "result": None,
        "error": None,
        "worker": worker,
    }
    return OperationRow(**{**fields, **extra})


def test_a_finished_operation_is_read_by_the_next_control_plane(
    cp: Plane, echo: Path, home: Path, tmp_path: Path, fakes: tuple[Any, Any]
) -> None:
    answer = cp.client.post(
        "/controller/deploy", json={"dockfile": str(echo)}, headers=cp.auth("developer")
    )
    op_id = answer.json()["operation_id"]
    first = cp.wait(op_id)
    assert first["status"] == "succeeded"

    manager, _ = fakes
    plane = ControlPlane(store=cp.plane.store, projects=tmp_path, plugins=manager)
    with TestClient(controlplane_app(plane)) as later:
        auth = cp.auth("viewer")
        again = later.get(f"/controller/operations/{op_id}", headers=auth).json()
        assert {k: again[k] for k in ("status", "kind", "agent", "result", "started_by")} == {
            k: first[k] for k in ("status", "kind", "agent", "result", "started_by")
        }
        assert [s["step"] for s in again["steps"]] == [s["step"] for s in first["steps"]]
        listed = later.get("/controller/operations", headers=auth).json()
        assert [op["operation_id"] for op in listed] == [op_id]


def test_a_first_deploys_key_is_never_written_to_the_registry(cp: Plane, echo: Path) -> None:
    assert "mode: api_key" in echo.read_text()
    answer = cp.client.post(
        "/controller/deploy", json={"dockfile": str(echo)}, headers=cp.auth("developer")
    )
    op_id = answer.json()["operation_id"]
    assert cp.wait(op_id)["status"] == "succeeded"
    key = cp.client.post(
        f"/controller/operations/{op_id}/secret", headers=cp.auth("developer")
    ).json()["key"]
    row = OperationRows(cp.plane.store).get(op_id)
    assert row is not None and row.status == "succeeded"
    assert key not in repr(row)
    registry = Path(os.environ["AGENTDOCK_HOME"]) / "registry.db"
    assert key.encode() not in registry.read_bytes()


# A control plane process that starts a deploy whose runtime never starts (the fake target
# blocks in start, after the deployment row was written ``pending``), then waits to be killed.
_DOOMED = """
import sys, threading, time
sys.path.insert(0, sys.argv[1])
from agentdock.registry import open_store
from agentdock_plugins.controlplane.actions import start_deploy
from agentdock_plugins.controlplane.principals import ANONYMOUS
from agentdock_plugins.controlplane.state import ControlPlane
from deploy_fakes import fake_manager

manager, plugin = fake_manager()
plugin.target.start = lambda *a, **k: threading.Event().wait()
store = open_store()
plane = ControlPlane(store=store, projects=__import__("pathlib").Path(sys.argv[2]), plugins=manager)
op = start_deploy(plane, ANONYMOUS, sys.argv[3])
while not store.list_deployments("echo", statuses=["pending"]):
    time.sleep(0.02)
print(op.id, flush=True)
time.sleep(600)
"""


def test_a_control_plane_killed_mid_deploy_leaves_nothing_half_recorded(
    home: Path, tmp_path: Path, fakes: tuple[Any, Any], echo: Path
) -> None:
    doomed = subprocess.Popen(
        [sys.executable, "-c", _DOOMED, str(TESTS), str(tmp_path), str(echo)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert doomed.stdout is not None
        op_id = doomed.stdout.readline().strip()
        assert op_id.startswith("op-"), op_id
    finally:
        doomed.send_signal(signal.SIGKILL)
        doomed.wait(DEADLINE)

    manager, _ = fakes
    with open_store() as store:
        before = OperationRows(store).get(op_id)
        assert before is not None and before.status == "running"
        assert [d.status for d in store.list_deployments("echo")] == ["pending"]
        key = create_platform_key(store, "viewer", created_by="test")[0].key
        plane = ControlPlane(store=store, projects=tmp_path, plugins=manager, health_interval=0)
        start = plane.events.last_id
        with TestClient(controlplane_app(plane)) as client:
            op = client.get(
                f"/controller/operations/{op_id}", headers={"authorization": f"Bearer {key}"}
            ).json()
        assert op["status"] == "failed"
        assert op["error"]["error"] == "ControlPlaneStopped"
        assert op["finished_at"] is not None
        said = [e.data for e in plane.events.after(start)[0] if e.kind == "deploy_status"]
        assert {"operation_id": op_id, "status": "failed"}.items() <= said[0].items()
        deployments = store.list_deployments("echo")
        assert [d.status for d in deployments] == ["failed"]
        assert store.active_deployment("echo", "") is None


def test_only_operations_whose_process_is_gone_are_ended(home: Path) -> None:
    with open_store() as store:
        rows = OperationRows(store)
        here = socket.gethostname()
        dead = subprocess.Popen([sys.executable, "-c", "pass"])
        dead.wait()
        rows.save(_row("op-1-dead0000", f"{here}:{dead.pid}:aa"))
        rows.save(_row("op-2-live0000", f"{here}:{os.getpid()}:bb"))
        rows.save(_row("op-3-away0000", "elsewhere:1:cc"))
        rows.save(_row("op-4-done0000", f"{here}:{dead.pid}:aa", status="succeeded"))
        plane = ControlPlane(store=store, projects=home, health_interval=0)
        ended = {op.id for op in plane.recover_operations()}
        assert ended == {"op-1-dead0000"}
        # Another host's process is taken for dead once it stopped beating.
        plane.abandoned_after_s = -1.0
        assert {op.id for op in plane.recover_operations()} == {"op-2-live0000", "op-3-away0000"}
        done = rows.get("op-4-done0000")
        assert done is not None and done.status == "succeeded" and done.error is None


def test_the_registry_keeps_the_newest_operations(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(operationrows, "KEPT", 3)
    with open_store() as store:
        rows = OperationRows(store)
        for n in range(5):
            rows.save(_row(f"op-{n}-0000000{n}", "h:1:x", status="queued", started_at=float(n)))
        assert [r.id for r in rows.recent(10)] == [f"op-{n}-0000000{n}" for n in (4, 3, 2)]


def test_a_control_plane_on_postgres_deploys_and_keeps_its_operations(
    pg_url: str,
    tmp_path: Path,
    fakes: tuple[Any, Any],
    echo: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from agentdock.registry import DATABASE_URL_ENV

    monkeypatch.setenv(DATABASE_URL_ENV, pg_url)
    manager, _ = fakes
    with open_store() as store:
        assert type(store).__name__ != "SQLiteStore"
        key = create_platform_key(store, "developer", created_by="test")[0].key
        auth = {"authorization": f"Bearer {key}"}
        plane = ControlPlane(store=store, projects=tmp_path, plugins=manager, health_interval=0)
        with TestClient(controlplane_app(plane)) as client:
            started = client.post("/controller/deploy", json={"dockfile": str(echo)}, headers=auth)
            op_id = started.json()["operation_id"]
            deadline = time.monotonic() + DEADLINE
            while (op := client.get(f"/controller/operations/{op_id}", headers=auth).json())[
                "status"
            ] not in ("succeeded", "failed"):
                assert time.monotonic() < deadline, op
                time.sleep(0.05)
            assert op["status"] == "succeeded", op
    with open_store() as store:
        row = OperationRows(store).get(op_id)
        assert row is not None and row.status == "succeeded"
        assert [d.status for d in store.list_deployments("echo")] == ["active"]
