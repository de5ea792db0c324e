"""The Platform API's threads and runs as registry rows (embedded SQLite): a run whose
process died ends as an error, and runs, frames and finished runs' frames are bounded."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from agentdock.registry import open_store, platformrows
from agentdock.registry.platformrows import PlatformRows, ThreadRow


def rows(tmp_path: Path, agent: str = "echo", **kwargs: int) -> PlatformRows:
    return PlatformRows(open_store(tmp_path / "registry.db"), agent, **kwargs)


def test_a_run_whose_process_stopped_beating_ends_as_an_error(tmp_path: Path) -> None:
    mine = rows(tmp_path)
    mine.put_thread(ThreadRow("t", None, "busy", {}, "t0", "t0"))
    mine.put_run("alive", "t", "running", {"run_id": "alive"}, "host:1")
    mine.put_run("dead", "t", "running", {"run_id": "dead"}, "host:2")
    with mine.store._tx() as conn:  # host:2 was killed a minute ago
        conn.execute(
            "UPDATE platform_runs SET beat_at = ? WHERE run_id = 'dead'", (time.time() - 60,)
        )
    dead = mine.get_run("dead")
    assert dead is not None and dead.status == "error"
    assert dead.result is not None and dead.result["error"]["name"] == "RunAbandoned"
    assert dead.record["status"] == "error"
    again = mine.get_run("dead")  # the row itself says so, for every replica
    assert again is not None and again.status == "error"
    alive = mine.get_run("alive")
    assert alive is not None and alive.status == "running"
    assert {r.run_id: r.status for r in mine.runs("t")} == {"alive": "running", "dead": "error"}


def test_runs_per_thread_and_frames_are_bounded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(platformrows, "RUNS_PER_THREAD", 2)
    mine = rows(tmp_path, frames_kept=3)
    for n in range(3):
        mine.put_run(f"r{n}", "t", "pending", {"run_id": f"r{n}"}, "host:1")
        time.sleep(0.01)
    assert [r.run_id for r in mine.runs("t")] == ["r2", "r1"]
    mine.beat("r2", [(n, f"frame {n}") for n in range(1, 6)])
    assert [seq for seq, _ in mine.frames_after("r2", 0)] == [3, 4, 5]
    assert mine.frames_after("r2", 4) == [(5, "frame 5")]

    mine.finish_run("r1", "success", {"run_id": "r1"}, {"output": {"n": 1}})
    mine.beat("r1", [(1, "frame")])
    with mine.store._tx() as conn:  # r1 ended longer ago than finished runs' frames are kept
        conn.execute("UPDATE platform_runs SET finished = 1 WHERE run_id = 'r1'")
    mine.finish_run("r2", "success", {"run_id": "r2"}, {"output": {"n": 2}})
    assert mine.frames_after("r1", 0) == []
    assert len(mine.frames_after("r2", 0)) == 3
    found = mine.get_run("r2")
    assert found is not None and found.result == {"output": {"n": 2}}


def test_agents_do_not_see_each_others_threads(tmp_path: Path) -> None:
    mine, theirs = rows(tmp_path), rows(tmp_path, "other")
    mine.put_thread(ThreadRow("t", "ann", "idle", {"team": "blue"}, "t0", "t0"))
    assert theirs.get_thread("t") is None
    assert [t.thread_id for t in mine.threads("ann", 10)] == ["t"]
    assert mine.threads("bob", 10) == [] and mine.threads(None, 10) == []
    assert not theirs.delete_thread("t") and mine.delete_thread("t")
