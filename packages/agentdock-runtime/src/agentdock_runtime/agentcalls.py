"""Running the adapter: bounded by ``arguments.timeout_sec``, retried by ``max_retries``.

``invoke`` awaits the adapter's ``invoke``; ``events`` iterates its ``stream`` and turns
its events into the pipeline's items (usage summed, the output kept for the ``end`` item).
An agent that raised is run again while ``max_retries`` allows (in a stream only while
nothing was sent), never one that timed out (504) or whose tool call the gate refused: the
refusal the gate recorded (:attr:`agentdock.run.ToolGate.refusal`) is what the run ends
with, even when the agent swallowed the error.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncGenerator, Mapping
from typing import Any, Literal

from agentdock.run import RunContext, RunResult, StreamEvent, ToolDenied, Usage

from agentdock_runtime.errors import AgentError, AgentTimeoutError, RuntimeHTTPError
from agentdock_runtime.gates import denied_error, refusal_error
from agentdock_runtime.runreport import RunState
from agentdock_runtime.runsettings import RunSettings

__all__ = ["AgentCalls"]

log = logging.getLogger("agentdock.runtime")

EventKind = Literal["token", "event"]


class AgentCalls:
    """One adapter under one spec's run settings."""

    __slots__ = ("adapter", "settings")

    def __init__(self, adapter: Any, settings: RunSettings) -> None:
        self.adapter = adapter
        self.settings = settings

    async def invoke(self, value: Any, context: RunContext, state: RunState) -> RunResult:
        """The adapter's ``invoke``, bounded and retried; the refusal of the tool gate wins."""
        settings = self.settings
        timeout = asyncio.timeout(settings.timeout_sec)
        try:
            async with timeout:
                while True:
                    try:
                        result: RunResult = await self.adapter.invoke(value, context)
                    except ToolDenied as exc:
                        raise refusal_error(context.tools) or denied_error(exc) from None
                    except RuntimeHTTPError:
                        raise
                    except Exception as exc:
                        if context.tools.refusal is None and timeout.expired():
                            raise
                        self.retry_or_fail(exc, context, state, may_retry=True)
                        continue
                    refused = refusal_error(context.tools)
                    if refused is not None:
                        raise refused
                    return result
        except (asyncio.CancelledError, Exception) as exc:
            if timeout.expired() and not isinstance(exc, RuntimeHTTPError):
                raise _timed_out(settings.timeout_sec) from None
            raise

    def retry_or_fail(
        self, exc: Exception, context: RunContext, state: RunState, *, may_retry: bool
    ) -> None:
        """What an exception from the agent means: return to retry, or raise the run's error.

        A refusal the tool gate recorded wins; otherwise the agent is run again while
        ``max_retries`` allows, then the run ends with :class:`AgentError`.
        """
        refused = refusal_error(context.tools)
        if refused is not None:
            raise refused from None
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

    async def events(
        self, value: Any, context: RunContext, state: RunState
    ) -> AsyncGenerator[tuple[EventKind, Mapping[str, Any]], None]:
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
                refused = refusal_error(context.tools)
                if refused is not None:
                    raise refused
                return
            except ToolDenied as exc:
                raise refusal_error(context.tools) or denied_error(exc) from None
            except RuntimeHTTPError:
                raise
            except Exception as exc:
                # Nothing is retried once output reached the client.
                self.retry_or_fail(exc, context, state, may_retry=not sent)
                continue
            finally:
                aclose = getattr(events, "aclose", None)
                if aclose is not None:
                    with contextlib.suppress(Exception):
                        await aclose()


def _log_agent_failure(run_id: str, exc: BaseException) -> None:
    # The exception's text may quote what the agent handled: only its type at error level.
    log.error("run %s: agent raised %s", run_id, type(exc).__name__)
    log.debug("run %s: agent traceback", run_id, exc_info=exc)


def _timed_out(timeout: float | None) -> AgentTimeoutError:
    return AgentTimeoutError(f"the agent did not finish within {timeout:g} s")
