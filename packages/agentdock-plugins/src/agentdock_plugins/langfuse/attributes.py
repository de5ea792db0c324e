"""What makes an AgentDock span tree a LangFuse trace.

LangFuse reads plain OpenTelemetry spans and a few attributes of its own (the names the
SDK writes, from :class:`langfuse.LangfuseOtelSpanAttributes`): per run a trace named after
the agent, with the caller's subject as user id, the thread id as session, tags for agent,
version, environment and role, and policy decisions as metadata; the run span is the
``agent`` observation, each tool call a ``tool``, each model call a ``generation`` with
model, usage and cost. A run that reported no model call gets one generation spanning the
run, from ``run_end``'s model and token counts, so usage and cost are never missing. When a
run made several model calls, the run's cost is shared between them by tokens.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import msgspec
from langfuse import LangfuseOtelSpanAttributes as LF
from opentelemetry.trace import SpanKind

from agentdock_plugins.otel.fixed import FixedFields
from agentdock_plugins.otel.spans import SpanFlavor, SpanPlan, policy_summary
from agentdock_plugins.otel.wire import span_attributes

__all__ = ["LangfuseFlavor"]

_TYPES = {"tool_event": "tool", "node_event": "span", "model_event": "generation"}
#: The observation type of a tool or node span, encoded once.
_TYPE_FIELDS = {kind: span_attributes({LF.OBSERVATION_TYPE: kind}) for kind in ("tool", "span")}


_encode = msgspec.json.Encoder().encode
_EMPTY: Mapping[str, Any] = {}
#: Types of the metadata values encoded once per value (others: once per run).
_PLAIN = frozenset({str, int, float, bool, type(None)})
_META_RUN_ID = f"{LF.TRACE_METADATA}.run_id"
_META_MODE = f"{LF.TRACE_METADATA}.mode"
_META_STATUS = f"{LF.TRACE_METADATA}.status"
_META_ROLE = f"{LF.TRACE_METADATA}.role"
_META_RETRIES = f"{LF.TRACE_METADATA}.retries"
_META_COST = f"{LF.TRACE_METADATA}.cost_usd"
_META_POLICIES = f"{LF.TRACE_METADATA}.policy_events"
_GEN = "generation"
_INPUT_TOKENS = "gen_ai.usage.input_tokens"
_OUTPUT_TOKENS = "gen_ai.usage.output_tokens"
#: Generation attribute blocks kept per flavor (model and provider pairs).
_GENERATIONS_KEPT = 1024


def _json(value: Any) -> str:
    # Compact, UTF-8 as is; the stdlib's json.dumps cost ~7 µs a call here (7 calls a run).
    return _encode(value).decode("utf-8")


class LangfuseFlavor(SpanFlavor):
    """Adds LangFuse's trace and observation attributes to every span of a run."""

    def __init__(self, *, environment: str, release: str | None) -> None:
        self.environment = environment
        self.release = release
        #: Attributes that only the agent and the role decide, and the metadata of the
        #: run's mode, status, role and retries: encoded once per value (the span builder
        #: runs on one thread, so does this).
        self._fixed = FixedFields()
        #: The repeating attributes of a run's own generation, by model and provider (both
        #: strings, or no provider: nothing else reaches the key).
        self._generations: dict[tuple[str, str | None], bytes] = {}
        #: The run span's repeating attributes: the builder's and this flavor's, joined.
        self._joined: dict[tuple[bytes, bytes], bytes] = {}
        #: A model call's: the builder's and its generation's type and model, joined.
        self._model_blocks: dict[tuple[bytes, str | None], bytes] = {}

    def _constant_and_metadata(self, key: tuple[Any, ...]) -> dict[str, Any]:
        """:meth:`_constant` and :func:`_metadata` of ``(agent, mode, status, role, retries)``."""
        agent, mode, status, role, retries = key
        return {**self._constant((agent, role)), **_metadata((mode, status, role, retries))}

    def _constant(self, key: tuple[str, Any]) -> dict[str, Any]:
        """The trace attributes that only the agent and the role decide."""
        agent, role = key
        tags = [f"agent:{agent}", f"env:{self.environment}"]
        if self.release:
            tags.append(f"version:{self.release}")
        if role:
            tags.append(f"role:{role}")
        attributes: dict[str, Any] = {
            LF.TRACE_NAME: agent,
            LF.TRACE_TAGS: tags,
            LF.ENVIRONMENT: self.environment,
            LF.OBSERVATION_TYPE: "agent",
            # What the SDK's processor marks at span start: the run is the root LangFuse
            # shows, also when it continues a caller's trace whose spans LangFuse never sees.
            LF.IS_APP_ROOT: True,
        }
        if self.release:
            attributes[LF.RELEASE] = self.release
            attributes[LF.VERSION] = self.release
        return attributes

    def run(
        self, plan: SpanPlan, end: Mapping[str, Any], held: Sequence[Mapping[str, Any]]
    ) -> None:
        data = end.get("data") or _EMPTY
        attributes = plan.attributes
        role = data.get("role")
        agent = end.get("agent")
        if type(agent) is not str or not agent:
            agent = str(agent or "agent")
        meta = (data.get("mode"), data.get("status"), role, data.get("retries"))
        if _PLAIN.issuperset(map(type, meta)):  # the usual case: one look-up for both
            fixed = self._fixed.get((agent, *meta), self._constant_and_metadata)
        else:  # a value that is no plain JSON scalar: its metadata encoded for this run only
            fixed = self._fixed.get((agent, role), self._constant)
            attributes.update(_metadata(meta))
        # The builder's block and this one joined once: the same bytes object run after
        # run, whose hash is kept, is what the builder looks the span's tail up by.
        base = plan.encoded
        joined = self._joined.get((base, fixed))
        if joined is None:
            if len(self._joined) >= _GENERATIONS_KEPT:
                self._joined.clear()
            joined = self._joined[base, fixed] = base + fixed
        plan.encoded = joined
        subject = data.get("subject")
        if subject:
            attributes[LF.TRACE_USER_ID] = str(subject)
        thread = data.get("thread_id")
        if thread:
            attributes[LF.TRACE_SESSION_ID] = str(thread)
        run_id = end.get("run_id")
        if type(run_id) is str and run_id.isascii() and run_id.isalnum():
            attributes[_META_RUN_ID] = f'"{run_id}"'  # the runtime's hex ids: nothing to escape
        elif run_id is not None:
            attributes[_META_RUN_ID] = _json(run_id)
        cost = data.get("cost_usd")
        if cost is not None:
            attributes[_META_COST] = _json(cost)
        for event in held:  # any policy decision? (a loop: no generator for the usual run)
            if event.get("event") == "policy_event":
                break
        else:
            held = ()
        if held:
            policies = policy_summary(held)
            if policies:
                attributes[_META_POLICIES] = _json(
                    [
                        {k.removeprefix("agentdock.policy."): v for k, v in item.items()}
                        for item in policies
                    ]
                )
        if plan.error is not None:
            attributes[LF.OBSERVATION_LEVEL] = "ERROR"
            attributes[LF.OBSERVATION_STATUS_MESSAGE] = plan.error

    def child(self, plan: SpanPlan, event: Mapping[str, Any], end: Mapping[str, Any]) -> None:
        # Trace attributes live on the run span only: LangFuse reads them from any span.
        kind = _TYPES.get(str(event.get("event")), "span")
        if kind == "generation":
            # Its type and model repeat: joined to the builder's block once per model.
            base, model = plan.encoded, plan.model
            joined = self._model_blocks.get((base, model))
            if joined is None:
                if len(self._model_blocks) >= _GENERATIONS_KEPT:
                    self._model_blocks.clear()
                joined = self._model_blocks[base, model] = base + _generation_block(model)
            plan.encoded = joined
            _usage(plan)
        else:
            plan.encoded += _TYPE_FIELDS[kind]
        if plan.error is not None:
            plan.attributes[LF.OBSERVATION_LEVEL] = "ERROR"
            plan.attributes[LF.OBSERVATION_STATUS_MESSAGE] = plan.error

    def more_spans(
        self, run: SpanPlan, end: Mapping[str, Any], children: Sequence[SpanPlan]
    ) -> Iterable[SpanPlan]:
        data = end.get("data") or _EMPTY
        cost = data.get("cost_usd")
        cost = float(cost) if isinstance(cost, int | float) and not isinstance(cost, bool) else None
        if children:
            generations = [p for p in children if p.model is not None]  # model calls
            if generations:
                _share_cost(generations, cost)
                return ()
        model = data.get("model") or "model"
        provider = data.get("provider")
        attributes: dict[str, Any] = {}
        if provider is not None and type(provider) is not str:  # kept as it is, per run
            attributes["gen_ai.provider.name"] = provider
            provider = None
        tokens_in = data.get("tokens_input")
        if tokens_in is not None:
            attributes[_INPUT_TOKENS] = tokens_in
        tokens_out = data.get("tokens_output")
        if tokens_out is not None:
            attributes[_OUTPUT_TOKENS] = tokens_out
        # The usual counts (positive ints) read here; anything else as _usage reads it.
        counts_in = tokens_in if type(tokens_in) is int and tokens_in > 0 else _count(tokens_in)
        counts_out = (
            tokens_out if type(tokens_out) is int and tokens_out > 0 else _count(tokens_out)
        )
        model = model if type(model) is str else str(model)
        encoded = self._generations.get((model, provider))
        if encoded is None:
            if len(self._generations) >= _GENERATIONS_KEPT:
                self._generations.clear()
            encoded = self._generations[model, provider] = span_attributes(
                {k: v for k, v in _generation_fixed((model, provider)).items() if v is not None}
            )
        plan = SpanPlan(
            f"chat {model}",
            SpanKind.CLIENT,
            run.start_ns,
            run.end_ns,
            attributes,
            0,
            run.span_id,
            None,
            encoded,
        )
        plan.model = model
        attributes[LF.OBSERVATION_USAGE_DETAILS] = _usage_json(counts_in, counts_out)
        if cost is not None:  # one generation: what _share_cost gives it, to the last bit
            weight = counts_in + counts_out
            share = cost * weight / weight if weight else cost
            attributes[LF.OBSERVATION_COST_DETAILS] = _json({"total": share})
        return (plan,)


