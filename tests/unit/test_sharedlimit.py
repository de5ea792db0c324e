"""Rate limits shared by the processes of one host through a memory-mapped table."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import textwrap
import threading
from pathlib import Path
from typing import Any

import pytest
from agentdock_runtime.access import compile_access
from agentdock_runtime.ratelimit import MemoryLimiter, parse_rate
from agentdock_runtime.sharedlimit import SharedLimiter, SharedTableError
from auth_support import auth_spec


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def close(limiter: Any) -> None:
    asyncio.run(limiter.close())


def test_the_same_gcra_as_the_memory_limiter(tmp_path: Path) -> None:
    """Burst, steady rate and Retry-After exactly as in memory, for the same steps."""
    clock = Clock()
    shared = SharedLimiter(tmp_path / "t", clock=clock)
    memory = MemoryLimiter(clock)
    rate = parse_rate("10/m")
    steps = [0.0] * 12 + [5.9, 0.1, 0.0, 60.0] + [0.0] * 12 + [3.0, 3.0, 30.0]
    for gap in steps:
        clock.now += gap
        assert shared.hit_now("k", rate) == memory.hit_now("k", rate)
        assert shared.ahead("k") == pytest.approx(memory.ahead("k"))
    close(shared)


def test_processes_opening_one_file_share_one_budget(tmp_path: Path) -> None:
    worker = textwrap.dedent(
        """
        import json, sys
        from agentdock_runtime.ratelimit import parse_rate
        from agentdock_runtime.sharedlimit import SharedLimiter

        limiter = SharedLimiter(sys.argv[1])
        rate = parse_rate("20/h")
        sys.stdin.readline()  # start together
        allowed = {key: sum(limiter.hit_now(key, rate).allowed for _ in range(30))
                   for key in ("ann", "bob")}
        print(json.dumps(allowed))
        """
    )
    table = tmp_path / "limits.bin"
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", worker, str(table)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(3)
    ]
    outputs = [p.communicate("go\n", timeout=60)[0] for p in procs]
    assert all(p.returncode == 0 for p in procs)
    results = [json.loads(out) for out in outputs]
    assert sum(r["ann"] for r in results) == 20
    assert sum(r["bob"] for r in results) == 20


def test_threads_of_one_process_share_it_exactly(tmp_path: Path) -> None:
    limiter = SharedLimiter(tmp_path / "t")
    rate = parse_rate("100/h")
    allowed: list[int] = []

    def hammer() -> None:
        allowed.append(sum(limiter.hit_now("k", rate).allowed for _ in range(60)))

    threads = [threading.Thread(target=hammer) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(allowed) == 100
    close(limiter)


def test_observe_moves_a_tat_forward_only(tmp_path: Path) -> None:
    clock = Clock()
    limiter = SharedLimiter(tmp_path / "t", clock=clock)
    rate = parse_rate("10/m")  # one every 6 s
    assert limiter.ahead("k") == 0.0
    limiter.observe("k", 54.0)  # 9 of 10 spent, as Redis said
    assert limiter.ahead("k") == pytest.approx(54.0)
    limiter.observe("k", 12.0)  # an older answer arriving late changes nothing
    assert limiter.ahead("k") == pytest.approx(54.0)
    assert limiter.hit_now("k", rate).allowed
    assert not limiter.hit_now("k", rate).allowed
    close(limiter)


def test_a_full_window_forgets_the_caller_closest_to_a_whole_budget(tmp_path: Path) -> None:
    clock = Clock()
    limiter = SharedLimiter(tmp_path / "t", clock=clock, slots=8)  # one window: the table
    rate = parse_rate("1/h")
    for n in range(8):
        clock.now += 1.0
        assert limiter.hit_now(f"caller-{n}", rate).allowed
    assert limiter.evictions == 0
    clock.now += 1.0
    assert limiter.hit_now("caller-8", rate).allowed
    assert limiter.evictions == 1
    assert limiter.hit_now("caller-0", rate).allowed  # forgotten: its budget is whole again
    assert limiter.evictions == 2  # ... and its return forgot caller-1, the next oldest
    assert not limiter.hit_now("caller-5", rate).allowed  # the others are remembered
    # A slot whose caller has its budget back is free again, with no eviction.
    clock.now += 3600.0
    assert limiter.hit_now("caller-9", rate).allowed
    assert limiter.evictions == 2
    close(limiter)


def test_a_tat_from_another_clock_counts_as_none(tmp_path: Path) -> None:
    """A file kept across a reboot holds times of the old monotonic clock, far ahead."""
    clock = Clock()
    limiter = SharedLimiter(tmp_path / "t", clock=clock)
    rate = parse_rate("2/m")
    limiter.observe("k", 10**6)
    assert limiter.hit_now("k", rate).allowed
    assert limiter.hit_now("k", rate).allowed
    assert not limiter.hit_now("k", rate).allowed
    close(limiter)


def test_a_file_that_is_not_a_table_is_refused_untouched(tmp_path: Path) -> None:
    other = tmp_path / "notes.txt"
    other.write_text("keep me\n")
    with pytest.raises(SharedTableError, match="is not a rate-limit table"):
        SharedLimiter(other)
    assert other.read_text() == "keep me\n"
    SharedLimiter(tmp_path / "small", slots=8)
    with pytest.raises(SharedTableError, match="of another size"):
        SharedLimiter(tmp_path / "small")
    with pytest.raises(SharedTableError, match="cannot open"):
        SharedLimiter(tmp_path / "missing-dir" / "t")


def test_compile_access_uses_the_file_the_environment_names(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spec = auth_spec(
        {"mode": "api_key", "api_keys": {"enabled": True}, "rate_limits": {"developer": "2/m"}}
    )
    monkeypatch.delenv("AGENTDOCK_REDIS_URL", raising=False)
    monkeypatch.setenv("AGENTDOCK_RATELIMIT_FILE", str(tmp_path / "limits.bin"))
    first, second = compile_access(spec), compile_access(spec)
    assert isinstance(first.limiter, SharedLimiter)
    ann = {"sub": "ann", "role": "developer"}

    async def main() -> list[bool]:
        results = []
        for access in (first, second, first):
            try:
                await access.check(ann, "invoke")
                results.append(True)
            except Exception:
                results.append(False)
        await first.close()
        await second.close()
        return results

    assert asyncio.run(main()) == [True, True, False]
    # No limits, no file opened.
    assert isinstance(
        compile_access(auth_spec({"mode": "api_key", "api_keys": {"enabled": True}})).limiter,
        MemoryLimiter,
    )


def test_a_charge_of_several_requests_as_in_memory(tmp_path: Path) -> None:
    clock = Clock()
    shared = SharedLimiter(tmp_path / "t", clock=clock)
    memory = MemoryLimiter(clock)
    rate = parse_rate("6/h")
    try:
        for cost, gap in [(1, 0.0), (6, 0.0), (5, 0.0), (1, 0.0), (2, 1200.0), (1, 0.0)]:
            clock.now += gap
            assert shared.hit_now("k", rate, cost) == memory.hit_now("k", rate, cost), cost
    finally:
        close(shared)
