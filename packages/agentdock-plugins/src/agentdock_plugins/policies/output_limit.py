"""Output length guard (stage ``post``): ``policies.safety.max_output_chars``.

The limit counts the characters of every string of the output (for ``invoke``) or of every
streamed token's text (for a stream, counted across the whole run). Past the limit the text
is cut and :data:`TRUNCATION_MARKER` appended once, so a client can tell a cut answer from a
short one; later tokens are dropped. With ``halt_on_violation`` the run is refused with 413
``PayloadTooLarge`` instead.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from agentdock_runtime.errors import PayloadTooLarge

from agentdock_plugins.policies.events import Stage, report
from agentdock_plugins.policies.value_strings import map_strings

if TYPE_CHECKING:
    from agentdock.spec import DockSpec

__all__ = ["POLICY", "TRUNCATION_MARKER", "OutputLimit", "output_limit"]

POLICY = "safety.max_output_chars"
#: Appended to the text at the point where it was cut.
TRUNCATION_MARKER = "[TRUNCATED]"


class OutputLimit:
    """Stage ``post``: truncate (or refuse) output longer than ``limit`` characters."""

    stage: Stage = "post"
    _KEY = "policies.output_limit"

    def __init__(self, limit: int, *, halt: bool) -> None:
        self.limit = limit
        self.halt = halt

    def check(self, value: Any, context: Any) -> Any:
        if context.mode == "stream" and isinstance(value, Mapping):
            return self.check_token(value, context)
        return self.check_output(value, context)

    def _violation(self, context: Any, started: float, total: int) -> None:
        report(context, stage="post", policy=POLICY, action="block", matches=1, started=started)
        raise PayloadTooLarge(
            f"policy {POLICY} refused the output: more than {self.limit} characters "
            f"({total} or more)"
        )

    def check_output(self, value: Any, context: Any) -> Any:
        started = time.perf_counter()
        remaining = self.limit
        cut = 0
        total = 0

        def one(text: str, _path: str) -> str:
            nonlocal remaining, cut, total
            total += len(text)
            if len(text) <= remaining:
                remaining -= len(text)
                return text
            cut += 1
            kept = text[:remaining]
            remaining = 0
            return kept + TRUNCATION_MARKER if kept or cut == 1 else ""

        new = map_strings(value, one, text_only=True)
        if not cut:
            return value
        if self.halt:
            self._violation(context, started, total)
        report(context, stage="post", policy=POLICY, action="truncate", matches=1, started=started)
        return new

    def check_token(self, data: Mapping[str, Any], context: Any) -> Mapping[str, Any]:
        text = data.get("text")
        if not isinstance(text, str) or not text:
            return data
        sent = context.state.get(self._KEY, 0)
        if sent > self.limit:
            return {**data, "text": ""}
        total = sent + len(text)
        if total <= self.limit:
            context.state[self._KEY] = total
            return data
        started = time.perf_counter()
        context.state[self._KEY] = self.limit + 1
        if self.halt:
            self._violation(context, started, total)
        report(context, stage="post", policy=POLICY, action="truncate", matches=1, started=started)
        return {**data, "text": text[: self.limit - sent] + TRUNCATION_MARKER}


def output_limit(spec: DockSpec) -> OutputLimit | None:
    safety = spec.policies.safety
    if safety.max_output_chars is None:
        return None
    return OutputLimit(safety.max_output_chars, halt=safety.halt_on_violation)
