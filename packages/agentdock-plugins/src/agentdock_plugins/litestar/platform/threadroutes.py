"""The Platform API's thread routes: a thread's record, its state at a checkpoint, an
update of it, and its history.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from agentdock.registry.platformrows import ACTIVE_STATUSES as ACTIVE
from agentdock_runtime import RuntimeHTTPError
from langgraph.errors import InvalidUpdateError
from litestar import Request, Response, delete, get, post

from agentdock_plugins.litestar.platform.bodies import (
    HistoryQuery,
    StateCheckpoint,
    StateUpdate,
    ThreadCreate,
    ThreadSearch,
    decode_body,
)
from agentdock_plugins.litestar.platform.context import Platform
from agentdock_plugins.litestar.platform.records import ThreadRecord, matches
from agentdock_plugins.litestar.platform.replies import (
    PathPart,
    body_of,
    count,
    headers_of,
    json_reply,
)
from agentdock_plugins.litestar.platform.runs import new_id
from agentdock_plugins.litestar.platform.state import checkpoint_of, snapshot_body

__all__ = ["thread_handlers"]


def thread_handlers(p: Platform) -> list[Any]:
    """The handlers of ``/threads`` (but their runs), sharing ``p`` (built once)."""
    return [*_record_handlers(p), *_state_handlers(p)]


def _record_handlers(p: Platform) -> list[Any]:
    """A thread's record: created, searched, read, deleted."""

    @post("/threads", status_code=200)
    async def thread_create(request: Request[Any, Any, Any]) -> Response[bytes]:
        headers = headers_of(request)
        owner = await p.authorize(headers)
        p.need_threads()
        body = decode_body(await body_of(request, headers), ThreadCreate)
        thread_id = body.thread_id or new_id()
        found = await p.records.get_thread(thread_id)
        if found is not None:
            if body.if_exists == "do_nothing" and found.owner == owner:
                return json_reply(await p.thread_body(found))
            raise RuntimeHTTPError(
                409, "Conflict", f"thread {thread_id} already exists", path="thread_id"
            )
        record = ThreadRecord(thread_id, owner, metadata=dict(body.metadata or {}))
        await p.records.put_thread(record)
        return json_reply(await p.thread_body(record))

    @post("/threads/search", status_code=200)
    async def thread_search(request: Request[Any, Any, Any]) -> Response[bytes]:
        headers = headers_of(request)
        owner = await p.authorize(headers)
        query = decode_body(await body_of(request, headers), ThreadSearch)
        found = [
            t
            for t in await p.records.threads(owner)
            if matches(t.metadata, query.metadata) and query.status in (None, t.status)
        ]
        page = found[query.offset : query.offset + max(query.limit, 0)]
        return json_reply([await p.thread_body(t) for t in page])

    @get("/threads/{thread_id:str}")
    async def thread_get(request: Request[Any, Any, Any], thread_id: PathPart) -> Response[bytes]:
        owner = await p.authorize(headers_of(request))
        return json_reply(await p.thread_body(await p.thread(thread_id, owner)))

    @delete("/threads/{thread_id:str}", status_code=204)
    async def thread_delete(request: Request[Any, Any, Any], thread_id: PathPart) -> None:
        owner = await p.authorize(headers_of(request))
        await p.thread(thread_id, owner)
        for run in await p.records.runs(thread_id):
            handle = p.runs.handle(run.run_id)
            if handle is not None:
                handle.cancel()
            elif run.status in ACTIVE:
                await p.records.request_cancel(run.run_id)
        await p.records.delete_thread(thread_id)
        checkpointer = getattr(p.stateful, "checkpointer", None)
        if checkpointer is not None:
            await checkpointer.adelete_thread(thread_id)

    return [thread_create, thread_search, thread_get, thread_delete]


