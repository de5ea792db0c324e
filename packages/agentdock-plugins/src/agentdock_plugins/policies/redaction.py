"""Redaction policies: user patterns and PII recognisers on the input and on the output.

``redact_input`` (stage ``pre``) rewrites every string of the validated input before the
agent sees it; ``redact_output`` (stage ``post``) rewrites the validated output of ``invoke``,
the text of every streamed token, holding back a bounded tail so that a secret split
across tokens is still caught, and (through ``check_event``) every ``event`` item of a
stream (:class:`~agentdock_plugins.policies.redaction_engine.Redactor`).
With ``policies.safety.halt_on_violation`` a match refuses the run (403) instead, naming the
policy and the field, never the text.

The engine (its compiled patterns and recognisers) is imported only when the Dockfile
configures a pattern or a recogniser: every runtime builds these factories at start-up.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from agentdock_runtime.errors import PolicyViolationError

from agentdock_plugins.policies.events import Stage, report
from agentdock_plugins.policies.value_strings import iter_strings

if TYPE_CHECKING:
    from agentdock.spec import DockSpec

    from agentdock_plugins.policies.redaction_engine import Redactor

__all__ = ["InputRedaction", "OutputRedaction", "input_redaction", "output_redaction"]

PATTERNS_POLICY = "safety.redact_patterns"
PII_POLICY = "safety.pii"


def _policy_name(kinds: set[str]) -> str:
    return PATTERNS_POLICY if any(k.startswith("redact_patterns[") for k in kinds) else PII_POLICY


def build_redactor(spec: DockSpec) -> Redactor | None:
    """The spec's redactor, or ``None`` when it names no pattern and no recogniser."""
    safety = spec.policies.safety
    patterns = list(safety.redact_patterns)
    pii = list(getattr(safety, "pii", None) or ())
    if not patterns and not pii:
        return None
    from agentdock_plugins.policies.redaction_engine import Redactor

    return Redactor(patterns, pii)


class _Redaction:
    stage: Stage
    #: What a refusal calls the value it refused: ``input`` or ``output``.
    where: str

    def __init__(self, redactor: Redactor, *, halt: bool) -> None:
        from agentdock_plugins.policies.redaction_engine import StreamHold

        self.redactor = redactor
        self.halt = halt
        self._new_hold = StreamHold

    def _apply(self, value: Any, context: Any) -> Any:
        """``value`` redacted, or, with ``halt_on_violation``, refused if anything matches."""
        started = time.perf_counter()
        if self.halt:
            self._refuse(value, context, started, self.where)
            return value
        return self._redact(value, context, started)

    def _refuse(self, value: Any, context: Any, started: float, where: str) -> None:
        """Raise if any string of ``value`` matches (``halt_on_violation``)."""
        for path, text in iter_strings(value):
            spans = self.redactor.spans(text)
            if spans:
                kinds = {rule.kind for _, _, rule in spans}
                policy = _policy_name(kinds)
                report(
                    context,
                    stage=self.stage,
                    policy=policy,
                    action="block",
                    matches=len(spans),
                    started=started,
                    kinds=kinds,
                )
                field = f" in field {path!r}" if path else ""
                raise PolicyViolationError(
                    f"policy {policy} refused the {where}: sensitive data matched{field}",
                    path=path or None,
                )

    def _redact(self, value: Any, context: Any, started: float) -> Any:
        new, count, kinds = self.redactor.redact_value(value)
        if count:
            report(
                context,
                stage=self.stage,
                policy=_policy_name(kinds),
                action="redact",
                matches=count,
                started=started,
                kinds=kinds,
            )
        return new


class InputRedaction(_Redaction):
    """Stage ``pre``: redact (or refuse) sensitive data in the input."""

    stage: Stage = "pre"
    where = "input"

    def check(self, value: Any, context: Any) -> Any:
        return self._apply(value, context)


class OutputRedaction(_Redaction):
    """Stage ``post``: redact (or refuse) sensitive data in the output and in streams."""

    stage: Stage = "post"
    where = "output"
    _KEY = "policies.redact_output"

    def check(self, value: Any, context: Any) -> Any:
        if context.mode == "stream" and isinstance(value, Mapping):
            return self.check_token(value, context)
        return self.check_output(value, context)

    def check_output(self, value: Any, context: Any) -> Any:
        return self._apply(value, context)

    def check_token(self, data: Mapping[str, Any], context: Any) -> Mapping[str, Any]:
        text = data.get("text")
        if not isinstance(text, str):
            return data
        started = time.perf_counter()
        hold = context.state.get(self._KEY)
        if hold is None:
            hold = context.state[self._KEY] = self._new_hold()
        out, count, kinds = self.redactor.feed(hold, text)
        self._after(out, count, kinds, context, started)
        return {**data, "text": out}

    def check_event(self, data: Mapping[str, Any], context: Any) -> Mapping[str, Any]:
        """A stream's ``event`` item (node update, tool call): redacted as a whole value.

        Node updates carry the agent's state, the same text its tokens stream, so they are
        redacted (or refused) like the output of ``invoke``.
        """
        result: Mapping[str, Any] = self.check_output(data, context)
        return result

    def finish(self, context: Any) -> Mapping[str, Any] | None:
        hold = context.state.pop(self._KEY, None)
        if hold is None:
            return None
        started = time.perf_counter()
        out, count, kinds = self.redactor.finish(hold)
        self._after(out, count, kinds, context, started)
        return {"text": out} if out else None

    def _after(self, out: str, count: int, kinds: set[str], context: Any, started: float) -> None:
        if not count:
            return
        policy = _policy_name(kinds)
        report(
            context,
            stage="post",
            policy=policy,
            action="block" if self.halt else "redact",
            matches=count,
            started=started,
            kinds=kinds,
        )
        if self.halt:
            raise PolicyViolationError(
                f"policy {policy} refused the output: sensitive data matched in the stream"
            )


def input_redaction(spec: DockSpec) -> InputRedaction | None:
    redactor = build_redactor(spec)
    if redactor is None:
        return None
    return InputRedaction(redactor, halt=spec.policies.safety.halt_on_violation)


def output_redaction(spec: DockSpec) -> OutputRedaction | None:
    redactor = build_redactor(spec)
    if redactor is None:
        return None
    return OutputRedaction(redactor, halt=spec.policies.safety.halt_on_violation)
