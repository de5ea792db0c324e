"""The Dockfile: its models, loader, schemas and checks.

The pydantic models load on first use, so the loader and the validator stay cheap to import.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from agentdock.spec.models import DockSpec, DockSpec10, DockSpec11

__all__ = ["DockSpec", "DockSpec10", "DockSpec11"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from agentdock.spec import models

        return getattr(models, name)
    raise AttributeError(f"module 'agentdock.spec' has no attribute {name!r}")
