"""Telemetry events turned into OpenTelemetry GenAI spans, after the fact.

The runtime never touches OpenTelemetry while it serves a request: it emits plain events
(``run_end``, ``tool_event``, ...) carrying their own start times and durations, and this
module rebuilds the span tree from them off the request path. Each run's child events are
held until its ``run_end`` arrives; then each target's sampler decides once for the run (a
run and its children are kept or dropped together, and a run no target keeps is never
built), and the run's spans are planned (:class:`SpanPlan`) and written straight to OTLP
protobuf (:func:`~agentdock_plugins.otel.wire.span_bytes`), children first, as they would
end live. No SDK span, attribute or protobuf object is made: that machinery cost more than
the spans themselves here. The same bytes go to every target that sampled the run, as one
run (to :class:`~agentdock_plugins.otel.batching.RunBatchProcessor`: delivered or lost whole).

Ids are the runtime's, not new ones: the run span gets the envelope's ``trace_id`` and
``span_id`` (so the ``x-trace-id`` a caller saw finds the trace), a child gets the
``span_id`` of its event, and a run that continued an incoming ``traceparent`` hangs under
the caller's span (``parent_span_id``).

What a span carries comes from the event alone, and an event never holds the input, the
output or a credential, so neither does a span. A :class:`SpanFlavor` may add attributes
per span (LangFuse's, which then reach every target) or extra spans.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from operator import attrgetter
from typing import Any

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.sdk.trace.sampling import (
    ALWAYS_ON,
    Decision,
    ParentBased,
    Sampler,
    StaticSampler,
    TraceIdRatioBased,
)
from opentelemetry.trace import NonRecordingSpan, SpanContext, SpanKind, TraceFlags

from agentdock_plugins.otel.fixed import FixedFields, plain
from agentdock_plugins.otel.wire import (
    Head,
    join_span,
    run_attributes,
    span_tail,
)
from agentdock_plugins.privaterandom import RANDOM

__all__ = [
    "CHILD_EVENTS",
    "RunSpanBuilder",
    "SpanFlavor",
    "SpanPlan",
    "SpanTarget",
    "parse_span_id",
    "parse_trace_id",
    "policy_summary",
]

_SAMPLED = TraceFlags(TraceFlags.SAMPLED)
_NOT_SAMPLED = TraceFlags(TraceFlags.DEFAULT)
#: Samplers that keep every run without a caller's span.
_ROOTS_ALWAYS = frozenset(
    str(sampler.get_description()) for sampler in (ALWAYS_ON, ParentBased(ALWAYS_ON))
)
#: OTLP ``SpanKind`` of each SDK kind (one more than the SDK's value).
_OTLP_KIND = {kind: kind.value + 1 for kind in SpanKind}
#: OTLP ``STATUS_CODE_ERROR``.
_ERROR = 2
#: Events that become child spans of their run.
CHILD_EVENTS = frozenset({"tool_event", "node_event", "model_event"})
#: Events recorded as span events on their run's span.
_RUN_SPAN_EVENTS = frozenset({"policy_event", "error_event"})
_HELD_EVENTS = CHILD_EVENTS | _RUN_SPAN_EVENTS

# GenAI semantic conventions (opentelemetry-semantic-conventions, gen_ai_attributes).
OPERATION = "gen_ai.operation.name"
AGENT_NAME = "gen_ai.agent.name"
PROVIDER = "gen_ai.provider.name"
REQUEST_MODEL = "gen_ai.request.model"
INPUT_TOKENS = "gen_ai.usage.input_tokens"
OUTPUT_TOKENS = "gen_ai.usage.output_tokens"
CONVERSATION = "gen_ai.conversation.id"
TOOL_NAME = "gen_ai.tool.name"
TOOL_CALL_ID = "gen_ai.tool.call.id"
ERROR_TYPE = "error.type"

#: ``run_end`` data keys whose attributes are the same run after run (provider and model,
#: mode and status, the caller's role, the HTTP method, route and status code): encoded
#: once per combination of values (:class:`~agentdock_plugins.otel.fixed.FixedFields`).
_RUN_FIXED = (
    ("provider", PROVIDER),
    ("model", REQUEST_MODEL),
    ("mode", "agentdock.run.mode"),
    ("status", "agentdock.run.status"),
    ("role", "agentdock.role"),
    ("http_method", "http.request.method"),
    ("http_route", "http.route"),
    ("http_status_code", "http.response.status_code"),
)
_RUN_FIXED_KEYS = tuple(key for key, _ in _RUN_FIXED)
#: Span tails a builder keeps (:meth:`RunSpanBuilder._encode`); past it they are made anew.
_TAILS_KEPT = 4096


def _trace_number() -> int:
    """A fresh, valid (non-zero) 128-bit trace id, as the SDK's generator makes one."""
    while True:
        number = _bits(128)
        if number:
            return number


