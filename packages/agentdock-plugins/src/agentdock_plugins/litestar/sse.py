"""Server-Sent Events over a pipeline stream: frames, heartbeats, cancellation and resume.

The agent advances in a child task so the response can send ``: ping`` comments while it is
idle. When the client goes away, Litestar cancels the response; the ``finally`` below then
cancels the child task (the cancellation reaches the agent) and waits for it, shielded, so no
task of the run outlives the request.

**Resume.** Every frame's ``id:`` is ``<run_id>:<n>`` (``n`` counts from 1). The frames of
recent streams are kept in a bounded in-memory window, :class:`StreamReplay`:

* at most ``max_frames`` frames and ``max_bytes`` bytes per run (default 256 and 64 KiB,
  the latest ones), so the window never holds more than ``max_runs × max_bytes``;
* a run is kept while its stream is open and ``ttl_sec`` seconds after it ends (default 60);
* at most ``max_runs`` runs (default 1024); past that the oldest is forgotten first.

A client that reconnects to ``GET /stream`` or ``POST /stream`` with the header
``Last-Event-ID: <run_id>:<n>`` is sent the frames after ``n`` from the window, without
running the agent again; while the original stream is still open it then follows it live.
The resuming request needs the same credentials as a run, and only the caller who started
a stream (the same subject) may resume it; to anyone else the id is unknown. The input
(query or body) is ignored. A run that stopped without its ``end`` or ``error`` frame (its
client went away, which cancels the run) closes the resumed stream with an ``error`` frame
named ``StreamInterrupted`` (code 409).

An id the window cannot serve (malformed, unknown, expired, or its frames after ``n`` no
longer held) is answered **409** ``StreamNotResumable`` before any frame, never with a fresh
run: rerunning an agent may repeat its side effects (a refund, a sent mail), so starting a
new run is the client's decision (send the request again without ``Last-Event-ID``).
The window lives in one process: behind several replicas a resume needs sticky sessions.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict, deque
from collections.abc import AsyncGenerator, AsyncIterator, Callable

import anyio
from agentdock_runtime import InternalError, RuntimeHTTPError, StreamItem

from agentdock_plugins.litestar.encoding import sse_comment, sse_frame

__all__ = [
    "DEFAULT_REPLAY_BYTES",
    "DEFAULT_REPLAY_FRAMES",
    "DEFAULT_REPLAY_RUNS",
    "DEFAULT_REPLAY_TTL_SEC",
    "StreamReplay",
    "parse_event_id",
    "sse_stream",
]

log = logging.getLogger("agentdock.server")

_PING = sse_comment("ping")
_TERMINAL = frozenset({"end", "error"})

#: Frames kept per run (the latest ones).
DEFAULT_REPLAY_FRAMES = 256
#: Bytes of frames kept per run (the latest ones).
DEFAULT_REPLAY_BYTES = 64 * 1024
#: Seconds a run's frames are kept after its stream ends.
DEFAULT_REPLAY_TTL_SEC = 60.0
#: Runs kept at most; the oldest is forgotten first.
DEFAULT_REPLAY_RUNS = 1024


def not_resumable(
    detail: str, run_id: str | None = None, trace_id: str | None = None
) -> RuntimeHTTPError:
    """The 409 for a ``Last-Event-ID`` the window cannot serve."""
    error = RuntimeHTTPError(409, "StreamNotResumable", detail, path="Last-Event-ID")
    error.run_id, error.trace_id = run_id, trace_id
    return error


def parse_event_id(value: str) -> tuple[str, int]:
    """``(run_id, n)`` from ``<run_id>:<n>``; :func:`not_resumable` when it is not one."""
    run_id, sep, number = value.strip().rpartition(":")
    if not sep or not run_id or not number.isdigit() or len(number) > 9:
        raise not_resumable("Last-Event-ID must be <run_id>:<n>, as sent in the id: field")
    return run_id, int(number)


class _Recording:
    """The frames of one run, kept for clients that reconnect."""

    __slots__ = (
        "changed",
        "finished_at",
        "frames",
        "last",
        "max_bytes",
        "owner",
        "run_id",
        "size",
        "terminal",
        "trace_id",
    )

    def __init__(
        self,
        run_id: str,
        max_frames: int,
        max_bytes: int,
        owner: str | None,
        trace_id: str | None = None,
    ) -> None:
        self.run_id = run_id
        #: The run's W3C trace id (``x-trace-id`` of a resumed stream).
        self.trace_id = trace_id
        self.owner = owner
        self.max_bytes = max_bytes
        self.size = 0
        self.frames: deque[tuple[int, bytes]] = deque(maxlen=max_frames)
        self.last = 0
        self.terminal = False
        self.finished_at: float | None = None
        self.changed = asyncio.Event()

    def _wake(self) -> None:
        self.changed.set()
        self.changed = asyncio.Event()

    def add(self, n: int, frame: bytes, event: str) -> None:
        frames = self.frames
        if len(frames) == frames.maxlen:
            self.size -= len(frames[0][1])
        frames.append((n, frame))
        self.size += len(frame)
        while self.size > self.max_bytes and len(frames) > 1:
            self.size -= len(frames.popleft()[1])
        self.last = n
        self.terminal = event in _TERMINAL
        self._wake()

    def finish(self, now: float) -> None:
        self.finished_at = now
        self._wake()

    def holds_after(self, n: int) -> bool:
        """Whether every frame after ``n`` that was recorded is still held."""
        if n >= self.last or not self.frames:
            return True
        return self.frames[0][0] <= n + 1


class StreamReplay:
    """The bounded window of recent streams' frames (see the module docstring)."""

    def __init__(
        self,
        *,
        max_frames: int = DEFAULT_REPLAY_FRAMES,
        max_bytes: int = DEFAULT_REPLAY_BYTES,
        ttl_sec: float = DEFAULT_REPLAY_TTL_SEC,
        max_runs: int = DEFAULT_REPLAY_RUNS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if max_frames < 1 or max_runs < 1 or max_bytes < 1 or ttl_sec < 0:
            raise ValueError(
                "max_frames, max_bytes and max_runs must be positive, ttl_sec not negative"
            )
        self.max_frames = max_frames
        self.max_bytes = max_bytes
        self.ttl_sec = ttl_sec
        self.max_runs = max_runs
        self._clock = clock
        self._runs: OrderedDict[str, _Recording] = OrderedDict()

    def __len__(self) -> int:
        self._expire()
        return len(self._runs)

    def _expire(self) -> None:
        limit = self._clock() - self.ttl_sec
        expired = [
            run_id
            for run_id, rec in self._runs.items()
            if rec.finished_at is not None and rec.finished_at <= limit
        ]
        for run_id in expired:
            del self._runs[run_id]

    def start(
        self, run_id: str, owner: str | None = None, trace_id: str | None = None
    ) -> _Recording:
        """A new recording for ``run_id`` (traced as ``trace_id``) of the caller ``owner``,
        forgetting expired and then the oldest runs."""
        self._expire()
        self._runs.pop(run_id, None)
        while len(self._runs) >= self.max_runs:
            self._runs.popitem(last=False)
        rec = _Recording(run_id, self.max_frames, self.max_bytes, owner, trace_id)
        self._runs[run_id] = rec
        return rec

    def finish(self, rec: _Recording) -> None:
        rec.finish(self._clock())

    def lookup(self, event_id: str, owner: str | None = None) -> tuple[_Recording, int]:
        """The recording and frame number a ``Last-Event-ID`` names (409 when it cannot).

        Another caller's stream answers exactly like an unknown one.
        """
        run_id, n = parse_event_id(event_id)
        self._expire()
        rec = self._runs.get(run_id)
        if rec is None or rec.owner != owner:
            raise not_resumable("the stream is unknown or has expired; start a new run")
        if n > rec.last and rec.finished_at is not None:
            raise not_resumable("the stream never sent that frame", run_id, rec.trace_id)
        if not rec.holds_after(n):
            raise not_resumable("the frames after that id are no longer held", run_id, rec.trace_id)
        return rec, n

    async def follow(
        self, rec: _Recording, after: int, *, heartbeat: float
    ) -> AsyncIterator[bytes]:
        """The frames of ``rec`` after ``after``, then live ones until its stream ends."""
        sent = after
        while True:
            if not rec.holds_after(sent):
                yield _interrupted(rec, "the resumed stream fell behind the frames still held")
                return
            for n, frame in list(rec.frames):
                if n > sent:
                    sent = n
                    yield frame
            if rec.finished_at is not None and sent >= rec.last:
                break
            changed = rec.changed
            if rec.last > sent or rec.finished_at is not None:
                continue
            try:
                await asyncio.wait_for(changed.wait(), timeout=heartbeat)
            except TimeoutError:
                yield _PING
        if not rec.terminal:
            yield _interrupted(rec, "the run stopped before its end; start a new run")


def _interrupted(rec: _Recording, detail: str) -> bytes:
    error = RuntimeHTTPError(409, "StreamInterrupted", detail)
    return sse_frame(StreamItem(rec.last + 1, "error", error.envelope(rec.run_id)), rec.run_id)


async def _next(items: AsyncGenerator[StreamItem, None]) -> StreamItem:
    return await anext(items)


async def sse_stream(
    first: StreamItem,
    items: AsyncGenerator[StreamItem, None],
    *,
    heartbeat: float,
    replay: StreamReplay | None = None,
) -> AsyncIterator[bytes]:
    """Yield ``first`` and every further item as SSE frames, with heartbeats while idle.

    With ``replay``, every frame is recorded (before it is sent) for clients that resume.
    """
    run_id = str(first.data.get("run_id", ""))
    rec = (
        replay.start(run_id, first.owner, first.data.get("trace_id"))
        if replay is not None and run_id
        else None
    )

    def frame(item: StreamItem) -> bytes:
        data = sse_frame(item, run_id)
        if rec is not None:
            rec.add(item.id, data, item.event)
        return data

    pending: asyncio.Task[StreamItem] | None = None
    try:
        yield frame(first)
        last_id = first.id
        while True:
            pending = asyncio.get_running_loop().create_task(_next(items))
            while True:
                done, _ = await asyncio.wait((pending,), timeout=heartbeat)
                if done:
                    break
                yield _PING
            task, pending = pending, None
            try:
                item = task.result()
                data = frame(item)
            except StopAsyncIteration:
                return
            except Exception as exc:
                log.error("run %s: stream failed with %s", run_id, type(exc).__name__)
                error = InternalError("the runtime failed to complete the run")
                yield frame(StreamItem(last_id + 1, "error", error.envelope(run_id)))
                return
            last_id = item.id
            yield data
    finally:
        with anyio.CancelScope(shield=True):
            if pending is not None:
                pending.cancel()
                await asyncio.wait((pending,))
            await items.aclose()
        if rec is not None and replay is not None:
            replay.finish(rec)
