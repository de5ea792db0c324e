"""An open event stream or followed log ends once its key is revoked or expires: the guard
reads the key when the stream starts, and a revoked viewer used to go on receiving every
event (and log line) for as long as it kept the connection open."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import httpx
import pytest
from agentdock.registry import open_store
from agentdock_plugins.controlplane.app import controlplane_app
from agentdock_plugins.controlplane.principals import PLATFORM, create_platform_key
from agentdock_plugins.controlplane.state import ControlPlane
from controlplane_support import DEADLINE, Plane
from litestar.exceptions import WebSocketDisconnect

pytest_plugins = ("deploy_fixtures", "controlplane_fixtures")


def _key_id(key: str) -> str:
    return key.split("_")[1]


def test_a_revoked_keys_event_socket_is_closed(cp: Plane) -> None:
    cp.plane.stream_recheck_s = 0
    log = cp.plane.events
    viewer = cp.keys["viewer"]
    with cp.client.websocket_connect("/controller/events", headers=cp.auth("viewer")) as ws:
        threading.Timer(0.05, lambda: log.publish("health_event", agent="before")).start()
        assert json.loads(ws.receive_text())["agent"] == "before"
        assert cp.plane.store.revoke_api_key(agent=PLATFORM, key_id=_key_id(viewer))
        log.publish("health_event", agent="after")
        with pytest.raises(WebSocketDisconnect) as closed:
            ws.receive_text()
        assert closed.value.code == 1008


def test_a_live_keys_event_socket_stays_open(cp: Plane) -> None:
    cp.plane.stream_recheck_s = 0
    log = cp.plane.events
    with cp.client.websocket_connect("/controller/events", headers=cp.auth("viewer")) as ws:
        for agent in ("one", "two", "three"):
            threading.Timer(0.02, lambda a=agent: log.publish("health_event", agent=a)).start()
            assert json.loads(ws.receive_text())["agent"] == agent


def test_a_revoked_keys_sse_stream_ends(home: Path, tmp_path: Path) -> None:
    from served import serving

    with open_store() as store:
        key = create_platform_key(store, "viewer", created_by="test")[0].key
        plane = ControlPlane(store=store, projects=tmp_path, health_interval=0)
        plane.stream_recheck_s = 0
        with (
            serving(controlplane_app(plane)) as port,
            httpx.Client(
                base_url=f"http://127.0.0.1:{port}",
                headers={"authorization": f"Bearer {key}"},
                # A stream left open would wait 15 s for a heartbeat: fail instead of hanging.
                timeout=httpx.Timeout(DEADLINE, read=5.0),
            ) as client,
            client.stream("GET", "/controller/events") as stream,
        ):
            assert stream.status_code == 200
            lines = stream.iter_lines()
            threading.Timer(0.1, lambda: plane.events.publish("health_event", agent="a")).start()
            seen: list[str] = []
            for line in lines:
                seen.append(line)
                if line.startswith("data:"):
                    break
            assert '"agent": "a"' in seen[-1]
            store.revoke_api_key(agent=PLATFORM, key_id=_key_id(key))
            plane.events.publish("health_event", agent="secret-after-revoke")
            rest: list[Any] = list(lines)  # ends: the server closed the stream
            assert not any("secret-after-revoke" in line for line in rest)