def _span_number() -> int:
    """A fresh, valid (non-zero) 64-bit span id."""
    while True:
        number = _bits(64)
        if number:
            return number


_bits = RANDOM.getrandbits


def parse_trace_id(value: Any) -> int:
    """A 32-hex trace id as an int; ``0`` (invalid) for anything else."""
    if type(value) is str and len(value) == 32:  # the runtime's ids: one call less
        try:
            return int(value, 16)
        except ValueError:
            return 0
    return _parse_hex(value, 32)


def parse_span_id(value: Any) -> int:
    """A 16-hex span id as an int; ``0`` (invalid) for anything else."""
    if type(value) is str and len(value) == 16:
        try:
            return int(value, 16)
        except ValueError:
            return 0
    return _parse_hex(value, 16)


def _parent_id(data: Mapping[str, Any]) -> int:
    """The ``parent_span_id`` of an event's data as an int; ``0`` when there is none (the
    usual case, answered without parsing)."""
    value = data.get("parent_span_id")
    return 0 if value is None else parse_span_id(value)


def _parse_hex(value: Any, width: int) -> int:
    if not isinstance(value, str) or len(value) != width:
        return 0
    try:
        return int(value, 16)
    except ValueError:
        return 0


class SpanPlan:
    """One span to create: what the builder (or a flavor) decided, before it is encoded.

    ``attributes`` holds what differs per run (and what a flavor reads); ``encoded`` the
    attributes that repeat, already encoded (their keys are never in ``attributes``).
    ``model``: a model call's model (``gen_ai.request.model``, in ``encoded``), else ``None``.
    """

    __slots__ = (
        "attributes",
        "encoded",
        "end_ns",
        "error",
        "events",
        "kind",
        "model",
        "name",
        "parent_span_id",
        "span_id",
        "start_ns",
    )

    def __init__(  # positional or by name: the builder passes them positionally (cheaper)
        self,
        name: str,
        kind: SpanKind,
        start_ns: int,
        end_ns: int,
        attributes: dict[str, Any],
        span_id: int = 0,
        parent_span_id: int = 0,
        error: str | None = None,
        encoded: bytes = b"",
    ) -> None:
        self.name = name
        self.kind = kind
        self.start_ns = start_ns
        self.end_ns = max(end_ns, start_ns)
        self.attributes = attributes
        self.span_id = span_id
        self.parent_span_id = parent_span_id
        self.error = error
        self.encoded = encoded
        self.events: list[tuple[str, dict[str, Any], int]] = []
        self.model: str | None = None


class SpanFlavor:
    """Hooks a sink uses to add its own attributes and spans; the base adds nothing.

    A node or tool span is built through :meth:`child` once per kind of step (event, agent,
    node or tool name, status, error type) and then reused but for its ids, times and call
    id; a flavor whose :meth:`child` looks at anything else of a node or tool event sets
    :attr:`steps_repeat` to ``False``.
    """

    #: Whether :meth:`child` adds the same to every node or tool span of a kind of step.
    steps_repeat = True

    def run(
        self, plan: SpanPlan, end: Mapping[str, Any], held: Sequence[Mapping[str, Any]]
    ) -> None:
        """Adjust the run span of ``end`` (``held``: the run's other events, in order)."""

    def child(self, plan: SpanPlan, event: Mapping[str, Any], end: Mapping[str, Any]) -> None:
        """Adjust the child span built from ``event``."""

    def more_spans(
        self, run: SpanPlan, end: Mapping[str, Any], children: Sequence[SpanPlan]
    ) -> Iterable[SpanPlan]:
        """Further spans under the run span (none by default). ``children``: the run's
        child spans still open to changes (model calls, and every step when
        :attr:`steps_repeat` is ``False``)."""
        return ()


def _description(sampler: Sampler) -> str:
    return str(sampler.get_description())


