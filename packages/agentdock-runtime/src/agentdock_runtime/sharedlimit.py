"""Rate limits shared by the processes of one host, in a memory-mapped file.

``agentdock serve --workers N`` runs N processes (uvicorn spawns them; they inherit nothing
but the environment). Each keeping its own budgets would give a caller N times its limit, so
``serve`` names a fresh file in ``AGENTDOCK_RATELIMIT_FILE`` (on ``/dev/shm`` where there is
one) and every worker maps it: one table of the callers' theoretical arrival times (the
one number GCRA keeps per caller), read and written under an exclusive ``flock`` held for
one lookup and one write. That runs on the event loop, like the in-memory limiter: the
file is memory (a tmpfs, or pages the kernel writes back on its own time), and the lock is
held for microseconds (``benchmarks/ratelimit.py``: about 1.7 µs a decision, against 0.4 µs
in one process's memory).

Why a file lock and a mapped file: the workers are spawned, not forked, so a lock or a
shared-memory block made by ``serve`` cannot be handed to them, while a path in the
environment can; ``flock`` is released by the kernel when a process dies, so a worker
killed mid-request never leaves the others waiting. Times are ``time.monotonic()``, one
clock for every process of the host (``CLOCK_MONOTONIC``). A TAT can never run more than
one period ahead; one that does was written under another clock (a file kept across a
reboot) and counts as none.

The table is fixed in size (:data:`SLOTS` callers, 16 bytes each). A caller's slot is found
among :data:`PROBES` slots from its hash; a slot whose time has passed is free again (its
caller has its whole budget back). When all of them hold callers still within a period,
the one whose budget is closest to whole is forgotten (``evictions`` counts it): with
65,536 slots that takes tens of thousands of callers active at once.
"""

from __future__ import annotations

import fcntl
import functools
import hashlib
import mmap
import os
import struct
import threading
import time
from collections.abc import Callable

from agentdock_runtime.ratelimit import ALLOWED, SLACK_S, Decision, Rate, gcra_wait

__all__ = ["PROBES", "RATELIMIT_FILE_ENV", "SLOTS", "SharedLimiter", "SharedTableError"]

#: The file the processes of one host share their rate limits through.
RATELIMIT_FILE_ENV = "AGENTDOCK_RATELIMIT_FILE"
SLOTS = 1 << 16
PROBES = 8
_MAGIC = b"ADRLTAB1"
_HEADER = struct.Struct("<8sI")  # magic, slots
_HEADER_SIZE = 64
_SLOT = struct.Struct("<Qd")  # key hash (0: never used), TAT (monotonic seconds)


class SharedTableError(RuntimeError):
    """The rate-limit file cannot be opened, or is not one."""


@functools.lru_cache(maxsize=65536)
def _hash(key: str) -> int:
    """A caller's 64-bit hash, the same in every process (``hash()`` is salted per process)."""
    digest = hashlib.blake2b(key.encode("utf-8", "surrogatepass"), digest_size=8).digest()
    return int.from_bytes(digest, "little") or 1


class _TableLock:
    """The table's exclusive lock: this process's threads first, then the file's ``flock``.

    ``flock`` excludes other processes, but the threads of one process share its lock, so
    they take a thread lock first (requests run on one event loop: it is never contended).
    One instance per table, made when the table opens, so a decision builds nothing."""

    __slots__ = ("_fd", "_threads")

    def __init__(self, fd: int) -> None:
        self._fd = fd
        self._threads = threading.Lock()

    def __enter__(self) -> None:
        self._threads.acquire()
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX)
        except BaseException:
            self._threads.release()
            raise

    def __exit__(self, *exc: object) -> None:
        try:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
        finally:
            self._threads.release()


