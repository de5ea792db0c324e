"""Built-in plugin: the local telemetry collector, for runtimes with no telemetry backend.

When no telemetry sink built beside it exports the runs (LangFuse with its keys,
OpenTelemetry with ``OTEL_EXPORTER_OTLP_ENDPOINT`` or ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT``:
each says so with ``exports_runs = True``; the runtime hands this factory what it built, see
:func:`has_backend`), run, tool and policy rows land in a local SQLite file (see
:mod:`.store` for where and for the retention bounds) that ``agentdock metrics show`` and
``agentdock metrics export`` read. ``AGENTDOCK_LOCALSTORE=on`` keeps it even with a
backend, ``off`` never builds it.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from agentdock import hookimpl

if TYPE_CHECKING:
    from agentdock.spec import DockSpec

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


def has_backend(built: Mapping[str, Any]) -> bool:
    """Whether a sink built beside the collector sends the runs to a telemetry backend.

    A sink says so with ``exports_runs = True`` (the OpenTelemetry and LangFuse sinks). The
    runtime builds the collector after the other sinks and hands it what they built, so
    switching a backend off (``observability.tracing: false``, ``OTEL_SDK_DISABLED``, empty
    LangFuse keys) brings the collector back.
    """
    return any(getattr(sink, "exports_runs", False) is True for sink in built.values())


def localstore_sink(
    spec: DockSpec, built: Mapping[str, Any] = MappingProxyType({})
) -> LocalStoreSink | None:
    """The collector for ``spec``, or ``None`` when a backend receives the telemetry.

    :param built: the other telemetry sinks of the pipeline, by name.
    """
    mode = (os.environ.get(MODE_ENV) or "auto").strip().lower()
    if mode not in {"on", "off", "auto"}:
        raise ValueError(f"{MODE_ENV} must be on, off or auto, got {mode!r}")
    if mode == "off" or (mode == "auto" and has_backend(built)):
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