class SpanTarget:
    """One place a run's encoded spans go: a queue (``add_run(spans, events)``, e.g. a
    :class:`~agentdock_plugins.otel.batching.RunBatchProcessor`) and the sampler that decides
    which runs it gets (``None``: every run)."""

    __slots__ = ("decide", "name", "queue", "roots_always", "sampler")

    def __init__(self, name: str, queue: Any, sampler: Sampler | None = None) -> None:
        self.name = name
        self.queue = queue
        self.sampler = sampler
        #: Whether the sampler keeps every run without a caller's span (the SDK's default,
        #: parent-based always-on): then such a run needs no sampler call.
        self.roots_always = sampler is None or _description(sampler) in _ROOTS_ALWAYS
        #: The sampler's decision without a call to it, when it is made of the SDK's own
        #: samplers (:func:`fast_decision`); ``None``: the sampler is asked.
        self.decide = fast_decision(sampler) if sampler is not None else None


#: ``(trace_id, caller_span_id, caller_sampled) -> sampled``; a caller span id of 0: none.
Decide = Callable[[int, int, bool], bool]


def fast_decision(sampler: Sampler) -> Decide | None:
    """What ``sampler.should_sample`` decides for a run, as a plain function, when the
    sampler is one the SDK's ``OTEL_TRACES_SAMPLER`` names (always on or off, trace id
    ratio, parent-based over those: their classes, not subclasses that change a decision);
    ``None`` for any other sampler, which is then called.

    The SDK's call builds a context, looks the caller's span up in it and returns a result
    object, several microseconds a run; a run that is not sampled should cost a flag check,
    and with a tenth of the runs sampled that call was most of what the other nine cost.
    The caller's span, when there is one, is remote (a ``traceparent``).
    """
    plan = _decision_plan(sampler)
    if plan is None:
        return None
    if plan[0] == "parent":
        _, root, kept, dropped = plan
        if kept[0] == "static" and dropped[0] == "static":  # the SDK's own parent-based
            if_sampled, if_not = kept[1], dropped[1]
            if root[0] == "static":
                rooted = root[1]
                return lambda _t, caller, sampled: (
                    (if_sampled if sampled else if_not) if caller else rooted
                )
            bound = root[1]
            return lambda trace_id, caller, sampled: (
                (if_sampled if sampled else if_not) if caller else trace_id & _LOW_64 < bound
            )
        on_root, on_kept, on_dropped = _compiled(root), _compiled(kept), _compiled(dropped)
        return lambda trace_id, caller, sampled: (
            (on_kept if sampled else on_dropped)(trace_id) if caller else on_root(trace_id)
        )
    decide = _compiled(plan)
    return lambda trace_id, _caller, _sampled: decide(trace_id)


#: The trace id bits ``TraceIdRatioBased`` compares with its bound.
_LOW_64 = (1 << 64) - 1
#: ``("static", sampled)``, ``("ratio", bound)`` or ``("parent", root, kept, dropped)``.
_Plan = tuple[Any, ...]


def _decision_plan(sampler: Any) -> _Plan | None:
    method = getattr(type(sampler), "should_sample", None)
    if method is StaticSampler.should_sample and isinstance(sampler, StaticSampler):
        decision = getattr(sampler, "_decision", None)
        if decision is Decision.RECORD_AND_SAMPLE or decision is Decision.DROP:
            return ("static", decision is Decision.RECORD_AND_SAMPLE)
        return None
    if method is TraceIdRatioBased.should_sample and isinstance(sampler, TraceIdRatioBased):
        bound = sampler.bound
        if type(bound) is not int or TraceIdRatioBased.TRACE_ID_LIMIT != _LOW_64:
            return None
        return ("ratio", bound)
    if method is ParentBased.should_sample and isinstance(sampler, ParentBased):
        plans = [
            _decision_plan(getattr(sampler, name, None))
            for name in ("_root", "_remote_parent_sampled", "_remote_parent_not_sampled")
        ]
        if any(plan is None or plan[0] == "parent" for plan in plans):
            return None
        return ("parent", *plans)
    return None


def _compiled(plan: _Plan) -> Callable[[int], bool]:
    """A static or ratio plan as a function of the trace id."""
    if plan[0] == "static":
        sampled: bool = plan[1]
        return lambda _trace_id: sampled
    bound: int = plan[1]
    return lambda trace_id: trace_id & _LOW_64 < bound


