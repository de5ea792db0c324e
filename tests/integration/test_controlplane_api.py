"""The control plane's API: platform keys and roles, CSRF on browser sessions, the audit
log, deploys in the background (fake builder and target), and hostile input."""

from __future__ import annotations

import json
import re
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from agentdock.registry import open_store
from agentdock_plugins.controlplane.app import controlplane_app
from agentdock_plugins.controlplane.principals import create_platform_key
from agentdock_plugins.controlplane.state import ControlPlane
from auth_support import add_key
from controlplane_support import DEADLINE, Plane
from controlplane_support import record_events as _record
from controlplane_support import run_event as _run
from controlplane_support import telemetry_event as _event
from litestar.testing import TestClient

pytest_plugins = ("deploy_fixtures", "controlplane_fixtures")


def _deploy(cp: Plane, echo: Path, role: str = "developer") -> dict[str, Any]:
    answer = cp.client.post(
        "/controller/deploy", json={"dockfile": str(echo)}, headers=cp.auth(role)
    )
    assert answer.status_code == 202, answer.text
    return cp.wait(answer.json()["operation_id"])


MUTATIONS = [
    ("post", "/controller/deploy", {"json": {"dockfile": "echo/Dockfile.yaml"}}),
    ("post", "/controller/rollback", {"json": {"agent": "echo"}}),
    ("post", "/controller/stop", {"json": {"agent": "echo"}}),
    ("post", "/auth/key/create", {"json": {"agent": "echo", "role": "developer"}}),
    ("post", "/auth/key/create", {"json": {"role": "admin"}}),
    ("delete", "/auth/key/revoke", {"params": {"agent": "echo", "key_id": "0123456789ab"}}),
    ("post", "/controller/operations/op-1-00000000/secret", {}),
]


def test_every_route_needs_a_platform_key(cp: Plane) -> None:
    agent_key = add_key(cp.plane.store, "echo").key
    for headers in (
        {},
        {"authorization": "Bearer adk_nope"},
        {"authorization": f"Bearer {agent_key}"},
    ):
        for path in ("/controller/agents", "/audit", "/controller/events", "/auth/keys?agent=echo"):
            answer = cp.client.get(path, headers=headers)
            assert answer.status_code == 401, (path, headers)
            assert answer.json()["error"] == "Unauthorized"
        for method, path, kwargs in MUTATIONS:
            assert cp.client.request(method, path, headers=headers, **kwargs).status_code == 401


def test_viewer_is_refused_every_change_and_nothing_is_recorded(cp: Plane, echo: Path) -> None:
    before = len(cp.plane.store.list_audit(limit=1000))
    for method, path, kwargs in MUTATIONS:
        answer = cp.client.request(method, path, headers=cp.auth("viewer"), **kwargs)
        assert answer.status_code == 403, (path, answer.text)
        assert "viewer" in answer.json()["detail"]
    assert len(cp.plane.store.list_audit(limit=1000)) == before
    assert cp.plane.operations.recent() == []
    assert cp.client.get("/controller/agents", headers=cp.auth("viewer")).status_code == 200


def test_developer_may_not_manage_platform_keys(cp: Plane) -> None:
    made = cp.client.post("/auth/key/create", json={"role": "admin"}, headers=cp.auth("developer"))
    assert made.status_code == 403
    listed = cp.client.get("/auth/keys", headers=cp.auth("developer"))
    assert listed.status_code == 403


def test_deploy_runs_in_the_background_and_is_audited(cp: Plane, echo: Path) -> None:
    start = cp.plane.events.last_id
    op = _deploy(cp, echo)
    assert op["status"] == "succeeded", op
    assert op["result"]["agent"] == "echo"
    assert "api_key" not in op["result"] and "key" not in op["result"]
    kinds = {e.kind for e in cp.plane.events.after(start)[0]}
    assert {"build_event", "deploy_status"} <= kinds
    rows = cp.client.get("/controller/agents", headers=cp.auth("viewer")).json()
    assert [(r["agent"], r["state"]) for r in rows] == [("echo", "active")]
    developer = cp.keys["developer"].split("_")[1]
    audit = cp.client.get("/audit", headers=cp.auth("viewer")).json()
    deploys = [e for e in audit if e["action"] == "controlplane.deploy"]
    assert deploys and deploys[0]["actor"] == f"key:{developer}"
    assert deploys[0]["details"]["role"] == "developer"


def test_a_deploy_started_twice_is_refused_while_the_first_runs(
    cp: Plane, echo: Path, fakes: tuple[Any, Any]
) -> None:
    _, plugin = fakes
    release = threading.Event()
    original = plugin.builder.build

    def slow_build(request: Any, progress: Any) -> Any:
        release.wait(DEADLINE)
        return original(request, progress)

    plugin.builder.build = slow_build
    first = cp.client.post(
        "/controller/deploy", json={"dockfile": str(echo)}, headers=cp.auth("developer")
    )
    assert first.status_code == 202
    second = cp.client.post(
        "/controller/deploy", json={"dockfile": str(echo)}, headers=cp.auth("developer")
    )
    assert second.status_code == 409
    assert second.json()["error"] == "DeployInProgress"
    release.set()
    assert cp.wait(first.json()["operation_id"])["status"] == "succeeded"


def test_a_failed_deploy_ends_failed_with_its_cause(
    cp: Plane, echo: Path, fakes: tuple[Any, Any]
) -> None:
    _, plugin = fakes
    plugin.target.fail_gate = "the runtime never answered"
    op = _deploy(cp, echo)
    assert op["status"] == "failed"
    assert op["error"]["detail"] == "the runtime never answered"


