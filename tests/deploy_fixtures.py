"""Fixtures of the deploy service's tests, run against :mod:`deploy_fakes`: a home of the
test's own, a copy of the echo example and the fake plugins. Load them with
``pytest_plugins = ("deploy_fixtures",)`` in a test module.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
from deploy_fakes import FakePlugin, fake_manager

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "echo"


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """``AGENTDOCK_HOME`` of the test's own (the SQLite registry under it)."""
    path = tmp_path / "home"
    monkeypatch.setenv("AGENTDOCK_HOME", str(path))
    monkeypatch.delenv("AGENTDOCK_DATABASE_URL", raising=False)
    return path


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A copy of examples/echo to deploy (and edit)."""
    dest = tmp_path / "echo"
    shutil.copytree(EXAMPLE, dest, ignore=shutil.ignore_patterns("__pycache__", ".agentdock"))
    return dest


@pytest.fixture
def fakes(home: Path) -> tuple[Any, FakePlugin]:
    """A plugin manager with the fake builder and targets, and their plugin."""
    return fake_manager()


@pytest.fixture
def cli_fakes(monkeypatch: pytest.MonkeyPatch, home: Path) -> FakePlugin:
    """The CLI's plugin manager: the built-ins and the in-process fake builder and target
    (the fake plugin returned), in the test's own home."""
    from agentdock import make_plugin_manager

    plugin = FakePlugin()
    manager = make_plugin_manager(entry_points=True, plugins=[("fake", plugin)])
    monkeypatch.setattr("agentdock.plugins.get_plugin_manager", lambda: manager)
    return plugin
