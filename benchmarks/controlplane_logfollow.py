"""How late a runtime's log line reaches a follower of ``GET /controller/logs/{agent}/follow``.

    uv run python benchmarks/controlplane_logfollow.py [--lines 30] [--gap 0.13] [--leaves 20]

The local target's own ``logs(follow=True)`` reads a log file (its handle names this
process as the supervisor, so the follow never ends by itself) and the control plane's
:func:`~agentdock_plugins.controlplane.logfollow.follow_log` hands each line from its thread
to the event loop, as the SSE route does. A line is appended every ``--gap`` seconds (not a
multiple of the target's 0.2 s poll, so lines land at every point of it); each delay is
from the write to the line coming out of ``follow_log``. The baseline is the same hand-off
from an iterator that yields at once (no file, no poll): the thread and loop cost alone.
Figures: p50 / p95 / max in milliseconds. The HTTP framing (microseconds) is not included.

Then how soon a follower whose client left frees its place (``--leaves`` times): the
stream is closed as the server closes it when its client goes, on a log nobody writes to,
and the delay runs to the follower's thread giving its place back. The baseline is the
same log read through a plain iterator, which cannot be stopped: its thread waits for a
next line (none comes within the 2 s it is given; then it is stopped by hand).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import queue
import statistics
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

from agentdock_plugins.controlplane.logfollow import Followers, follow_log
from agentdock_plugins.local.target import LocalTarget


def _figures(name: str, delays: list[float]) -> None:
    ms = sorted(d * 1000 for d in delays)
    p95 = ms[min(len(ms) - 1, int(len(ms) * 0.95))]
    print(
        f"{name:<44} p50 {statistics.median(ms):7.2f} ms  p95 {p95:7.2f} ms  max {ms[-1]:7.2f} ms"
    )


async def _follow(lines: Iterator[str], count: int, written: dict[str, float]) -> list[float]:
    delays = []
    async for item in follow_log(lines, None, Followers(), 15.0):
        if isinstance(item, str) and item in written:
            delays.append(time.perf_counter() - written[item])
            if len(delays) == count:
                break
    return delays


def _file_log(path: Path, count: int, gap: float) -> list[float]:
    handle = {"log": str(path), "pid": os.getpid()}
    lines = LocalTarget().logs(handle, 0, True)
    written: dict[str, float] = {}

    def write() -> None:
        time.sleep(0.3)
        for n in range(count):
            line = f"12:00:00.000 INFO  bench line {n}"
            with path.open("a", encoding="utf-8") as fh:
                written[line] = time.perf_counter()
                fh.write(line + "\n")
            time.sleep(gap)

    threading.Thread(target=write, daemon=True).start()
    return asyncio.run(_follow(lines, count, written))


def _handoff(count: int, gap: float) -> list[float]:
    feed: queue.Queue[str] = queue.Queue()
    written: dict[str, float] = {}

    def lines() -> Iterator[str]:
        while True:
            yield feed.get()

    def write() -> None:
        time.sleep(0.3)
        for n in range(count):
            line = f"line {n}"
            written[line] = time.perf_counter()
            feed.put(line)
            time.sleep(gap)

    threading.Thread(target=write, daemon=True).start()
    return asyncio.run(_follow(lines(), count, written))


async def _leave(lines: Iterator[str], followers: Followers, patience: float) -> float | None:
    """Take the first line, leave, and time the place's return (None: not within
    ``patience`` seconds)."""
    stream = follow_log(lines, None, followers, 15.0)
    async for item in stream:
        assert isinstance(item, str), item
        break
    left = time.perf_counter()
    await stream.aclose()  # what the server does when the client goes
    while followers.taken:
        if time.perf_counter() - left > patience:
            return None
        await asyncio.sleep(0.001)
    return time.perf_counter() - left


def _leaves(path: Path, count: int) -> tuple[list[float], int]:
    """Release delays through the target's FollowedLog; how many of ``count`` plain
    iterators were released within 2 s."""
    handle = {"log": str(path), "pid": os.getpid()}
    stoppable = []
    for _ in range(count):
        done = asyncio.run(_leave(LocalTarget().logs(handle, 1, True), Followers(), 10.0))
        assert done is not None, "a stoppable follower was never released"
        stoppable.append(done)
    released = 0
    for _ in range(min(count, 3)):  # each takes the 2 s it is given
        inner = LocalTarget().logs(handle, 1, True)
        plain = (line for line in inner)
        followers = Followers()
        released += asyncio.run(_leave(plain, followers, 2.0)) is not None
        inner.stop()  # by hand, so the thread ends before the next one
        while followers.taken:
            time.sleep(0.01)
    return stoppable, released


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=30)
    parser.add_argument("--gap", type=float, default=0.13)
    parser.add_argument("--leaves", type=int, default=20)
    args = parser.parse_args()
    base = _handoff(args.lines, args.gap)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "runtime.log"
        path.write_text("12:00:00.000 INFO  started\n")
        followed = _file_log(path, args.lines, args.gap)
        leaves, plain_released = _leaves(path, args.leaves)
    _figures("thread → loop hand-off (baseline)", base)
    _figures("local target log file → follower", followed)
    print(
        f"ratio of p50s: {statistics.median(followed) / statistics.median(base):.0f}x "
        "(the target's 0.2 s poll of its file dominates)"
    )
    _figures("client left → follower's place free", leaves)
    print(
        f"plain iterator (baseline): {plain_released} of {min(args.leaves, 3)} released "
        "within 2 s (each waits for the log's next line)"
    )


if __name__ == "__main__":
    main()
