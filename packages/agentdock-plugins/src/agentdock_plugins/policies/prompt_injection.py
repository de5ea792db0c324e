"""Prompt-injection blocking (stage ``pre``): ``policies.safety.block_prompt_injection``.

Every string of the input, nested fields included, is scored by
:func:`~agentdock_plugins.policies.injection.score_text`; when the highest score reaches
``policies.safety.injection_threshold`` (default 1.0) the run is refused with 403
``PolicyViolationError`` naming the policy, the field and the rules that fired (never the
text). ``block_prompt_injection`` is on unless the Dockfile turns it off.
"""

from __future__ import annotations

import time
from typing import Any

from agentdock_runtime.errors import PolicyViolationError

from agentdock_plugins.policies.events import Stage, report
from agentdock_plugins.policies.injection import DEFAULT_THRESHOLD, score_text
from agentdock_plugins.policies.walk import iter_strings

__all__ = ["POLICY", "PromptInjection", "prompt_injection"]

POLICY = "safety.block_prompt_injection"


class PromptInjection:
    """Stage ``pre``: refuse inputs whose score reaches the threshold."""

    stage: Stage = "pre"

    def __init__(self, threshold: float = DEFAULT_THRESHOLD) -> None:
        self.threshold = threshold

    def check(self, value: Any, context: Any) -> Any:
        started = time.perf_counter()
        threshold = self.threshold
        for path, text in iter_strings(value):
            result = score_text(text, threshold)
            if result.score >= threshold:
                report(
                    context,
                    stage="pre",
                    policy=POLICY,
                    action="block",
                    matches=len(result.rules),
                    started=started,
                    kinds=result.rules,
                )
                field = f" in field {path!r}" if path else ""
                raise PolicyViolationError(
                    f"policy {POLICY} refused the input: possible prompt injection{field} "
                    f"(score {result.score:g} >= {threshold:g}; rules: {', '.join(result.rules)})",
                    path=path or None,
                )
        return value


def prompt_injection(spec: Any) -> PromptInjection | None:
    safety = spec.policies.safety
    if not safety.block_prompt_injection:
        return None
    threshold = getattr(safety, "injection_threshold", None)
    return PromptInjection(DEFAULT_THRESHOLD if threshold is None else float(threshold))
