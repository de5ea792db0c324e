"""The one place policies report what they did: a ``policy_event`` on the run's context.

Every action a policy takes (redact, block, truncate, deny, flag) is reported with counts and
the names of what matched, never the matched text, so telemetry can show violations without
becoming a copy of the sensitive data the policy removed.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any, Literal

__all__ = ["Action", "Stage", "report"]

Stage = Literal["pre", "tool", "tool_output", "post"]
Action = Literal["redact", "block", "truncate", "deny", "flag", "log"]


def report(
    context: Any,
    *,
    stage: Stage,
    policy: str,
    action: Action,
    matches: int,
    started: float,
    kinds: Iterable[str] = (),
    tier: int | None = None,
    score: float | None = None,
) -> None:
    """Queue one ``policy_event`` (``started`` is a ``time.perf_counter()`` reading);
    ``tier`` and ``score`` say which prompt-injection detector decided, and how surely."""
    data: dict[str, Any] = {
        "stage": stage,
        "policy": policy,
        "action": action,
        "matches": matches,
        "duration_ms": (time.perf_counter() - started) * 1000.0,
    }
    names = sorted(set(kinds))
    if names:
        data["kinds"] = names
    if tier is not None:
        data["tier"] = tier
    if score is not None:
        data["score"] = score
    context.emit("policy_event", data)
