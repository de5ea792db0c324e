"""What a run passes through besides the agent: the policy stages and the tool gate.

:class:`PolicyStages` sorts a spec's policies by stage once, when the pipeline is compiled
(``pre`` before the agent, ``tool`` before every tool call, ``post`` on the output, with the
optional ``finish`` and ``check_event`` of post policies), and runs a stage's checks in
order. A synchronous check runs inline, or in a worker thread on a large value
(:mod:`agentdock_runtime.offload`) so that the event loop keeps serving.

:class:`PolicyToolGate` is the run's :class:`~agentdock.run.ToolGate` when the spec has tool
policies; :func:`refusal_error` turns what it refused into the error the run ends with.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, NoReturn

from agentdock.run import RunContext, ToolCall, ToolDenied, ToolGate

from agentdock_runtime.errors import InternalError, RuntimeHTTPError, ToolDeniedError
from agentdock_runtime.runsettings import PipelineError

__all__ = ["PolicyStages", "PolicyToolGate", "denied_error", "refusal_error"]

log = logging.getLogger("agentdock.runtime")

_STAGES = ("pre", "tool", "post")
Check = Callable[[Any, RunContext], Awaitable[Any]]
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
        #: The synchronous pre and post checks, by their coroutine wrappers: on a large value
        #: they run in a worker thread (``offload.py``), so the event loop keeps serving.
        self.sync: dict[Check, Callable[..., Any]] = {}
        for name, policy in policies:
            stage = getattr(policy, "stage", None)
            if stage not in stages:
                raise PipelineError(
                    f"policy {name!r} has stage {stage!r}; expected one of {', '.join(_STAGES)}"
                )
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
        self.post = tuple(stages["post"])
        # Post policies that hold stream text back release it here, at the end of a stream.
        self.post_finish = tuple(
            (index, name, as_async(policy.finish))
            for index, (name, policy) in enumerate(p for p in policies if p[1].stage == "post")
            if callable(getattr(policy, "finish", None))
        )
        # Node updates of a stream carry the agent's state: post policies that inspect
        # them (``check_event``) see every ``event`` item.
        post_event: list[tuple[str, Check]] = []
        for name, policy in policies:
            inspect_event = getattr(policy, "check_event", None)
            if policy.stage == "post" and callable(inspect_event):
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
                self._refused(exc, name, call)

    async def adecide(self, call: ToolCall) -> None:
        for name, check in self.checks:
            try:
                await check(call, self.context)
            except Exception as exc:
                self._refused(exc, name, call)

    def _refused(self, exc: Exception, name: str, call: ToolCall) -> NoReturn:
        if isinstance(exc, ToolDenied | RuntimeHTTPError):
            self.refuse(exc)
            raise exc
        log.warning("tool policy %s failed (%s)", name, type(exc).__name__)
        self.refuse(InternalError(f"policy {name!r} failed"))
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
