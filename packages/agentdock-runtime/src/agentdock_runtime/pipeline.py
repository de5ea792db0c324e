"""The pipeline: one agent's run, from the request to the answer, with nothing looked up.

:func:`~agentdock_runtime.compile.compile_pipeline` builds a :class:`Pipeline` once at
start-up. A request then runs, with no lookups and no compilation::

    auth → decode/validate input → pre policies → adapter (each tool call through the tool
    policies, each tool's result through the tool_output policies) → validate output →
    post policies → telemetry event queued

Servers call :meth:`Pipeline.invoke` or iterate :meth:`Pipeline.stream`; every refusal is a
:class:`~agentdock_runtime.errors.RuntimeHTTPError` carrying the run id. The adapter runs in
the caller's task, so when a server cancels the request's task (the client went away) the
cancellation reaches the agent. ``arguments.timeout_sec`` bounds the agent (504 past it);
``arguments.max_retries`` re-runs an agent that raised, never one that timed out or was
denied, and in a stream only while nothing has been sent.

The rooms beside this one: the adapter under its timeout and retries (:mod:`.agentcalls`),
the policy stages and the tool gate (:mod:`.gates`), what a run hands to telemetry
(:mod:`.runreport`; events go to a bounded queue drained by one background task,
:mod:`.telemetry`, and no request ever awaits a sink), the ``arguments`` knobs
(:mod:`.runsettings`) and the compiler (:mod:`.compile`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Literal, NoReturn

from agentdock.capabilities import ClosingAdapter
from agentdock.run import (
    RunContext,
    Usage,
    no_telemetry,
)

from agentdock_runtime.agentcalls import AgentCalls
from agentdock_runtime.capabilities import PipelineCapabilities
from agentdock_runtime.errors import (
    InternalError,
    RuntimeHTTPError,
    Unauthorized,
)
from agentdock_runtime.events import new_run_id
from agentdock_runtime.gates import (
    PolicyStages,
    PolicyToolGate,
    ToolOutputGate,
    as_async,
)
from agentdock_runtime.iomodels import InputModel, OutputModel
from agentdock_runtime.offload import is_large
from agentdock_runtime.runreport import MAX_RUN_EVENTS, RunEvents, RunReporter, RunState, owner
from agentdock_runtime.runsettings import DEFAULT_TIMEOUT_SEC, PipelineError, RunSettings
from agentdock_runtime.telemetry import TelemetryStats
from agentdock_runtime.threads import caller_thread

__all__ = [
    "DEFAULT_TIMEOUT_SEC",
    "MAX_RUN_EVENTS",
    "AdmittedHeaders",
    "InvokeResult",
    "Pipeline",
    "PipelineError",
    "RunSettings",
    "StreamItem",
    "StreamItemKind",
    "TelemetryStats",
]

log = logging.getLogger("agentdock.runtime")

_NO_HEADERS: Mapping[str, str] = MappingProxyType({})
_ANONYMOUS: Mapping[str, Any] = MappingProxyType({"sub": None, "role": None})
#: Sent with a 401 the auth provider did not word itself.
_CHALLENGE: Mapping[str, str] = MappingProxyType({"www-authenticate": 'Bearer realm="agentdock"'})

StreamItemKind = Literal["start", "token", "event", "end", "error"]


@dataclass(frozen=True, slots=True)
class InvokeResult:
    """A finished run: its id, the validated output (ready to encode) and the tokens used."""

    run_id: str
    output: Any
    usage: Usage
    #: The W3C trace id of the run (the caller's, when it sent a ``traceparent``).
    trace_id: str | None = None
    #: What the agent was given: the input (or the resume payload) as the ``pre`` policies
    #: made it (redacted). A server that keeps or repeats the caller's input keeps this,
    #: never the raw one.
    input: Any = None


@dataclass(frozen=True, slots=True)
class StreamItem:
    """One item of a stream; ``id`` increases by one from ``1`` (the SSE ``id:``)."""

    id: int
    event: StreamItemKind
    data: Mapping[str, Any]
    #: On the ``start`` item: the caller's subject, so a server lets only that caller
    #: resume the stream. Never sent to the client.
    owner: str | None = field(default=None, compare=False)
    #: On the ``start`` item: the input as the ``pre`` policies made it (as
    #: :attr:`InvokeResult.input`). Never sent to the client.
    input: Any = field(default=None, compare=False, repr=False)


class AdmittedHeaders(dict[str, str]):
    """A request's headers whose caller :meth:`Pipeline.admit` let run the agent.

    A server admits the caller from the headers alone, before it reads the body, then hands
    these headers to the run: the run's own admission takes the identity from here instead
    of authenticating again, so the rate limit still counts the call once. That holds for
    one run (a further run on the same headers is admitted again), or for as many as
    :meth:`Pipeline.admit_runs` charged the rate limit for up front (a batch's);
    :meth:`Pipeline.authorize` for ``invoke`` reads it as often as asked. Only the pipeline
    that made them trusts them.
    """

    __slots__ = ("_by", "_identity", "_unused")

    # Made by :meth:`Pipeline.admit` alone: ``AdmittedHeaders(headers)`` and the three slots
    # set there (dict's own constructor and plain stores: half the cost of an ``__init__``).
    _by: Pipeline
    _identity: Mapping[str, Any]
    #: Runs still to take this admission as theirs.
    _unused: int


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
        shared_threads: bool = False,
    ) -> None:
        self.agent = agent
        #: ``expose.threads: shared``: a thread id names the same conversation for every
        #: caller (else each caller's own: :mod:`agentdock_runtime.threads`).
        self.shared_threads = shared_threads
        self.model = model
        self.provider = provider
        self.auth_mode = auth_mode
        self.adapter = adapter
        #: What releases the adapter's threads and files at shutdown (``aclose``).
        self._close_adapter = adapter.close if isinstance(adapter, ClosingAdapter) else None
        self.input = input
        self.output = output
        self.arguments: Mapping[str, Any] = MappingProxyType(dict(arguments or {}))
        self.settings = (
            settings if settings is not None else RunSettings.from_arguments(self.arguments)
        )
        self._agent = AgentCalls(adapter, self.settings)
        self._auth = as_async(auth.authenticate) if auth is not None else None
        self.auth_provider = auth
        #: What the sinks and the auth provider offer besides their contract, sorted once.
        self.capabilities = PipelineCapabilities.sort(auth, sinks)
        #: Roles, permissions and rate limits (``None`` when auth is off).
        self.access = access
        self._access = access.check if access is not None else None
        stages = PolicyStages(policies)
        # The stages' checks, held here too: the hot path reads them with no second lookup.
        self._stages = stages
        self._sync = stages.sync
        self._pre = stages.pre
        self._tool = stages.tool
        self._tool_sync = stages.tool_sync
        self._tool_output = stages.tool_output
        self._post = stages.post
        self._post_finish = stages.post_finish
        self._post_event = stages.post_event
        self._run_policies = stages.run
        self._report = RunReporter(
            agent=agent,
            sinks=sinks,
            sink_names=sink_names,
            capabilities=self.capabilities.sinks,
            model=model,
            provider=provider,
            auth_mode=auth_mode,
            pricing=pricing,
            queue_size=telemetry_queue_size,
            batch_size=telemetry_batch_size,
            sink_timeout=sink_timeout,
        )
        self._telemetry = self._report.queues
        self._wanted = self._report.wanted
        self._steps = self._report.steps
        self._finish = self._report.finish
        self._new_state = self._report.new_state

    @property
    def telemetry_stats(self) -> TelemetryStats:
        return self._telemetry.stats

    def telemetry_drops(self) -> dict[str, int]:
        """Telemetry events lost per sink name (queue and sink together; see
        :meth:`~agentdock_runtime.telemetry.TelemetryQueues.sink_drops`)."""
        return self._telemetry.sink_drops()

    def telemetry_unsampled(self) -> dict[str, int]:
        """Runs each sampling sink left out, by sink name (see
        :meth:`~agentdock_runtime.telemetry.TelemetryQueues.sink_unsampled`)."""
        return self._telemetry.sink_unsampled()

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
        close the adapter (its worker threads, its checkpointer), then let the auth provider
        and the access rules write back and close.

        Servers call it once their last request is done (Litestar's ``on_shutdown``); the
        adapter is this pipeline's own, built by :func:`~agentdock_runtime.compile_pipeline`.
        """
        await self._telemetry.aclose(timeout)
        for what, close in (
            ("adapter", self._close_adapter),
            ("auth provider", self.capabilities.auth.close),
        ):
            if close is None:
                continue
            try:
                await asyncio.wait_for(asyncio.to_thread(close), timeout)
            except Exception as exc:  # shutdown goes on
                log.warning("%s did not close (%s)", what, type(exc).__name__)
        if self.access is not None:
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
        own_thread: bool = False,
        resume: bool = False,
        run_id: str | None = None,
    ) -> InvokeResult:
        """Run the agent once.

        :param payload: the raw JSON body, or an already decoded mapping.
        :param headers: request headers, lower-case names (for the auth provider).
        :param thread_id: conversation id for stateful agents: the caller's own one of
            that name unless threads are shared (:mod:`agentdock_runtime.threads`).
        :param own_thread: ``thread_id`` is a thread the server found to be the caller's
            (a Platform thread): used as it is.
        :param resume: ``payload`` (a mapping: ``{"resume": …}``) resumes a run stopped at
            an interrupt: it is no input, so the input schema does not check it; the ``pre``
            policies do (a refusal's ``path`` starts with ``resume``).
        :param run_id: the run's id, when the server named the run before it started (a
            Platform run in the background answers with it); a fresh one otherwise.
        :raises RuntimeHTTPError: any refusal or failure, with ``run_id`` set.
        """
        run_id = run_id or new_run_id()
        started = time.perf_counter()
        state = self._new_state(run_id, headers, thread_id)
        status, error, identity = "error", None, _ANONYMOUS
        try:
            identity = await self._admit(headers, "invoke", state)
            value, context = await self._prepare(
                payload, identity, run_id, thread_id, state, own_thread=own_thread, resume=resume
            )
            try:
                state.stage = "agent"
                result = await self._agent.invoke(value, context, state)
            finally:
                context.tools.close()
            state.usage = result.usage
            state.stage = "output"
            output = result.output
            if not _interrupted(output):  # a run stopped at an interrupt answers partial state
                output = self.output.validate(output)
            state.stage = "post"
            output = await self._run_policies(
                self._post, output, context, bool(self._sync) and is_large(output)
            )
            status = "ok"
            return InvokeResult(run_id, output, result.usage, state.trace_id, value)
        except RuntimeHTTPError as exc:
            error = _stamped(exc, run_id, state)
            raise
        except asyncio.CancelledError:
            status = "cancelled"
            raise
        except Exception:
            log.exception("run %s failed inside the runtime", run_id)
            error = _stamped(InternalError("the runtime failed to complete the run"), run_id, state)
            raise error from None
        finally:
            self._finish("invoke", run_id, started, status, error, identity, state)

    async def authorize(self, headers: Mapping[str, str], permission: str) -> Mapping[str, Any]:
        """Authenticate a request and check that its role has ``permission``.

        For routes outside a run (``/metrics``): the identity, or the refusal
        (401/498/499 from the auth provider, 403/429 from the access rules).
        """
        return await self._admit(headers, permission, None)

    def admitted_identity(self, headers: Mapping[str, str]) -> Mapping[str, Any] | None:
        """The identity :meth:`admit` found for ``headers`` when they are its admission
        (:class:`AdmittedHeaders` made by this pipeline: authenticated, its role holding
        ``invoke``, rate limit counted); ``None`` otherwise. Reading it asks nothing and
        counts nothing."""
        if type(headers) is AdmittedHeaders and headers._by is self:
            return headers._identity
        return None

    async def authenticate(self, headers: Mapping[str, str]) -> Mapping[str, Any]:
        """Who the headers say is calling, as the auth provider tells, with no permission or
        rate limit checked and a refusal raised but not reported: for a server that must
        know whether one of several agents knows the caller before it reads the body that
        chooses the agent (the chosen agent then admits the caller as usual). With auth
        off, the anonymous identity."""
        if self._auth is None:
            return _ANONYMOUS
        try:
            identity: Mapping[str, Any] = await self._auth(headers)
        except RuntimeHTTPError:
            raise
        except Exception as exc:
            log.warning("auth provider failed (%s)", type(exc).__name__)
            raise Unauthorized("invalid or missing credentials", headers=_CHALLENGE) from None
        return identity

    async def admit(self, headers: Mapping[str, str]) -> Mapping[str, str]:
        """Admit a request to run the agent from its headers alone, before its body is read:
        the headers to hand to the run (:class:`AdmittedHeaders`), or the refusal, as
        :meth:`authorize` refuses. With auth off, ``headers`` themselves."""
        if self._auth is None:
            return headers
        if type(headers) is AdmittedHeaders and headers._by is self:
            return headers
        identity = await self._admit(headers, "invoke", None)
        admitted = AdmittedHeaders(headers)
        admitted._identity, admitted._by, admitted._unused = identity, self, 1
        return admitted

    async def admit_runs(self, headers: Mapping[str, str], runs: int) -> Mapping[str, str]:
        """Admit ``runs`` runs on one request's headers at once, before any of them starts
        (a batch's): the rate limit is charged for all of them, or refused (429) with nothing
        spent, and each run takes the admission as its own. ``headers`` are :meth:`admit`'s
        answer for one run, whose charge counts as the first; other headers are admitted
        first. With auth off, or one run, ``headers`` as they are."""
        if self._auth is None or runs < 2:
            return headers
        if type(headers) is AdmittedHeaders and headers._by is self and headers._unused == 1:
            identity = headers._identity
        else:
            identity = await self._admit(dict(headers), "invoke", None)
        if self._access is not None:
            try:
                await self._access(identity, "invoke", cost=runs - 1, spent=1)
            except RuntimeHTTPError as exc:
                if self._telemetry.sinks:
                    self._report.auth_failure(exc, headers, None, identity)
                raise
        admitted = AdmittedHeaders(headers)
        admitted._identity, admitted._by, admitted._unused = identity, self, runs
        return admitted

    async def _admit(
        self, headers: Mapping[str, str], permission: str, state: RunState | None
    ) -> Mapping[str, Any]:
        if self._auth is None:
            return _ANONYMOUS
        if type(headers) is AdmittedHeaders and headers._by is self and permission == "invoke":
            if state is None:  # outside a run: as often as asked
                return headers._identity
            if headers._unused:  # a run the caller was admitted for
                headers._unused -= 1
                return headers._identity
        caller: Mapping[str, Any] | None = None  # once authenticated: who was refused
        try:
            identity = await self.authenticate(headers)
            caller = identity
            if self._access is not None:
                await self._access(identity, permission)
        except RuntimeHTTPError as exc:
            if self._telemetry.sinks:
                self._report.auth_failure(exc, headers, state, caller)
            raise
        return identity

    async def _prepare(
        self,
        payload: bytes | bytearray | memoryview | str | Mapping[str, Any],
        identity: Mapping[str, Any],
        run_id: str,
        thread_id: str | None,
        state: RunState,
        *,
        mode: Literal["invoke", "stream"] = "invoke",
        own_thread: bool = False,
        resume: bool = False,
    ) -> tuple[Any, RunContext]:
        state.stage = "input"
        value: Any
        if resume and isinstance(payload, Mapping):
            value = dict(payload)  # not an input: the input schema does not describe it
        elif isinstance(payload, Mapping):
            value = self.input.validate(payload if type(payload) is dict else dict(payload))
        else:
            value = self.input.decode(payload)
        if thread_id is not None and not (own_thread or self.shared_threads):
            thread_id = caller_thread(identity.get("sub"), thread_id)
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
            context.emit = RunEvents(self._report, run_id, state)
            context.steps = self._steps
            if self._wanted is None or "run_start" in self._wanted:
                context.emit("run_start", {"mode": mode, **self._report.run_data(identity, state)})
        if self._tool:
            context.tools = PolicyToolGate(
                self._tool, self._tool_sync, context, asyncio.get_running_loop()
            )
        if self._tool_output:
            context.check_tool_output = ToolOutputGate(self._tool_output, context)
        state.stage = "pre"
        large = bool(self._sync) and is_large(
            value, None if isinstance(payload, Mapping) else payload
        )
        value = await self._run_policies(self._pre, value, context, large)
        return value, context

    async def refuse_input(
        self,
        error: RuntimeHTTPError,
        *,
        headers: Mapping[str, str] = _NO_HEADERS,
        mode: Literal["invoke", "stream"] = "stream",
    ) -> NoReturn:
        """Raise ``error``, an input the server could not hand to the run (``GET /stream``
        with no ``input``, or one that is not JSON), as a run refused at its input: the
        caller admitted as every run is, ``error`` stamped with the run's ids and the run
        reported, as a malformed body is on ``/invoke``."""
        run_id = new_run_id()
        started = time.perf_counter()
        state = self._new_state(run_id, headers, None)
        identity = _ANONYMOUS
        try:
            identity = await self._admit(headers, "invoke", state)
            state.stage = "input"
            raise error
        except RuntimeHTTPError as exc:
            error = _stamped(exc, run_id, state)
            raise
        finally:
            self._finish(mode, run_id, started, "error", error, identity, state)

    # -- stream ----------------------------------------------------------------------------------

    async def stream(
        self,
        payload: bytes | bytearray | memoryview | str | Mapping[str, Any],
        *,
        headers: Mapping[str, str] = _NO_HEADERS,
        thread_id: str | None = None,
        own_thread: bool = False,
        resume: bool = False,
        run_id: str | None = None,
    ) -> AsyncIterator[StreamItem]:
        """Run the agent, yielding ``start``, then ``token``/``event`` items, then ``end``
        (``run_id``, ``usage`` and the run's ``output``, as ``invoke`` would answer it).

        A refusal before the run starts (auth, input, pre policies) is *raised* from the
        first step, so a server can still answer with an HTTP status; once ``start`` is out,
        a failure becomes one final ``error`` item holding the error envelope.

        One generator, a little over 80 lines, on purpose: the run's status, error and caller
        are settled in one ``finally`` for every way a stream ends (done, refused, failed,
        cancelled, closed), and every token passes through here; a nested generator would
        add a frame per token (about 0.2 µs, against some 13 µs a token costs with policies).
        ``run_id`` is as :meth:`invoke` takes it.
        """
        run_id = run_id or new_run_id()
        started = time.perf_counter()
        state = self._new_state(run_id, headers, thread_id)
        status, error, identity = "error", None, _ANONYMOUS
        ended: str | None = None  # the status its last item says, once that item is out
        context: RunContext | None = None
        try:
            try:
                identity = await self._admit(headers, "invoke", state)
                value, context = await self._prepare(
                    payload,
                    identity,
                    run_id,
                    thread_id,
                    state,
                    mode="stream",
                    own_thread=own_thread,
                    resume=resume,
                )
            except RuntimeHTTPError as exc:
                error = _stamped(exc, run_id, state)
                raise
            except Exception:
                log.exception("run %s failed inside the runtime", run_id)
                internal = InternalError("the runtime failed to start the run")
                error = _stamped(internal, run_id, state)
                raise error from None
            item_id = 1
            yield StreamItem(
                item_id,
                "start",
                {"run_id": run_id, "trace_id": state.trace_id},
                owner(identity),
                value,
            )
            failure: RuntimeHTTPError | None = None
            state.stage = "agent"
            try:
                async with contextlib.aclosing(self._agent.events(value, context, state)) as events:
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
                    tail = await self._stages.finish(index, name, finish, context)
                    if tail is not None:
                        item_id += 1
                        yield StreamItem(item_id, "token", tail)
                output = await self._final_output(context, state)
            except RuntimeHTTPError as exc:
                failure = _stamped(exc, run_id, state)
            if failure is not None:
                error = failure
                item_id += 1
                ended = "error"
                yield StreamItem(item_id, "error", failure.envelope(run_id))
                return
            item_id += 1
            ended = "ok"
            yield StreamItem(
                item_id,
                "end",
                {"run_id": run_id, "usage": _usage_dict(state.usage), "output": output},
            )
            status = "ok"
        except (asyncio.CancelledError, GeneratorExit):
            # Closed once its last item was out (a reader that stops at ``end`` or
            # ``error``), the run ended as that item says; before it, it was cancelled.
            status = ended or "cancelled"
            raise
        finally:
            if context is not None:
                context.tools.close()
            self._finish("stream", run_id, started, status, error, identity, state)

    async def _final_output(self, context: RunContext, state: RunState) -> Any:
        """The stream's output for its ``end`` item, as ``invoke`` would answer it: checked
        against the output schema, then through the post policies as one whole output.

        The policies' events were reported for the streamed tokens already, so this pass
        reports none. ``None`` when the adapter reported no output.
        """
        if not state.has_output:
            return None
        state.stage = "output"
        output = state.output
        if not _interrupted(output):  # as invoke: a run stopped at an interrupt is partial
            output = self.output.validate(output)
        state.stage = "post"
        if not self._post:
            return output
        emit, context.emit, context.mode = context.emit, no_telemetry, "invoke"
        try:
            large = bool(self._sync) and is_large(output)
            return await self._run_policies(self._post, output, context, large)
        finally:
            context.emit, context.mode = emit, "stream"


def _stamped(error: RuntimeHTTPError, run_id: str, state: RunState) -> RuntimeHTTPError:
    """``error`` with its run's ids, which servers send as ``x-run-id`` and ``x-trace-id``."""
    error.run_id = run_id
    error.trace_id = state.trace_id
    return error


#: The key under which LangGraph (and the Platform API) report a run's interrupts.
INTERRUPT_KEY = "__interrupt__"


def _interrupted(output: Any) -> bool:
    """The run stopped at an interrupt or a breakpoint: its output is the state so far, which
    the output schema (the finished run's answer) does not describe."""
    return type(output) is dict and INTERRUPT_KEY in output
