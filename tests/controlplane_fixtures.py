"""Fixtures of the control plane's tests: its app on the fake target with one platform key
per role (``cp``), the same on a real socket named by the CLI's environment (``remote``),
and the echo example set to deploy to the fake target (``echo``). Load them with
``pytest_plugins = ("deploy_fixtures", "controlplane_fixtures")``."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from agentdock.registry import open_store
from agentdock_plugins.controlplane.app import controlplane_app
from agentdock_plugins.controlplane.principals import create_platform_key
from agentdock_plugins.controlplane.state import ControlPlane
from controlplane_support import Plane, Remote
from litestar.testing import TestClient
from served import serving


@pytest.fixture
def echo(project: Path) -> Path:
    """The echo example deployed to the fake target."""
    dockfile = project / "Dockfile.yaml"
    dockfile.write_text(dockfile.read_text() + "\ndeploy:\n  target: fake\n")
    return dockfile


@pytest.fixture
def cp(home: Path, tmp_path: Path, fakes: tuple[Any, Any]) -> Iterator[Plane]:
    manager, _ = fakes
    store = open_store()
    keys = {
        role: create_platform_key(store, role, created_by="test")[0].key
        for role in ("viewer", "developer", "admin")
    }
    # Table and figures read fresh on every call: the tests change them and read them back.
    plane = ControlPlane(
        store=store, projects=tmp_path, plugins=manager, figures_ttl_s=0, table_ttl_s=0
    )
    try:
        with TestClient(controlplane_app(plane)) as client:
            yield Plane(plane, client, keys)
    finally:
        store.close()


@pytest.fixture
def remote(
    home: Path, tmp_path: Path, fakes: tuple[Any, Any], monkeypatch: pytest.MonkeyPatch
) -> Iterator[Remote]:
    """A control plane on a real socket (projects: its own directory, the fake target), and
    the CLI's environment naming it with a developer key."""
    manager, plugin = fakes
    projects = tmp_path / "server-projects"
    projects.mkdir()
    with open_store() as store:
        keys = {
            role: create_platform_key(store, role, created_by="test")[0].key
            for role in ("viewer", "developer")
        }
        plane = ControlPlane(store=store, projects=projects, plugins=manager, health_interval=0)
        with serving(controlplane_app(plane)) as port:
            url = f"http://127.0.0.1:{port}"
            monkeypatch.setenv("AGENTDOCK_SERVER", url)
            monkeypatch.setenv("AGENTDOCK_SERVER_KEY", keys["developer"])
            yield Remote(url, keys, projects, plugin)
