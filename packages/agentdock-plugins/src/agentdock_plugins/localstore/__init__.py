"""Built-in plugin: the local telemetry collector, for runtimes with no telemetry backend.

When neither LangFuse (``observability.langfuse``) nor an OTLP endpoint
(``OTEL_EXPORTER_OTLP_ENDPOINT`` or ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT``) is configured,
run, tool and policy rows land in a local SQLite file (see :mod:`.store` for where and for
the retention bounds) that ``agentdock metrics show`` and ``agentdock metrics export``
read. ``AGENTDOCK_LOCALSTORE=on`` keeps it even with a backend, ``off`` never builds it.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from agentdock import hookimpl

if TYPE_CHECKING:
    from agentdock_plugins.localstore.sink import LocalStoreSink

__all__ = [
    "MODE_ENV",
    "agentdock_register_commands",
    "agentdock_register_telemetry_sinks",
    "has_backend",
    "localstore_sink",
]

#: ``on``, ``off`` or ``auto`` (the default: on when no backend is configured).
MODE_ENV = "AGENTDOCK_LOCALSTORE"


def has_backend(spec: Any, env: Mapping[str, str] | None = None) -> bool:
    """Whether a telemetry backend (LangFuse, OTLP) really receives this spec's runs.

    Decided exactly as the LangFuse and OpenTelemetry sinks decide whether they are built,
    so switching one off (``observability.tracing: false``, ``OTEL_SDK_DISABLED``, empty
    LangFuse keys) brings the local collector back.
    """
    from agentdock_plugins.langfuse.config import langfuse_settings
    from agentdock_plugins.otel.config import traces_endpoint

    env = os.environ if env is None else env
    try:
        if langfuse_settings(spec, env) is not None:
            return True
    except Exception:  # a malformed LangFuse setting: the LangFuse sink refuses to start
        return True
    return traces_endpoint(spec, env) is not None


def localstore_sink(spec: Any) -> LocalStoreSink | None:
    """The collector for ``spec``, or ``None`` when a backend receives the telemetry."""
    mode = (os.environ.get(MODE_ENV) or "auto").strip().lower()
    if mode not in {"on", "off", "auto"}:
        raise ValueError(f"{MODE_ENV} must be on, off or auto, got {mode!r}")
    if mode == "off" or (mode == "auto" and has_backend(spec)):
        return None
    from agentdock_plugins.localstore.sink import LocalStoreSink

    return LocalStoreSink(spec)


@hookimpl
def agentdock_register_telemetry_sinks(register: Any) -> None:
    register(
        "localstore",
        localstore_sink,
        description="Local SQLite collector of runs, tools and policy events",
    )


@hookimpl
def agentdock_register_commands(cli: Any) -> None:
    """``agentdock metrics show|export``: read the local telemetry store."""
    from agentdock_plugins.localstore.commands import metrics_command

    cli.add_command(metrics_command)