class SharedLimiter:
    """GCRA over a table in ``path`` shared by every process that opens it.

    :param path: the table's file; created (empty) when missing.
    :param slots: callers the table holds, a power of two; every process sharing the file
        must give the same.
    :raises SharedTableError: the file cannot be opened, or holds something else.
    """

    backend = "local"
    fallbacks = 0

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        clock: Callable[[], float] = time.monotonic,
        slots: int = SLOTS,
    ) -> None:
        if slots < 1 or slots & (slots - 1):
            raise ValueError(f"slots must be a power of two, not {slots}")
        self.path = str(path)
        self._clock = clock
        self._mask = slots - 1
        self._probes = min(PROBES, slots)
        size = _HEADER_SIZE + slots * _SLOT.size
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        except OSError as exc:
            raise SharedTableError(
                f"cannot open the rate-limit table {self.path}: {exc.strerror}"
            ) from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            try:
                _prepare(fd, self.path, slots, size)
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)
            self._map = mmap.mmap(fd, size)
        except BaseException:
            os.close(fd)
            raise
        self._fd = fd
        self._lock = _TableLock(fd)
        #: Callers forgotten because every slot they could take held a caller within its period.
        self.evictions = 0

    # -- LocalLimiter ----------------------------------------------------------------------

    def hit_now(self, key: str, rate: Rate, cost: int = 1) -> Decision:
        h = _hash(key)
        with self._lock:
            now = self._clock()
            offset, tat = self._find(h)
            if tat < now or tat - now > rate.period + rate.interval:
                tat = now
            wait = gcra_wait(tat, now, rate, cost)
            if wait > SLACK_S:
                return Decision(False, wait)
            self._store(h, offset, tat + rate.interval * cost, now)
            return ALLOWED

    async def hit(self, key: str, rate: Rate, cost: int = 1) -> Decision:
        return self.hit_now(key, rate, cost)

    def ahead(self, key: str) -> float:
        h = _hash(key)
        with self._lock:
            offset, tat = self._find(h)
            return 0.0 if offset < 0 else tat - self._clock()

    def observe(self, key: str, ahead: float) -> None:
        h = _hash(key)
        with self._lock:
            now = self._clock()
            offset, tat = self._find(h)
            if now + ahead > max(tat, now):
                self._store(h, offset, now + ahead, now)

    async def close(self) -> None:
        if not self._map.closed:
            self._map.close()
            os.close(self._fd)

    # -- the table (callers hold the lock) --------------------------------------------------

    def _find(self, h: int) -> tuple[int, float]:
        """(offset of the caller's slot, its TAT), or (-1, -inf) when it has none."""
        table = self._map
        start = h & self._mask
        for probe in range(self._probes):
            offset = _HEADER_SIZE + ((start + probe) & self._mask) * _SLOT.size
            held, tat = _SLOT.unpack_from(table, offset)
            if held == h:
                return offset, tat
            if held == 0:  # never used: the caller was never placed past it
                break
        return -1, float("-inf")

    def _store(self, h: int, offset: int, tat: float, now: float) -> None:
        if offset < 0:
            offset = self._free_slot(h, now)
        _SLOT.pack_into(self._map, offset, h, tat)

    def _free_slot(self, h: int, now: float) -> int:
        """The first slot of ``h``'s window that is unused or whose caller has its whole
        budget back; else the one closest to that (its caller is forgotten)."""
        table = self._map
        start = h & self._mask
        oldest, oldest_tat = -1, float("inf")
        for probe in range(self._probes):
            offset = _HEADER_SIZE + ((start + probe) & self._mask) * _SLOT.size
            held, tat = _SLOT.unpack_from(table, offset)
            if held == 0 or tat <= now:
                return offset
            if tat < oldest_tat:
                oldest, oldest_tat = offset, tat
        self.evictions += 1
        return oldest


def _prepare(fd: int, path: str, slots: int, size: int) -> None:
    """Make the file an empty table, unless it is one already (the lock is held)."""
    header = _HEADER.pack(_MAGIC, slots)
    current = os.fstat(fd).st_size
    if current:
        found = os.pread(fd, _HEADER.size, 0)
        if not found.startswith(_MAGIC):
            raise SharedTableError(f"{path} exists and is not a rate-limit table")
        if found != header or current != size:
            raise SharedTableError(f"{path} is a rate-limit table of another size")
        return
    os.ftruncate(fd, size)
    os.pwrite(fd, header, 0)
