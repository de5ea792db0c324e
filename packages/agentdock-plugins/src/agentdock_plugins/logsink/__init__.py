"""Built-in plugin: one structured log line per telemetry event on stdout.

JSON lines (the fields of PRD 5.7.7 plus ``trace_id``, ready for FluentBit or Loki) at the
Dockfile's ``observability.log_level``, or one human-readable line per event with
``AGENTDOCK_LOG_FORMAT=text``. Lines are written by a thread from a bounded buffer, so a
slow stdout never holds up the telemetry drain.

A library writes nothing to stdout on its own: with ``AGENTDOCK_LOG_FORMAT`` unset (an agent
embedded with ``agentdock.app``, or driven by ``agentdock.testing`` in a notebook) no sink is
built. ``agentdock serve`` and the container entrypoint set it to the format of their run
(:mod:`agentdock_runtime.logconfig`); ``AGENTDOCK_LOG_FORMAT=off`` builds no sink either.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from agentdock import hookimpl

if TYPE_CHECKING:
    from agentdock.spec import DockSpec

    from agentdock_plugins.logsink.sink import LogSink

__all__ = ["FORMAT_ENV", "agentdock_register_telemetry_sinks", "log_sink"]

#: ``json``, ``text`` or ``off``; unset: no sink (set by the programs that serve a run).
FORMAT_ENV = "AGENTDOCK_LOG_FORMAT"


def log_sink(spec: DockSpec) -> LogSink | None:
    """The log sink for ``spec``; ``None`` when ``AGENTDOCK_LOG_FORMAT`` is unset or ``off``."""
    from agentdock_plugins.logsink.sink import LogSink, format_from_env

    fmt = format_from_env(os.environ.get(FORMAT_ENV))
    if fmt in ("off", "auto"):
        return None
    return LogSink(spec, fmt=fmt)


@hookimpl
def agentdock_register_telemetry_sinks(register: Any) -> None:
    register("logs", log_sink, description="Structured JSON log lines on stdout")