@pytest.mark.parametrize(
    "given",
    ["../outside/Dockfile.yaml", "/etc/passwd", "echo/../../x", "", "a\x00b", "x" * 5000],
)
def test_a_dockfile_outside_the_projects_is_refused(cp: Plane, given: str) -> None:
    answer = cp.client.post(
        "/controller/deploy", json={"dockfile": given}, headers=cp.auth("admin")
    )
    assert answer.status_code == 400
    assert answer.json() == {
        "error": "InvalidPath",
        "code": 400,
        "detail": "the Dockfile must lie under the project directory",
        "path": "dockfile",
    }


def test_a_symlink_out_of_the_projects_is_refused(cp: Plane, tmp_path: Path) -> None:
    outside = tmp_path.parent / f"{tmp_path.name}-outside"
    outside.mkdir()
    (outside / "Dockfile.yaml").write_text("version: '1.1'\n")
    (tmp_path / "link").symlink_to(outside)
    answer = cp.client.post(
        "/controller/deploy", json={"dockfile": "link/Dockfile.yaml"}, headers=cp.auth("admin")
    )
    assert answer.status_code == 400


@pytest.mark.parametrize("name", ["..%2F..%2Fetc", "UPPER", "a", "x" * 80, "%3Cscript%3E"])
def test_bad_agent_names_in_paths_are_refused(cp: Plane, name: str) -> None:
    for path in (
        f"/controller/status/{name}",
        f"/controller/versions/{name}",
        f"/controller/logs/{name}",
    ):
        answer = cp.client.get(path, headers=cp.auth("viewer"))
        assert answer.status_code in (400, 404), (path, answer.text)
        assert answer.json()["code"] == answer.status_code


HOSTILE = {
    "alias bomb": "a: &a [x, x, x, x, x, x, x, x, x]\n"
    + "".join(
        f"{c}: &{c} [*{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}]\n"
        for p, c in zip("abcdefgh", "bcdefghi", strict=True)
    ),
    "recursive alias": "a: &a [*a]\n",
    "include outside": "version: '1.1'\nagent: !include ../../../etc/passwd\n",
    "deep": "a: " + "[" * 5000 + "]" * 5000 + "\n",
    "too large": "#" * 1_100_000,
    "not yaml": "{{{:",
}


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_validate_refuses_hostile_dockfiles_with_findings(cp: Plane, case: str) -> None:
    answer = cp.client.post(
        "/validate", json={"dockfile": HOSTILE[case]}, headers=cp.auth("viewer")
    )
    assert answer.status_code == 200, answer.text
    report = answer.json()
    assert report["ok"] is False
    assert report["errors"] and all(isinstance(e["code"], int) for e in report["errors"])


def test_validate_refuses_text_that_is_not_utf8(cp: Plane) -> None:
    answer = cp.client.post(
        "/validate",
        content=b'{"dockfile": "\\udcff\\u0000\\u0001"}',
        headers={**cp.auth("viewer"), "content-type": "application/json"},
    )
    assert answer.status_code in (200, 400), answer.text
    assert answer.json().get("ok") is False or answer.json()["code"] == 400


