"""Where spans go and what resource they describe, from the Dockfile and ``OTEL_*``.

The environment wins over the Dockfile: an operator points one image at each
environment's collector without editing the file. ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`` is
used as given; ``OTEL_EXPORTER_OTLP_ENDPOINT`` and ``observability.otlp_endpoint`` are base
URLs that get ``/v1/traces`` appended, as the OTLP exporter specification says. The other
exporter variables (``OTEL_EXPORTER_OTLP_HEADERS``, ``..._TIMEOUT``, ``..._COMPRESSION``,
``..._CERTIFICATE``) are read by the SDK's exporter itself, and ``OTEL_TRACES_SAMPLER`` and
the span limits by its tracer provider.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from agentdock.spec import DockSpec

__all__ = [
    "ENDPOINT_ENV",
    "TRACES_ENDPOINT_ENV",
    "build_resource",
    "traces_endpoint",
]

log = logging.getLogger("agentdock.otel")

ENDPOINT_ENV = "OTEL_EXPORTER_OTLP_ENDPOINT"
TRACES_ENDPOINT_ENV = "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"
_PROTOCOL_ENVS = ("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "OTEL_EXPORTER_OTLP_PROTOCOL")


def traces_endpoint(spec: DockSpec, environ: Mapping[str, str]) -> str | None:
    """The OTLP/HTTP traces URL for ``spec``, or ``None`` when spans are not exported.

    Off when ``observability.tracing`` is false, when ``OTEL_SDK_DISABLED=true``, when
    ``OTEL_TRACES_EXPORTER`` names exporters but not ``otlp``, or when no endpoint is set.
    """
    observability = spec.observability
    if observability.tracing is False:
        return None
    if environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return None
    exporters = environ.get("OTEL_TRACES_EXPORTER", "").strip().lower()
    if exporters and "otlp" not in {name.strip() for name in exporters.split(",")}:
        return None
    traces = environ.get(TRACES_ENDPOINT_ENV, "").strip()
    # ``otlp_endpoint`` is a Dockfile 1.1 field.
    base = environ.get(ENDPOINT_ENV, "").strip() or getattr(observability, "otlp_endpoint", None)
    if not traces and not base:
        return None
    for name in _PROTOCOL_ENVS:
        protocol = environ.get(name, "").strip().lower()
        if protocol and protocol != "http/protobuf":
            log.warning(
                "%s=%s is not supported; spans are sent as OTLP/HTTP protobuf", name, protocol
            )
            break
    return traces or str(base).rstrip("/") + "/v1/traces"


def build_resource(spec: DockSpec) -> Any:
    """``service.name`` = the agent, ``service.version`` = ``metadata.version``, then
    ``OTEL_RESOURCE_ATTRIBUTES`` and ``OTEL_SERVICE_NAME`` on top."""
    from opentelemetry.sdk.resources import OTELResourceDetector, Resource

    own: dict[str, Any] = {"service.name": spec.agent.name}
    version = spec.metadata.version
    if version:
        own["service.version"] = version
    return Resource.create(own).merge(OTELResourceDetector().detect())
