"""What one run hands to telemetry: its state, its events, and the events that end it.

The pipeline keeps one :class:`RunState` per run and one :class:`RunReporter` for all runs.
Events of a run are gathered in the run's own list (``RunContext.emit`` is a
:class:`RunEvents`) and queued together when the run ends (:meth:`RunReporter.finish`), so
a run costs the telemetry queue one put; an event no sink wants is never built. No request
ever awaits a sink (see :mod:`agentdock_runtime.telemetry`).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from agentdock.run import Usage

from agentdock_runtime.capabilities import SinkCapabilities
from agentdock_runtime.errors import RuntimeHTTPError
from agentdock_runtime.events import envelope, new_span_id, parse_traceparent
from agentdock_runtime.telemetry import TelemetryQueues

__all__ = ["MAX_RUN_EVENTS", "RunEvents", "RunReporter", "RunState", "owner"]

log = logging.getLogger("agentdock.runtime")

_STEP_EVENTS = ("node_event", "tool_event", "model_event")

#: Events one run may report besides its own start and end; past it they are dropped and
#: counted (``TelemetryStats.dropped``), so a run that loops over tools stays bounded.
MAX_RUN_EVENTS = 1000

#: ``auth_event.reason`` for each refusal of the auth provider or the access rules.
_AUTH_REASONS = {
    "Unauthorized": "invalid",
    "TokenExpired": "expired",
    "KeyRevoked": "revoked",
    "Forbidden": "forbidden",
    "RateLimitExceeded": "rate_limited",
    # The check could not be made: the issuer's keys are unavailable, or limits set to fail
    # closed while Redis is unreachable.
    "ServiceUnavailable": "unavailable",
}


@dataclass(slots=True)
class RunState:
    """Where one run is and what it used: for its telemetry and its final answer."""

    usage: Usage = field(default_factory=Usage)
    retries: int = 0
    trace_id: str | None = None
    span_id: str | None = None
    parent_span_id: str | None = None
    parent_sampled: bool = True
    thread_id: str | None = None
    start_unix_nano: int = 0
    #: Where the run is: auth, input, pre, agent, output, post (``error_event.stage``).
    stage: str = "auth"
    #: The run's telemetry events, queued together when it ends (``None`` once queued).
    events: list[Mapping[str, Any]] | None = None
    #: A stream's final output, as its adapter reported it (``output`` event).
    output: Any = None
    has_output: bool = False


def owner(identity: Mapping[str, Any]) -> str | None:
    """The caller's subject as text (``None`` when anonymous)."""
    subject = identity.get("sub")
    return None if subject is None else str(subject)


