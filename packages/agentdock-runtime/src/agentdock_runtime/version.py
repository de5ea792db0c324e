"""Which version of its agent a runtime serves, for ``/health``, the OpenAPI document,
metrics and log lines alike."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from agentdock.spec import DockSpec

__all__ = ["VERSION_ENV", "served_version"]

#: The registry version a deploy target starts the runtime for.
VERSION_ENV = "AGENTDOCK_VERSION"


def served_version(spec: DockSpec | None, environ: Mapping[str, str] | None = None) -> str | None:
    """The Dockfile's ``metadata.version``, else the version a deploy target names in
    ``AGENTDOCK_VERSION`` (a deploy records one even when the Dockfile names none), else
    None (a runtime served from a working tree)."""
    named = spec.metadata.version if spec is not None else None
    env = os.environ if environ is None else environ
    return named or env.get(VERSION_ENV) or None
