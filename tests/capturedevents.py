"""A telemetry sink plugin for tests that keeps every event the runtime sends it."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from agentdock import hookimpl


class CapturedEvents:
    """Registered as the sink ``captured``; ``events`` holds what it was sent, in order."""

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []

    async def emit(self, events: Any) -> None:
        self.events.extend(events)

    async def flush(self) -> None:
        return None

    @hookimpl
    def agentdock_register_telemetry_sinks(self, register: Any) -> None:
        register("captured", lambda spec: self)

    def of_run(self, run_id: str) -> list[dict[str, Any]]:
        """The run's events, once its ``run_end`` arrived (they are queued, not awaited)."""
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            found = [e for e in list(self.events) if e.get("run_id") == run_id]
            if any(e["event"] == "run_end" for e in found):
                return found
            time.sleep(0.02)
        raise AssertionError(f"no run_end for {run_id}")


@contextmanager
def served_with_events(dockfile: Path, agent: str) -> Iterator[dict[str, Any]]:
    """The agent of ``dockfile`` served on a free port with the built-in LangGraph, Litestar,
    auth and policy plugins and a :class:`CapturedEvents` sink: ``url``, a stored key per
    role (``developer``, ``viewer``) in ``keys``, and the sink in ``events``."""
    import agentdock_plugins.auth
    import agentdock_plugins.langgraph
    import agentdock_plugins.litestar
    import agentdock_plugins.policies
    from agentdock import app, make_plugin_manager
    from agentdock.registry import open_store
    from auth_support import stored_key
    from served import serving

    with open_store() as store:
        keys = {role: stored_key(store, agent, role)[0].key for role in ("developer", "viewer")}
    captured = CapturedEvents()
    plugins = make_plugin_manager(
        plugins=[
            agentdock_plugins.langgraph,
            agentdock_plugins.litestar,
            agentdock_plugins.auth,
            agentdock_plugins.policies,
            ("captured", captured),
        ]
    )
    with serving(app(dockfile, plugins=plugins)) as port:
        yield {"url": f"http://127.0.0.1:{port}", "keys": keys, "events": captured}


@contextmanager
def served_project(
    root: Path, agent: str, module: str, graph: str, dockfile: str
) -> Iterator[dict[str, Any]]:
    """A project in ``root`` (``module``.py holding ``graph``, and ``dockfile``) served as by
    :func:`served_with_events`, with a home of its own under ``root`` and no Redis or
    LangSmith/LangGraph key from the developer's environment; everything undone after."""
    import shutil

    import pytest

    monkey = pytest.MonkeyPatch()
    monkey.setenv("AGENTDOCK_HOME", str(root / "home"))
    for name in ("AGENTDOCK_REDIS_URL", "LANGGRAPH_API_KEY", "LANGSMITH_API_KEY"):
        monkey.delenv(name, raising=False)
    project = root / "proj"
    project.mkdir()
    (project / f"{module}.py").write_text(graph, encoding="utf-8")
    (project / "Dockfile.yaml").write_text(dockfile, encoding="utf-8")
    monkey.chdir(project)
    monkey.syspath_prepend(str(project))
    try:
        with served_with_events(project / "Dockfile.yaml", agent) as served:
            yield served
    finally:
        monkey.undo()
        shutil.rmtree(root, ignore_errors=True)
