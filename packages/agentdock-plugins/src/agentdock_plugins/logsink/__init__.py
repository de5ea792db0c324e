"""Built-in plugin: one structured log line per telemetry event on stdout.

JSON lines (the fields of PRD 5.7.7 plus ``trace_id``, ready for FluentBit or Loki) at the
Dockfile's ``observability.log_level``; one human-readable line per event when stdout is a
terminal or ``AGENTDOCK_LOG_FORMAT=text`` (``agentdock serve`` sets it). Lines are written
by a thread from a bounded buffer, so a slow stdout never holds up the telemetry drain.
``AGENTDOCK_LOG_FORMAT=off`` builds no sink.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from agentdock import hookimpl

if TYPE_CHECKING:
    from agentdock_plugins.logsink.sink import LogSink

__all__ = ["FORMAT_ENV", "agentdock_register_telemetry_sinks", "log_sink"]

#: ``json``, ``text`` or ``off``; unset: text on a terminal, JSON otherwise.
FORMAT_ENV = "AGENTDOCK_LOG_FORMAT"


def log_sink(spec: Any) -> LogSink | None:
    """The log sink for ``spec``; ``None`` when ``AGENTDOCK_LOG_FORMAT=off``."""
    from agentdock_plugins.logsink.sink import LogSink, format_from_env

    fmt = format_from_env(os.environ.get(FORMAT_ENV))
    if fmt == "off":
        return None
    return LogSink(spec, fmt=fmt)


@hookimpl
def agentdock_register_telemetry_sinks(register: Any) -> None:
    register("logs", log_sink, description="Structured JSON log lines on stdout")
