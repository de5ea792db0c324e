"""The errors a run can end with: the classes of :mod:`agentdock.httperrors`, where plugins
that depend on ``agentdock-core`` alone find them too (the same objects, so ``except`` and
``isinstance`` hold whichever module named them)."""

from __future__ import annotations

from agentdock import httperrors
from agentdock.httperrors import *  # noqa: F403 - the same names, re-exported

__all__ = httperrors.__all__
