"""Prompt-injection detection (stage ``pre``): ``policies.safety.block_prompt_injection``.

Every string of the input, nested fields included, goes through the configured tiers of
:class:`~agentdock_plugins.policies.injection_detect.Detector` (``policies.safety.injection``:
``tiers``, ``languages``, ``classifier_threshold``, ``detector`` for tier 3; tier 1's threshold is
``policies.safety.injection_threshold``, default 1.0). On the first string a tier decides is
an attack, ``policies.safety.injection.action`` says what happens:

- ``block`` (default): the run is refused with 403 ``PolicyViolationError`` naming the
  policy, the field, the tier, its score and the rules or label (never the text);
- ``flag``: the input goes through; a ``policy_event`` with action ``flag`` marks the run;
- ``log``: the input goes through; the ``policy_event`` says ``log``.

Each decision emits one ``policy_event`` with ``tier``, ``score`` and ``kinds`` (the rules, or
``classifier``). ``block_prompt_injection`` is on unless the Dockfile turns it off. The
detector (compiled rules, the loaded classifier) is built once, when the policy is.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any, Literal

from agentdock_runtime.errors import PolicyViolationError

from agentdock_plugins.policies.events import Action, Stage, report
from agentdock_plugins.policies.injection_detect import Decision, Detector
from agentdock_plugins.policies.injection_rules import DEFAULT_THRESHOLD
from agentdock_plugins.policies.value_strings import iter_strings

if TYPE_CHECKING:
    from agentdock.spec import DockSpec
    from agentdock.spec.models import SafetyPolicy, SafetyPolicy10

__all__ = ["POLICY", "PromptInjection", "first_injection", "prompt_injection"]

POLICY = "safety.block_prompt_injection"
InjectionAction = Literal["block", "flag", "log"]


class PromptInjection:
    """Stage ``pre``: refuse (or flag, or log) inputs a tier finds to be an injection."""

    stage: Stage = "pre"

    def __init__(
        self,
        threshold: float = DEFAULT_THRESHOLD,
        *,
        detector: Detector | None = None,
        action: InjectionAction = "block",
    ) -> None:
        self.threshold = threshold
        self.detector = detector if detector is not None else Detector(threshold=threshold)
        self.action = action

    def check(self, value: Any, context: Any) -> Any:
        found = first_injection(self.detector, value, context, stage=self.stage, policy=POLICY,
                                action=self.action)  # fmt: skip
        if found is not None and self.action == "block":
            path, decision = found
            raise PolicyViolationError(_refusal(decision, path), path=path or None)
        return value


def first_injection(
    detector: Detector,
    value: Any,
    context: Any,
    *,
    stage: Stage,
    policy: str,
    action: Action,
) -> tuple[str, Decision] | None:
    """The first string of ``value`` a tier decides is an injection, with its path, after
    one ``policy_event`` for each decision up to it (``block`` and ``redact`` stop at the
    first; ``flag`` and ``log`` go on to the end: every decision is reported, none stops
    the run)."""
    started = time.perf_counter()
    first: tuple[str, Decision] | None = None
    for path, text in iter_strings(value):
        # A mapping's key (``<key N>`` ends its path): the same few names on every request.
        decision = detector.decide_name(text) if path.endswith(">") else detector.decide(text)
        if decision is None:
            continue
        report(
            context,
            stage=stage,
            policy=policy,
            action=action,
            matches=len(decision.rules),
            started=started,
            kinds=decision.rules,
            tier=decision.tier,
            score=decision.score,
        )
        first = first or (path, decision)
        if action in ("block", "redact"):
            break
    return first


def _refusal(decision: Decision, path: str) -> str:
    field = f" in field {path!r}" if path else ""
    return (
        f"policy {POLICY} refused the input: possible prompt injection{field} "
        f"(tier {decision.tier}, score {decision.score:g}; rules: {', '.join(decision.rules)})"
    )


def detector_for(safety: SafetyPolicy10 | SafetyPolicy) -> tuple[Detector, InjectionAction]:
    """The detector and action a ``policies.safety`` block configures (1.0 blocks have no
    ``injection`` key: tiers 1 and 2, every language, block)."""
    threshold = getattr(safety, "injection_threshold", None)
    threshold = DEFAULT_THRESHOLD if threshold is None else float(threshold)
    cfg = getattr(safety, "injection", None)
    if cfg is None:
        return Detector(threshold=threshold), "block"
    external = None
    external_threshold = 0.5
    if 3 in cfg.tiers and cfg.detector is not None:
        from agentdock_plugins.policies.injection_onnx import load_detector

        external = load_detector(
            cfg.detector.kind, cfg.detector.path, label_index=cfg.detector.label
        )
        external_threshold = float(cfg.detector.threshold)
    detector = Detector(
        tiers=tuple(cfg.tiers),
        threshold=threshold,
        languages=cfg.languages,
        model_threshold=cfg.classifier_threshold,
        external=external,
        external_threshold=external_threshold,
    )
    return detector, cfg.action


def prompt_injection(spec: DockSpec) -> PromptInjection | None:
    safety = spec.policies.safety
    if not safety.block_prompt_injection:
        return None
    detector, action = detector_for(safety)
    return PromptInjection(detector.threshold, detector=detector, action=action)
