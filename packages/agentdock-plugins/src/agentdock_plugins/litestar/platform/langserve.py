"""LangServe's routes for one agent, so that ``RemoteRunnable(f"{base}/langserve/{agent}")``
works unchanged: ``invoke``, ``batch`` and ``stream``.

* ``POST /langserve/{agent}/invoke`` ``{"input", "config", "kwargs"}`` answers
  ``{"output", "metadata": {"run_id", "feedback_tokens"}}``;
* ``POST /langserve/{agent}/batch`` ``{"inputs", "config", "kwargs"}`` answers
  ``{"output": [...], "metadata": {"run_ids": [...]}}`` (the runs run one after another, so
  one caller's batch takes one run's share of the agent at a time); the body's ``run_ids``
  name the runs, as LangServe's clients read them: no ``x-run-id`` or ``x-trace-id`` on
  any batch answer, errors included, whose one value could name only one of them
  (``invoke`` and ``stream`` send both). LangServe's batch is all or nothing (no
  ``return_exceptions`` on a remote client), so the batch is admitted whole before any
  input runs (:meth:`~agentdock_runtime.Pipeline.admit_runs`: the rate limit charged for
  every input, or a plain 429 with nothing run or spent); an input that fails ends the batch
  with its status and envelope, ``path`` under ``inputs[i]``;
* ``POST /langserve/{agent}/stream`` sends ``metadata`` (``{"run_id"}``), a ``data`` event
  per state the graph reaches (its ``values``, as ``graph.stream`` yields them), then
  ``end``; a failure once streaming is an ``error`` event ``{"status_code", "message"}``.

Each input is one run of the agent's pipeline, as on ``/invoke``: auth, the input schema,
the policies (an injection attempt is refused with the same 403), the output schema and
telemetry. A refusal before the run starts keeps its HTTP status and the error envelope.
What a body gets wrong (malformed JSON, the wrong shape, an agent not served here) is told
to a caller the agent admits only: anyone else gets 401, 403 or 429 (:mod:`.admitted`).
``config`` (tags, metadata, configurable) reaches the graph as a Platform run's does;
``kwargs`` are ignored.
"""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import AsyncIterator, Mapping
from typing import TYPE_CHECKING, Annotated, Any, Literal, TypeVar, cast

import anyio
import msgspec
from agentdock_runtime import Pipeline, RuntimeHTTPError, StreamItem
from litestar import Request, Response, post
from litestar.params import PathParameter
from litestar.response import Stream

from agentdock_plugins.langgraph.platformrun import PLATFORM_RUN, PlatformRun
from agentdock_plugins.litestar.invoke import Scope, request_headers
from agentdock_plugins.litestar.platform.admitted import body_admitted, decode_admitted, refuse
from agentdock_plugins.litestar.platform.bodies import not_found, run_config
from agentdock_plugins.litestar.platform.encoding import HEARTBEAT, encode, run_ids, sse_event

if TYPE_CHECKING:
    from agentdock.spec import DockSpec

__all__ = ["langserve_handlers"]

T = TypeVar("T")
JSON = "application/json"
AgentPath = Annotated[str, PathParameter()]


class Invoke(msgspec.Struct, kw_only=True):
    input: dict[str, Any]
    config: dict[str, Any] | None = None
    kwargs: dict[str, Any] | None = None


class Batch(msgspec.Struct, kw_only=True):
    inputs: list[dict[str, Any]]
    config: dict[str, Any] | list[dict[str, Any]] | None = None
    kwargs: dict[str, Any] | None = None


def _run_of(config: Mapping[str, Any] | None) -> PlatformRun:
    return PlatformRun(config=run_config(config), stream_modes=("values",), whole_state=False)


