"""Giving disk back: what ``cleanup`` keeps and why, a stopped agent's artifacts, and
``remove`` (``agentdock rm``), against the in-process fake builder and target."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from agentdock.deployment import (
    NotFound,
    cleanup,
    deploy,
    remove,
    rollback,
    status,
    stop,
    versions,
)
from agentdock.registry import open_store

pytest_plugins = ("deploy_fixtures",)


def _deploy(project: Path, manager: Any, **kw: Any) -> Any:
    kw.setdefault("check_imports", False)
    return deploy(project / "Dockfile.yaml", target="fake", plugins=manager, **kw)


def _release(project: Path, manager: Any, count: int) -> list[Any]:
    """``count`` versions, each a one-line change of the last."""
    out = []
    for _ in range(count):
        out.append(_deploy(project, manager))
        graph = project / "echo" / "graph.py"
        graph.write_text(graph.read_text() + "\n# change\n")
    return out


def _refs(result: dict[str, Any], key: str) -> dict[str, str]:
    return {row["version"]: row.get("reason") or row["ref"] for row in result[key]}


def test_cleanup_says_why_each_kept_artifact_stays(project: Path, fakes: Any) -> None:
    manager, _ = fakes
    _release(project, manager, 4)
    result = cleanup("echo", keep=1, plugins=manager)
    assert _refs(result, "kept") == {
        "0.1.3": "serves the default instance",
        "0.1.2": "rollback target of the default instance",
    }
    removed = {row["version"]: row for row in result["removed"]}
    assert sorted(removed) == ["0.1.0", "0.1.1"]
    assert all(not Path(row["ref"]).exists() for row in removed.values())
    assert all(row["freed_bytes"] > 0 for row in removed.values())
    assert result["freed_bytes"] == sum(row["freed_bytes"] for row in removed.values())
    # --keep keeps the newest beyond what the deployment needs, and says so.
    _release(project, manager, 1)  # 0.1.4 serves, 0.1.3 is its rollback target
    result = cleanup("echo", keep=3, plugins=manager)
    assert _refs(result, "kept")["0.1.2"] == "within --keep 3 (the newest versions)"
    assert result["removed"] == []


def test_a_stopped_agent_keeps_only_its_rollback_target(project: Path, fakes: Any) -> None:
    manager, _ = fakes
    _release(project, manager, 2)
    stop("echo", plugins=manager)
    result = cleanup("echo", keep=0, plugins=manager)
    # ``rollback`` after the stop goes back to 0.1.0: its artifact stays, 0.1.1's goes
    assert _refs(result, "kept") == {"0.1.0": "rollback target of the default instance (stopped)"}
    assert sorted(_refs(result, "removed")) == ["0.1.1"]
    assert result["freed_bytes"] > 0
    rows = versions("echo", plugins=manager)  # the history stays
    assert [r["version"] for r in rows if not r["artifacts"]] == ["0.1.1"]
    with open_store() as store:
        (entry,) = [e for e in store.list_audit(agent="echo") if e.action == "artifact.cleanup"]
    assert entry.details == {"removed": 1, "freed_bytes": result["freed_bytes"]}
    # ``rm`` removes what a stopped agent keeps, too
    gone = remove("echo", plugins=manager)
    assert sorted(_refs(gone, "removed")) == ["0.1.0"] and gone["kept"] == []


def test_a_rollback_after_stop_and_cleanup_finds_its_artifact(project: Path, fakes: Any) -> None:
    """The version ``rollback`` goes back to after a ``stop`` is not swept by ``cleanup``,
    not even when it is older than the newest ``--keep`` versions."""
    manager, _ = fakes
    _release(project, manager, 5)  # 0.1.0 .. 0.1.4
    rollback("echo", "0.1.0", plugins=manager)
    rollback("echo", "0.1.1", plugins=manager)  # 0.1.1 serves, 0.1.0 before it
    stop("echo", plugins=manager)
    result = cleanup("echo", plugins=manager)  # --keep 3: 0.1.2, 0.1.3, 0.1.4
    assert _refs(result, "kept")["0.1.0"] == "rollback target of the default instance (stopped)"
    assert sorted(_refs(result, "removed")) == ["0.1.1"]
    back = rollback("echo", plugins=manager)
    assert (back.version, back.status) == ("0.1.0", "active")


def test_a_version_recorded_twice_shares_its_artifact(project: Path, fakes: Any) -> None:
    manager, _ = fakes
    graph = project / "echo" / "graph.py"
    original = graph.read_text()
    _deploy(project, manager, version="1.0.0")
    graph.write_text(original + "\n# change\n")
    _deploy(project, manager, version="2.0.0")
    graph.write_text(original)
    _deploy(project, manager, version="3.0.0")  # 1.0.0's content again: its artifact
    result = cleanup("echo", keep=0, plugins=manager)
    assert result["removed"] == []
    assert _refs(result, "kept") == {
        "1.0.0": "the same artifact as 3.0.0, which is kept",
        "2.0.0": "rollback target of the default instance",
        "3.0.0": "serves the default instance",
    }


def test_remove_stops_every_instance_and_frees_the_disk(
    project: Path, fakes: Any, home: Path
) -> None:
    manager, plugin = fakes
    first, _ = _release(project, manager, 2)
    acme = _deploy(project, manager, instance="acme")
    assert plugin.target.running
    result = remove("echo", plugins=manager)
    assert plugin.target.running == {}
    assert sorted(d["instance"] or "" for d in result["stopped"]) == ["", "acme"]
    assert sorted(_refs(result, "removed")) == ["0.1.0", "0.1.1", "0.1.2"]
    assert result["kept"] == [] and result["freed_bytes"] > 0
    assert result["registry"] == str(home / "registry.db")
    assert not (home / "fake-bundles").exists() or not any((home / "fake-bundles").iterdir())
    # The registry keeps the history; status shows it stopped.
    assert [r["version"] for r in versions("echo", plugins=manager)] == ["0.1.0", "0.1.1", "0.1.2"]
    assert status("echo", plugins=manager)["status"] == "stopped"
    assert status("echo", instance="acme", plugins=manager)["status"] == "stopped"
    with open_store() as store:
        actions = [e.action for e in store.list_audit(agent="echo")]
        (entry,) = [e for e in store.list_audit(agent="echo") if e.action == "agent.remove"]
        assert len(store.list_api_keys("echo")) == 2  # keys stay (revoke them to end them)
    assert actions.count("deploy.stop") == 2
    assert entry.details["removed"] == 3 and entry.details["freed_bytes"] == result["freed_bytes"]
    assert sorted(entry.details["stopped"]) == sorted([first.deployment_id + 1, acme.deployment_id])
    # Nothing left: a second rm stops and removes nothing.
    again = remove("echo", plugins=manager)
    assert (again["stopped"], again["removed"], again["freed_bytes"]) == ([], [], 0)


def test_remove_one_instance_keeps_what_the_others_need(project: Path, fakes: Any) -> None:
    manager, plugin = fakes
    _deploy(project, manager)  # 0.1.0 on the default instance
    graph = project / "echo" / "graph.py"
    graph.write_text(graph.read_text() + "\n# tenant\n")
    _deploy(project, manager, instance="acme")  # 0.1.1 on acme only
    result = remove("echo", instance="acme", plugins=manager)
    assert [d["instance"] for d in result["stopped"]] == ["acme"]
    assert _refs(result, "kept") == {"0.1.0": "serves the default instance"}
    assert sorted(_refs(result, "removed")) == ["0.1.1"]
    assert status("echo", plugins=manager)["health"] == "running"
    assert len(plugin.target.running) == 1


def test_remove_asks_and_a_no_changes_nothing(project: Path, fakes: Any) -> None:
    manager, plugin = fakes
    _deploy(project, manager)
    asked: list[dict[str, Any]] = []

    def refuse(plan: dict[str, Any]) -> bool:
        asked.append(plan)
        return False

    result = remove("echo", confirm=refuse, plugins=manager)
    assert result["cancelled"] is True and result["removed"] == []
    ((plan),) = asked
    assert [d["version"] for d in plan["stop"]] == ["0.1.0"]
    assert [a["version"] for a in plan["remove"]] == ["0.1.0"]
    assert plugin.target.running and status("echo", plugins=manager)["health"] == "running"


def test_remove_unknown_agent_or_instance_is_not_found(project: Path, fakes: Any, home: Path):
    manager, _ = fakes
    _deploy(project, manager)
    with pytest.raises(NotFound) as info:
        remove("ehco", plugins=manager)
    assert "did you mean 'echo'?" in info.value.cause
    assert str(home / "registry.db") in info.value.cause
    with pytest.raises(NotFound) as info:
        remove("echo", instance="acme", plugins=manager)
    assert "has no instance 'acme'" in info.value.cause
