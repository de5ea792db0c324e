"""The compiled pipeline: everything one run needs, resolved once at start-up.

:func:`compile_pipeline` looks every plugin up once (adapter by ``agent.framework``, auth
provider by ``auth.mode``, every policy and telemetry sink factory called with the spec) and
compiles the I/O schemas. A request then runs, with no lookups and no compilation::

    auth → decode/validate input → pre policies → adapter (each tool call through the tool
    policies) → validate output → post policies → telemetry event queued

Servers call :meth:`Pipeline.invoke` or iterate :meth:`Pipeline.stream`; every refusal is a
:class:`~agentdock_runtime.errors.RuntimeHTTPError` carrying the run id. The adapter runs in
the caller's task, so when a server cancels the request's task (the client went away) the
cancellation reaches the agent. ``arguments.timeout_sec`` bounds the agent (504 past it);
``arguments.max_retries`` re-runs an agent that raised, never one that timed out or was
denied, and in a stream only while nothing has been sent.

Telemetry events go to a bounded queue drained by one background task; a full queue drops
the event and counts it, and a sink that raises or hangs past ``sink_timeout`` is counted
too (:attr:`Pipeline.telemetry_stats`). No request ever awaits a sink.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import os
import time
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Literal, NoReturn

from agentdock.plugins import PluginManager
from agentdock.run import (
    RunContext,
    RunResult,
    StreamEvent,
    ToolCall,
    ToolDenied,
    Usage,
    _no_telemetry,
)

from agentdock_runtime.errors import (
    AgentError,
    AgentTimeoutError,
    InternalError,
    RuntimeHTTPError,
    ToolDeniedError,
    Unauthorized,
)
from agentdock_runtime.events import envelope, new_run_id, new_span_id, parse_traceparent
from agentdock_runtime.iomodels import InputModel, OutputModel, input_model, output_model
from agentdock_runtime.offload import is_large
from agentdock_runtime.telemetry import TelemetryQueues, TelemetryStats

__all__ = [
    "DEFAULT_TIMEOUT_SEC",
    "MAX_RUN_EVENTS",
    "InvokeResult",
    "Pipeline",
    "PipelineError",
    "RunSettings",
    "StreamItem",
    "StreamItemKind",
    "TelemetryStats",
    "compile_pipeline",
]

log = logging.getLogger("agentdock.runtime")

#: How long an agent may run when ``arguments.timeout_sec`` is not given.
DEFAULT_TIMEOUT_SEC = 60.0
_STAGES = ("pre", "tool", "tool_output", "post")
_STEP_EVENTS = ("node_event", "tool_event", "model_event")
_NO_HEADERS: Mapping[str, str] = MappingProxyType({})
_ANONYMOUS: Mapping[str, Any] = MappingProxyType({"sub": None, "role": None})

StreamItemKind = Literal["start", "token", "event", "end", "error"]
_Check = Callable[[Any, RunContext], Awaitable[Any]]


class PipelineError(Exception):
    """The pipeline cannot be compiled from this spec and these plugins (start-up only)."""


@dataclass(frozen=True, slots=True)
class InvokeResult:
    """A finished run: its id, the validated output (ready to encode) and the tokens used."""

    run_id: str
    output: Any
    usage: Usage
    #: The W3C trace id of the run (the caller's, when it sent a ``traceparent``).
    trace_id: str | None = None


@dataclass(frozen=True, slots=True)
class StreamItem:
    """One item of a stream; ``id`` increases by one from ``1`` (the SSE ``id:``)."""

    id: int
    event: StreamItemKind
    data: Mapping[str, Any]
    #: On the ``start`` item: the caller's subject, so a server lets only that caller
    #: resume the stream. Never sent to the client.
    owner: str | None = field(default=None, compare=False)


@dataclass(frozen=True, slots=True)
class RunSettings:
    """The run knobs read from the Dockfile's ``arguments``."""

    #: Seconds the agent may run (all attempts together); ``None``: no bound.
    timeout_sec: float | None = DEFAULT_TIMEOUT_SEC
    #: Further attempts after the agent raised.
    max_retries: int = 0

    @classmethod
    def from_arguments(cls, arguments: Mapping[str, Any]) -> RunSettings:
        timeout = arguments.get("timeout_sec", DEFAULT_TIMEOUT_SEC)
        if timeout is not None and (
            isinstance(timeout, bool) or not isinstance(timeout, int | float) or timeout <= 0
        ):
            raise PipelineError(f"arguments.timeout_sec must be a positive number, got {timeout!r}")
        retries = arguments.get("max_retries", 0)
        if isinstance(retries, bool) or not isinstance(retries, int) or retries < 0:
            raise PipelineError(f"arguments.max_retries must be an integer >= 0, got {retries!r}")
        return cls(float(timeout) if timeout is not None else None, retries)


