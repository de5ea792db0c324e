"""Finding the AgentDock home the way git finds ``.git``, and never creating a registry
while only reading: the registry, the local telemetry store and the LangFuse buffer agree."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest
from agentdock import home as home_module
from agentdock.home import CEILING_ENV, HOME_ENV, agentdock_home, locate_home
from agentdock.registry import RegistryNotFound, default_registry_path, open_store
from agentdock_plugins.langfuse.config import langfuse_settings
from agentdock_plugins.localstore.store import telemetry_db_path


@pytest.fixture
def tree(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """``tmp/proj`` with a registry, ``tmp/proj/agent/sub`` below it; the walk stops below
    ``tmp`` (nothing outside the test's directory can be found)."""
    monkeypatch.delenv(HOME_ENV, raising=False)
    monkeypatch.setenv(CEILING_ENV, str(tmp_path))
    for name in ("AGENTDOCK_TELEMETRY_DB", "AGENTDOCK_PROJECT_DIR", "AGENTDOCK_LANGFUSE_BUFFER"):
        monkeypatch.delenv(name, raising=False)
    project = tmp_path / "proj"
    (project / "agent" / "sub").mkdir(parents=True)
    with open_store(project / ".agentdock" / "registry.db"):
        pass
    return project


def files(root: Path) -> set[str]:
    return {p.relative_to(root).as_posix() for p in root.rglob("*")}


def test_a_nested_directory_finds_the_registry_above(
    tree: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tree / "agent" / "sub")
    found = locate_home()
    assert (found.path, found.source, found.exists) == (tree / ".agentdock", "found", True)
    assert default_registry_path() == tree / ".agentdock" / "registry.db"
    with open_store(create=False) as store:
        assert store.path == tree / ".agentdock" / "registry.db"
    # The telemetry store and the LangFuse buffer live in the same home.
    assert telemetry_db_path() == tree / ".agentdock" / "telemetry" / "telemetry.db"
    spec = SimpleNamespace(
        observability=SimpleNamespace(langfuse=SimpleNamespace(public_key="p", secret_key="s")),
        metadata=SimpleNamespace(version="1"),
    )
    settings = langfuse_settings(spec, {CEILING_ENV: str(tree.parent)})
    assert settings is not None and settings.buffer_path == tree / ".agentdock" / (
        "langfuse-buffer.db"
    )
    assert not (tree / "agent" / "sub" / ".agentdock").exists()


def test_a_dot_agentdock_without_a_registry_does_not_stop_the_walk(
    tree: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # What `agentdock serve` leaves in a project: checkpoints and telemetry, no registry.
    (tree / "agent" / ".agentdock").mkdir()
    (tree / "agent" / ".agentdock" / "checkpoints.db").write_bytes(b"")
    assert agentdock_home(tree / "agent") == tree / ".agentdock"


def test_agentdock_home_wins(tree: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(HOME_ENV, str(tmp_path / "elsewhere"))
    found = locate_home(tree / "agent")
    assert (found.path, found.source, found.exists) == (tmp_path / "elsewhere", "env", False)
    assert "AGENTDOCK_HOME" in found.searched()
    # A relative AGENTDOCK_HOME is relative to where the command runs.
    found = locate_home(tree, {HOME_ENV: "rel"})
    assert found.path == tree / "rel"


def test_none_found_is_the_working_directory_and_says_where_it_looked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(HOME_ENV, raising=False)
    monkeypatch.setenv(CEILING_ENV, str(tmp_path))
    start = tmp_path / "a" / "b"
    start.mkdir(parents=True)
    (tmp_path / ".agentdock").mkdir()  # above the ceiling: never looked at
    (tmp_path / ".agentdock" / "registry.db").write_bytes(b"")
    found = locate_home(start)
    assert (found.path, found.source, found.stopped_at) == (
        start / ".agentdock",
        "new",
        tmp_path / "a",
    )
    assert (
        found.searched()
        == f".agentdock/registry.db in {start} and its parents up to {tmp_path / 'a'}"
    )


def test_the_walk_stops_at_a_mount_boundary(tree: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(CEILING_ENV)
    mount = tree / "agent"  # as if another file system were mounted here
    real = home_module._device
    monkeypatch.setattr(
        home_module,
        "_device",
        lambda path: 99 if path.is_relative_to(mount) else real(path),
    )
    found = locate_home(mount / "sub")
    assert (found.source, found.stopped_at) == ("new", mount)


def test_reading_never_creates_a_registry(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(HOME_ENV, raising=False)
    monkeypatch.setenv(CEILING_ENV, str(tmp_path))
    project = tmp_path / "fresh"
    project.mkdir()
    monkeypatch.chdir(project)
    with pytest.raises(RegistryNotFound) as info:
        open_store(create=False)
    assert str(project) in str(info.value)
    with pytest.raises(RegistryNotFound):
        open_store(project / "explicit.db", create=False)
    assert files(tmp_path) == {"fresh"}
    with open_store() as store:  # a writer creates it where it was looked for first
        assert store.path == project / ".agentdock" / "registry.db"
