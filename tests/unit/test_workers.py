"""The worker pool of synchronous graphs: few threads while calls are quick, more when they wait."""

from __future__ import annotations

import asyncio
import contextvars
import threading
from typing import Any

import pytest
from agentdock_plugins.langgraph.workers import WorkerPool, default_core_threads


class Gauge:
    """Counts calls in flight (from worker threads) and the most seen at once."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.now = 0
        self.most = 0

    def __enter__(self) -> None:
        with self.lock:
            self.now += 1
            self.most = max(self.most, self.now)

    def __exit__(self, *exc: object) -> None:
        with self.lock:
            self.now -= 1


async def cancel(task: asyncio.Future[Any]) -> None:
    """Cancel ``task`` and wait until it has ended cancelled."""
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


def test_blocked_calls_get_threads_beyond_core_up_to_the_maximum() -> None:
    pool = WorkerPool(8, core=2, grow_after=0.002)
    gauge = Gauge()
    release = threading.Event()

    def wait() -> str:
        with gauge:
            assert release.wait(10), "never released"
        return "done"

    async def main() -> list[str]:
        calls = [asyncio.ensure_future(pool.run(wait)) for _ in range(12)]
        for _ in range(500):
            if gauge.now == 8:
                break
            await asyncio.sleep(0.005)
        in_flight = gauge.now
        release.set()
        results = await asyncio.gather(*calls)
        assert in_flight == 8, "waiting calls got threads up to the maximum"
        return results

    assert asyncio.run(main()) == ["done"] * 12
    assert gauge.most == 8, "never more than the maximum"
    assert pool.running == 0
    assert pool.limit == pool.core == 2, "back to core once calls finish"
    pool.shutdown()


def test_quick_calls_stay_within_core() -> None:
    pool = WorkerPool(64, core=3, grow_after=5.0)  # no growth within the test
    gauge = Gauge()

    def quick(n: int) -> int:
        with gauge:
            return n * 2

    async def main() -> list[int]:
        return await asyncio.gather(*(pool.run(quick, n) for n in range(200)))

    assert asyncio.run(main()) == [n * 2 for n in range(200)]
    assert gauge.most <= 3
    assert pool.running == 0
    pool.shutdown()


def test_a_cancelled_waiting_call_gives_its_turn_back() -> None:
    pool = WorkerPool(1, core=1, grow_after=5.0)
    release = threading.Event()

    async def main() -> str:
        first = asyncio.ensure_future(pool.run(release.wait, 10))
        await asyncio.sleep(0.01)
        waiting = asyncio.ensure_future(pool.run(lambda: "never"))
        await asyncio.sleep(0.01)
        await cancel(waiting)
        release.set()
        await first
        return await pool.run(lambda: "after")

    assert asyncio.run(main()) == "after"
    assert pool.running == 0
    pool.shutdown()


def test_context_variables_reach_the_worker() -> None:
    pool = WorkerPool(2)
    var: contextvars.ContextVar[str] = contextvars.ContextVar("var")

    async def main() -> Any:
        var.set("from the request")
        return await pool.run(var.get)

    assert asyncio.run(main()) == "from the request"
    pool.shutdown()


def test_errors_reach_the_caller_and_free_the_slot() -> None:
    pool = WorkerPool(1, core=1)

    def boom() -> None:
        raise KeyError("x")

    async def main() -> None:
        with pytest.raises(KeyError):
            await pool.run(boom)

    asyncio.run(main())
    assert pool.running == 0
    pool.shutdown()


def test_sizes_are_checked() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        WorkerPool(0)
    assert 1 <= default_core_threads(64) <= 64
    assert default_core_threads(1) == 1
    assert WorkerPool(4, core=10).core == 4


def test_a_caller_that_gives_up_mid_call_does_not_hold_up_the_next_call() -> None:
    pool = WorkerPool(2, core=1, grow_after=5.0)
    release = threading.Event()

    async def main() -> str:
        stuck = asyncio.ensure_future(pool.run(release.wait, 10))
        await asyncio.sleep(0.02)
        await cancel(stuck)  # the thread still runs release.wait
        # The slot is free and a second thread takes the call while the first is busy.
        after = await asyncio.wait_for(pool.run(lambda: "served"), 5)
        release.set()
        return after

    assert asyncio.run(main()) == "served"
    assert pool.running == 0
    pool.shutdown()


def test_shutdown_cancels_calls_no_thread_has_started() -> None:
    pool = WorkerPool(1, core=1, grow_after=5.0)
    release = threading.Event()

    async def main() -> None:
        started = threading.Event()

        def busy() -> bool:
            started.set()
            return release.wait(10)

        first = asyncio.ensure_future(pool.run(busy))
        await asyncio.to_thread(started.wait, 5)
        await cancel(first)  # its slot is free, but its one thread is still busy
        queued = asyncio.ensure_future(pool.run(lambda: "never"))
        await asyncio.sleep(0.02)
        assert not queued.done(), "waits for the only thread"
        pool.shutdown()
        with pytest.raises(asyncio.CancelledError):
            await asyncio.wait_for(queued, 5)
        release.set()
        with pytest.raises(RuntimeError, match="shut down"):
            await pool.run(lambda: "late")

    asyncio.run(main())


def test_a_pool_dropped_without_shutdown_ends_its_threads() -> None:
    import gc

    pool = WorkerPool(4, core=4)

    async def main(pool: WorkerPool) -> None:
        await asyncio.gather(*(pool.run(lambda: None) for _ in range(4)))

    asyncio.run(main(pool))
    threads = list(pool._threads)
    assert threads and all(thread.is_alive() for thread in threads)
    del pool
    gc.collect()
    for thread in threads:
        thread.join(5)
    assert not any(thread.is_alive() for thread in threads)


def test_stop_iteration_reaches_the_caller_as_a_runtime_error() -> None:
    pool = WorkerPool(1, core=1)

    def stops() -> None:
        raise StopIteration

    async def main() -> None:
        with pytest.raises(RuntimeError, match="StopIteration"):
            await asyncio.wait_for(pool.run(stops), 5)

    asyncio.run(main())
    assert pool.running == 0
    pool.shutdown()


def test_shutdown_from_another_thread_never_strands_a_caller() -> None:
    for _ in range(20):
        pool = WorkerPool(2, core=2)

        async def main(pool: WorkerPool = pool) -> list[Any]:
            stopper = threading.Thread(target=pool.shutdown)
            calls = [asyncio.ensure_future(pool.run(lambda: "ran")) for _ in range(8)]
            stopper.start()
            outcomes = await asyncio.wait_for(asyncio.gather(*calls, return_exceptions=True), 5)
            stopper.join(5)
            return outcomes

        for outcome in asyncio.run(main()):
            assert outcome == "ran" or isinstance(outcome, RuntimeError | asyncio.CancelledError)


def test_a_cancelled_call_with_stop_is_told_and_waited_for() -> None:
    pool = WorkerPool(1, core=1)
    started, steps = threading.Event(), []

    def run(stop: threading.Event) -> str:
        started.set()
        while not stop.wait(0.01):
            steps.append(1)
        steps.append("stopped")
        return "done"

    async def main() -> None:
        stop = threading.Event()
        call = asyncio.ensure_future(pool.run(run, stop, stop=stop))
        while not started.is_set():
            await asyncio.sleep(0.005)
        await cancel(call)
        # The caller's cancellation came only after the function saw ``stop`` and returned.
        assert stop.is_set()
        assert steps[-1] == "stopped"
        assert pool._stopping == {}
        assert await asyncio.wait_for(pool.run(lambda: "next"), 5) == "next"

    asyncio.run(main())
    assert pool.running == 0
    pool.shutdown()


def test_a_call_with_stop_cancelled_before_it_starts_never_runs() -> None:
    pool = WorkerPool(1, core=1, grow_after=5.0)
    release, ran = threading.Event(), []

    async def main() -> None:
        first = asyncio.ensure_future(pool.run(release.wait, 5))
        await asyncio.sleep(0.01)
        stop = threading.Event()
        queued = asyncio.ensure_future(pool.run(ran.append, 1, stop=stop))
        await asyncio.sleep(0.01)
        queued.cancel()
        release.set()
        with pytest.raises(asyncio.CancelledError):
            await asyncio.wait_for(queued, 5)
        assert await first is True
        assert ran == []

    asyncio.run(main())
    pool.shutdown()


def test_shutdown_never_strands_a_caller_waiting_for_its_stopped_call() -> None:
    for _ in range(20):
        pool = WorkerPool(2, core=2)

        async def main(pool: WorkerPool = pool) -> list[Any]:
            stop = threading.Event()
            calls = [asyncio.ensure_future(pool.run(stop.wait, 0.02, stop=stop)) for _ in range(8)]
            await asyncio.sleep(0)
            for call in calls[::2]:
                call.cancel()
            stopper = threading.Thread(target=pool.shutdown)
            stopper.start()
            outcomes = await asyncio.wait_for(asyncio.gather(*calls, return_exceptions=True), 5)
            stopper.join(5)
            return outcomes

        for outcome in asyncio.run(main()):
            assert outcome in (True, False) or isinstance(
                outcome, RuntimeError | asyncio.CancelledError
            )
