"""What an image can leave out: distributions its runtime never imports.

Two kinds, both derived by running a runtime under ``python -X importtime`` and mapping
every module it loaded to its distribution (``benchmarks/runtime_imports.py`` prints the
list), and checked by a test that serves ``/invoke`` and ``/stream`` from a built image:

* :data:`NEVER_IMPORTED`: brought by a library for a feature AgentDock never uses (Litestar's
  test-data factories and their fake-data generator, Litestar's own command line);
* backends a Dockfile may not use (:func:`unused_backends`): the JWT library and
  ``cryptography`` unless ``auth.mode`` is ``jwt`` or ``oauth2``, the LangFuse SDK unless
  ``observability.langfuse`` names its keys. The runtime imports each only when the
  Dockfile asks for it, so an image of a Dockfile that does not is complete without them.

Backends chosen by the run-time environment (Postgres through ``AGENTDOCK_DATABASE_URL``,
Redis through ``AGENTDOCK_REDIS_URL``) stay: the image cannot know where it will run.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from agentdock_plugins.pydeps.dists import normalize_name

if TYPE_CHECKING:
    from agentdock.spec import DockSpec

__all__ = ["NEVER_IMPORTED", "drop_from_lock", "leave_out", "unused_backends", "without"]

#: Distributions no runtime imports: polyfactory (Litestar's DTO test factories) and the
#: faker it brings, and rich-click (Litestar's CLI).
NEVER_IMPORTED = frozenset({"faker", "polyfactory", "rich-click"})

#: Requirements of AgentDock imported only for a Dockfile feature.
_JWT = frozenset({"pyjwt", "cryptography"})
_LANGFUSE = frozenset({"langfuse"})

_NAME = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)")


def unused_backends(spec: DockSpec) -> frozenset[str]:
    """The feature requirements ``spec`` (a Dockfile) does not use."""
    out: set[str] = set()
    auth = getattr(spec, "auth", None)
    if str(getattr(auth, "mode", "") or "") not in ("jwt", "oauth2"):
        out |= _JWT
    observability = getattr(spec, "observability", None)
    block = getattr(observability, "langfuse", None)
    if block is None or not getattr(block, "public_key", None):
        out |= _LANGFUSE
    return frozenset(out)


def leave_out(spec: DockSpec) -> frozenset[str]:
    """Every distribution name an image of ``spec`` leaves out."""
    return NEVER_IMPORTED | unused_backends(spec)


def without(requirements: Iterable[str], names: frozenset[str]) -> list[str]:
    """``requirements`` less those naming one of ``names``."""
    out = []
    for req in requirements:
        match = _NAME.match(req)
        if match is None or normalize_name(match.group(1)) not in names:
            out.append(req)
    return out


def drop_from_lock(lock: Path, names: frozenset[str]) -> list[str]:
    """Remove the entries of ``names`` (and their ``--hash`` lines) from a lock that uv
    wrote; returns the names removed. The lock is installed ``--no-deps``, so nothing
    brings them back."""
    kept: list[str] = []
    removed: list[str] = []
    skipping = False
    for line in lock.read_text("utf-8").splitlines():
        if line[:1].isspace():
            if not skipping:
                kept.append(line)
            continue
        match = _NAME.match(line)
        name = normalize_name(match.group(1)) if match is not None else ""
        skipping = name in names and "==" in line
        if skipping:
            removed.append(name)
        else:
            kept.append(line)
    lock.write_text("\n".join(kept) + "\n", encoding="utf-8")
    return removed
