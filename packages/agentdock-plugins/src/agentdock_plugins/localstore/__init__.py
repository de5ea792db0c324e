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

__all__ = ["MODE_ENV", "agentdock_register_telemetry_sinks", "has_backend", "localstore_sink"]

#: ``on``, ``off`` or ``auto`` (the default: on when no backend is configured).
MODE_ENV = "AGENTDOCK_LOCALSTORE"
_OTLP_ENV = ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")


def has_backend(spec: Any, env: Mapping[str, str] | None = None) -> bool:
    """Whether the spec or the environment names a telemetry backend (LangFuse, OTLP)."""
    env = os.environ if env is None else env
    observability = getattr(spec, "observability", None)
    if getattr(observability, "langfuse", None) is not None:
        return True
    for attr in ("endpoint", "otlp_endpoint"):
        if getattr(observability, attr, None):
            return True
    return any(env.get(name) for name in _OTLP_ENV)


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