class RunSpanBuilder:
    """Holds each run's events until its ``run_end``, then encodes the run's spans once for
    every target that samples it.

    Bounded: at most ``max_runs`` runs wait for their end, ``max_events`` events per run and
    ``max_held`` events in all; past a bound the oldest run (or the extra event) is dropped
    and its events counted in :attr:`dropped`. Not thread-safe: its owner feeds it one batch
    at a time.
    """

    def __init__(
        self,
        targets: Sequence[SpanTarget],
        *,
        head: Head,
        flavor: SpanFlavor | None = None,
        max_runs: int = 4096,
        max_events: int = 1024,
        max_held: int = 32_768,
    ) -> None:
        self.targets = list(targets)
        #: The encoded resource and scope every request starts with.
        self.head = head
        self._flavor = flavor or SpanFlavor()
        self._max_runs = max_runs
        self._max_events = max_events
        self._max_held = max_held
        self._held_count = 0
        self._held: OrderedDict[str, list[Mapping[str, Any]]] = OrderedDict()
        self._fixed = FixedFields()
        #: Node and tool spans but for their ids, times and call id (``span_tail``), by step.
        self._steps = FixedFields()
        #: Other spans' tails (name, kind, repeating attributes, status) by those values:
        #: a run span's or a generation's differs from the last run's only in its
        #: per-run attributes, which are encoded after it (:meth:`_encode`).
        self._tails: dict[tuple[str, bytes, str | None], tuple[SpanKind, bytes]] = {}
        #: Events lost to the bounds above, runs whose spans were built, and runs no target
        #: sampled (built not at all).
        self.dropped = 0
        self.runs = 0
        self.unsampled = 0

    @property
    def flavor(self) -> SpanFlavor:
        """What adds a sink's attributes and spans (replaced when a sink attaches)."""
        return self._flavor

    @flavor.setter
    def flavor(self, flavor: SpanFlavor) -> None:
        self._flavor = flavor
        self._steps = FixedFields()  # the steps made with the old flavor are not its

    @property
    def waiting(self) -> int:
        """Runs whose ``run_end`` has not arrived yet."""
        return len(self._held)

    def add(self, events: Iterable[Mapping[str, Any]]) -> None:
        """Take a batch of events; every complete run becomes spans now."""
        for event in events:
            name = event.get("event")
            run_id = event.get("run_id")
            if name == "run_end":
                held = self._held.pop(run_id, []) if isinstance(run_id, str) else []
                self._held_count -= len(held)
                self._build(event, held)
            elif name in _HELD_EVENTS and isinstance(run_id, str):
                self._hold(run_id, event)

    def _hold(self, run_id: str, event: Mapping[str, Any]) -> None:
        held = self._held.get(run_id)
        if held is None and self._held_count < self._max_held and len(self._held) < self._max_runs:
            self._held[run_id] = [event]  # a run's first event, within every bound
            self._held_count += 1
            return
        if held is not None and len(held) >= self._max_events:
            self.dropped += 1
            return
        if held is not None and self._held_count < self._max_held:  # the usual case
            held.append(event)
            self._held_count += 1
            return
        new_run = held is None
        while self._held and (
            self._held_count >= self._max_held or (new_run and len(self._held) >= self._max_runs)
        ):
            oldest, lost = self._held.popitem(last=False)
            self._held_count -= len(lost)
            self.dropped += len(lost)
            if oldest == run_id:
                held = None
        if held is None:
            held = self._held[run_id] = []
        held.append(event)
        self._held_count += 1

    # -- building ----------------------------------------------------------------------------

    def _build(self, end: Mapping[str, Any], held: Sequence[Mapping[str, Any]]) -> None:
        data = end.get("data")
        if type(data) is not dict:
            data = _data(end)
        trace_id = parse_trace_id(end.get("trace_id")) or _trace_number()
        caller_id = _parent_id(data)
        # Sampling first: a run no target wants costs a sampler call, not a span.
        chosen = self._sampled(end, trace_id, caller_id, data)
        if not chosen:
            self.unsampled += 1
            return
        self.runs += 1
        agent = end.get("agent")
        agent = agent if type(agent) is str and agent else str(agent or "agent")
        run = self._run_plan(end, held, data, agent)
        run.parent_span_id = caller_id
        flavor = self._flavor  # the property's value, without its call
        flavor.run(run, end, held)
        steps = flavor.steps_repeat
        run_span = run.span_id
        children: list[SpanPlan | _Step] = []
        opened: list[tuple[Mapping[str, Any], SpanPlan]] = []  # spans a flavor may change
        for e in held:
            name = e["event"]
            if name not in CHILD_EVENTS:
                continue
            if steps and name != "model_event":
                children.append(self._step(e, end, agent))
            else:
                plan = self._child_plan(e, end)
                children.append(plan)
                opened.append((e, plan))
        if len(children) > 1:
            own_ids = {child.span_id for child in children}
            for child in children:
                if child.parent_span_id not in own_ids:
                    child.parent_span_id = run_span
        elif children:
            children[0].parent_span_id = run_span
        for event, plan in opened:
            flavor.child(plan, event, end)
        plans = [plan for _, plan in opened]
        for plan in flavor.more_spans(run, end, plans):
            plan.span_id = plan.span_id or _span_number()
            plan.parent_span_id = plan.parent_span_id or run_span
            children.append(plan)
        trace = b"\x0a\x10" + trace_id.to_bytes(16, "big")  # the span's trace_id field
        # Children end before their parents, as they would have live.
        if len(children) > 1:
            children.sort(key=_START)
        encode = self._encode
        spans = [
            join_span(
                trace,
                child.span_id,
                child.parent_span_id,
                False,
                child.start_ns,
                child.end_ns,
                child.tail,
                child.extra,
            )
            if type(child) is _Step
            else encode(child, trace, False)  # type: ignore[arg-type]
            for child in children
        ]
        spans.append(encode(run, trace, True))
        events = len(held) + 1
        for target in chosen:  # the same bytes for every target: kept or lost whole
            target.queue.add_run(spans, events)

    def samples_none(self, end: Mapping[str, Any]) -> bool:
        """Whether no target keeps the run ``end`` ends, when that is known without a
        sampler call (every target's sampler has a :func:`fast_decision`, or keeps every
        run without a caller's span and the run has none) and without a random trace id
        (the run's ``trace_id`` is valid); ``False`` when a target keeps it or it cannot
        be told here. Decides as :meth:`_build` does, so a run this calls unsampled is
        one it would not build; reads only the targets, so any thread may ask."""
        trace_id = parse_trace_id(end.get("trace_id"))
        if not trace_id:
            return False
        data = end.get("data")
        if type(data) is not dict:
            data = _data(end)
        caller_id = _parent_id(data)
        caller_sampled = bool(data.get("parent_sampled", True)) if caller_id else True
        for target in self.targets:
            if target.sampler is None or (not caller_id and target.roots_always):
                return False
            decide = target.decide
            if decide is None or decide(trace_id, caller_id, caller_sampled):
                return False
        return True

    def _sampled(
        self, end: Mapping[str, Any], trace_id: int, caller_id: int, data: Mapping[str, Any]
    ) -> list[SpanTarget]:
        """The targets whose sampler keeps this run (one decision per run and target: a
        run and its children are kept or dropped together)."""
        if not caller_id:
            for target in self.targets:
                if not target.roots_always:
                    break
            else:
                return self.targets
        caller_sampled = bool(data.get("parent_sampled", True)) if caller_id else True
        context: Context | None = None
        chosen = []
        for target in self.targets:
            sampler = target.sampler
            if sampler is None or (not caller_id and target.roots_always):
                chosen.append(target)
                continue
            decide = target.decide
            if decide is not None:
                if decide(trace_id, caller_id, caller_sampled):
                    chosen.append(target)
                continue
            if context is None:
                if caller_id:
                    flags = _SAMPLED if caller_sampled else _NOT_SAMPLED
                    caller = SpanContext(trace_id, caller_id, is_remote=True, trace_flags=flags)
                    context = trace.set_span_in_context(NonRecordingSpan(caller))
                else:
                    context = Context()
            name = f"invoke_agent {end.get('agent') or 'agent'}"
            result = sampler.should_sample(context, trace_id, name, SpanKind.SERVER)
            if result.decision is Decision.RECORD_AND_SAMPLE:
                chosen.append(target)
        return chosen

    def _run_plan(
        self,
        end: Mapping[str, Any],
        held: Sequence[Mapping[str, Any]],
        data: Mapping[str, Any],
        agent: str,
    ) -> SpanPlan:
        end_ns = _int(data.get("end_unix_nano")) or _timestamp_ns(end.get("timestamp"))
        # A latency longer than the time since the epoch would start the run before it: 0.
        start_ns = _int(data.get("start_unix_nano")) or max(
            end_ns - _ms_to_ns(data.get("latency_ms")), 0
        )
        fixed = (agent, *map(data.get, _RUN_FIXED_KEYS))
        attributes: dict[str, Any] = {}
        # The calls of _put and _put_count made only for values that are there.
        value = data.get("tokens_input")
        if type(value) is int:
            attributes[INPUT_TOKENS] = value
        elif value is not None:
            _put_count(attributes, INPUT_TOKENS, value)
        value = data.get("tokens_output")
        if type(value) is int:
            attributes[OUTPUT_TOKENS] = value
        elif value is not None:
            _put_count(attributes, OUTPUT_TOKENS, value)
        value = data.get("thread_id")
        if value is not None:
            _put(attributes, CONVERSATION, value)
        value = end.get("run_id")
        if type(value) is str:
            attributes["agentdock.run_id"] = value
        elif value is not None:
            _put(attributes, "agentdock.run_id", value)
        value = data.get("retries")
        if value is not None:
            _put_count(attributes, "agentdock.run.retries", value)
        value = data.get("subject")
        if value is not None:
            _put(attributes, "agentdock.subject", value)
        cost = data.get("cost_usd")
        if isinstance(cost, int | float) and not isinstance(cost, bool):
            attributes["agentdock.cost_usd"] = float(cost)
        error: str | None = None
        if data.get("status") == "error" or data.get("success") is False:
            error = str(data.get("error_type") or "_OTHER")
            attributes[ERROR_TYPE] = error
        plan = SpanPlan(
            f"invoke_agent {agent}",
            SpanKind.SERVER,
            start_ns,
            end_ns,
            attributes,
            parse_span_id(end.get("span_id")) or _span_number(),
            0,
            error,
            self._fixed.get(fixed, _run_fixed),
        )
        for event in held:
            if event["event"] == "policy_event":
                found = _policy_attributes(event)
                plan.events.append(("agentdock.policy", found, _event_ns(event)))
            elif event["event"] == "error_event":
                found = _error_attributes(event)
                plan.events.append(("agentdock.error", found, _event_ns(event)))
        return plan

    def _step(self, event: Mapping[str, Any], end: Mapping[str, Any], agent: str) -> _Step:
        """A node or tool span: its ids and times from ``event``, the rest made once per
        kind of step (the first such event goes through :meth:`_child_plan` and the flavor)."""
        data = event.get("data")
        if type(data) is not dict:
            data = _data(event)
        start_ns = data.get("start_unix_nano")
        if type(start_ns) is not int or not 0 < start_ns < _INT64:  # the usual case: one check
            start_ns = _int(start_ns) or _event_ns(event)
        name = event["event"]
        status = data.get("status")
        label = data.get("tool" if name == "tool_event" else "node")
        error_type = data.get("error_type") if status in ("error", "denied") else None
        tail, typed = self._steps.find((name, agent, label, status, error_type))
        call_id = data.get("call_id") if name == "tool_event" else None
        if tail is None:
            plan = self._child_plan(event, end)
            plan.attributes.pop(TOOL_CALL_ID, None)  # this call's own: added per span
            self.flavor.child(plan, event, end)
            tail = self._steps.keep(
                typed,
                span_tail(
                    plan.name,
                    _OTLP_KIND[plan.kind],
                    plan.attributes,
                    plan.encoded,
                    plan.events,
                    plan.error,
                    _ERROR if plan.error is not None else 0,
                ),
            )
        return _Step(
            start_ns,
            start_ns + _ms_to_ns(data.get("duration_ms")),
            parse_span_id(data.get("span_id")) or _span_number(),
            _parent_id(data),
            tail,
            b"" if call_id is None else run_attributes({TOOL_CALL_ID: plain(call_id)}),
        )

    def _encode(self, plan: SpanPlan, trace: bytes, remote: bool) -> bytes:
        """``plan`` encoded; ``trace`` is the run's encoded ``trace_id`` field. The fields
        that repeat are made once per combination (a span with events: every time), and
        the per-run attributes go after them (protobuf takes fields in any order)."""
        error = plan.error
        if plan.events:
            tail = span_tail(
                plan.name,
                _OTLP_KIND[plan.kind],
                None,
                plan.encoded,
                plan.events,
                error,
                _ERROR if error is not None else 0,
            )
        else:
            # The kind is checked, not hashed: an enum's hash is a Python call.
            key = (plan.name, plan.encoded, error)
            found = self._tails.get(key)
            if found is None or found[0] is not plan.kind:
                if len(self._tails) >= _TAILS_KEPT:
                    self._tails.clear()
                found = self._tails[key] = (
                    plan.kind,
                    span_tail(
                        plan.name,
                        _OTLP_KIND[plan.kind],
                        None,
                        plan.encoded,
                        (),
                        error,
                        _ERROR if error is not None else 0,
                    ),
                )
            tail = found[1]
        return join_span(
            trace,
            plan.span_id,
            plan.parent_span_id,
            remote,
            plan.start_ns,
            plan.end_ns,
            tail,
            run_attributes(plan.attributes) if plan.attributes else b"",
        )

    def _child_plan(self, event: Mapping[str, Any], end: Mapping[str, Any]) -> SpanPlan:
        data = event.get("data")
        if type(data) is not dict:
            data = _data(event)
        start_ns = data.get("start_unix_nano")
        if type(start_ns) is not int or not 0 < start_ns < _INT64:  # the usual case: one check
            start_ns = _int(start_ns) or _event_ns(event)
        end_ns = start_ns + _ms_to_ns(data.get("duration_ms"))
        name = event["event"]
        agent = str(end.get("agent") or "agent")
        attributes: dict[str, Any] = {}
        status = data.get("status")
        error: str | None = None
        if name == "tool_event":
            tool = str(data.get("tool") or "tool")
            title, kind = f"execute_tool {tool}", SpanKind.INTERNAL
            fixed = self._fixed.get(("tool", agent, tool, status), _tool_fixed)
            _put(attributes, TOOL_CALL_ID, data.get("call_id"))
        elif name == "model_event":
            run = _data(end)
            configured = run.get("model")
            model = data.get("model") or configured or "model"
            title, kind = f"chat {model}", SpanKind.CLIENT
            # The agent's own model (the Dockfile's ``model.name``) is the Dockfile's
            # provider's, as the run span says: LangChain's ``ls_provider`` names a model
            # class it does not know by the class (``offlinechatmodel``). Another model keeps
            # the provider LangChain reports.
            provider = (
                run.get("provider")
                if model == configured and run.get("provider")
                else data.get("provider") or run.get("provider")
            )
            model = model if type(model) is str else str(model)
            # The model repeats run after run: encoded once with the agent and provider.
            fixed = self._fixed.get(("model", agent, provider, model), _model_fixed)
            _put(attributes, INPUT_TOKENS, _int_or_none(data.get("tokens_input")))
            _put(attributes, OUTPUT_TOKENS, _int_or_none(data.get("tokens_output")))
        else:
            node = str(data.get("node") or "node")
            title, kind = f"node {node}", SpanKind.INTERNAL
            fixed = self._fixed.get(("node", agent, node, status), _node_fixed)
        if status in ("error", "denied"):
            error = str(data.get("error_type") or status)
            attributes[ERROR_TYPE] = error
        plan = SpanPlan(
            title,
            kind,
            start_ns,
            end_ns,
            attributes,
            parse_span_id(data.get("span_id")) or _span_number(),
            _parent_id(data),
            error,
            fixed,
        )
        if name == "model_event":
            plan.model = model  # a flavor reads it
        return plan