def _state_handlers(p: Platform) -> list[Any]:
    """A thread's state: read (latest or at a checkpoint), updated, and its history."""

    @get("/threads/{thread_id:str}/state")
    async def state_get(request: Request[Any, Any, Any], thread_id: PathPart) -> Response[bytes]:
        owner = await p.authorize(headers_of(request))
        return await _snapshot(p, thread_id, owner, None)

    @get("/threads/{thread_id:str}/state/{checkpoint_id:str}")
    async def state_at(
        request: Request[Any, Any, Any], thread_id: PathPart, checkpoint_id: PathPart
    ) -> Response[bytes]:
        owner = await p.authorize(headers_of(request))
        return await _snapshot(p, thread_id, owner, {"checkpoint_id": checkpoint_id})

    @post("/threads/{thread_id:str}/state/checkpoint", status_code=200)
    async def state_checkpoint(
        request: Request[Any, Any, Any], thread_id: PathPart
    ) -> Response[bytes]:
        headers = headers_of(request)
        owner = await p.authorize(headers)
        query = decode_body(await body_of(request, headers), StateCheckpoint)
        return await _snapshot(p, thread_id, owner, query.checkpoint)

    @post("/threads/{thread_id:str}/state", status_code=200)
    async def state_update(request: Request[Any, Any, Any], thread_id: PathPart) -> Response[bytes]:
        headers = headers_of(request)
        owner = await p.authorize(headers)
        body = decode_body(await body_of(request, headers), StateUpdate)
        await p.thread(thread_id, owner)
        return await _update_state(p, thread_id, body)

    @post("/threads/{thread_id:str}/history", status_code=200)
    async def history_post(request: Request[Any, Any, Any], thread_id: PathPart) -> Response[bytes]:
        headers = headers_of(request)
        owner = await p.authorize(headers)
        query = decode_body(await body_of(request, headers), HistoryQuery)
        return await _history(p, thread_id, owner, query)

    @get("/threads/{thread_id:str}/history")
    async def history_get(request: Request[Any, Any, Any], thread_id: PathPart) -> Response[bytes]:
        owner = await p.authorize(headers_of(request))
        limit = count(request.query_params.get("limit"), "limit", 10)
        return await _history(p, thread_id, owner, HistoryQuery(limit=limit))

    return [state_get, state_at, state_checkpoint, state_update, history_post, history_get]


async def _snapshot(
    p: Platform, thread_id: str, owner: str | None, checkpoint: Mapping[str, Any] | None
) -> Response[bytes]:
    """The caller's thread's state, latest or at ``checkpoint``."""
    await p.thread(thread_id, owner)
    return json_reply(snapshot_body(await p.state(thread_id, checkpoint)))


async def _update_state(p: Platform, thread_id: str, body: StateUpdate) -> Response[bytes]:
    """``POST /threads/{id}/state`` on a thread found to be the caller's: the new checkpoint.
    A thread with a run in progress is busy (409)."""
    graph = p.need_threads()
    if p.runs.busy(thread_id):
        raise RuntimeHTTPError(409, "ThreadBusy", f"thread {thread_id} has a run in progress")
    configurable: dict[str, Any] = {"thread_id": thread_id}
    checkpoint_id = body.checkpoint_id or (body.checkpoint or {}).get("checkpoint_id")
    if checkpoint_id:
        configurable["checkpoint_id"] = checkpoint_id
    try:
        config = await graph.aupdate_state(
            {"configurable": configurable}, body.values, as_node=body.as_node
        )
    except (InvalidUpdateError, ValueError, KeyError, TypeError) as exc:
        # LangGraph's own refusal (an unknown node, values that are not a mapping): the
        # caller's fault; its first line, which names what was wrong, not the state.
        reason = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else ""
        raise RuntimeHTTPError(
            422,
            "ValidationError",
            f"the update was refused: {type(exc).__name__}: {reason}",
            path="values",
        ) from None
    return json_reply({"checkpoint": checkpoint_of(config)})


async def _history(
    p: Platform, thread_id: str, owner: str | None, query: HistoryQuery
) -> Response[bytes]:
    """The caller's thread's past states, newest first, as ``query`` filters them."""
    await p.thread(thread_id, owner)
    graph = p.need_threads()
    configurable: dict[str, Any] = {"thread_id": thread_id}
    if query.checkpoint and query.checkpoint.get("checkpoint_ns"):
        configurable["checkpoint_ns"] = query.checkpoint["checkpoint_ns"]
    before = None
    if query.before and query.before.get("checkpoint_id"):
        before = {"configurable": {"thread_id": thread_id, **query.before}}
    states = []
    async for snapshot in graph.aget_state_history(
        {"configurable": configurable},
        filter=query.metadata or None,
        before=before,
        limit=max(query.limit, 0),
    ):
        states.append(snapshot_body(snapshot))
    return json_reply(states)
