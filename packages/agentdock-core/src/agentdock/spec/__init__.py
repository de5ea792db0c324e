"""The Dockfile: its models, loader, schemas and checks."""

from __future__ import annotations

from agentdock.spec.models import DockSpec, DockSpec10, DockSpec11

__all__ = ["DockSpec", "DockSpec10", "DockSpec11"]