def _run_fixed(key: tuple[Any, ...]) -> dict[str, Any]:
    """The run span's repeating attributes: ``key`` is the agent, then the values of
    :data:`_RUN_FIXED` (``None`` ones are left out)."""
    attributes = {OPERATION: "invoke_agent", AGENT_NAME: key[0]}
    attributes.update(zip((name for _, name in _RUN_FIXED), key[1:], strict=True))
    return attributes


def _tool_fixed(key: tuple[Any, ...]) -> dict[str, Any]:
    _, agent, tool, status = key
    return {
        AGENT_NAME: agent,
        OPERATION: "execute_tool",
        TOOL_NAME: tool,
        "agentdock.tool.status": status,
    }


def _model_fixed(key: tuple[Any, ...]) -> dict[str, Any]:
    _, agent, provider, model = key
    return {AGENT_NAME: agent, OPERATION: "chat", PROVIDER: provider, REQUEST_MODEL: model}


def _node_fixed(key: tuple[Any, ...]) -> dict[str, Any]:
    _, agent, node, status = key
    return {AGENT_NAME: agent, "agentdock.node.name": node, "agentdock.node.status": status}


class _Step:
    """A node or tool span made from a kept tail (:meth:`RunSpanBuilder._step`)."""

    __slots__ = ("end_ns", "extra", "parent_span_id", "span_id", "start_ns", "tail")

    def __init__(
        self,
        start_ns: int,
        end_ns: int,
        span_id: int,
        parent_span_id: int,
        tail: bytes,
        extra: bytes,
    ) -> None:
        self.start_ns = start_ns
        self.end_ns = max(end_ns, start_ns)
        self.span_id = span_id
        self.parent_span_id = parent_span_id
        self.tail = tail
        self.extra = extra


