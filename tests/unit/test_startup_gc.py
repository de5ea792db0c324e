"""Start-up collects the young generation seldom: the runtime's entrypoint and the CLI
raise its threshold before they import the server, the plugins and the agent, and serving
brings it down to the serving threshold (``test_serving_freezes_the_start_up_heap``)."""

from __future__ import annotations

import gc
import runpy
from collections.abc import Iterator

import pytest
from agentdock_runtime import entrypoint
from agentdock_runtime.heap import STARTUP_YOUNG_THRESHOLD, YOUNG_THRESHOLD


@pytest.fixture
def thresholds() -> Iterator[tuple[int, int, int]]:
    before = gc.get_threshold()
    yield before
    gc.set_threshold(*before)


def test_the_runtime_entrypoint_starts_with_seldom_young_collections(
    thresholds: tuple[int, int, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[tuple[int, int, int]] = []
    monkeypatch.setattr(entrypoint, "main", lambda: seen.append(gc.get_threshold()) or 0)
    with pytest.raises(SystemExit) as exited:
        runpy.run_module("agentdock_runtime", run_name="__main__")
    assert exited.value.code == 0
    assert seen == [(STARTUP_YOUNG_THRESHOLD, *thresholds[1:])]
    assert thresholds[0] < YOUNG_THRESHOLD < STARTUP_YOUNG_THRESHOLD


def test_the_cli_runs_its_command_with_seldom_young_collections(
    thresholds: tuple[int, int, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    import agentdock_cli.main as cli_main

    seen: list[tuple[int, int, int]] = []
    monkeypatch.setattr(cli_main, "cli", lambda **_: seen.append(gc.get_threshold()))
    cli_main.main()
    assert seen == [(STARTUP_YOUNG_THRESHOLD, *thresholds[1:])]


def test_freezing_collects_the_young_garbage_first(thresholds: tuple[int, int, int]) -> None:
    import weakref

    from agentdock_runtime.heap import freeze_startup_heap

    class Node:
        other: object = None

    cycle = Node()
    cycle.other = cycle
    dead = weakref.ref(cycle)
    del cycle
    frozen_before = gc.get_freeze_count()
    try:
        freeze_startup_heap()
        assert dead() is None  # collected, not frozen for the life of the process
        assert gc.get_freeze_count() > frozen_before
        assert gc.get_threshold()[0] == YOUNG_THRESHOLD
    finally:
        gc.unfreeze()
