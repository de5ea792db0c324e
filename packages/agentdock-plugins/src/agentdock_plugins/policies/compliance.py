"""Compliance keyword check (stage ``post``): ``policies.safety.compliance_keywords``.

Flags output containing a listed term (whole words, any case), such as ``confidential`` or
``restricted``: by default the output goes out and a ``policy_event`` with action ``flag``
records which keywords appeared; with ``halt_on_violation`` the run is refused (403). In a
stream the check keeps the last ``longest keyword - 1`` characters of earlier tokens, so a
keyword split across tokens is still found; under ``halt_on_violation`` the part of the
keyword in earlier tokens has already been sent when the stream is stopped.
"""

from __future__ import annotations

import re
import time
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from agentdock_runtime.errors import PolicyViolationError

from agentdock_plugins.policies.events import Stage, report
from agentdock_plugins.policies.value_strings import iter_strings

if TYPE_CHECKING:
    from agentdock.spec import DockSpec

__all__ = ["POLICY", "ComplianceCheck", "compliance_check"]

POLICY = "safety.compliance_keywords"


class ComplianceCheck:
    """Stage ``post``: flag (or refuse) output that contains a compliance keyword."""

    stage: Stage = "post"
    _KEY = "policies.compliance"

    def __init__(self, keywords: Sequence[str], *, halt: bool) -> None:
        words = sorted({k.strip() for k in keywords if k.strip()}, key=len, reverse=True)
        self.keywords = tuple(words)
        alternation = "|".join(re.escape(k) for k in words)
        self.regex = re.compile(rf"(?<!\w)(?:{alternation})(?!\w)", re.IGNORECASE)
        self.lookback = max(len(k) for k in words)
        self.halt = halt

    def check(self, value: Any, context: Any) -> Any:
        if context.mode == "stream" and isinstance(value, Mapping):
            return self.check_token(value, context)
        return self.check_output(value, context)

    def _found(self, text: str, start: int = 0) -> list[str]:
        return [m.group().lower() for m in self.regex.finditer(text) if m.end() > start]

    def _act(self, found: list[str], context: Any, started: float) -> None:
        report(
            context,
            stage="post",
            policy=POLICY,
            action="block" if self.halt else "flag",
            matches=len(found),
            started=started,
            kinds=found,
        )
        if self.halt:
            raise PolicyViolationError(
                f"policy {POLICY} refused the output: it contained the term {found[0]!r}"
            )

    def check_output(self, value: Any, context: Any) -> Any:
        started = time.perf_counter()
        found = [word for _, text in iter_strings(value) for word in self._found(text)]
        if found:
            self._act(found, context, started)
        return value

    def check_token(self, data: Mapping[str, Any], context: Any) -> Mapping[str, Any]:
        text = data.get("text")
        if not isinstance(text, str) or not text:
            return data
        started = time.perf_counter()
        before = context.state.get(self._KEY, "")
        window = before + text
        # Only matches ending in the new text count: earlier ones were reported already.
        found = self._found(window, len(before))
        context.state[self._KEY] = window[-self.lookback :]
        if found:
            self._act(found, context, started)
        return data


def compliance_check(spec: DockSpec) -> ComplianceCheck | None:
    safety = spec.policies.safety
    keywords = [k for k in (getattr(safety, "compliance_keywords", None) or ()) if k.strip()]
    if not keywords:
        return None
    return ComplianceCheck(keywords, halt=safety.halt_on_violation)