#: A span's start, what the spans of a run are sorted by.
_START = attrgetter("start_ns")


def _policy_attributes(event: Mapping[str, Any]) -> dict[str, Any]:
    data = _data(event)
    attributes: dict[str, Any] = {}
    _put(attributes, "agentdock.policy.name", data.get("policy"))
    _put(attributes, "agentdock.policy.stage", data.get("stage"))
    _put(attributes, "agentdock.policy.action", data.get("action"))
    _put(attributes, "agentdock.policy.matches", _int_or_none(data.get("matches")))
    duration = data.get("duration_ms")
    if isinstance(duration, int | float) and not isinstance(duration, bool):
        attributes["agentdock.policy.duration_ms"] = float(duration)
    kinds = data.get("kinds")
    if isinstance(kinds, list) and all(isinstance(k, str) for k in kinds):
        attributes["agentdock.policy.kinds"] = list(kinds)
    return attributes


def _error_attributes(event: Mapping[str, Any]) -> dict[str, Any]:
    # ``detail`` is left out: it is caller-safe text, but a span needs only the class.
    data = _data(event)
    attributes: dict[str, Any] = {}
    _put(attributes, ERROR_TYPE, data.get("error_type"))
    _put(attributes, "http.response.status_code", _int_or_none(data.get("code")))
    _put(attributes, "agentdock.stage", data.get("stage"))
    return attributes