def _metadata(key: tuple[Any, ...]) -> dict[str, Any]:
    """The run's mode, status, role and retries as LangFuse trace metadata (JSON values)."""
    mode, status, role, retries = key
    found = (
        (_META_MODE, mode),
        (_META_STATUS, status),
        (_META_ROLE, role),
        (_META_RETRIES, retries),
    )
    return {name: _json(value) for name, value in found if value is not None}


def _tokens(plan: SpanPlan, key: str) -> int:
    return _count(plan.attributes.get(key))


def _count(value: Any) -> int:
    """A token count as usage holds it: a positive int (not a bool), else 0."""
    return int(value) if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0


def _generation_fixed(key: tuple[str, str | None]) -> dict[str, Any]:
    """What a run's own generation span (no model call reported) repeats: model, provider."""
    model, provider = key
    return {
        "gen_ai.operation.name": "chat",
        "gen_ai.request.model": model,
        LF.OBSERVATION_TYPE: "generation",
        "gen_ai.provider.name": provider,
        LF.OBSERVATION_MODEL: model,
    }


def _generation_block(model: Any) -> bytes:
    """A model call's generation type and model, encoded."""
    attributes: dict[str, Any] = {LF.OBSERVATION_TYPE: _GEN}
    if model:
        attributes[LF.OBSERVATION_MODEL] = str(model)
    return span_attributes(attributes)


def _usage(plan: SpanPlan) -> None:
    plan.attributes[LF.OBSERVATION_USAGE_DETAILS] = _usage_json(
        _tokens(plan, "gen_ai.usage.input_tokens"), _tokens(plan, "gen_ai.usage.output_tokens")
    )


def _usage_json(tokens_in: int, tokens_out: int) -> str:
    # Ints only: the JSON msgspec would write, without a call to it.
    return f'{{"input":{tokens_in},"output":{tokens_out},"total":{tokens_in + tokens_out}}}'


def _share_cost(generations: Sequence[SpanPlan], cost: float | None) -> None:
    if cost is None:
        return
    weights = [
        _tokens(p, "gen_ai.usage.input_tokens") + _tokens(p, "gen_ai.usage.output_tokens")
        for p in generations
    ]
    total = sum(weights)
    for plan, weight in zip(generations, weights, strict=True):
        share = cost * weight / total if total else cost / len(generations)
        plan.attributes[LF.OBSERVATION_COST_DETAILS] = _json({"total": share})
