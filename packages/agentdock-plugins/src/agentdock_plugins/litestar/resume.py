"""Resuming a run stopped at an ``interrupt()`` outside the Platform API: ``/invoke`` and A2A.

LangGraph continues such a run when given ``Command(resume=…)`` on its thread. The Platform
API sends it as ``command``; ``/invoke`` as the header ``x-resume: true`` with the body
``{"resume": …}`` on the interrupted run's thread (``x-thread-id``); A2A as the answer to a
task left ``input-required``. Each hands the pipeline the same payload, ``{"resume": …}``,
run with ``resume=True`` (not an input, so not checked against the input schema; seen by the
``pre`` policies) under a :class:`~agentdock_plugins.langgraph.platformrun.PlatformRun`
whose command it is, answering what ``graph.invoke`` returns, as the run it resumes did.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from agentdock_runtime import InputValidationError, InvokeResult, Pipeline
from agentdock_runtime.jsonvalues import decode_json

from agentdock_plugins.langgraph.platformrun import PLATFORM_RUN, PlatformRun

__all__ = ["RESUME_HEADER", "asks_resume", "can_resume", "resume_body", "resume_run"]

#: The ``/invoke`` request header that makes its body a resume.
RESUME_HEADER = "x-resume"
#: Values of :data:`RESUME_HEADER` that ask for a resume.
_TRUE = frozenset({"1", "true", "yes"})


def can_resume(pipeline: Pipeline) -> bool:
    """The agent keeps threads of a LangGraph graph (its checkpointer): an interrupted run
    of it can be resumed."""
    return getattr(getattr(pipeline, "adapter", None), "stateful_graph", None) is not None


def asks_resume(headers: Mapping[str, str]) -> bool:
    """The request sends :data:`RESUME_HEADER` with a true value."""
    value = headers.get(RESUME_HEADER)
    return value is not None and value.strip().lower() in _TRUE


def resume_body(body: bytes) -> dict[str, Any]:
    """``/invoke``'s body as a resume: ``{"resume": value}`` (400 not JSON or holding an
    integer wider than 64 bits, as an input; 422 otherwise)."""
    document = decode_json(body)
    if not isinstance(document, dict) or "resume" not in document or len(document) != 1:
        raise InputValidationError(
            'a resume body is {"resume": <the answer to the interrupt>}', path="resume"
        )
    return document


async def resume_run(
    pipeline: Pipeline,
    payload: Mapping[str, Any],
    *,
    headers: Mapping[str, str],
    thread_id: str | None,
) -> InvokeResult:
    """Resume the interrupted run of ``thread_id`` with ``payload`` (``{"resume": …}``).

    A resume that cannot be is refused only once the caller is admitted (a caller the
    agent refuses gets that refusal, learning nothing of the agent's threads)."""
    if not can_resume(pipeline):
        await pipeline.authorize(headers, "invoke")
        raise InputValidationError(
            "this agent keeps no threads (a LangGraph agent with arguments.checkpointer): "
            "there is no interrupted run to resume",
            path="resume",
        )
    if thread_id is None:
        await pipeline.authorize(headers, "invoke")
        raise InputValidationError(
            "a resume needs the thread of the interrupted run (x-thread-id)", path="thread_id"
        )
    token = PLATFORM_RUN.set(PlatformRun(command=payload, whole_state=False))
    try:
        return await pipeline.invoke(payload, headers=headers, thread_id=thread_id, resume=True)
    finally:
        PLATFORM_RUN.reset(token)