# -- per-run state -------------------------------------------------------------------------------


@dataclass(slots=True)
class _RunState:
    """What the tool gate saw during one run (an adapter may swallow the gate's error)."""

    failure: RuntimeHTTPError | None = None
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


async def _no_tools_after_run(call: ToolCall) -> None:
    raise ToolDenied(call.name, "the run is over")


def _as_async(fn: Callable[..., Any]) -> Callable[..., Awaitable[Any]]:
    """A coroutine function for ``fn``, decided once at compile time."""
    if inspect.iscoroutinefunction(fn):
        return fn

    async def call(*args: Any) -> Any:
        return fn(*args)

    return call


def _usage_dict(usage: Usage) -> dict[str, int]:
    return {
        "input_tokens": usage.input_tokens,
        "output_tokens": usage.output_tokens,
        "total_tokens": usage.total_tokens,
    }


# -- the pipeline --------------------------------------------------------------------------------


class Pipeline:
    """One agent, its auth, policies, I/O models and telemetry, ready to run requests."""

    #: The plugins that failed to load or register when it was compiled (``/health`` and the
    #: ``agentdock_plugin_errors`` metric name them; the log says why).
    plugin_errors: tuple[str, ...] = ()

    def __init__(
        self,
        *,
        agent: str,
        adapter: Any,
        input: InputModel,
        output: OutputModel,
        auth: Any | None = None,
        policies: Sequence[tuple[str, Any]] = (),
        sinks: Sequence[Any] = (),
        sink_names: Sequence[str] | None = None,
        access: Any | None = None,
        pricing: Any | None = None,
        arguments: Mapping[str, Any] | None = None,
        settings: RunSettings | None = None,
        model: str | None = None,
        provider: str | None = None,
        auth_mode: str | None = None,
        telemetry_queue_size: int = 1024,
        telemetry_batch_size: int = 64,
        sink_timeout: float = 5.0,
    ) -> None:
        self.agent = agent
        self.model = model
        self.provider = provider
        self.auth_mode = auth_mode
        self.adapter = adapter
        self.input = input
        self.output = output
        self.arguments: Mapping[str, Any] = MappingProxyType(dict(arguments or {}))
        self.settings = (
            settings if settings is not None else RunSettings.from_arguments(self.arguments)
        )
        self._auth = _as_async(auth.authenticate) if auth is not None else None
        self.auth_provider = auth
        #: Roles, permissions and rate limits (``None`` when auth is off).
        self.access = access
        self._access = access.check if access is not None else None
        self._pricing = pricing
        stages: dict[str, list[tuple[str, _Check]]] = {stage: [] for stage in _STAGES}
        sync_tool_checks: list[tuple[str, Callable[[ToolCall, RunContext], Any]]] = []
        tool_output_checks: list[tuple[str, Callable[[ToolCall, Any, RunContext], Any]]] = []
        #: The synchronous pre and post checks, by their coroutine wrappers: on a large value
        #: they run in a worker thread (``offload.py``), so the event loop keeps serving.
        self._sync: dict[_Check, Callable[..., Any]] = {}
        for name, policy in policies:
            stage = getattr(policy, "stage", None)
            if stage not in stages:
                raise PipelineError(
                    f"policy {name!r} has stage {stage!r}; expected one of {', '.join(_STAGES)}"
                )
            if stage == "tool_output":
                if inspect.iscoroutinefunction(policy.check):
                    raise PipelineError(
                        f"policy {name!r}: a tool_output check runs in the tool's thread, "
                        "so it must be synchronous"
                    )
                tool_output_checks.append((name, policy.check))
                continue
            check = _as_async(policy.check)
            stages[stage].append((name, check))
            if stage != "tool" and check is not policy.check:
                self._sync[check] = policy.check
            if stage == "tool" and not inspect.iscoroutinefunction(policy.check):
                sync_tool_checks.append((name, policy.check))
        self._pre = tuple(stages["pre"])
        self._tool = tuple(stages["tool"])
        # Every tool policy synchronous: adapters may check a tool call in the thread that
        # makes it, without a round trip to the event loop.
        self._tool_sync = (
            tuple(sync_tool_checks) if len(sync_tool_checks) == len(self._tool) else None
        )
        self._tool_output = tuple(tool_output_checks)
        self._post = tuple(stages["post"])
        # Post policies that hold stream text back release it here, at the end of a stream.
        self._post_finish = tuple(
            (index, name, _as_async(policy.finish))
            for index, (name, policy) in enumerate(p for p in policies if p[1].stage == "post")
            if callable(getattr(policy, "finish", None))
        )
        # Node updates of a stream carry the agent's state: post policies that inspect
        # them (``check_event``) see every ``event`` item.
        post_event: list[tuple[str, _Check]] = []
        for name, policy in policies:
            inspect_event = getattr(policy, "check_event", None)
            if policy.stage == "post" and callable(inspect_event):
                check = _as_async(inspect_event)
                post_event.append((name, check))
                if check is not inspect_event:
                    self._sync[check] = inspect_event
        self._post_event = tuple(post_event)
        # The events some sink uses (``None``: a sink takes every event), and the steps the
        # adapter must time for them.
        named = [getattr(sink, "wants", None) for sink in sinks]
        sets = [names for names in named if isinstance(names, frozenset | set)]
        self._wanted: frozenset[str] | None = (
            frozenset(str(name) for names in sets for name in names)
            if len(sets) == len(named)
            else None
        )
        self._steps = (
            frozenset(name for name in _STEP_EVENTS if self._wanted is None or name in self._wanted)
            if sinks
            else frozenset()
        )
        self._telemetry = TelemetryQueues(
            sinks,
            names=sink_names,
            queue_size=telemetry_queue_size,
            batch_size=telemetry_batch_size,
            sink_timeout=sink_timeout,
        )

    @property
    def telemetry_stats(self) -> TelemetryStats:
        return self._telemetry.stats

    def telemetry_drops(self) -> dict[str, int]:
        """Telemetry events lost per sink name (queue and sink together; see
        :meth:`~agentdock_runtime.telemetry.TelemetryQueues.sink_drops`)."""
        return self._telemetry.sink_drops()

    @property
    def authenticated(self) -> bool:
        """Whether requests are authenticated (``False`` only with ``insecure_no_auth``)."""
        return self._auth is not None

    @property
    def sinks(self) -> tuple[Any, ...]:
        """The telemetry sinks built for this spec."""
        return self._telemetry.sinks

    async def aclose(self, timeout: float = 5.0) -> None:
        """Deliver queued telemetry (within ``timeout``), flush the sinks, stop the drain,
        then let the auth provider and the access rules write back and close."""
        await self._telemetry.aclose(timeout)
        close = getattr(self.auth_provider, "close", None)
        if callable(close):
            try:
                await asyncio.wait_for(asyncio.to_thread(close), timeout)
            except Exception as exc:  # shutdown goes on
                log.warning("auth provider did not close (%s)", type(exc).__name__)
        if self.access is not None and hasattr(self.access, "close"):
            try:
                await asyncio.wait_for(self.access.close(), timeout)
            except Exception as exc:
                log.warning("access rules did not close (%s)", type(exc).__name__)

    async def __aenter__(self) -> Pipeline:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    # -- invoke ----------------------------------------------------------------------------------

    async def invoke(
        self,
        payload: bytes | bytearray | memoryview | str | Mapping[str, Any],
        *,
        headers: Mapping[str, str] = _NO_HEADERS,
        thread_id: str | None = None,
    ) -> InvokeResult:
        """Run the agent once.

        :param payload: the raw JSON body, or an already decoded mapping.
        :param headers: request headers, lower-case names (for the auth provider).
        :param thread_id: conversation id for stateful agents.
        :raises RuntimeHTTPError: any refusal or failure, with ``run_id`` set.
        """
        run_id = new_run_id()
        started = time.perf_counter()
        state = self._new_state(run_id, headers, thread_id)
        status, error, identity = "error", None, _ANONYMOUS
        try:
            identity = await self._admit(headers, "invoke", state)
            value, context = await self._prepare(payload, identity, run_id, thread_id, state)
            try:
                state.stage = "agent"
                result = await self._call_agent(value, context, state)
            finally:
                context.before_tool = _no_tools_after_run
            state.usage = result.usage
            state.stage = "output"
            output = self.output.validate(result.output)
            state.stage = "post"
            output = await self._run_policies(
                self._post, output, context, bool(self._sync) and is_large(output)
            )
            status = "ok"
            return InvokeResult(run_id, output, result.usage, state.trace_id)
        except RuntimeHTTPError as exc:
            exc.run_id = run_id
            exc.trace_id = state.trace_id
            error = exc
            raise
        except asyncio.CancelledError:
            status = "cancelled"
            raise
        except Exception:
            log.exception("run %s failed inside the runtime", run_id)
            internal = InternalError("the runtime failed to complete the run")
            internal.run_id = run_id
            internal.trace_id = state.trace_id
            error = internal
            raise internal from None
        finally:
            self._finish("invoke", run_id, started, status, error, identity, state)

    async def authorize(self, headers: Mapping[str, str], permission: str) -> Mapping[str, Any]:
        """Authenticate a request and check that its role has ``permission``.

        For routes outside a run (``/metrics``): the identity, or the refusal
        (401/498/499 from the auth provider, 403/429 from the access rules).
        """
        return await self._admit(headers, permission, None)

    async def _admit(
        self, headers: Mapping[str, str], permission: str, state: _RunState | None
    ) -> Mapping[str, Any]:
        if self._auth is None:
            return _ANONYMOUS
        caller: Mapping[str, Any] | None = None  # once authenticated: who was refused
        try:
            try:
                identity: Mapping[str, Any] = await self._auth(headers)
            except RuntimeHTTPError:
                raise
            except Exception as exc:
                log.warning("auth provider failed (%s)", type(exc).__name__)
                raise Unauthorized("invalid or missing credentials", headers=_CHALLENGE) from None
            caller = identity
            if self._access is not None:
                await self._access(identity, permission)
        except RuntimeHTTPError as exc:
            if self._telemetry.sinks:
                self._auth_failure(exc, headers, state, caller)
            raise
        return identity

    def _new_state(
        self, run_id: str, headers: Mapping[str, str], thread_id: str | None
    ) -> _RunState:
        state = _RunState(trace_id=run_id, thread_id=thread_id)
        traceparent = headers.get("traceparent")
        if traceparent:
            caller = parse_traceparent(traceparent)
            if caller is not None:
                state.trace_id = caller.trace_id
                state.parent_span_id = caller.parent_span_id
                state.parent_sampled = caller.sampled
        if self._telemetry.sinks:
            state.span_id = new_span_id()
            state.start_unix_nano = time.time_ns()
            state.events = []
        return state

    async def _prepare(
        self,
        payload: bytes | bytearray | memoryview | str | Mapping[str, Any],
        identity: Mapping[str, Any],
        run_id: str,
        thread_id: str | None,
        state: _RunState,
        *,
        mode: Literal["invoke", "stream"] = "invoke",
    ) -> tuple[Any, RunContext]:
        state.stage = "input"
        if isinstance(payload, Mapping):
            value: Any = self.input.validate(payload if type(payload) is dict else dict(payload))
        else:
            value = self.input.decode(payload)
        context = RunContext(
            run_id=run_id,
            thread_id=thread_id,
            arguments=self.arguments,
            subject=identity.get("sub"),
            role=identity.get("role"),
            trace_id=state.trace_id,
            span_id=state.span_id,
            mode=mode,
        )
        if self._telemetry.sinks:
            context.emit = _RunEvents(self, run_id, state)
            context.steps = self._steps
            if self._wanted is None or "run_start" in self._wanted:
                context.emit("run_start", {"mode": mode, **self._run_data(identity, state)})
        if self._tool:
            context.before_tool = _ToolGate(self._tool, context, state)
            if self._tool_sync is not None:
                context.check_tool = _SyncToolGate(self._tool_sync, context, state)
        if self._tool_output:
            context.check_tool_output = _ToolOutputGate(self._tool_output, context, state)
        state.stage = "pre"
        large = bool(self._sync) and is_large(
            value, None if isinstance(payload, Mapping) else payload
        )
        value = await self._run_policies(self._pre, value, context, large)
        return value, context

    async def _run_policies(
        self,
        policies: tuple[tuple[str, _Check], ...],
        value: Any,
        context: RunContext,
        large: bool = False,
    ) -> Any:
        """``value`` through ``policies`` in order; ``large``: the synchronous ones run in a
        worker thread, one at a time, so that other requests are served meanwhile."""
        for name, check in policies:
            try:
                sync = self._sync.get(check) if large else None
                if sync is not None:
                    value = await asyncio.to_thread(sync, value, context)
                else:
                    value = await check(value, context)
            except RuntimeHTTPError:
                raise
            except Exception as exc:
                log.warning("policy %s failed (%s)", name, type(exc).__name__)
                raise InternalError(f"policy {name!r} failed") from None
            if value is None:  # no input, output or token is None: a check forgot to return
                log.warning(
                    "policy %s returned None; check() returns the value to go on with", name
                )
                raise InternalError(f"policy {name!r} failed: its check returned nothing")
        return value

    async def _call_agent(self, value: Any, context: RunContext, state: _RunState) -> RunResult:
        settings = self.settings
        timeout = asyncio.timeout(settings.timeout_sec)
        try:
            async with timeout:
                while True:
                    try:
                        result: RunResult = await self.adapter.invoke(value, context)
                    except ToolDenied as exc:
                        raise state.failure or _denied(exc) from None
                    except RuntimeHTTPError:
                        raise
                    except Exception as exc:
                        if state.failure is None and timeout.expired():
                            raise
                        self._retry_or_fail(exc, context, state, may_retry=True)
                        continue
                    if state.failure is not None:
                        raise state.failure
                    return result
        except (asyncio.CancelledError, Exception) as exc:
            if timeout.expired() and not isinstance(exc, RuntimeHTTPError):
                raise _timed_out(settings.timeout_sec) from None
            raise

    def _retry_or_fail(
        self, exc: Exception, context: RunContext, state: _RunState, *, may_retry: bool
    ) -> None:
        """What an exception from the agent means: return to retry, or raise the run's error.

        A failure a policy already recorded wins; otherwise the agent is run again while
        ``max_retries`` allows, then the run ends with :class:`AgentError`.
        """
        if state.failure is not None:
            raise state.failure from None
        if may_retry and state.retries < self.settings.max_retries:
            state.retries += 1
            log.warning(
                "run %s: agent raised %s; retry %d of %d",
                context.run_id,
                type(exc).__name__,
                state.retries,
                self.settings.max_retries,
            )
            return
        _log_agent_failure(context.run_id, exc)
        raise AgentError("the agent failed to complete the run") from None

    # -- stream ----------------------------------------------------------------------------------

    async def stream(
        self,
        payload: bytes | bytearray | memoryview | str | Mapping[str, Any],
        *,
        headers: Mapping[str, str] = _NO_HEADERS,
        thread_id: str | None = None,
    ) -> AsyncIterator[StreamItem]:
        """Run the agent, yielding ``start``, then ``token``/``event`` items, then ``end``
        (``run_id``, ``usage`` and the run's ``output``, as ``invoke`` would answer it).

        A refusal before the run starts (auth, input, pre policies) is *raised* from the
        first step, so a server can still answer with an HTTP status; once ``start`` is out,
        a failure becomes one final ``error`` item holding the error envelope.
        """
        run_id = new_run_id()
        started = time.perf_counter()
        state = self._new_state(run_id, headers, thread_id)
        status, error, identity = "error", None, _ANONYMOUS
        context: RunContext | None = None
        try:
            try:
                identity = await self._admit(headers, "invoke", state)
                value, context = await self._prepare(
                    payload, identity, run_id, thread_id, state, mode="stream"
                )
            except RuntimeHTTPError as exc:
                exc.run_id = run_id
                exc.trace_id = state.trace_id
                error = exc
                raise
            except Exception:
                log.exception("run %s failed inside the runtime", run_id)
                internal = InternalError("the runtime failed to start the run")
                internal.run_id = run_id
                internal.trace_id = state.trace_id
                error = internal
                raise internal from None
            item_id = 1
            yield StreamItem(
                item_id,
                "start",
                {"run_id": run_id, "trace_id": state.trace_id},
                _owner(identity),
            )
            failure: RuntimeHTTPError | None = None
            state.stage = "agent"
            try:
                async with contextlib.aclosing(self._agent_events(value, context, state)) as events:
                    async for kind, data in events:
                        if kind == "token" and self._post:
                            data = await self._run_policies(
                                self._post, data, context, bool(self._sync) and is_large(data)
                            )
                        elif kind == "event" and self._post_event:
                            data = await self._run_policies(
                                self._post_event, data, context, is_large(data)
                            )
                        item_id += 1
                        yield StreamItem(item_id, kind, data)
                state.stage = "post"
                for index, name, finish in self._post_finish:
                    tail = await self._finish_policy(index, name, finish, context)
                    if tail is not None:
                        item_id += 1
                        yield StreamItem(item_id, "token", tail)
                output = await self._final_output(context, state)
            except RuntimeHTTPError as exc:
                exc.run_id = run_id
                exc.trace_id = state.trace_id
                failure = exc
            if failure is not None:
                error = failure
                item_id += 1
                yield StreamItem(item_id, "error", failure.envelope(run_id))
                return
            item_id += 1
            yield StreamItem(
                item_id,
                "end",
                {"run_id": run_id, "usage": _usage_dict(state.usage), "output": output},
            )
            status = "ok"
        except (asyncio.CancelledError, GeneratorExit):
            status = "cancelled"
            raise
        finally:
            if context is not None:
                context.before_tool = _no_tools_after_run
            self._finish("stream", run_id, started, status, error, identity, state)

    async def _final_output(self, context: RunContext, state: _RunState) -> Any:
        """The stream's output for its ``end`` item, as ``invoke`` would answer it: checked
        against the output schema, then through the post policies as one whole output.

        The policies' events were reported for the streamed tokens already, so this pass
        reports none. ``None`` when the adapter reported no output.
        """
        if not state.has_output:
            return None
        state.stage = "output"
        output = self.output.validate(state.output)
        state.stage = "post"
        if not self._post:
            return output
        emit, context.emit, context.mode = context.emit, _no_telemetry, "invoke"
        try:
            large = bool(self._sync) and is_large(output)
            return await self._run_policies(self._post, output, context, large)
        finally:
            context.emit, context.mode = emit, "stream"

    async def _finish_policy(
        self,
        index: int,
        name: str,
        finish: Callable[[RunContext], Awaitable[Any]],
        context: RunContext,
    ) -> Mapping[str, Any] | None:
        """What post policy ``index`` held back, passed through the post policies after it."""
        try:
            tail = await finish(context)
        except RuntimeHTTPError:
            raise
        except Exception as exc:
            log.warning("policy %s failed (%s)", name, type(exc).__name__)
            raise InternalError(f"policy {name!r} failed") from None
        if tail is None:
            return None
        result: Mapping[str, Any] = await self._run_policies(self._post[index + 1 :], tail, context)
        return result

    async def _agent_events(
        self, value: Any, context: RunContext, state: _RunState
    ) -> AsyncGenerator[tuple[StreamItemKind, Mapping[str, Any]], None]:
        settings = self.settings
        loop = asyncio.get_running_loop()
        deadline = loop.time() + settings.timeout_sec if settings.timeout_sec else None
        while True:
            events = self.adapter.stream(value, context)
            sent = False
            try:
                while True:
                    step = asyncio.timeout_at(deadline)
                    try:
                        async with step:
                            event: StreamEvent = await anext(events)
                    except StopAsyncIteration:
                        break
                    except (TimeoutError, asyncio.CancelledError):
                        if step.expired():
                            raise _timed_out(settings.timeout_sec) from None
                        raise
                    if event.kind == "usage":
                        state.usage = state.usage + Usage(
                            int(event.data.get("input_tokens", 0)),
                            int(event.data.get("output_tokens", 0)),
                        )
                        continue
                    if event.kind == "output":
                        state.output, state.has_output = event.data.get("output"), True
                        continue
                    sent = True
                    if event.kind == "token":
                        yield "token", event.data
                    elif event.kind == "tool":
                        yield "event", {"type": "tool", **event.data}
                    else:
                        yield "event", event.data
                if state.failure is not None:
                    raise state.failure
                return
            except ToolDenied as exc:
                raise state.failure or _denied(exc) from None
            except RuntimeHTTPError:
                raise
            except Exception as exc:
                # Nothing is retried once output reached the client.
                self._retry_or_fail(exc, context, state, may_retry=not sent)
                continue
            finally:
                aclose = getattr(events, "aclose", None)
                if aclose is not None:
                    with contextlib.suppress(Exception):
                        await aclose()

    # -- telemetry -------------------------------------------------------------------------------

    def _run_data(self, identity: Mapping[str, Any], state: _RunState) -> dict[str, Any]:
        return {
            "thread_id": state.thread_id,
            "role": identity.get("role"),
            "subject": identity.get("sub"),
            "model": self.model,
            "provider": self.provider,
            "start_unix_nano": state.start_unix_nano,
        }

    def _event(
        self, name: str, data: Mapping[str, Any], run_id: str | None, state: _RunState | None
    ) -> None:
        """Add an event to its run's (queued when the run ends), or queue it alone."""
        if self._wanted is not None and name not in self._wanted:
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
            self._telemetry.put([event])

    def _auth_failure(
        self,
        exc: RuntimeHTTPError,
        headers: Mapping[str, str],
        state: _RunState | None,
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
            "subject": _owner(identity) if identity is not None else None,
        }
        self._event("auth_event", data, None, state)

    def _finish(
        self,
        mode: str,
        run_id: str,
        started: float,
        status: str,
        error: RuntimeHTTPError | None,
        identity: Mapping[str, Any],
        state: _RunState,
    ) -> None:
        if not self._telemetry.sinks:
            return
        data = self._run_data(identity, state)
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
        if self._pricing is not None:
            cost = self._pricing.cost_usd(usage.input_tokens, usage.output_tokens)
            if cost is not None:
                data["cost_usd"] = cost
        if error is not None:
            self._event(
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
        self._event("run_end", data, run_id, state)
        events, state.events = state.events, None
        if events:
            self._telemetry.put(events)


#: Sent with a 401 the auth provider did not word itself.
_CHALLENGE: Mapping[str, str] = MappingProxyType({"www-authenticate": 'Bearer realm="agentdock"'})

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


#: Events one run may report besides its own start and end; past it they are dropped and
#: counted (``TelemetryStats.dropped``), so a run that loops over tools stays bounded.
MAX_RUN_EVENTS = 1000


class _RunEvents:
    """``RunContext.emit`` of one run: adds an event to the run's, queued when it ends.

    The envelope's ``span_id`` is the run's; a tool, node or model event carries its own
    span id in ``data``. Callable from any thread (synchronous graphs report from their
    worker): appending to the run's list needs neither the loop nor a lock. An event
    reported after its run ended is dropped.
    """

    __slots__ = ("pipeline", "run_id", "state")

    def __init__(self, pipeline: Pipeline, run_id: str, state: _RunState) -> None:
        self.pipeline = pipeline
        self.run_id = run_id
        self.state = state

    def __call__(self, kind: str, data: Mapping[str, Any]) -> None:
        state = self.state
        events = state.events
        if events is None:
            return
        wanted = self.pipeline._wanted
        if wanted is not None and kind not in wanted:
            return
        if len(events) >= MAX_RUN_EVENTS:
            self.pipeline._telemetry.drop_for_every_sink()
            return
        try:
            events.append(
                envelope(
                    kind,
                    self.pipeline.agent,
                    data,
                    run_id=self.run_id,
                    trace_id=state.trace_id,
                    span_id=state.span_id,
                )
            )
        except Exception as exc:  # telemetry never fails a run
            log.debug("event %s dropped (%s)", kind, type(exc).__name__)


class _ToolGate:
    """``RunContext.before_tool`` for one run: every tool policy, in order."""

    __slots__ = ("checks", "context", "state")

    def __init__(
        self, checks: tuple[tuple[str, _Check], ...], context: RunContext, state: _RunState
    ) -> None:
        self.checks = checks
        self.context = context
        self.state = state

    async def __call__(self, call: ToolCall) -> None:
        for name, check in self.checks:
            try:
                await check(call, self.context)
            except Exception as exc:
                _tool_refused(exc, name, call, self.state)


class _SyncToolGate:
    """``RunContext.check_tool`` for one run: the same checks as :class:`_ToolGate`, called
    in the thread that makes the tool call (every tool policy is synchronous)."""

    __slots__ = ("checks", "context", "state")

    def __init__(
        self,
        checks: tuple[tuple[str, Callable[[ToolCall, RunContext], Any]], ...],
        context: RunContext,
        state: _RunState,
    ) -> None:
        self.checks = checks
        self.context = context
        self.state = state

    def __call__(self, call: ToolCall) -> None:
        if self.context.before_tool is _no_tools_after_run:
            raise ToolDenied(call.name, "the run is over")
        for name, check in self.checks:
            try:
                check(call, self.context)
            except Exception as exc:
                _tool_refused(exc, name, call, self.state)


class _ToolOutputGate:
    """``RunContext.check_tool_output`` for one run: every ``tool_output`` policy, in order,
    in the thread that made the tool call."""

    __slots__ = ("checks", "context", "state")

    def __init__(
        self,
        checks: tuple[tuple[str, Callable[[ToolCall, Any, RunContext], Any]], ...],
        context: RunContext,
        state: _RunState,
    ) -> None:
        self.checks = checks
        self.context = context
        self.state = state

    def __call__(self, call: ToolCall, output: Any) -> None:
        for name, check in self.checks:
            try:
                check(call, output, self.context)
            except Exception as exc:
                _tool_refused(exc, name, call, self.state)


def _tool_refused(exc: Exception, name: str, call: ToolCall, state: _RunState) -> NoReturn:
    """Latch what tool policy ``name`` raised as the run's failure; raise the denial."""
    if isinstance(exc, ToolDenied):
        state.failure = _denied(exc)
        raise exc
    if isinstance(exc, RuntimeHTTPError):
        state.failure = exc
        raise exc
    log.warning("tool policy %s failed (%s)", name, type(exc).__name__)
    state.failure = InternalError(f"policy {name!r} failed")
    raise ToolDenied(call.name, "the tool policy failed") from None


def _owner(identity: Mapping[str, Any]) -> str | None:
    subject = identity.get("sub")
    return None if subject is None else str(subject)


def _log_agent_failure(run_id: str, exc: BaseException) -> None:
    # The exception's text may quote what the agent handled: only its type at error level.
    log.error("run %s: agent raised %s", run_id, type(exc).__name__)
    log.debug("run %s: agent traceback", run_id, exc_info=exc)


def _denied(exc: ToolDenied) -> ToolDeniedError:
    return ToolDeniedError(f"tool {exc.tool!r} is not allowed: {exc.reason}", path=exc.tool)


def _timed_out(timeout: float | None) -> AgentTimeoutError:
    return AgentTimeoutError(f"the agent did not finish within {timeout:g} s")


# -- compiling -----------------------------------------------------------------------------------


def _enabled(plugins: PluginManager, kind: str, spec: Any) -> list[tuple[str, Any]]:
    """The registrations of ``kind`` this agent uses: the built-ins and those registered in
    process, and an installed plugin's only where the Dockfile's ``plugins`` block names it
    (:meth:`agentdock.plugins.PluginManager.needs_naming`): installing a plugin never
    changes an agent that does not ask for it."""
    named = getattr(spec, "plugins", None) or {}
    return [
        (name, reg)
        for name, reg in plugins.registrations(kind).items()
        if name in named or not plugins.needs_naming(reg.plugin)
    ]


def compile_pipeline(
    spec: Any,
    *,
    entry: Any,
    plugins: PluginManager,
    insecure_no_auth: bool = False,
    telemetry_queue_size: int = 1024,
    sink_timeout: float = 5.0,
) -> Pipeline:
    """Resolve every plugin the spec needs, once, into a :class:`Pipeline`.

    :param spec: the resolved ``DockSpec`` (placeholders already filled in).
    :param entry: the imported ``agent.entrypoint`` object, handed to the adapter factory.
    :param plugins: where adapters, auth providers, policies and sinks are registered.
    :param insecure_no_auth: run with no authentication at all (local development only);
        whoever serves the pipeline warns of it, naming where it is served.
    :raises PipelineError: a plugin is missing, a factory failed, or ``arguments`` are wrong.
    """
    framework = spec.agent.framework
    registration = plugins.get("adapters", framework)
    if registration is None:
        raise PipelineError(f"no adapter plugin provides framework {framework!r}")
    adapter = _build("adapter", framework, registration.factory, entry, spec)

    auth: Any | None = None
    mode = spec.auth.mode
    if not insecure_no_auth:
        provider = plugins.get("auth_providers", mode)
        if provider is None:
            raise PipelineError(
                f"no auth provider plugin for auth.mode {mode!r}; refusing to serve the agent "
                "without authentication"
            )
        auth = _build("auth provider", mode, provider.factory, spec)

    policies: list[tuple[str, Any]] = []
    for name, reg in _enabled(plugins, "policies", spec):
        policy = _build("policy", name, reg.factory, spec)
        if policy is not None:
            policies.append((name, policy))
    sinks: list[Any] = []
    sink_names: list[str] = []
    for name, reg in _enabled(plugins, "telemetry_sinks", spec):
        sink = _build("telemetry sink", name, reg.factory, spec)
        if sink is not None:
            sinks.append(sink)
            sink_names.append(name)

    try:
        inputs = input_model(spec.io_schema)
        outputs = output_model(spec.io_schema)
    except Exception as exc:
        raise PipelineError(f"cannot compile io_schema: {type(exc).__name__}: {exc}") from exc

    access = _compile_access(spec) if auth is not None else None
    pricing = _compile_pricing(spec, plugins) if sinks else None

    arguments = dict(spec.arguments)
    pipeline = Pipeline(
        agent=spec.agent.name,
        adapter=adapter,
        input=inputs,
        output=outputs,
        auth=auth,
        policies=policies,
        sinks=sinks,
        sink_names=sink_names,
        access=access,
        pricing=pricing,
        arguments=arguments,
        settings=RunSettings.from_arguments(arguments),
        model=spec.model.name,
        provider=spec.model.provider,
        auth_mode=mode,
        telemetry_queue_size=telemetry_queue_size,
        sink_timeout=sink_timeout,
    )
    pipeline.plugin_errors = tuple(sorted({err.name for err in plugins.errors()}))
    for sink in sinks:
        bind = getattr(sink, "bind", None)
        if callable(bind):  # a sink that reports on the pipeline itself (queue, drops)
            bind(pipeline)
    return pipeline


def _compile_access(spec: Any) -> Any | None:
    """Roles, permissions and rate limits (see :mod:`agentdock_runtime.access` for where
    limits are kept: memory, a file the workers share, Redis)."""
    try:
        from agentdock_runtime.access import compile_access
    except ModuleNotFoundError:
        return None
    try:
        return compile_access(spec, redis_url=os.environ.get("AGENTDOCK_REDIS_URL") or None)
    except Exception as exc:
        raise PipelineError(f"cannot compile auth roles and rate limits: {exc}") from exc


def _compile_pricing(spec: Any, plugins: PluginManager) -> Any | None:
    try:
        from agentdock_runtime.cost import compile_pricing
    except ModuleNotFoundError:
        return None
    try:
        return compile_pricing(spec, plugins)
    except Exception as exc:
        raise PipelineError(f"cannot compile the model pricing: {exc}") from exc


def _build(kind: str, name: str, factory: Callable[..., Any], *args: Any) -> Any:
    try:
        return factory(*args)
    except Exception as exc:
        raise PipelineError(
            f"{kind} {name!r} could not be built: {type(exc).__name__}: {exc}"
        ) from exc