def test_validate_gives_the_cli_findings_and_never_reads_the_servers_environment(
    cp: Plane, echo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    planted = "planted-secret-value-7f3a"
    monkeypatch.setenv("CONTROLPLANE_PLANTED", planted)
    text = echo.read_text().replace("name: echo\n", "name: ${CONTROLPLANE_PLANTED}\n", 1)
    answer = cp.client.post("/validate", json={"dockfile": text}, headers=cp.auth("viewer"))
    assert planted not in answer.text
    from agentdock.validation import validate

    same = cp.client.post(
        "/validate", json={"dockfile": echo.read_text()}, headers=cp.auth("viewer")
    )
    expected = validate(echo, skip_imports=True, plugins=cp.plane.plugins).to_dict()
    assert same.json() == {**expected, "file": "Dockfile.yaml"}
    broken = echo.read_text().replace("framework: langgraph", "framework: 7")
    findings = cp.client.post("/validate", json={"dockfile": broken}, headers=cp.auth("viewer"))
    echo.write_text(broken)
    expected = validate(echo, skip_imports=True, plugins=cp.plane.plugins).to_dict()
    assert findings.json() == {**expected, "file": "Dockfile.yaml"}
    assert findings.json()["ok"] is False


def test_browser_changes_need_the_sessions_csrf_token(cp: Plane) -> None:
    token = cp.sign_in("admin")
    made = cp.client.post("/ui/keys/create", data={"role": "viewer"})
    assert made.status_code == 403
    assert "CSRF" in made.json()["detail"]
    made = cp.client.post(
        "/ui/keys/create", data={"role": "viewer"}, headers={"x-csrf-token": "x" + token}
    )
    assert made.status_code == 403
    made = cp.client.post(
        "/ui/keys/create", data={"role": "viewer"}, headers={"x-csrf-token": token}
    )
    assert made.status_code == 200
    assert re.search(r"adk_[0-9a-f]{12}_[A-Za-z0-9_-]{43}", made.text)


def test_a_session_ends_when_its_key_is_revoked(cp: Plane) -> None:
    cp.sign_in("developer")
    assert cp.client.get("/").status_code == 200
    key_id = cp.keys["developer"].split("_")[1]
    revoked = cp.client.delete(
        "/auth/key/revoke", params={"key_id": key_id}, headers=cp.auth("admin")
    )
    assert revoked.status_code == 200
    assert cp.client.get("/", follow_redirects=False).status_code == 303
    assert cp.client.get("/controller/agents", headers=cp.auth("developer")).status_code == 401


def test_a_wrong_key_does_not_sign_in(cp: Plane) -> None:
    answer = cp.client.post("/login", data={"key": "adk_0123456789ab_" + "A" * 43})
    assert answer.status_code == 401
    assert cp.client.get("/", follow_redirects=False).status_code == 303


def test_keys_are_shown_once_and_never_stored_or_audited(cp: Plane, echo: Path) -> None:
    _deploy(cp, echo)
    made = cp.client.post(
        "/auth/key/create",
        json={"agent": "echo", "role": "developer"},
        headers=cp.auth("developer"),
    )
    assert made.status_code == 201, made.text
    key = made.json()["key"]
    listed = cp.client.get("/auth/keys", params={"agent": "echo"}, headers=cp.auth("viewer"))
    assert key not in listed.text and made.json()["key_id"] in listed.text
    audit = cp.client.get("/audit", params={"limit": 1000}, headers=cp.auth("viewer")).text
    assert key not in audit
    for secret in cp.keys.values():
        assert secret not in audit
    bad_role = cp.client.post(
        "/auth/key/create", json={"agent": "echo", "role": "nobody"}, headers=cp.auth("developer")
    )
    assert bad_role.status_code == 400 and bad_role.json()["path"] == "role"


def test_pages_escape_what_agents_and_dockfiles_say(cp: Plane, echo: Path) -> None:
    echo.write_text(
        echo.read_text().replace(
            'description: "Echoes the input text in upper case"',
            'description: "<script>alert(1)</script><img src=x onerror=alert(2)>"',
        )
    )
    _deploy(cp, echo)
    token = cp.sign_in("viewer")
    page = cp.client.get("/agents/echo").text
    assert "<script>alert(1)" not in page and "&lt;script&gt;alert(1)" in page
    assert "<img src=x" not in page
    hostile = "version: '1.1'\nagent: {name: '<script>alert(3)</script>'}\n"
    found = cp.client.post(
        "/ui/validate", data={"dockfile": hostile}, headers={"x-csrf-token": token}
    )
    assert found.status_code == 200
    assert "<script>alert(3)" not in found.text and "&lt;script&gt;alert(3)" in found.text
    assert "script-src 'self'" in found.headers["content-security-policy"]


def test_events_resume_after_a_cursor_and_report_a_gap(cp: Plane) -> None:
    log = cp.plane.events
    first = log.publish("health_event", agent="echo", healthy=True)
    second = log.publish("health_event", agent="echo", healthy=False)
    found, gap = log.after(first.id)
    assert [e.id for e in found] == [second.id] and not gap
    from agentdock_plugins.controlplane.events import EventLog

    small = EventLog(keep=2)
    for n in range(5):
        small.publish("build_event", n=n)
    found, gap = small.after(1)
    assert gap and [e.data["n"] for e in found] == [3, 4]


def test_the_api_is_documented(cp: Plane) -> None:
    paths = cp.client.get("/openapi.json").json()["paths"]
    for path in (
        "/controller/deploy",
        "/controller/rollback",
        "/controller/status/{agent}",
        "/controller/events",
        "/validate",
        "/auth/key/create",
        "/auth/key/revoke",
        "/audit",
    ):
        assert path in paths
    assert not any(p.startswith("/ui/") or p == "/login" for p in paths)


def test_the_command_refuses_to_start_without_auth_off_loopback(home: Path) -> None:
    from agentdock_plugins.controlplane.commands import controlplane_command
    from click.testing import CliRunner

    runner = CliRunner()
    off = runner.invoke(controlplane_command, ["--host", "0.0.0.0", "--insecure-no-auth"])
    assert off.exit_code == 2
    assert "loopback" in off.output
    no_key = runner.invoke(controlplane_command, ["--port", "0"])
    assert no_key.exit_code == 1
    assert "agentdock controlplane key create --role admin" in no_key.output
    made = runner.invoke(controlplane_command, ["key", "create", "--role", "viewer", "--json"])
    assert made.exit_code == 0, made.output
    import json

    key = json.loads(made.output)["key"]
    listed = runner.invoke(controlplane_command, ["key", "list", "--json"])
    assert key not in listed.output and json.loads(listed.output)["keys"][0]["role"] == "viewer"


def _frames(response: Any, wanted: Any, limit: int = 500) -> list[dict[str, Any]]:
    """SSE frames (``event``, ``id``, ``data``) read until ``wanted(frames)`` holds."""
    import json

    frames: list[dict[str, Any]] = []
    frame: dict[str, Any] = {}
    for line in response.iter_lines():
        if not line:
            if "data" in frame:
                frame["data"] = json.loads(frame["data"])
                frames.append(frame)
                if wanted(frames) or len(frames) >= limit:
                    return frames
            frame = {}
            continue
        field, _, value = line.partition(": ")
        if field in ("event", "id", "data"):
            frame[field] = value
    return frames


def test_events_stream_over_sse_with_a_resumable_cursor(
    home: Path, tmp_path: Path, fakes: tuple[Any, Any], echo: Path
) -> None:
    import httpx
    from served import serving

    manager, _ = fakes
    with open_store() as store:
        key = create_platform_key(store, "developer", created_by="test")[0].key
        plane = ControlPlane(store=store, projects=tmp_path, plugins=manager, health_interval=0.05)
        auth = {"authorization": f"Bearer {key}"}
        with serving(controlplane_app(plane)) as port:
            base = f"http://127.0.0.1:{port}"
            with httpx.Client(base_url=base, headers=auth, timeout=DEADLINE) as client:
                started = client.post("/controller/deploy", json={"dockfile": str(echo)})
                assert started.status_code == 202
                op_id = started.json()["operation_id"]

                def done(frames: list[dict[str, Any]]) -> bool:
                    finished = any(
                        f["event"] == "deploy_status" and f["data"]["status"] == "succeeded"
                        for f in frames
                    )
                    healthy = any(
                        f["event"] == "health_event" and f["data"]["state"] == "active"
                        for f in frames
                    )
                    return finished and healthy

                with client.stream("GET", "/controller/events", params={"cursor": 0}) as stream:
                    frames = _frames(stream, done)
                assert done(frames), frames
                ids = [int(f["id"]) for f in frames]
                assert ids == sorted(ids) and len(set(ids)) == len(ids)
                ours = [f for f in frames if f["data"].get("operation_id") == op_id]
                assert {f["event"] for f in ours} == {"build_event", "deploy_status"}
                middle = ids[len(ids) // 2]
                with client.stream(
                    "GET", "/controller/events", headers={"last-event-id": str(middle)}
                ) as stream:
                    resumed = _frames(stream, lambda fs: len(fs) >= 1)
                assert int(resumed[0]["id"]) == middle + 1
                assert resumed[0] == next(f for f in frames if int(f["id"]) == middle + 1)


def test_signing_in_gives_the_session_a_new_id(cp: Plane) -> None:
    planted = "f" * 64
    cp.client.cookies.set("agentdock_session", planted)
    answer = cp.client.post("/login", data={"key": cp.keys["viewer"]}, follow_redirects=False)
    assert answer.status_code == 303
    issued = answer.cookies.get("agentdock_session")
    assert issued and issued != planted
    cp.client.cookies.clear()
    cp.client.cookies.set("agentdock_session", planted)
    assert cp.client.get("/", follow_redirects=False).status_code == 303
    cp.client.cookies.clear()
    cp.client.cookies.set("agentdock_session", issued)
    assert cp.client.get("/", follow_redirects=False).status_code == 200


def test_a_first_deploys_key_goes_once_to_whoever_deployed(cp: Plane, echo: Path) -> None:
    start = cp.plane.events.last_id
    op = _deploy(cp, echo)
    assert op["secret_waiting"] is True
    path = f"/controller/operations/{op['operation_id']}/secret"
    assert cp.client.post(path, headers=cp.auth("admin")).status_code == 404  # not its deploy
    taken = cp.client.post(path, headers=cp.auth("developer"))
    assert taken.status_code == 200
    key = taken.json()["key"]
    assert key.startswith("adk_") and key.split("_")[1] == op["result"]["key_id"]
    assert cp.client.post(path, headers=cp.auth("developer")).status_code == 404  # once
    events = " ".join(str(e.to_json()) for e in cp.plane.events.after(start)[0])
    assert key not in events
    assert (
        key not in cp.client.get("/audit", params={"limit": 1000}, headers=cp.auth("viewer")).text
    )


@pytest.mark.parametrize(
    "headers",
    [
        {"origin": "https://evil.example"},
        {"origin": "null"},
        {"sec-fetch-site": "cross-site"},
        {"sec-fetch-site": "same-site"},
    ],
)
def test_requests_from_another_site_change_nothing_even_without_auth(
    home: Path, tmp_path: Path, headers: dict[str, str]
) -> None:
    with open_store() as store:
        plane = ControlPlane(store=store, projects=tmp_path, auth=False, health_interval=0)
        with TestClient(controlplane_app(plane), base_url="http://127.0.0.1:8700") as client:
            made = client.post("/ui/keys/create", data={"role": "admin"}, headers=headers)
            assert made.status_code == 403, made.text
            assert "another site" in made.json()["detail"]
            api = client.post("/auth/key/create", json={"role": "admin"}, headers=headers)
            assert api.status_code == 403
            login = client.post("/login", data={"key": "x"}, headers=headers)
            assert login.status_code == 403
            assert store.list_api_keys() == []
            same = client.post(
                "/auth/key/create",
                json={"role": "viewer"},
                headers={"origin": "http://127.0.0.1:8700"},
            )
            assert same.status_code == 201, same.text


@pytest.mark.parametrize("case", ["alias bomb", "recursive alias", "include outside", "too large"])
def test_a_hostile_dockfile_on_the_server_is_refused_before_any_deploy(
    cp: Plane, tmp_path: Path, case: str
) -> None:
    folder = tmp_path / "hostile"
    folder.mkdir()
    (folder / "Dockfile.yaml").write_text(HOSTILE[case])
    answer = cp.client.post(
        "/controller/deploy", json={"dockfile": "hostile"}, headers=cp.auth("developer")
    )
    assert answer.status_code == 400, answer.text
    assert answer.json()["error"] == "InvalidDockfile"
    assert cp.plane.operations.recent() == []


def test_an_agent_name_with_markup_is_refused_before_any_deploy(cp: Plane, echo: Path) -> None:
    echo.write_text(echo.read_text().replace("name: echo\n", 'name: "<b>echo</b>"\n', 1))
    answer = cp.client.post(
        "/controller/deploy", json={"dockfile": str(echo)}, headers=cp.auth("developer")
    )
    assert answer.status_code == 400
    assert "<b>" not in answer.text


# -- metrics from the local telemetry collector -------------------------------------------------


def _recorded_runs(cp: Plane) -> None:
    """101 runs of echo in the last hour (1..100 ms at $0.001 each, one 500 ms error),
    three policy violations, a run two hours ago and a run of another agent."""
    events = [_run(float(ms), cost_usd=0.001, ago=ms * 10.0) for ms in range(1, 101)]
    events.append(_run(500.0, status="error", error_type="AgentError"))
    events += [_event("policy_event", policy="pii", action="block") for _ in range(3)]
    events.append(_run(1.0, ago=2 * 3600))
    events.append(_run(1.0, agent="other"))
    _record(cp, events)


def test_metrics_of_an_agent_over_a_window_from_recorded_runs(cp: Plane, echo: Path) -> None:
    from agentdock_plugins.localstore.store import read_summary

    assert _deploy(cp, echo)["status"] == "succeeded"
    _recorded_runs(cp)
    answer = cp.client.get("/controller/metrics/echo?window=1h", headers=cp.auth("viewer"))
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert (body["requests"], body["errors"], body["store"]) == (101, 1, True)
    assert body["error_rate"] == pytest.approx(1 / 101)
    assert body["rate_per_min"] == pytest.approx(101 / 60)
    # Nearest rank over [1..100, 500]: the 51st and the 96th.
    assert body["latency_ms"] == {"p50": 51.0, "p95": 96.0}
    summary = read_summary(cp.plane.telemetry_path, "echo", time.time() - 3600)
    assert body["latency_ms"]["p50"] == summary["latency_ms"]["p50"]
    assert body["tokens"] == {"input": 1010, "output": 505}
    assert body["cost_usd"] == pytest.approx(0.1)
    assert body["policy_violations"] == 3
    assert body["policy_events"] == [{"policy": "pii", "action": "block", "count": 3}]
    series = body["series"]
    assert len(series["t"]) == 60 and series["t"] == sorted(series["t"])
    assert sum(series["requests"]) == 101 and sum(series["errors"]) == 1
    assert sum(series["policy_violations"]) == 3
    assert sum(c for c in series["cost_usd"] if c is not None) == pytest.approx(0.1)
    assert max(p for p in series["p95_ms"] if p is not None) == 500.0
    wider = cp.client.get("/controller/metrics/echo?window=3h", headers=cp.auth("viewer"))
    assert wider.json()["requests"] == 102


def test_metrics_refuse_bad_windows_and_unknown_agents(cp: Plane, echo: Path) -> None:
    assert _deploy(cp, echo)["status"] == "succeeded"
    viewer = cp.auth("viewer")
    for window in ("0m", "1y", "abc", "9999d", "1h;drop", "-1h"):
        answer = cp.client.get(f"/controller/metrics/echo?window={window}", headers=viewer)
        assert answer.status_code == 400, (window, answer.text)
    assert (
        "31 days"
        in cp.client.get("/controller/metrics/echo?window=32d", headers=viewer).json()["detail"]
    )
    assert cp.client.get("/controller/metrics/nobody", headers=viewer).status_code == 404
    assert cp.client.get("/controller/metrics/..%2Fetc", headers=viewer).status_code in (400, 404)
    assert cp.client.get("/controller/metrics/echo").status_code == 401
    empty = cp.client.get("/controller/metrics/echo", headers=viewer).json()
    assert (empty["store"], empty["requests"], empty["latency_ms"]["p95"]) == (False, 0, None)


def test_home_table_shows_p95_rate_errors_and_cost(cp: Plane, echo: Path) -> None:
    assert _deploy(cp, echo)["status"] == "succeeded"
    _recorded_runs(cp)
    (row,) = cp.client.get("/controller/agents", headers=cp.auth("viewer")).json()
    assert row["p95_ms"] == 96.0 and row["requests"] == 101
    assert row["error_rate"] == pytest.approx(1 / 101)
    assert row["cost_usd"] == pytest.approx(0.1)
    assert row["telemetry"] == "read"
    cp.sign_in("viewer")
    page = cp.client.get("/").text
    for shown in ("p95 latency", "Request rate", ">96 ms<", ">1.7/min<", ">1.0%<", ">$0.1000<"):
        assert shown in page, shown
    assert "telemetry-banner" not in page
    agent = cp.client.get("/agents/echo").text
    assert 'data-metrics-url="/controller/metrics/echo"' in agent
    assert '<script src="/static/uplot/uPlot.iife.min.js" defer></script>' in agent
    assert re.search(r"<script(?![^>]*\bsrc=)", agent) is None  # no inline script
    assert 'data-total="p95">96 ms<' in agent


def test_an_unreadable_telemetry_store_is_a_banner_not_a_crash(cp: Plane, echo: Path) -> None:
    assert _deploy(cp, echo)["status"] == "succeeded"
    path = cp.plane.telemetry_path
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"not a database " * 100)
    answer = cp.client.get("/controller/metrics/echo", headers=cp.auth("viewer"))
    assert answer.status_code == 503 and answer.json()["error"] == "TelemetryUnavailable"
    (row,) = cp.client.get("/controller/agents", headers=cp.auth("viewer")).json()
    assert row["telemetry"] == "unavailable" and row["p95_ms"] is None
    cp.sign_in("viewer")
    assert 'id="telemetry-banner"' in cp.client.get("/").text
    assert cp.client.get("/agents/echo").status_code == 200


def test_metric_events_carry_each_agents_figures_when_they_change(
    cp: Plane, echo: Path, tmp_path: Path
) -> None:
    assert _deploy(cp, echo)["status"] == "succeeded"
    _recorded_runs(cp)
    plane = ControlPlane(
        store=cp.plane.store,
        projects=tmp_path,
        plugins=cp.plane.plugins,
        health_interval=0.05,
        figures_ttl_s=0,
        table_ttl_s=0,
    )

    def metric_events() -> list[Any]:
        return [e for e in plane.events.after(0)[0] if e.kind == "metric_event"]

    with TestClient(controlplane_app(plane)):
        deadline = time.monotonic() + DEADLINE
        while not metric_events():
            assert time.monotonic() < deadline
            time.sleep(0.02)
        (first,) = metric_events()
        data = first.to_json()
        assert data["agent"] == "echo" and data["requests"] == 101 and data["p95_ms"] == 96.0
        assert data["cost_usd"] == pytest.approx(0.1) and data["window_s"] == 3600
        time.sleep(0.3)  # several readings with the same figures publish nothing more
        assert len(metric_events()) == 1
        _record(cp, [_run(700.0)])
        while len(metric_events()) < 2:
            assert time.monotonic() < deadline
            time.sleep(0.02)
        assert metric_events()[1].to_json()["requests"] == 102


# -- JWTs for agents in jwt mode -----------------------------------------------------------------

JWT_SECRET = "planted-jwt-secret-0123456789abcdef-XYZ"


def _jwt_echo(echo: Path) -> Path:
    echo.write_text(
        echo.read_text().replace(
            "  mode: api_key\n  api_keys: { enabled: true }\n",
            '  mode: jwt\n  jwt:\n    secret_key: "${ECHO_JWT_SECRET}"\n    expiry_minutes: 30\n',
        )
    )
    return echo


def test_auth_token_signs_with_the_agents_secret_from_the_servers_environment(
    cp: Plane, echo: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    import jwt

    monkeypatch.setenv("ECHO_JWT_SECRET", JWT_SECRET)
    assert _deploy(cp, _jwt_echo(echo))["status"] == "succeeded"
    body = {"agent": "echo", "role": "developer", "sub": "alice"}
    assert cp.client.post("/auth/token", json=body, headers=cp.auth("viewer")).status_code == 403
    answer = cp.client.post("/auth/token", json=body, headers=cp.auth("developer"))
    assert answer.status_code == 201, answer.text
    assert answer.headers["cache-control"] == "no-store"
    made = answer.json()
    claims = jwt.decode(made["token"], JWT_SECRET, algorithms=["HS256"])
    assert (claims["sub"], claims["role"], claims["agent"]) == ("alice", "developer", "echo")
    assert claims["exp"] - claims["iat"] == 30 * 60 == made["expires_at"] - claims["iat"]
    verified = cp.client.post(
        "/auth/verify", json={"agent": "echo", "token": made["token"]}, headers=cp.auth("viewer")
    ).json()
    assert verified == {
        "valid": True,
        "sub": "alice",
        "role": "developer",
        "agent": "echo",
        "auth": "jwt",
    }
    forged = jwt.encode(
        {"sub": "mallory", "role": "admin", "agent": "echo", "exp": int(time.time()) + 60},
        "another-secret-0123456789abcdef-0123456789",
        algorithm="HS256",
    )
    refused = cp.client.post(
        "/auth/verify", json={"agent": "echo", "token": forged}, headers=cp.auth("viewer")
    ).json()
    assert refused["valid"] is False and "signature" in refused["detail"]
    garbage = cp.client.post(
        "/auth/verify", json={"agent": "echo", "token": "not.a.jwt"}, headers=cp.auth("viewer")
    ).json()
    assert garbage["valid"] is False
    assert (
        cp.client.post(
            "/auth/token", json={**body, "role": "nobody"}, headers=cp.auth("developer")
        ).json()["error"]
        == "InvalidRole"
    )
    audit = cp.plane.store.list_audit(agent="echo", limit=100)
    issued = [e for e in audit if e.action == "token.issue"]
    assert len(issued) == 1 and issued[0].target == "alice"
    everything = repr(audit) + repr(cp.plane.events.after(0)[0]) + caplog.text
    assert JWT_SECRET not in everything and made["token"] not in everything


def test_auth_token_is_refused_without_jwt_mode_or_the_secret(
    cp: Plane, echo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert _deploy(cp, echo)["status"] == "succeeded"
    body = {"agent": "echo", "role": "developer", "sub": "alice"}
    answer = cp.client.post("/auth/token", json=body, headers=cp.auth("developer"))
    assert answer.status_code == 400 and answer.json()["error"] == "NotJwtMode"
    monkeypatch.setenv("ECHO_JWT_SECRET", JWT_SECRET)
    assert _deploy(cp, _jwt_echo(echo))["status"] == "succeeded"
    monkeypatch.delenv("ECHO_JWT_SECRET")
    answer = cp.client.post("/auth/token", json=body, headers=cp.auth("developer"))
    assert answer.status_code == 409 and answer.json()["error"] == "NoSigningKey"
    assert "ECHO_JWT_SECRET" in answer.json()["detail"]
    for bad in ({**body, "sub": ""}, {**body, "agent": "../x"}, {**body, "ttl_s": 0}):
        got = cp.client.post("/auth/token", json=bad, headers=cp.auth("developer"))
        assert got.status_code == 400, bad
    unknown = {**body, "agent": "nobody"}
    assert (
        cp.client.post("/auth/token", json=unknown, headers=cp.auth("developer")).status_code == 404
    )


# -- key rotation and bulk revocation -----------------------------------------------------------


def _agent_key(cp: Plane, role: str = "developer") -> dict[str, Any]:
    made = cp.client.post(
        "/auth/key/create", json={"agent": "echo", "role": role}, headers=cp.auth("developer")
    )
    assert made.status_code == 201, made.text
    body: dict[str, Any] = made.json()
    return body


def _states(cp: Plane) -> dict[str, str]:
    listed = cp.client.get("/auth/keys", params={"agent": "echo"}, headers=cp.auth("viewer"))
    return {k["key_id"]: k["state"] for k in listed.json()}


def test_rotating_a_key_gives_a_new_one_and_ends_the_old_after_its_grace(
    cp: Plane, echo: Path
) -> None:
    assert _deploy(cp, echo)["status"] == "succeeded"
    first, second = _agent_key(cp), _agent_key(cp, "viewer")
    body = {"agent": "echo", "key_id": first["key_id"]}
    assert (
        cp.client.post("/auth/key/rotate", json=body, headers=cp.auth("viewer")).status_code == 403
    )
    answer = cp.client.post("/auth/key/rotate", json=body, headers=cp.auth("developer"))
    assert answer.status_code == 201, answer.text
    assert answer.headers["cache-control"] == "no-store"
    made = answer.json()
    assert made["key"].startswith("adk_") and made["key_id"] != first["key_id"]
    assert made["role"] == "developer" and made["old"]["key_id"] == first["key_id"]
    with_grace = {"agent": "echo", "key_id": second["key_id"], "grace_s": 3600}
    graced = cp.client.post("/auth/key/rotate", json=with_grace, headers=cp.auth("developer"))
    assert graced.status_code == 201
    states = _states(cp)
    assert states[first["key_id"]] == "rotated" and states[made["key_id"]] == "active"
    assert states[second["key_id"]] == "rotating"
    again = cp.client.post("/auth/key/rotate", json=body, headers=cp.auth("developer"))
    assert again.status_code == 404
    rows = [
        e for e in cp.plane.store.list_audit(agent="echo", limit=100) if e.action == "key.rotate"
    ]
    assert {r.target for r in rows} == {first["key_id"], second["key_id"]}
    assert rows[0].details["new_key_id"] in (made["key_id"], graced.json()["key_id"])
    audit_text = repr(cp.plane.store.list_audit(limit=1000))
    assert made["key"] not in audit_text and graced.json()["key"] not in audit_text


def test_rotating_a_platform_key_is_for_admins_and_stops_the_old_key(cp: Plane) -> None:
    viewer_id = cp.keys["viewer"].split("_")[1]
    body = {"key_id": viewer_id}
    assert (
        cp.client.post("/auth/key/rotate", json=body, headers=cp.auth("developer")).status_code
        == 403
    )
    answer = cp.client.post("/auth/key/rotate", json=body, headers=cp.auth("admin"))
    assert answer.status_code == 201, answer.text
    new = answer.json()["key"]
    assert cp.client.get("/controller/agents", headers=cp.auth("viewer")).status_code == 401
    fresh = {"authorization": f"Bearer {new}"}
    assert cp.client.get("/controller/agents", headers=fresh).status_code == 200


def test_bulk_revoke_revokes_named_or_all_live_keys(cp: Plane, echo: Path) -> None:
    assert _deploy(cp, echo)["status"] == "succeeded"
    ids = [_agent_key(cp)["key_id"] for _ in range(3)]
    named = {"agent": "echo", "key_ids": [ids[0], "0123456789ab"]}
    url = "/auth/key/revoke-bulk"
    assert cp.client.post(url, json=named, headers=cp.auth("viewer")).status_code == 403
    empty = cp.client.post(url, json={"agent": "echo"}, headers=cp.auth("developer"))
    assert empty.status_code == 400 and empty.json()["error"] == "NothingToRevoke"
    too_odd = {"agent": "echo", "key_ids": ["../../etc"]}
    assert cp.client.post(url, json=too_odd, headers=cp.auth("developer")).status_code == 400
    done = cp.client.post(url, json=named, headers=cp.auth("developer")).json()
    assert done["revoked"] == [ids[0]] and done["not_found"] == ["0123456789ab"]
    assert _states(cp)[ids[0]] == "revoked" and _states(cp)[ids[1]] == "active"
    everything = cp.client.post(
        url, json={"agent": "echo", "all": True}, headers=cp.auth("developer")
    ).json()
    assert set(everything["revoked"]) >= {ids[1], ids[2]}
    assert set(_states(cp).values()) == {"revoked"}
    revoked = [
        e for e in cp.plane.store.list_audit(agent="echo", limit=100) if e.action == "key.revoke"
    ]
    assert {e.target for e in revoked} >= set(ids)
    # Platform keys: admin only, and never the caller's own.
    assert cp.client.post(url, json={"all": True}, headers=cp.auth("developer")).status_code == 403
    mine = cp.client.post(url, json={"all": True}, headers=cp.auth("admin")).json()
    assert cp.keys["admin"].split("_")[1] not in mine["revoked"]
    assert cp.client.get("/controller/agents", headers=cp.auth("admin")).status_code == 200
    assert cp.client.get("/controller/agents", headers=cp.auth("viewer")).status_code == 401


def test_the_keys_tab_rotates_and_revokes_all_with_the_csrf_token(cp: Plane, echo: Path) -> None:
    assert _deploy(cp, echo)["status"] == "succeeded"
    key_id = _agent_key(cp)["key_id"]
    token = cp.sign_in("developer")
    page = cp.client.get("/agents/echo").text
    assert 'hx-post="/ui/keys/rotate"' in page and 'id="revoke-all"' in page
    form = {"agent": "echo", "key_id": key_id, "grace_s": "0"}
    assert cp.client.post("/ui/keys/rotate", data=form).status_code == 403  # no CSRF token
    shown = cp.client.post("/ui/keys/rotate", data=form, headers={"x-csrf-token": token})
    assert shown.status_code == 200 and shown.headers["cache-control"] == "no-store"
    assert re.search(r"adk_[0-9a-f]{12}_", shown.text)
    bad = cp.client.post(
        "/ui/keys/rotate", data={**form, "grace_s": "9e9"}, headers={"x-csrf-token": token}
    )
    assert bad.status_code == 400
    gone = cp.client.post(
        "/ui/keys/revoke-all", data={"agent": "echo"}, headers={"x-csrf-token": token}
    )
    assert gone.status_code == 204
    assert set(_states(cp).values()) <= {"revoked", "rotated"}
    cp.sign_in("viewer")
    assert 'id="revoke-all"' not in cp.client.get("/agents/echo").text


# -- logs filtered by level ----------------------------------------------------------------------

MIXED_LOG = [
    '{"timestamp": "t", "level": "DEBUG", "logger": "agentdock", "message": "d"}',
    "12:00:00.000 INFO  agentdock.app started",
    '{"timestamp": "t", "level": "WARN", "logger": "agentdock", "message": "slow <b>"}',
    "12:00:01.000 ERROR agentdock.app failed",
    "Traceback (most recent call last):",
    "12:00:02.000 INFO  agentdock.app recovered",
    "{not json",
    '{"level": "CRITICAL", "message": "down"}',
]


def test_logs_filter_by_level_and_keep_a_traceback_with_its_error(
    cp: Plane, echo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import deploy_fakes

    assert _deploy(cp, echo)["status"] == "succeeded"
    monkeypatch.setattr(
        deploy_fakes.FakeTarget, "logs", lambda self, handle, tail, follow: iter(MIXED_LOG)
    )
    viewer = cp.auth("viewer")
    every = cp.client.get("/controller/logs/echo", headers=viewer).json()["lines"]
    assert every == MIXED_LOG
    errors = cp.client.get("/controller/logs/echo?level=error", headers=viewer).json()["lines"]
    assert errors == [MIXED_LOG[3], MIXED_LOG[4], MIXED_LOG[7]]
    warned = cp.client.get("/controller/logs/echo?level=WARNING", headers=viewer).json()["lines"]
    assert warned == [MIXED_LOG[2], MIXED_LOG[3], MIXED_LOG[4], MIXED_LOG[7]]
    assert cp.client.get("/controller/logs/echo?level=loud", headers=viewer).status_code == 400
    cp.sign_in("viewer")
    page = cp.client.get("/agents/echo").text
    assert 'id="log-level"' in page
    assert 'data-follow-url="/controller/logs/echo/follow"' in page
    # The Logs tab follows the stream, with the same filter (this log ends: read whole).
    shown = cp.client.get("/controller/logs/echo/follow?level=warn").text
    lines = [
        json.loads(row[len("data: ") :])["line"]
        for row in shown.splitlines()
        if row.startswith("data: ") and row != "data: {}"
    ]
    assert lines == [MIXED_LOG[2], MIXED_LOG[3], MIXED_LOG[4], MIXED_LOG[7]]
    assert "event: end" in shown


def test_fleet_figures_are_read_once_per_ttl_and_shared(cp: Plane, echo: Path) -> None:
    from agentdock_plugins.controlplane.metrics import FleetFigures

    assert _deploy(cp, echo)["status"] == "succeeded"
    fleet = FleetFigures(cp.plane.telemetry_path, 3600, ttl_s=3600)
    assert fleet.get() == ({}, "absent")
    _recorded_runs(cp)
    assert fleet.get() == ({}, "absent")  # within the ttl: the last read
    fresh = FleetFigures(cp.plane.telemetry_path, 3600, ttl_s=0)
    figures, state = fresh.get()
    assert state == "read" and figures["echo"]["requests"] == 101
    assert figures["other"]["requests"] == 1


def test_the_agents_table_is_read_once_per_period_and_shared(cp: Plane, echo: Path) -> None:
    from agentdock_plugins.controlplane.shared import Shared

    calls: list[int] = []

    def compute() -> list[int]:
        calls.append(1)
        return [len(calls)]

    shared: Shared[list[int]] = Shared(3600)
    assert shared.get(compute) == [1] and shared.get(compute) == [1] and len(calls) == 1
    assert Shared[list[int]](0).get(compute) == [2]
    plane = ControlPlane(store=cp.plane.store, projects=cp.plane.projects, table_ttl_s=3600)
    with TestClient(controlplane_app(plane)) as client:
        viewer = cp.auth("viewer")
        assert client.get("/controller/agents", headers=viewer).json() == []
        assert _deploy(cp, echo)["status"] == "succeeded"
        assert client.get("/controller/agents", headers=viewer).json() == []  # the shared reading
        assert [r["agent"] for r in cp.client.get("/controller/agents", headers=viewer).json()] == [
            "echo"
        ]


def test_traces_list_the_newest_runs_without_inputs_or_subjects(cp: Plane, echo: Path) -> None:
    assert _deploy(cp, echo)["status"] == "succeeded"
    planted = "subject-planted-0123456789"
    _recorded_runs(cp)
    _record(cp, [_run(7.0, ago=1.0, role="developer", subject=planted, error_type="<b>x</b>")])
    answer = cp.client.get("/controller/traces/echo?limit=3", headers=cp.auth("viewer"))
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["store"] is True and len(body["runs"]) == 3
    newest = body["runs"][0]
    assert newest["latency_ms"] == 7.0 and newest["role"] == "developer"
    assert newest["run_id"] == "a" * 32 and newest["mode"] == "invoke"
    assert [r["at"] for r in body["runs"]] == sorted((r["at"] for r in body["runs"]), reverse=True)
    assert planted not in answer.text
    assert (
        cp.client.get("/controller/traces/echo?limit=0", headers=cp.auth("viewer")).status_code
        == 400
    )
    assert cp.client.get("/controller/traces/nobody", headers=cp.auth("viewer")).status_code == 404
    cp.sign_in("viewer")
    page = cp.client.get("/agents/echo").text
    assert 'id="runs-table"' in page and "&lt;b&gt;x&lt;/b&gt;" in page and planted not in page
