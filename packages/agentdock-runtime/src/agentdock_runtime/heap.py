"""Keeping what the runtime loads at start-up out of the garbage collector's way."""

from __future__ import annotations

import gc

__all__ = ["STARTUP_YOUNG_THRESHOLD", "YOUNG_THRESHOLD", "freeze_startup_heap", "quiet_startup"]

#: Allocations (less deallocations) of container objects between two collections of the
#: youngest generation; Python's default is 700.
YOUNG_THRESHOLD = 5000
#: The same while the process starts (imports, the agent's load): see :func:`quiet_startup`.
STARTUP_YOUNG_THRESHOLD = 50_000


def quiet_startup() -> None:
    """Collect the young generation only every :data:`STARTUP_YOUNG_THRESHOLD` allocations
    until :func:`freeze_startup_heap` (call first thing in a process that will serve).

    Importing LangGraph, Litestar and the plugins allocates some 120,000 container objects
    that all stay alive; at Python's default threshold the collector walks them again and
    again as they pile up (a tenth of the imports' CPU time on this machine), to find a few
    hundred objects of garbage. A bound rather than :func:`gc.disable`: an agent whose
    import makes cyclic garbage in a loop still has it collected.
    """
    _, middle, old = gc.get_threshold()
    gc.set_threshold(STARTUP_YOUNG_THRESHOLD, middle, old)


def freeze_startup_heap() -> None:
    """Exempt everything alive now from the cyclic garbage collector, and collect the young
    generation less often (call once, when the application is built and before it serves).

    The runtime imports a lot (LangChain, LangGraph, Litestar, the telemetry SDKs) and the
    agent may build large objects; every full collection would walk all of it again while
    requests wait, although none of it ever becomes garbage. Freezing it once, after one
    collection, leaves the collector only what requests allocate: on the echo graph, pinned
    to one core, 8 % more requests per second with a synchronous node and 25 % with an
    async one (``benchmarks/http_servers.py``).

    A run of a LangGraph graph allocates a few thousand container objects, most of them
    freed by reference counting when the run ends. Collected every 700 allocations, the
    objects of the 32 runs in flight are found alive, promoted, and walked again by the
    older generations' collections; every 5,000, most are gone before a collection looks.
    In process, 32 concurrent ``/invoke`` of the echo graph: CPU per request 897 → 797 µs
    with an async node, 696 → 670 µs with a synchronous one (best of 3; 20,000 and 100,000
    did no better: 833 and 895 µs with the async node). Only cyclic garbage waits longer
    to be freed; reference-counted objects are freed as before.

    The collection before the freeze is of the youngest generation only: it holds what was
    allocated since the last collection, where start-up's garbage is (on the echo agent 439
    of the 469 unreachable objects, 10 ms); the older generations hold what survived earlier
    collections, i.e. what stays, and a full pass over them (some 135,000 objects) cost 70 ms
    of CPU at every start to find the other 30.
    """
    gc.collect(0)
    gc.freeze()
    _, middle, old = gc.get_threshold()
    gc.set_threshold(YOUNG_THRESHOLD, middle, old)