def langserve_handlers(pipeline: Pipeline, spec: DockSpec, *, heartbeat_sec: float) -> list[Any]:
    """The Litestar handlers of LangServe's protocol for ``pipeline`` (built once)."""
    name = spec.agent.name

    async def read(
        request: Request[Any, Any, Any],
        agent: str,
        kind: type[T],
        run: Literal["invoke", "stream"] | None = None,
    ) -> tuple[dict[str, str], T]:
        """The admitted caller's headers and body; with ``run``, a body that is not JSON
        is a run refused at its input, as on ``/invoke`` (a batch's is no one run)."""
        headers = request_headers(cast("Scope", request.scope))
        if agent != name:
            await refuse(pipeline, headers, not_found("agent", agent))
        body, headers = await body_admitted(pipeline, request, headers)
        return headers, await decode_admitted(pipeline, headers, body, kind, run=run)

    async def run_of(config: Any, headers: Mapping[str, str]) -> PlatformRun:
        try:
            return _run_of(config)
        except RuntimeHTTPError as error:  # a malformed config: told to the admitted only
            await refuse(pipeline, headers, error)

    async def run(value: dict[str, Any], config: Any, headers: Mapping[str, str]) -> Any:
        token = PLATFORM_RUN.set(await run_of(config, headers))
        try:
            return await pipeline.invoke(value, headers=headers)
        finally:
            PLATFORM_RUN.reset(token)

    @post("/langserve/{agent:str}/invoke", status_code=200)
    async def invoke(request: Request[Any, Any, Any], agent: AgentPath) -> Response[bytes]:
        headers, body = await read(request, agent, Invoke, "invoke")
        result = await run(body.input, body.config, headers)
        metadata = {"run_id": result.run_id, "feedback_tokens": []}
        return Response(
            content=encode({"output": result.output, "metadata": metadata}),
            media_type=JSON,
            headers=run_ids(result.run_id, result.trace_id),
        )

    @post("/langserve/{agent:str}/batch", status_code=200)
    async def batch(request: Request[Any, Any, Any], agent: AgentPath) -> Response[bytes]:
        headers, body = await read(request, agent, Batch)
        configs = body.config if isinstance(body.config, list) else [body.config] * len(body.inputs)
        if len(configs) != len(body.inputs):
            error = RuntimeHTTPError(
                422, "ValidationError", "config must be one object or one per input", path="config"
            )
            await refuse(pipeline, headers, error)
        # Admitted whole before any input runs: the rate limit is charged for every input
        # at once, or the batch is refused (429) with no run started and nothing spent.
        admitted = await pipeline.admit_runs(headers, len(body.inputs))
        results = []
        for index, (value, config) in enumerate(zip(body.inputs, configs, strict=True)):
            try:
                results.append(await run(value, config, admitted))
            except RuntimeHTTPError as error:
                return _failed_input(error, index)
        answer = {
            "output": [r.output for r in results],
            "metadata": {"run_ids": [r.run_id for r in results]},
        }
        return Response(content=encode(answer), media_type=JSON)

    @post("/langserve/{agent:str}/stream", status_code=200)
    async def stream(request: Request[Any, Any, Any], agent: AgentPath) -> Stream:
        headers, body = await read(request, agent, Invoke, "stream")
        run = await run_of(body.config, headers)
        token = PLATFORM_RUN.set(run)
        try:
            items = pipeline.stream(body.input, headers=headers)
            first = await anext(items)  # a refusal keeps its HTTP status
        finally:
            PLATFORM_RUN.reset(token)
        run_id = str(first.data.get("run_id", ""))
        return Stream(
            _frames(run_id, items, heartbeat_sec, run),
            media_type="text/event-stream",
            headers={"cache-control": "no-cache", **run_ids(run_id, first.data.get("trace_id"))},
        )

    return [invoke, batch, stream]


def _failed_input(error: RuntimeHTTPError, index: int) -> Response[bytes]:
    """The answer to a batch whose input ``index`` failed: the error's status and envelope,
    its ``path`` under ``inputs[index]`` and its ``run_id`` the failing run's, but neither
    ``x-run-id`` nor ``x-trace-id`` (no header names one run of a batch)."""
    envelope = error.envelope()
    where = f"inputs[{index}]"
    envelope["path"] = f"{where}.{error.path}" if error.path else where
    return Response(
        content=encode(envelope),
        status_code=error.status,
        media_type=JSON,
        headers=dict(error.headers),
    )


async def _next(items: Any) -> StreamItem:
    return cast("StreamItem", await anext(items))


async def _frames(
    run_id: str, items: Any, heartbeat: float, run: PlatformRun
) -> AsyncIterator[bytes]:
    """LangServe's events from the pipeline's items; heartbeats while the agent is quiet.
    Each step runs in a task of a context that names the run to the adapter."""
    context = contextvars.copy_context()
    context.run(PLATFORM_RUN.set, run)
    loop = asyncio.get_running_loop()
    pending: asyncio.Task[StreamItem] | None = None
    try:
        yield sse_event("metadata", {"run_id": run_id})
        while True:
            pending = loop.create_task(_next(items), context=context)
            while not (await asyncio.wait((pending,), timeout=heartbeat))[0]:
                yield HEARTBEAT
            task, pending = pending, None
            try:
                item = task.result()
            except StopAsyncIteration:
                break
            data = item.data
            if item.event == "event" and data.get("event") == "values":
                yield sse_event("data", data.get("data"))
            elif item.event == "error":
                failure = {"status_code": int(data.get("code", 500)), "message": data.get("detail")}
                yield sse_event("error", failure)
                return
        yield sse_event("end", None)
    finally:
        with anyio.CancelScope(shield=True):
            if pending is not None:
                pending.cancel()
                await asyncio.wait((pending,))
            await items.aclose()
