"""LangFuse settings from the Dockfile and the environment, checked once at start-up.

The keys come from ``observability.langfuse`` (write them as ``${VAR}``); the host from
``LANGFUSE_HOST`` or ``LANGFUSE_BASE_URL`` when set, else ``observability.langfuse.host``,
else LangFuse Cloud. The offline buffer lives at ``langfuse-buffer.db`` in the AgentDock home
(``$AGENTDOCK_HOME``, else the one found from the working directory: :mod:`agentdock.home`),
unless ``AGENTDOCK_LANGFUSE_BUFFER`` names a file. A malformed number in one of the variables
below stops start-up with a message naming the variable (never its neighbours' values).
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from agentdock.home import agentdock_home

if TYPE_CHECKING:
    from agentdock.spec import DockSpec

__all__ = ["DEFAULT_HOST", "LangfuseSettings", "SettingsError", "langfuse_settings"]

DEFAULT_HOST = "https://cloud.langfuse.com"
HOME_ENV = "AGENTDOCK_HOME"
BUFFER_ENV = "AGENTDOCK_LANGFUSE_BUFFER"
MAX_BYTES_ENV = "AGENTDOCK_LANGFUSE_BUFFER_MAX_BYTES"
RETENTION_ENV = "AGENTDOCK_LANGFUSE_BUFFER_RETENTION_DAYS"
TIMEOUT_ENV = "AGENTDOCK_LANGFUSE_TIMEOUT"
BACKOFF_BASE_ENV = "AGENTDOCK_LANGFUSE_BACKOFF_BASE"
BACKOFF_MAX_ENV = "AGENTDOCK_LANGFUSE_BACKOFF_MAX"
SAMPLE_RATE_ENV = "LANGFUSE_SAMPLE_RATE"
ENVIRONMENT_ENVS = ("LANGFUSE_TRACING_ENVIRONMENT", "AGENTDOCK_ENVIRONMENT")


class SettingsError(ValueError):
    """A LangFuse setting in the environment is malformed."""


@dataclass(frozen=True)
class LangfuseSettings:
    """Everything the LangFuse sink needs; the keys are kept out of ``repr``."""

    public_key: str = field(repr=False)
    secret_key: str = field(repr=False)
    host: str = DEFAULT_HOST
    environment: str = "default"
    release: str | None = None
    buffer_path: Path = Path(".agentdock/langfuse-buffer.db")
    max_bytes: int = 64 * 1024 * 1024
    retention_s: float = 7 * 86_400.0
    timeout_s: float = 5.0
    backoff_base_s: float = 1.0
    backoff_max_s: float = 300.0
    sample_rate: float = 1.0


def _number(environ: Mapping[str, str], name: str, default: float, *, low: float) -> float:
    raw = environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise SettingsError(f"{name} must be a number, got {raw!r}") from None
    if not math.isfinite(value) or value < low:
        raise SettingsError(f"{name} must be a finite number >= {low:g}, got {raw!r}")
    return value


def langfuse_settings(
    spec: DockSpec, environ: Mapping[str, str] | None = None
) -> LangfuseSettings | None:
    """The settings for ``spec``, or ``None`` when its Dockfile configures no LangFuse keys.

    :raises SettingsError: a variable above is malformed, or the host is not http(s).
    """
    env = os.environ if environ is None else environ
    block = spec.observability.langfuse
    if block is None or not block.public_key or not block.secret_key:
        return None
    host = (
        env.get("LANGFUSE_HOST", "").strip()
        or env.get("LANGFUSE_BASE_URL", "").strip()
        or getattr(block, "host", None)  # Dockfile 1.1 and later
        or DEFAULT_HOST
    )
    if not host.startswith(("http://", "https://")):
        raise SettingsError("the LangFuse host must start with http:// or https://")
    explicit = env.get(BUFFER_ENV, "").strip()
    home = env.get(HOME_ENV, "").strip()
    if explicit:
        buffer_path = Path(explicit)
    elif home:
        buffer_path = Path(home) / "langfuse-buffer.db"
    else:
        buffer_path = agentdock_home(environ=env) / "langfuse-buffer.db"
    environment = next((env[n].strip() for n in ENVIRONMENT_ENVS if env.get(n, "").strip()), "")
    version = spec.metadata.version
    return LangfuseSettings(
        public_key=block.public_key,
        secret_key=block.secret_key,
        host=host.rstrip("/"),
        environment=environment or "default",
        release=version or env.get("LANGFUSE_RELEASE", "").strip() or None,
        buffer_path=buffer_path,
        max_bytes=int(_number(env, MAX_BYTES_ENV, 64 * 1024 * 1024, low=1024)),
        retention_s=_number(env, RETENTION_ENV, 7.0, low=0.0) * 86_400.0,
        timeout_s=_number(env, TIMEOUT_ENV, 5.0, low=0.001),
        backoff_base_s=_number(env, BACKOFF_BASE_ENV, 1.0, low=0.001),
        backoff_max_s=_number(env, BACKOFF_MAX_ENV, 300.0, low=0.001),
        sample_rate=_sample_rate(env),
    )


def _sample_rate(env: Mapping[str, str]) -> float:
    rate = _number(env, SAMPLE_RATE_ENV, 1.0, low=0.0)
    if rate > 1.0:
        raise SettingsError(f"{SAMPLE_RATE_ENV} must be between 0 and 1, got {rate:g}")
    return rate