class RunReporter:
    """The telemetry side of a pipeline: the sinks' queues and what the runs tell them."""

    def __init__(
        self,
        *,
        agent: str,
        sinks: Sequence[Any],
        sink_names: Sequence[str] | None,
        capabilities: SinkCapabilities,
        model: str | None,
        provider: str | None,
        auth_mode: str | None,
        pricing: Any | None,
        queue_size: int,
        batch_size: int,
        sink_timeout: float,
    ) -> None:
        self.agent = agent
        self.model = model
        self.provider = provider
        self.auth_mode = auth_mode
        self.pricing = pricing
        # The events some sink uses (``None``: a sink takes every event), and the steps the
        # adapter must time for them.
        self.wanted: frozenset[str] | None = capabilities.wanted
        self.steps = (
            frozenset(name for name in _STEP_EVENTS if self.wanted is None or name in self.wanted)
            if sinks
            else frozenset()
        )
        self.queues = TelemetryQueues(
            sinks,
            names=sink_names,
            queue_size=queue_size,
            batch_size=batch_size,
            sink_timeout=sink_timeout,
            loss_counting=capabilities.loss_counting,
        )

    def new_state(self, run_id: str, headers: Mapping[str, str], thread_id: str | None) -> RunState:
        """The state of a new run: the caller's trace (``traceparent``) or one of its own."""
        state = RunState(trace_id=run_id, thread_id=thread_id)
        traceparent = headers.get("traceparent")
        if traceparent:
            caller = parse_traceparent(traceparent)
            if caller is not None:
                state.trace_id = caller.trace_id
                state.parent_span_id = caller.parent_span_id
                state.parent_sampled = caller.sampled
        if self.queues.sinks:
            state.span_id = new_span_id()
            state.start_unix_nano = time.time_ns()
            state.events = []
        return state

    def run_data(self, identity: Mapping[str, Any], state: RunState) -> dict[str, Any]:
        return {
            "thread_id": state.thread_id,
            "role": identity.get("role"),
            "subject": identity.get("sub"),
            "model": self.model,
            "provider": self.provider,
            "start_unix_nano": state.start_unix_nano,
        }

    def event(
        self, name: str, data: Mapping[str, Any], run_id: str | None, state: RunState | None
    ) -> None:
        """Add an event to its run's (queued when the run ends), or queue it alone."""
        if self.wanted is not None and name not in self.wanted:
            return
        event = envelope(
            name,
            self.agent,
            data,
            run_id=run_id,
            trace_id=state.trace_id if state is not None else None,
            span_id=state.span_id if state is not None else None,
        )
        events = state.events if state is not None else None
        if events is not None:
            events.append(event)
        elif state is None:
            self.queues.put([event])

    def auth_failure(
        self,
        exc: RuntimeHTTPError,
        headers: Mapping[str, str],
        state: RunState | None,
        identity: Mapping[str, Any] | None,
    ) -> None:
        """The ``auth_event`` of a refusal: who was refused, once authenticated (a 403 or a
        429 names the role and the subject, never the credential), else nobody."""
        reason = _AUTH_REASONS.get(exc.name, "invalid")
        if reason == "invalid" and not ("authorization" in headers or "x-api-key" in headers):
            reason = "missing"
        role = identity.get("role") if identity is not None else None
        data = {
            "outcome": "failure",
            "reason": reason,
            "mode": self.auth_mode,
            "role": None if role is None else str(role),
            "subject": owner(identity) if identity is not None else None,
        }
        self.event("auth_event", data, None, state)

    def finish(
        self,
        mode: str,
        run_id: str,
        started: float,
        status: str,
        error: RuntimeHTTPError | None,
        identity: Mapping[str, Any],
        state: RunState,
    ) -> None:
        """The run's ``error_event`` and ``run_end``; its events go to the queue together."""
        if not self.queues.sinks:
            return
        data = self.run_data(identity, state)
        usage = state.usage
        data.update(
            mode=mode,
            status=status,
            success=status == "ok",
            error_type=error.name if error is not None else None,
            latency_ms=(time.perf_counter() - started) * 1000.0,
            tokens_input=usage.input_tokens,
            tokens_output=usage.output_tokens,
            retries=state.retries,
            end_unix_nano=time.time_ns(),
            parent_span_id=state.parent_span_id,
            parent_sampled=state.parent_sampled,
        )
        if self.pricing is not None:
            cost = self.pricing.cost_usd(usage.input_tokens, usage.output_tokens)
            if cost is not None:
                data["cost_usd"] = cost
        if error is not None:
            self.event(
                "error_event",
                {
                    "error_type": error.name,
                    "code": error.status,
                    "detail": error.detail,
                    "stage": state.stage,
                },
                run_id,
                state,
            )
        self.event("run_end", data, run_id, state)
        events, state.events = state.events, None
        if events:
            self.queues.put(events)


class RunEvents:
    """``RunContext.emit`` of one run: adds an event to the run's, queued when it ends.

    The envelope's ``span_id`` is the run's; a tool, node or model event carries its own
    span id in ``data``. Callable from any thread (synchronous graphs report from their
    worker): appending to the run's list needs neither the loop nor a lock. An event
    reported after its run ended is dropped.
    """

    __slots__ = ("reporter", "run_id", "state")

    def __init__(self, reporter: RunReporter, run_id: str, state: RunState) -> None:
        self.reporter = reporter
        self.run_id = run_id
        self.state = state

    def __call__(self, kind: str, data: Mapping[str, Any]) -> None:
        state = self.state
        events = state.events
        if events is None:
            return
        wanted = self.reporter.wanted
        if wanted is not None and kind not in wanted:
            return
        if len(events) >= MAX_RUN_EVENTS:
            self.reporter.queues.drop_for_every_sink()
            return
        try:
            events.append(
                envelope(
                    kind,
                    self.reporter.agent,
                    data,
                    run_id=self.run_id,
                    trace_id=state.trace_id,
                    span_id=state.span_id,
                )
            )
        except Exception as exc:  # telemetry never fails a run
            log.debug("event %s dropped (%s)", kind, type(exc).__name__)
