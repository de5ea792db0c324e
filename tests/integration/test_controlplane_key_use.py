"""A platform key's ``last_used_at`` (the "Last used" column of the platform keys page and
``GET /auth/keys``) follows its use by API clients and browser sessions: it was never
written, so every platform key showed "—" however much it was used."""

from __future__ import annotations

import time
from typing import Any

from controlplane_support import Plane

pytest_plugins = ("deploy_fixtures", "controlplane_fixtures")


def _last_used(cp: Plane) -> dict[str, Any]:
    answer = cp.client.get("/auth/keys", headers=cp.auth("admin"))
    assert answer.status_code == 200, answer.text
    by_role = {row["role"]: row["last_used_at"] for row in answer.json()}
    return by_role


def test_a_platform_keys_use_is_recorded(cp: Plane) -> None:
    before = time.time()
    assert cp.client.get("/controller/agents", headers=cp.auth("developer")).status_code == 200
    used = _last_used(cp)
    assert used["developer"] is not None and used["developer"] >= before
    assert used["admin"] is not None and used["admin"] >= before  # the listing itself
    assert used["viewer"] is None


def test_a_refused_key_is_not_counted_as_used(cp: Plane) -> None:
    viewer = cp.keys["viewer"]
    forged = viewer[: viewer.rindex("_") + 1] + "x" * 43
    answer = cp.client.get("/controller/agents", headers={"authorization": f"Bearer {forged}"})
    assert answer.status_code == 401
    assert _last_used(cp)["viewer"] is None


def test_a_browser_sessions_use_is_recorded(cp: Plane) -> None:
    before = time.time()
    signed = cp.client.post(
        "/login", data={"key": cp.keys["viewer"]}, headers={"origin": "http://testserver.local"}
    )
    assert signed.status_code in (200, 303), signed.text
    assert cp.client.get("/controller/agents").status_code == 200
    cp.client.cookies.clear()
    used = _last_used(cp)["viewer"]
    assert used is not None and used >= before
