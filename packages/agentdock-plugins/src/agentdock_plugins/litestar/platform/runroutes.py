"""The Platform API's run routes: a run waited for, streamed or started in the background,
listed, joined, followed again and cancelled; crons, which are not built, refused.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from agentdock.registry.platformrows import ACTIVE_STATUSES as ACTIVE
from agentdock_runtime import RuntimeHTTPError
from litestar import Request, Response, delete, get, patch, post
from litestar.response import Stream

from agentdock_plugins.litestar.platform.admitted import body_admitted
from agentdock_plugins.litestar.platform.context import Platform
from agentdock_plugins.litestar.platform.records import RunRecord, ThreadRecord
from agentdock_plugins.litestar.platform.replies import (
    SSE_HEADERS,
    PathPart,
    as_response,
    count,
    failure,
    headers_of,
    json_reply,
    small_int,
)
from agentdock_plugins.litestar.platform.runs import RunHandle, new_id, stored_error
from agentdock_plugins.litestar.platform.waitroute import WaitRoute

__all__ = ["run_handlers"]


def run_handlers(p: Platform) -> list[Any]:
    """The handlers of ``/runs`` and of a thread's runs, sharing ``p`` (built once)."""
    return [*_start_handlers(p), *_follow_handlers(p), *_cron_handlers(p)]


def _start_handlers(p: Platform) -> list[Any]:
    """A run started: waited for, streamed, or left in the background."""
    wait_route = WaitRoute(p)

    async def started(
        request: Request[Any, Any, Any], thread_id: str | None, *, wait: bool
    ) -> RunHandle:
        headers = headers_of(request)
        raw, headers = await body_admitted(p.pipeline, request, headers)
        body = await p.run_request(raw, headers, mode="stream")
        return await p.start(body, thread_id, headers, wait=wait)

    async def waited(request: Request[Any, Any, Any], thread_id: str | None) -> Response[bytes]:
        headers = headers_of(request)
        body, headers = await body_admitted(p.pipeline, request, headers)
        return as_response(await wait_route.run(body, headers, thread_id))

    @post("/runs/wait", status_code=200)
    async def runs_wait(request: Request[Any, Any, Any]) -> Response[bytes]:
        return await waited(request, None)

    @post("/threads/{thread_id:str}/runs/wait", status_code=200)
    async def thread_runs_wait(
        request: Request[Any, Any, Any], thread_id: PathPart
    ) -> Response[bytes]:
        return await waited(request, thread_id)

    @post("/runs/stream", status_code=200)
    async def runs_stream(request: Request[Any, Any, Any]) -> Stream:
        return await p.stream(await started(request, None, wait=False))

    @post("/threads/{thread_id:str}/runs/stream", status_code=200)
    async def thread_runs_stream(request: Request[Any, Any, Any], thread_id: PathPart) -> Stream:
        return await p.stream(await started(request, thread_id, wait=False))

    async def create(request: Request[Any, Any, Any], thread_id: str | None) -> Response[bytes]:
        headers = headers_of(request)
        raw, headers = await body_admitted(p.pipeline, request, headers)
        body = await p.run_request(raw, headers, mode="stream")
        if thread_id is None:
            # A stateless background run still needs a thread to be found by: its own.
            owner = await p.subject(headers)
            thread_id = new_id()
            await p.records.put_thread(ThreadRecord(thread_id, owner, metadata={"temporary": True}))
            body[0].if_not_exists = "create"
        handle = await p.start(body, thread_id, headers, wait=False)
        return json_reply(handle.record.public(), 200, p.run_headers(handle))

    @post("/runs", status_code=200)
    async def runs_create(request: Request[Any, Any, Any]) -> Response[bytes]:
        return await create(request, None)

    @post("/threads/{thread_id:str}/runs", status_code=200)
    async def thread_runs_create(
        request: Request[Any, Any, Any], thread_id: PathPart
    ) -> Response[bytes]:
        return await create(request, thread_id)

    return [
        runs_wait,
        thread_runs_wait,
        runs_stream,
        thread_runs_stream,
        runs_create,
        thread_runs_create,
    ]


def _follow_handlers(p: Platform) -> list[Any]:
    """A thread's runs once started: listed, read, joined, followed again, cancelled."""

    @get("/threads/{thread_id:str}/runs")
    async def runs_list(request: Request[Any, Any, Any], thread_id: PathPart) -> Response[bytes]:
        owner = await p.authorize(headers_of(request))
        await p.thread(thread_id, owner)
        params = request.query_params
        limit = count(params.get("limit"), "limit", 10)
        offset = count(params.get("offset"), "offset", 0)
        status = params.get("status")
        runs = [r for r in await p.records.runs(thread_id) if status in (None, r.status)]
        page = runs[offset : offset + limit]
        return json_reply([r.public() for r in page])

    @get("/threads/{thread_id:str}/runs/{run_id:str}")
    async def run_get(
        request: Request[Any, Any, Any], thread_id: PathPart, run_id: PathPart
    ) -> Response[bytes]:
        owner = await p.authorize(headers_of(request))
        return json_reply((await p.run_of(thread_id, run_id, owner)).public())

    @get("/threads/{thread_id:str}/runs/{run_id:str}/join")
    async def run_join(
        request: Request[Any, Any, Any], thread_id: PathPart, run_id: PathPart
    ) -> Response[bytes]:
        owner = await p.authorize(headers_of(request))
        await p.run_of(thread_id, run_id, owner)
        return await _joined(p, thread_id, run_id)

    @get("/threads/{thread_id:str}/runs/{run_id:str}/stream")
    async def run_join_stream(
        request: Request[Any, Any, Any], thread_id: PathPart, run_id: PathPart
    ) -> Stream:
        headers = headers_of(request)
        owner = await p.authorize(headers)
        await p.run_of(thread_id, run_id, owner)
        cancel = request.query_params.get("cancel_on_disconnect") == "true"
        return _rejoined(p, run_id, headers, cancel_on_disconnect=cancel)

    @post("/threads/{thread_id:str}/runs/{run_id:str}/cancel", status_code=204)
    async def run_cancel(
        request: Request[Any, Any, Any], thread_id: PathPart, run_id: PathPart
    ) -> None:
        owner = await p.authorize(headers_of(request))
        record = await p.run_of(thread_id, run_id, owner)
        wait = request.query_params.get("wait") in ("1", "true", "True")
        await _cancel(p, record, wait=wait)

    return [runs_list, run_get, run_join, run_join_stream, run_cancel]


