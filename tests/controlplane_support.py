"""The control plane under test: its state, a client and one platform key per role."""

from __future__ import annotations

import re
import time
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
