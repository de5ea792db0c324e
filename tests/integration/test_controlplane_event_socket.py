"""``WS /controller/events``: the control plane's events over a WebSocket, resumable, for
platform keys only, and never to a page of another site holding the user's session."""

from __future__ import annotations

import asyncio
import json
import threading
from pathlib import Path
from typing import Any

import pytest
from agentdock.registry import open_store
from agentdock_plugins.controlplane.app import controlplane_app
from agentdock_plugins.controlplane.events import Event, EventLog, Gap, Heartbeat, follow
from agentdock_plugins.controlplane.principals import create_platform_key
from agentdock_plugins.controlplane.state import ControlPlane
from controlplane_support import DEADLINE, Plane
from litestar.exceptions import WebSocketDisconnect

pytest_plugins = ("deploy_fixtures", "controlplane_fixtures")


def _frame(ws: Any) -> dict[str, Any]:
    frame: dict[str, Any] = json.loads(ws.receive_text())
    return frame


def test_events_arrive_in_order_and_resume_after_a_cursor(cp: Plane) -> None:
    log = cp.plane.events
    first = log.publish("health_event", agent="echo", state="active")
    second = log.publish("build_event", agent="echo", step="build", message="<b>x</b>")
    with cp.client.websocket_connect(
        "/controller/events?cursor=0", headers=cp.auth("viewer")
    ) as ws:
        got = [_frame(ws), _frame(ws)]
        assert [f["id"] for f in got] == [first.id, second.id]
        assert got[1] == {**second.to_json()}
        threading.Timer(0.05, lambda: log.publish("deploy_status", agent="echo")).start()
        live = _frame(ws)
        assert (live["kind"], live["id"]) == ("deploy_status", second.id + 1)
    with cp.client.websocket_connect(
        f"/controller/events?cursor={first.id}", headers=cp.auth("viewer")
    ) as ws:
        assert _frame(ws)["id"] == second.id


def test_without_a_cursor_only_new_events_come(cp: Plane) -> None:
    log = cp.plane.events
    log.publish("health_event", agent="old")
    with cp.client.websocket_connect("/controller/events", headers=cp.auth("viewer")) as ws:
        threading.Timer(0.05, lambda: log.publish("health_event", agent="new")).start()
        assert _frame(ws)["agent"] == "new"


@pytest.mark.parametrize(
    "headers",
    [{}, {"authorization": "Bearer adk_nope"}, {"authorization": "Basic eDp5"}],
)
def test_a_handshake_without_a_platform_key_is_refused(cp: Plane, headers: dict[str, str]) -> None:
    with (
        pytest.raises(WebSocketDisconnect) as refused,
        cp.client.websocket_connect("/controller/events", headers=headers) as ws,
    ):
        ws.receive_text()
    assert refused.value.code != 1000


def test_a_bad_cursor_is_refused(cp: Plane) -> None:
    with (
        pytest.raises(WebSocketDisconnect),
        cp.client.websocket_connect(
            "/controller/events?cursor=-1", headers=cp.auth("viewer")
        ) as ws,
    ):
        ws.receive_text()


def test_a_browser_session_works_from_this_site_only(cp: Plane) -> None:
    cp.sign_in("viewer")
    host = "testserver.local"
    log = cp.plane.events
    event = log.publish("health_event", agent="echo")
    with cp.client.websocket_connect(
        f"/controller/events?cursor={event.id - 1}", headers={"origin": f"http://{host}"}
    ) as ws:
        assert _frame(ws)["id"] == event.id
    for origin in ("http://evil.example", "null"):
        with (
            pytest.raises(WebSocketDisconnect),
            cp.client.websocket_connect(
                "/controller/events?cursor=0", headers={"origin": origin}
            ) as ws,
        ):
            ws.receive_text()


def test_follow_reports_a_gap_then_resumes_at_the_oldest_kept() -> None:
    small = EventLog(keep=2)
    for n in range(5):
        small.publish("build_event", n=n)

    async def first_three() -> list[Any]:
        items: list[Any] = []
        async for item in follow(small, 1, heartbeat_s=0.01):
            items.append(item)
            if len(items) == 3:
                break
        return items

    gap, third, fourth = asyncio.run(first_three())
    assert gap == Gap(1)
    assert isinstance(third, Event) and isinstance(fourth, Event)
    assert [third.data["n"], fourth.data["n"]] == [3, 4]


def test_follow_sends_heartbeats_when_idle() -> None:
    log = EventLog()

    async def first() -> Any:
        log.bind(asyncio.get_running_loop())
        async for item in follow(log, log.last_id, heartbeat_s=0.01):
            return item

    assert isinstance(asyncio.run(first()), Heartbeat)


def test_a_deploy_is_followed_over_a_real_socket(
    home: Path, tmp_path: Path, fakes: tuple[Any, Any], echo: Path
) -> None:
    import httpx
    from served import serving
    from websockets.sync.client import connect

    manager, _ = fakes
    with open_store() as store:
        key = create_platform_key(store, "developer", created_by="test")[0].key
        plane = ControlPlane(store=store, projects=tmp_path, plugins=manager)
        auth = {"authorization": f"Bearer {key}"}
        with serving(controlplane_app(plane)) as port:
            with connect(
                f"ws://127.0.0.1:{port}/controller/events",
                additional_headers=auth,
                open_timeout=DEADLINE,
            ) as ws:
                started = httpx.post(
                    f"http://127.0.0.1:{port}/controller/deploy",
                    json={"dockfile": str(echo)},
                    headers=auth,
                    timeout=DEADLINE,
                )
                op_id = started.json()["operation_id"]
                seen: list[dict[str, Any]] = []
                while not any(
                    f.get("kind") == "deploy_status" and f.get("status") == "succeeded"
                    for f in seen
                ):
                    seen.append(json.loads(ws.recv(timeout=DEADLINE)))
            ours = [f for f in seen if f.get("operation_id") == op_id]
            assert {"build_event", "deploy_status"} <= {f["kind"] for f in ours}
            ids = [f["id"] for f in seen if f["kind"] != "heartbeat"]
            assert ids == sorted(ids) and len(ids) == len(set(ids))
            assert not any(key in json.dumps(f) for f in seen)