async def _joined(p: Platform, thread_id: str, run_id: str) -> Response[bytes]:
    """``join`` of the caller's run: once it ends, its output, its failure, or (when
    neither is held) the thread's values."""
    handle = p.runs.handle(run_id)
    ids: dict[str, str] = {}
    if handle is not None:
        await handle.done.wait()
        ids = p.ids_of(handle)
        if handle.error is not None:
            return failure(handle.error, handle.pipeline_run_id, ids)
        if handle.output is not None:
            return json_reply(handle.output, 200, ids)
    elif p.records.shared:
        # A run of another replica: its row says when it ends, and how.
        result = await p.ended_elsewhere(run_id)
        if result and "error" in result:
            return failure(stored_error(result["error"]), None, {})
        if result and result.get("output") is not None:
            return json_reply(result["output"])
    if p.stateful is None:
        return json_reply({}, 200, ids)
    return json_reply((await p.state(thread_id)).values, 200, ids)


def _rejoined(
    p: Platform, run_id: str, headers: Mapping[str, str], *, cancel_on_disconnect: bool
) -> Stream:
    """The caller's run's events again, after ``Last-Event-ID``: held here, or stored by
    the replica that runs it (409 when neither holds them)."""
    handle = p.runs.handle(run_id)
    after = small_int(headers.get("last-event-id", "").strip()) or 0
    if handle is None and p.records.shared:
        return Stream(
            p.follow_elsewhere(run_id, after),
            media_type="text/event-stream",
            headers=SSE_HEADERS,
        )
    if handle is None:
        raise RuntimeHTTPError(
            409, "StreamNotResumable", f"the events of run {run_id} are no longer held"
        )
    handle.cancel_on_disconnect = cancel_on_disconnect
    return Stream(
        p.follow(handle, after),
        media_type="text/event-stream",
        headers={**SSE_HEADERS, **p.ids_of(handle)},
    )


async def _cancel(p: Platform, record: RunRecord, *, wait: bool) -> None:
    """Cancel the caller's run, here or (through its row) on the replica that runs it;
    with ``wait``, until it has ended."""
    run_id = record.run_id
    handle = p.runs.handle(run_id)
    if handle is None:
        if p.records.shared and record.status in ACTIVE:
            # Another replica runs it: it reads the request on its next beat.
            await p.records.request_cancel(run_id)
            if wait:
                await p.ended_elsewhere(run_id)
        return
    if handle.done.is_set():
        return
    handle.cancel()
    if wait:
        await handle.done.wait()


def _cron_handlers(p: Platform) -> list[Any]:
    """Crons, which are not built: each call of the SDK's ``crons`` answers 501 to an
    admitted caller (none falls through to a 404 or 405, so a client learns that no cron
    will run); anyone else gets the admission's refusal, as on every other route."""

    async def no_crons(request: Request[Any, Any, Any]) -> None:
        await p.authorize(headers_of(request))
        raise _no_crons()

    @post("/runs/crons", status_code=501)
    async def crons_create(request: Request[Any, Any, Any]) -> None:
        await no_crons(request)

    @post("/threads/{thread_id:str}/runs/crons", status_code=501)
    async def thread_crons_create(request: Request[Any, Any, Any], thread_id: PathPart) -> None:
        await no_crons(request)

    @post("/runs/crons/search", status_code=501)
    async def crons_search(request: Request[Any, Any, Any]) -> None:
        await no_crons(request)

    @post("/runs/crons/count", status_code=501)
    async def crons_count(request: Request[Any, Any, Any]) -> None:
        await no_crons(request)

    @patch("/runs/crons/{cron_id:str}", status_code=501)
    async def cron_update(request: Request[Any, Any, Any], cron_id: PathPart) -> None:
        await no_crons(request)

    @delete("/runs/crons/{cron_id:str}", status_code=501)
    async def cron_delete(request: Request[Any, Any, Any], cron_id: PathPart) -> None:
        await no_crons(request)

    return [crons_create, thread_crons_create, crons_search, crons_count, cron_update, cron_delete]


def _no_crons() -> RuntimeHTTPError:
    return RuntimeHTTPError(
        501, "NotImplemented", "crons are not supported by AgentDock's LangGraph Platform API"
    )