def policy_summary(held: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The run's policy decisions as plain mappings (for metadata), in order."""
    return [_policy_attributes(event) for event in held if event.get("event") == "policy_event"]


_EMPTY: Mapping[str, Any] = {}


def _data(event: Mapping[str, Any]) -> Mapping[str, Any]:
    data = event.get("data")
    if type(data) is dict:  # the runtime's events: skip the ABC check, the slow part here
        return data
    return data if isinstance(data, Mapping) else _EMPTY


def _put(attributes: dict[str, Any], key: str, value: Any) -> None:
    if value is None:
        return
    attributes[key] = value if type(value) is str else plain(value)


def _put_count(attributes: dict[str, Any], key: str, value: Any) -> None:
    """``value`` as an int attribute when it is a whole number (not a bool)."""
    if type(value) is int:
        attributes[key] = value
    elif value is not None:
        value = _int_or_none(value)
        if value is not None:
            attributes[key] = value


def _int(value: Any) -> int:
    """A positive 64-bit timestamp, else 0 (unknown)."""
    if type(value) is int:  # the usual case, checked first
        return value if 0 < value < _INT64 else 0
    if isinstance(value, int) and not isinstance(value, bool) and 0 < value < _INT64:
        return value
    return 0


def _int_or_none(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return None


def _ms_to_ns(value: Any) -> int:
    """Milliseconds as nanoseconds; 0 for anything else (negative, NaN, infinite, huge)."""
    kind = type(value)
    if kind is float or kind is int:  # the usual case, checked first
        return int(value * 1_000_000) if 0 < value < _MAX_MS else 0
    if isinstance(value, int | float) and not isinstance(value, bool) and 0 < value < _MAX_MS:
        return int(value * 1_000_000)
    return 0


#: A duration past this (about 31 years) is not a span's: treated as unknown.
_MAX_MS = 1e12
_INT64 = 2**63


def _timestamp_ns(value: Any) -> int:
    if isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            pass
        else:
            return int(moment.timestamp() * 1_000_000_000)
    return time.time_ns()


def _event_ns(event: Mapping[str, Any]) -> int:
    return _timestamp_ns(event.get("timestamp"))
