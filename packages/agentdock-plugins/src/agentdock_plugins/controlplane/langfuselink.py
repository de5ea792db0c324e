"""Links from the Traces tab into LangFuse, for agents whose Dockfile configures it.

The host is the one the agent's runtime sends its traces to, found as the runtime finds
it: the recorded snapshot made a spec with the control plane's environment (the values a
deploy from here gives the runtime), the runtime's environment computed from it
(:func:`~agentdock.deployment.runenv.runtime_env`: the variables the Dockfile names and
``deploy.env``), then the LangFuse sink's own settings (``LANGFUSE_HOST``,
``LANGFUSE_BASE_URL``, ``observability.langfuse.host``, LangFuse Cloud). A run's LangFuse
trace has the run's trace id (32 hex digits, the OpenTelemetry id), and
``{host}/trace/{id}`` is LangFuse's address that opens a trace by id alone, in whatever
project holds it. Only the scheme, host, port and path of the host are kept in a link:
credentials written into a URL never reach a page.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from agentdock.deployment import DeployError
from agentdock.deployment.inputs import spec_of_snapshot
from agentdock.deployment.runenv import runtime_env
from agentdock.httperrors import RuntimeHTTPError
from agentdock.registry import VersionRecord

from agentdock_plugins.controlplane.agents import running_version
from agentdock_plugins.controlplane.state import ControlPlane
from agentdock_plugins.langfuse.config import SettingsError, langfuse_settings

__all__ = ["langfuse_host", "langfuse_of", "trace_link"]

_TRACE_ID = re.compile(r"^[0-9a-f]{32}$")


def langfuse_host(
    record: VersionRecord, environ: Mapping[str, str] | None = None, plugins: Any = None
) -> str | None:
    """The LangFuse address the version's runtime reports to, or None when its Dockfile
    configures no LangFuse (or its settings would stop the runtime); ``plugins``: the
    plugin manager the version was deployed with (see ``spec_of_snapshot``)."""
    values = os.environ if environ is None else environ
    try:
        spec, variables, _ = spec_of_snapshot(record, values, plugins)
    except DeployError:
        return None
    try:
        settings = langfuse_settings(spec, runtime_env(spec, variables, values))
    except SettingsError:
        return None
    if settings is None:
        return None
    parts = urlsplit(settings.host)
    try:
        port = parts.port
    except ValueError:
        return None
    host = parts.hostname
    if parts.scheme not in ("http", "https") or not host:
        return None
    netloc = f"[{host}]" if ":" in host else host  # an IPv6 address keeps its brackets
    netloc += "" if port is None else f":{port}"
    return urlunsplit((parts.scheme, netloc, parts.path.rstrip("/"), "", ""))


def trace_link(host: str | None, trace_id: object) -> str | None:
    """The LangFuse page of one trace, or None (no LangFuse, or not a trace id)."""
    if host is None or not isinstance(trace_id, str) or not _TRACE_ID.match(trace_id):
        return None
    return f"{host}/trace/{trace_id}"


def langfuse_of(plane: ControlPlane, agent: str) -> str | None:
    """The LangFuse address of the version the agent runs (None: no LangFuse), found once
    per version."""
    try:
        record = running_version(plane, agent)
    except RuntimeHTTPError:
        return None
    if record.id not in plane.langfuse_hosts:
        plane.langfuse_hosts[record.id] = langfuse_host(record, plugins=plane.plugins)
    return plane.langfuse_hosts[record.id]
