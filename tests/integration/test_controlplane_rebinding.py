"""Without auth (``--insecure-no-auth``, loopback only) the control plane answers only
requests addressed to a loopback name. A web page whose host name an attacker re-points at
127.0.0.1 (DNS rebinding) is same-origin with itself, so the cross-site check lets its
requests through; only the ``Host`` header tells them apart, and without this check such a
page could upload a project and deploy it (code run on the user's machine)."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

import pytest
from agentdock.registry import open_store
from agentdock_plugins.controlplane.access import check_loopback_host
from agentdock_plugins.controlplane.app import controlplane_app
from agentdock_plugins.controlplane.principals import create_platform_key
from agentdock_plugins.controlplane.state import ControlPlane
from litestar.datastructures import Headers
from litestar.exceptions import PermissionDeniedException, WebSocketDisconnect
from litestar.testing import TestClient

pytest_plugins = ("deploy_fixtures",)

REBOUND = "http://evil.example:8700"


@pytest.mark.parametrize(
    ("method", "path", "kwargs"),
    [
        ("post", "/auth/key/create", {"json": {"role": "admin"}}),
        ("post", "/controller/deploy/archive", {"content": b"x"}),
        ("post", "/controller/stop", {"json": {"agent": "echo"}}),
        ("get", "/controller/agents", {}),
        ("get", "/audit", {}),
        ("get", "/", {}),
    ],
)
def test_without_auth_a_rebound_host_name_is_refused(
    home: Path, tmp_path: Path, method: str, path: str, kwargs: dict[str, object]
) -> None:
    with open_store() as store:
        plane = ControlPlane(store=store, projects=tmp_path, auth=False, health_interval=0)
        with TestClient(controlplane_app(plane), base_url=REBOUND) as client:
            answer = client.request(method, path, headers={"origin": REBOUND}, **kwargs)
            assert answer.status_code == 403, answer.text
            body = answer.json()
            assert body["error"] == "Forbidden"
            assert "evil.example" in body["detail"] and "loopback" in body["detail"]
        assert store.list_api_keys() == []
        assert store.list_audit(limit=100) == []
    assert not (tmp_path / ".uploads").exists()


def test_without_auth_a_rebound_event_socket_is_refused(home: Path, tmp_path: Path) -> None:
    with open_store() as store:
        plane = ControlPlane(store=store, projects=tmp_path, auth=False, health_interval=0)
        with (
            TestClient(controlplane_app(plane), base_url=REBOUND) as client,
            pytest.raises(WebSocketDisconnect),
            client.websocket_connect("/controller/events", headers={"origin": REBOUND}),
        ):
            pass


@pytest.mark.parametrize("host", ["127.0.0.1:8700", "localhost:8700", "[::1]:8700", "127.0.0.2"])
def test_without_auth_loopback_names_are_served(home: Path, tmp_path: Path, host: str) -> None:
    with open_store() as store:
        plane = ControlPlane(store=store, projects=tmp_path, auth=False, health_interval=0)
        with TestClient(controlplane_app(plane), base_url="http://127.0.0.1:8700") as client:
            made = client.post(
                "/auth/key/create",
                json={"role": "viewer"},
                headers={"host": host, "origin": f"http://{host}"},
            )
            assert made.status_code == 201, made.text
            listed = client.get("/controller/agents", headers={"host": host})
            assert listed.status_code == 200, listed.text


def test_with_auth_any_host_name_is_served(home: Path, tmp_path: Path) -> None:
    """Behind a proxy the control plane is reached by the proxy's name: with sign-in on,
    a rebound page has no credentials, so the host name is not checked."""
    with open_store() as store:
        key = create_platform_key(store, "viewer", created_by="test")[0].key
        plane = ControlPlane(store=store, projects=tmp_path, health_interval=0)
        with TestClient(controlplane_app(plane), base_url="http://cp.example.org") as client:
            answer = client.get("/controller/agents", headers={"authorization": f"Bearer {key}"})
            assert answer.status_code == 200, answer.text
            assert json.loads(answer.text) == []


@pytest.mark.parametrize("host", ["[::1", "127.0.0.1.evil.example", "localhost.evil.example:8700"])
def test_without_auth_a_malformed_or_lookalike_host_is_refused(
    home: Path, tmp_path: Path, host: str
) -> None:
    with open_store() as store:
        plane = ControlPlane(store=store, projects=tmp_path, auth=False, health_interval=0)
        with TestClient(controlplane_app(plane), base_url="http://127.0.0.1:8700") as client:
            answer = client.get("/controller/agents", headers={"host": host})
            assert answer.status_code == 403, answer.text


@pytest.mark.parametrize(
    ("host", "problem"),
    [
        ("évil.example".encode(), "not ASCII"),  # UTF-8 bytes, read as latin-1 by the server
        (b"\xe9vil.example:8700", "not ASCII"),
        (b"evil\x7f.example", "control character"),
        (b"evil\x1b[31m.example", "control character"),
    ],
)
def test_the_loopback_check_never_echoes_a_host_that_is_not_printable_ascii(
    host: bytes, problem: str
) -> None:
    """The refusal says what is wrong with such a ``Host`` rather than showing it, as the
    runtime's host check does: nothing decoded as latin-1, no control character. (Litestar's
    router answers such a request 400 before the check runs; the check does not count on
    it.)"""
    connection = SimpleNamespace(headers=Headers([(b"host", host)]))
    with pytest.raises(PermissionDeniedException) as refused:
        check_loopback_host(cast(Any, connection))
    detail = refused.value.detail
    assert detail.isascii() and detail.isprintable(), detail
    assert problem in detail and "vil" not in detail, detail


def test_the_loopback_check_shows_a_printable_host() -> None:
    connection = SimpleNamespace(headers=Headers([(b"host", b"evil.example:8700")]))
    with pytest.raises(PermissionDeniedException) as refused:
        check_loopback_host(cast(Any, connection))
    assert "'evil.example:8700'" in refused.value.detail
