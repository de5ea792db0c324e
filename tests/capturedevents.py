"""A telemetry sink plugin for tests that keeps every event the runtime sends it."""

from __future__ import annotations

import time
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
