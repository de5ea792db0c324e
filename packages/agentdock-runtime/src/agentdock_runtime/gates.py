"""What a run passes through besides the agent: the policy stages and the tool gate.

:class:`PolicyStages` sorts a spec's policies by stage once, when the pipeline is compiled
(``pre`` before the agent, ``tool`` before every tool call, ``tool_output`` on each tool's
result before the agent reads it, ``post`` on the output, with the optional ``finish`` and
``check_event`` of post policies), and runs a stage's checks in order. A synchronous check
runs inline, or in a worker thread on a large value (:mod:`agentdock_runtime.offload`) so
that the event loop keeps serving.

:class:`PolicyToolGate` is the run's :class:`~agentdock.run.ToolGate` when the spec has tool
policies, :class:`ToolOutputGate` its ``check_tool_output`` when it has ``tool_output``
ones; both keep what refused a call in the gate, and :func:`refusal_error` turns it into the
error the run ends with.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, NoReturn, cast

from agentdock.capabilities import EventCheckingPolicy, FinishingPolicy
from agentdock.protocols import Policy
from agentdock.run import ReplaceToolOutput, RunContext, ToolCall, ToolDenied, ToolGate

from agentdock_runtime.errors import InternalError, RuntimeHTTPError, ToolDeniedError
from agentdock_runtime.runsettings import PipelineError

__all__ = ["PolicyStages", "PolicyToolGate", "ToolOutputGate", "denied_error", "refusal_error"]

log = logging.getLogger("agentdock.runtime")

_STAGES = ("pre", "tool", "tool_output", "post")
Check = Callable[[Any, RunContext], Awaitable[Any]]
OutputCheck = Callable[[ToolCall, Any, RunContext], Any]
Finish = Callable[[RunContext], Awaitable[Any]]


def as_async(fn: Callable[..., Any]) -> Callable[..., Awaitable[Any]]:
    """A coroutine function for ``fn``, decided once at compile time."""
    if inspect.iscoroutinefunction(fn):
        return fn

    async def call(*args: Any) -> Any:
        return fn(*args)

    return call


class PolicyStages:
    """A spec's policies by stage, with their coroutine wrappers, built once."""

    def __init__(self, policies: Sequence[tuple[str, Any]]) -> None:
        stages: dict[str, list[tuple[str, Check]]] = {stage: [] for stage in _STAGES}
        sync_tool_checks: list[tuple[str, Callable[[ToolCall, RunContext], Any]]] = []
        tool_output_checks: list[tuple[str, OutputCheck]] = []
        #: The synchronous pre and post checks, by their coroutine wrappers: on a large value
        #: they run in a worker thread (``offload.py``), so the event loop keeps serving.
        self.sync: dict[Check, Callable[..., Any]] = {}
        for name, policy in policies:
            if not isinstance(policy, Policy):
                raise PipelineError(f"policy {name!r} has no stage and check(): not a policy")
            stage = policy.stage
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
                # check(call, output, context) at this stage (see the Policy protocol).
                tool_output_checks.append((name, cast(OutputCheck, policy.check)))
                continue
            check = as_async(policy.check)
            stages[stage].append((name, check))
            if stage != "tool" and check is not policy.check:
                self.sync[check] = policy.check
            if stage == "tool" and not inspect.iscoroutinefunction(policy.check):
                sync_tool_checks.append((name, policy.check))
        self.pre = tuple(stages["pre"])
        self.tool = tuple(stages["tool"])
        # Every tool policy synchronous: adapters may check a tool call in the thread that
        # makes it, without a round trip to the event loop.
        self.tool_sync = (
            tuple(sync_tool_checks) if len(sync_tool_checks) == len(self.tool) else None
        )
        #: The ``tool_output`` checks, synchronous: they run in the thread of the tool call.
        self.tool_output = tuple(tool_output_checks)
        self.post = tuple(stages["post"])
        # Post policies that hold stream text back release it here, at the end of a stream.
        self.post_finish = tuple(
            (index, name, as_async(policy.finish))
            for index, (name, policy) in enumerate(p for p in policies if p[1].stage == "post")
            if isinstance(policy, FinishingPolicy)
        )
        # Node updates of a stream carry the agent's state: post policies that inspect
        # them (``check_event``) see every ``event`` item.
        post_event: list[tuple[str, Check]] = []
        for name, policy in policies:
            if policy.stage == "post" and isinstance(policy, EventCheckingPolicy):
                inspect_event = policy.check_event
                check = as_async(inspect_event)
                post_event.append((name, check))
                if check is not inspect_event:
                    self.sync[check] = inspect_event
        self.post_event = tuple(post_event)

    async def run(
        self,
        policies: tuple[tuple[str, Check], ...],
        value: Any,
        context: RunContext,
        large: bool = False,
    ) -> Any:
        """``value`` through ``policies`` in order; ``large``: the synchronous ones run in a
        worker thread, one at a time, so that other requests are served meanwhile."""
        for name, check in policies:
            try:
                sync = self.sync.get(check) if large else None
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

    async def finish(
        self, index: int, name: str, finish: Finish, context: RunContext
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
        result: Mapping[str, Any] = await self.run(self.post[index + 1 :], tail, context)
        return result


# -- the tool gate ---------------------------------------------------------------------------


class PolicyToolGate(ToolGate):
    """The tool gate of one run whose spec has tool policies: each of them, in order.

    With every tool policy synchronous the gate is :attr:`~agentdock.run.ToolGate.inline`:
    an adapter checks a tool call in the thread that makes it, with no round trip to the
    event loop. What a policy raised is kept as the run's refusal: a
    :class:`~agentdock.run.ToolDenied` (the run ends 403), a
    :class:`~agentdock_runtime.errors.RuntimeHTTPError` (the run ends with it), or, for
    any other exception, an :class:`~agentdock_runtime.errors.InternalError` while the
    adapter sees a denial.
    """

    __slots__ = ("checks", "context", "sync_checks")

    def __init__(
        self,
        checks: tuple[tuple[str, Check], ...],
        sync_checks: tuple[tuple[str, Callable[[ToolCall, RunContext], Any]], ...] | None,
        context: RunContext,
        loop: asyncio.AbstractEventLoop,
    ) -> None:
        super().__init__(loop, inline=sync_checks is not None)
        self.checks = checks
        self.sync_checks = sync_checks
        self.context = context

    def decide(self, call: ToolCall) -> None:
        for name, check in self.sync_checks or ():
            try:
                check(call, self.context)
            except Exception as exc:
                _refused(self, exc, name, call)

    async def adecide(self, call: ToolCall) -> None:
        for name, check in self.checks:
            try:
                await check(call, self.context)
            except Exception as exc:
                _refused(self, exc, name, call)


class ToolOutputGate:
    """``RunContext.check_tool_output`` for one run: every ``tool_output`` policy, in order,
    in the thread that made the tool call. What a policy raised is kept by the run's tool
    gate, as :class:`PolicyToolGate` keeps it, so the run ends with it; a
    :class:`~agentdock.run.ReplaceToolOutput` a policy returned is handed back to the
    adapter, which puts its content in place of the result."""

    __slots__ = ("checks", "context")

    def __init__(self, checks: tuple[tuple[str, OutputCheck], ...], context: RunContext) -> None:
        self.checks = checks
        self.context = context

    def __call__(self, call: ToolCall, output: Any) -> ReplaceToolOutput | None:
        """The replacement the policies asked for, if any (a later policy reads what an
        earlier one put in place of the result)."""
        replaced: ReplaceToolOutput | None = None
        for name, check in self.checks:
            try:
                found = check(call, output, self.context)
            except Exception as exc:
                _refused(self.context.tools, exc, name, call)
            if isinstance(found, ReplaceToolOutput):
                replaced = found
                output = found.content
        return replaced


def _refused(gate: ToolGate, exc: Exception, name: str, call: ToolCall) -> NoReturn:
    """Keep what tool policy ``name`` raised as the run's refusal; raise the denial."""
    if isinstance(exc, ToolDenied | RuntimeHTTPError):
        gate.refuse(exc)
        raise exc
    log.warning("tool policy %s failed (%s)", name, type(exc).__name__)
    gate.refuse(InternalError(f"policy {name!r} failed"))
    raise ToolDenied(call.name, "the tool policy failed") from None


def refusal_error(gate: ToolGate) -> RuntimeHTTPError | None:
    """The error a run ends with when its tool gate refused a call (``None``: none was)."""
    refusal = gate.refusal
    if refusal is None or isinstance(refusal, RuntimeHTTPError):
        return refusal
    if isinstance(refusal, ToolDenied):
        return denied_error(refusal)
    return InternalError("the tool gate failed")


def denied_error(exc: ToolDenied) -> ToolDeniedError:
    """The 403 a run ends with when a tool was denied."""
    return ToolDeniedError(f"tool {exc.tool!r} is not allowed: {exc.reason}", path=exc.tool)
