"""The control plane under test: its state, a client and one platform key per role; and
telemetry written into its local store as the agents' runtimes write it."""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

from agentdock_plugins.controlplane.state import ControlPlane
from litestar.testing import TestClient

DEADLINE = 30


class Plane:
    """A control plane under test, its client and one key per role."""

    def __init__(self, plane: ControlPlane, client: TestClient[Any], keys: dict[str, str]) -> None:
        self.plane = plane
        self.client = client
        self.keys = keys

    def auth(self, role: str) -> dict[str, str]:
        return {"authorization": f"Bearer {self.keys[role]}"}

    def wait(self, op_id: str) -> dict[str, Any]:
        deadline = time.monotonic() + DEADLINE
        while True:
            op = self.client.get(f"/controller/operations/{op_id}", headers=self.auth("viewer"))
            body: dict[str, Any] = op.json()
            if body["status"] in ("succeeded", "failed"):
                return body
            assert time.monotonic() < deadline, body
            time.sleep(0.02)

    def sign_in(self, role: str) -> str:
        """A browser session with ``role``; returns its CSRF token."""
        answer = self.client.post("/login", data={"key": self.keys[role]}, follow_redirects=False)
        assert answer.status_code == 303
        page = self.client.get("/")
        found = re.search(r'data-csrf="([^"]+)"', page.text)
        assert found is not None
        return found.group(1)


class Remote:
    """A control plane on a real socket that the CLI's environment names: its address,
    one platform key per role, its project directory and the fake plugin it deploys with."""

    def __init__(self, url: str, keys: dict[str, str], projects: Path, plugin: Any) -> None:
        self.url, self.keys, self.projects, self.plugin = url, keys, projects, plugin


def record_events(cp: Plane | ControlPlane, events: list[dict[str, Any]]) -> None:
    """Write ``events`` through the collector the runtimes use, into the plane's store."""
    import asyncio

    from agentdock_plugins.localstore.sink import LocalStoreSink

    plane = cp.plane if isinstance(cp, Plane) else cp
    sink = LocalStoreSink(path=plane.telemetry_path)

    async def main() -> None:
        await sink.emit(events)
        await sink.flush()

    asyncio.run(main())
    assert sink.written == len(events)


def telemetry_event(
    kind: str, agent: str = "echo", ago: float = 60.0, **data: Any
) -> dict[str, Any]:
    data["end_unix_nano"] = int((time.time() - ago) * 1e9)
    return {"event": kind, "agent": agent, "run_id": "a" * 32, "data": data}


def run_event(latency: float, status: str = "ok", **extra: Any) -> dict[str, Any]:
    return telemetry_event(
        "run_end",
        mode="invoke",
        status=status,
        latency_ms=latency,
        tokens_input=10,
        tokens_output=5,
        **extra,
    )
