"""The LangGraph Platform API's routes for one agent (see :mod:`.` for the list).

Every route authenticates as ``/invoke`` does (``x-api-key`` or ``Authorization: Bearer``,
through the agent's auth provider; the role needs ``invoke``; the rate limit counts the
request). Runs are admitted by the pipeline itself; the other routes through
``Pipeline.authorize``. A thread belongs to the subject that created it: to any other
caller it is unknown (404), like a thread that does not exist.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Mapping
from typing import Annotated, Any, cast

from agentdock.registry.platformrows import ACTIVE_STATUSES as ACTIVE
from agentdock_runtime import Pipeline, RuntimeHTTPError, Unauthorized
from agentdock_runtime.gates import as_async
from langgraph.errors import InvalidUpdateError
from litestar import Request, Response, delete, get, post
from litestar.params import PathParameter
from litestar.response import Stream

from agentdock_plugins.langgraph.platformrun import PLATFORM_RUN, PlatformRun
from agentdock_plugins.litestar.invoke import Scope, check_json, request_headers
from agentdock_plugins.litestar.openapi import declared_schemas
from agentdock_plugins.litestar.platform.bodies import (
    AssistantSearch,
    HistoryQuery,
    RunCreate,
    StateCheckpoint,
    StateUpdate,
    ThreadCreate,
    ThreadSearch,
    decode_body,
    not_found,
)
from agentdock_plugins.litestar.platform.encoding import HEARTBEAT, encode
from agentdock_plugins.litestar.platform.records import (
    Records,
    RunRecord,
    ThreadRecord,
    matches,
    now_iso,
)
from agentdock_plugins.litestar.platform.runs import (
    BEAT_SEC,
    RunHandle,
    Runs,
    error_body,
    new_id,
    stored_error,
)
from agentdock_plugins.litestar.platform.state import checkpoint_of, snapshot_body
from agentdock_plugins.litestar.platform.storedrecords import records_from_env

__all__ = ["NAMESPACE_GRAPH", "assistant_id", "platform_handlers"]

JSON = "application/json"
_SSE_HEADERS = {"cache-control": "no-cache", "x-accel-buffering": "no"}
ThreadPath = Annotated[str, PathParameter()]

#: The namespace of LangGraph Platform's graph ids: an agent's assistant id is the one
#: ``langgraph dev`` gives a graph of the same name.
NAMESPACE_GRAPH = uuid.UUID("6ba7b821-9dad-11d1-80b4-00c04fd430c8")


def assistant_id(agent: str) -> str:
    """The stable assistant id of an agent (a UUID from its name)."""
    return str(uuid.uuid5(NAMESPACE_GRAPH, agent))


def _headers(request: Request[Any, Any, Any]) -> dict[str, str]:
    return request_headers(cast("Scope", request.scope))


def _json(
    body: Any, status: int = 200, headers: Mapping[str, str] | None = None
) -> Response[bytes]:
    return Response(content=encode(body), status_code=status, media_type=JSON, headers=headers)


class _Platform:
    """What the routes share: the agent, its graph, its threads and runs."""

    def __init__(self, pipeline: Pipeline, spec: Any, records: Records, heartbeat: float) -> None:
        self.pipeline = pipeline
        self.spec = spec
        self.records = records
        self.heartbeat = heartbeat
        self.name = spec.agent.name
        self.assistant_id = assistant_id(self.name)
        adapter = pipeline.adapter
        self.graph: Any = getattr(adapter, "graph", None)
        self.stateful: Any = getattr(adapter, "stateful_graph", None)
        self.runs = Runs(pipeline, records, self.stateful)
        provider = pipeline.auth_provider if pipeline.authenticated else None
        self._authenticate = as_async(provider.authenticate) if provider is not None else None
        created = now_iso()
        self.assistant = {
            "assistant_id": self.assistant_id,
            "graph_id": self.name,
            "name": self.name,
            "description": spec.agent.description or None,
            "config": {},
            "context": {},
            "metadata": {"created_by": "system"},
            "version": 1,
            "created_at": created,
            "updated_at": created,
        }
        self._graphs: dict[str, Any] = {}
        self._schemas: dict[str, Any] | None = None

    # -- who calls -------------------------------------------------------------------------

    async def authorize(self, headers: Mapping[str, str]) -> str | None:
        """A route outside a run: authenticated, role and rate checked; the subject."""
        identity = await self.pipeline.authorize(headers, "invoke")
        sub = identity.get("sub")
        return None if sub is None else str(sub)

    async def subject(self, headers: Mapping[str, str]) -> str | None:
        """Before a run on a thread: who calls, and whether the role may run the agent (the
        run itself is admitted by the pipeline, so the rate limit counts it once). A
        refusal is the pipeline's own, reported as its refusals are."""
        if self._authenticate is None:
            return None
        try:
            identity = await self._authenticate(headers)
        except Exception:
            identity = None
        access = self.pipeline.access
        if identity is None or (
            access is not None and not access.allows(str(identity.get("role")), "invoke")
        ):
            await self.pipeline.authorize(headers, "invoke")  # raises the refusal
            raise Unauthorized("invalid or missing credentials")
        sub = identity.get("sub")
        return None if sub is None else str(sub)

    # -- lookups -----------------------------------------------------------------------------

    def check_assistant(self, ident: str) -> None:
        if ident not in (self.assistant_id, self.name):
            raise not_found("assistant", ident)

    def need_threads(self) -> Any:
        if self.stateful is None:
            raise RuntimeHTTPError(
                409,
                "Stateless",
                f"agent {self.name} keeps no threads (arguments.checkpointer is none, or it "
                "is not a LangGraph graph)",
            )
        return self.stateful

    async def thread(self, thread_id: str, owner: str | None) -> ThreadRecord:
        record = await self.records.get_thread(thread_id)
        if record is None or record.owner != owner:
            raise not_found("thread", thread_id)
        return record

    async def run_of(self, thread_id: str, run_id: str, owner: str | None) -> RunRecord:
        await self.thread(thread_id, owner)
        record = await self.records.get_run(thread_id, run_id)
        if record is None:
            raise not_found("run", run_id)
        return record

    async def ended_elsewhere(self, run_id: str) -> dict[str, Any] | None:
        """Wait for a run another replica runs to end (its row, read every beat); its
        result. A replica that died is found by its row's missing beats."""
        while True:
            found = await self.records.outcome(run_id)
            if found is None:
                return None
            status, result = found
            if status not in ACTIVE:
                return result
            await asyncio.sleep(BEAT_SEC)

    async def follow_elsewhere(self, run_id: str, after: int) -> AsyncIterator[bytes]:
        """``join_stream`` of a run another replica runs: its stored frames after
        ``after``, then new ones as they are stored, until it ends; heartbeats while idle."""
        idle = 0.0
        while True:
            found = await self.records.outcome(run_id)
            frames = await self.records.frames_after(run_id, after)
            for seq, frame in frames:
                after = seq
                yield frame.encode("utf-8")
            if found is None or (found[0] not in ACTIVE and not frames):
                return
            idle = 0.0 if frames else idle + BEAT_SEC
            if idle >= self.heartbeat:
                idle = 0.0
                yield HEARTBEAT
            await asyncio.sleep(BEAT_SEC)

    async def state(self, thread_id: str, checkpoint: Mapping[str, Any] | None = None) -> Any:
        graph = self.need_threads()
        configurable: dict[str, Any] = {"thread_id": thread_id}
        for key in ("checkpoint_ns", "checkpoint_id"):
            if checkpoint and checkpoint.get(key):
                configurable[key] = checkpoint[key]
        return await graph.aget_state({"configurable": configurable})

    async def thread_body(self, record: ThreadRecord) -> dict[str, Any]:
        body = record.public()
        if self.stateful is not None:
            snapshot = await self.state(record.thread_id)
            body["values"] = snapshot.values
            body["interrupts"] = {
                task.id: [{"value": i.value, "id": i.id} for i in task.interrupts]
                for task in snapshot.tasks
                if task.interrupts
            }
        return body

    def drawn_graph(self, xray: str) -> Any:
        """The graph's drawing (``xray``: ``true``, a depth, else none), computed once per
        depth (at most 100 of them: a longer number is a full x-ray)."""
        flag = xray.strip().lower()
        number = small_int(flag)
        depth: bool | int = False
        if flag == "true":
            depth = True
        elif number is not None:
            depth = number if number < 100 else True
        elif flag.isascii() and flag.isdigit():  # too long to be a depth: all of them
            depth = True
        key = repr(depth)  # True and 1 are equal keys, not the same drawing
        found = self._graphs.get(key)
        if found is None:
            found = self._graphs[key] = self.graph.get_graph(xray=depth).to_json()
        return found

    def schemas(self) -> dict[str, Any]:
        if self._schemas is None:
            input_schema, output_schema, _ = declared_schemas(self.spec)
            state: Any = None
            try:
                state = self.graph.get_output_jsonschema()
            except Exception:  # a graph without a state schema: none is declared
                state = None
            self._schemas = {
                "graph_id": self.name,
                "input_schema": input_schema,
                "output_schema": output_schema,
                "state_schema": state,
                "config_schema": None,
                "context_schema": None,
            }
        return self._schemas

    # -- runs --------------------------------------------------------------------------------

    async def start(
        self, body: RunCreate, thread_id: str | None, headers: Mapping[str, str], *, wait: bool
    ) -> RunHandle:
        self.check_assistant(body.assistant_id)
        modes = body.modes()
        if body.multitask_strategy == "rollback":
            raise RuntimeHTTPError(
                501,
                "NotImplemented",
                "multitask_strategy rollback is not supported; use interrupt, enqueue or reject",
                path="multitask_strategy",
            )
        thread: ThreadRecord | None = None
        owner: str | None = None
        if thread_id is not None:
            self.need_threads()
            owner = await self.subject(headers)
            found = await self.records.get_thread(thread_id)
            if found is None and body.if_not_exists == "create":
                found = ThreadRecord(thread_id, owner)
                await self.records.put_thread(found)
            if found is None or found.owner != owner:
                raise not_found("thread", thread_id)
            thread = found
        run = _platform_run(body, modes)
        record = RunRecord(
            run_id=new_id(),
            thread_id=thread.thread_id if thread is not None else "",
            assistant_id=self.assistant_id,
            owner=owner,
            multitask_strategy=body.multitask_strategy,
            metadata=body.metadata or {},
            kwargs={"stream_mode": modes, "config": run.config},
        )
        handle = await self.runs.start(record, thread, run, body.input or {}, headers, wait=wait)
        handle.cancel_on_disconnect = body.on_disconnect == "cancel"
        return handle

    async def wait_stateless(self, body: RunCreate, headers: Mapping[str, str]) -> Response[bytes]:
        """``POST /runs/wait``: no thread, so nothing to queue behind, cancel or join; the
        run is the request's own pipeline call, in the request's task."""
        self.check_assistant(body.assistant_id)
        token = PLATFORM_RUN.set(_platform_run(body, body.modes()))
        try:
            result = await self.pipeline.invoke(body.input or {}, headers=headers)
        except RuntimeHTTPError as error:
            if error.status < 500:
                raise
            return _failure(error, error.run_id, {})
        finally:
            PLATFORM_RUN.reset(token)
        return _json(result.output, 200, {"x-run-id": result.run_id})

    def run_headers(self, handle: RunHandle) -> dict[str, str]:
        headers = {"content-location": self._run_path(handle)}
        if handle.pipeline_run_id:
            headers["x-run-id"] = handle.pipeline_run_id
        return headers

    def _run_path(self, handle: RunHandle) -> str:
        record = handle.record
        if record.thread_id:
            return f"/threads/{record.thread_id}/runs/{record.run_id}"
        return f"/runs/{record.run_id}"

    async def wait(self, handle: RunHandle) -> Response[bytes]:
        task = handle.task
        assert task is not None
        try:
            await asyncio.shield(task)
        except asyncio.CancelledError:
            current = asyncio.current_task()
            if current is not None and current.cancelling():  # this request is cancelled
                if handle.cancel_on_disconnect:
                    handle.cancel()
                raise
            # The run was cancelled (``cancel``, or a run that interrupted it).
            raise RuntimeHTTPError(
                409, "RunCancelled", f"run {handle.record.run_id} was cancelled"
            ) from None
        error = handle.error
        if error is not None:
            if error.status < 500 and handle.output is None:
                error.run_id = handle.pipeline_run_id
                raise error
            return _failure(error, handle.pipeline_run_id, self.run_headers(handle))
        return _json(handle.output, 200, self.run_headers(handle))

    async def stream(self, handle: RunHandle, after: int = 0) -> Stream:
        await asyncio.shield(handle.started)  # a refusal keeps its HTTP status
        return Stream(
            self._follow(handle, after),
            media_type="text/event-stream",
            headers={**_SSE_HEADERS, **self.run_headers(handle)},
        )

    async def _follow(self, handle: RunHandle, after: int) -> Any:
        try:
            async for frame in handle.follow(after, self.heartbeat):
                yield frame
        finally:
            if handle.cancel_on_disconnect and not handle.done.is_set():
                handle.cancel()


def platform_handlers(
    pipeline: Pipeline,
    spec: Any,
    *,
    heartbeat_sec: float,
    records: Records | None = None,
) -> list[Any]:
    """The Litestar handlers of the Platform API for ``pipeline`` (built once)."""
    p = _Platform(
        pipeline,
        spec,
        records if records is not None else records_from_env(spec.agent.name),
        heartbeat_sec,
    )

    async def body_of(request: Request[Any, Any, Any], headers: Mapping[str, str]) -> bytes:
        check_json(headers)
        return await request.body()

    # -- assistants ------------------------------------------------------------------------

    @post("/assistants/search", status_code=200)
    async def assistants_search(request: Request[Any, Any, Any]) -> Response[bytes]:
        headers = _headers(request)
        await p.authorize(headers)
        query = decode_body(await body_of(request, headers), AssistantSearch)
        hit = (
            query.graph_id in (None, p.name)
            and query.name in (None, p.name)
            and matches(p.assistant["metadata"], query.metadata)
        )
        found = [p.assistant] if hit else []
        return _json(found[query.offset : query.offset + max(query.limit, 0)])

    @get("/assistants/{assistant:str}")
    async def assistant_get(
        request: Request[Any, Any, Any], assistant: ThreadPath
    ) -> Response[bytes]:
        await p.authorize(_headers(request))
        p.check_assistant(assistant)
        return _json(p.assistant)

    @get("/assistants/{assistant:str}/graph")
    async def assistant_graph(
        request: Request[Any, Any, Any], assistant: ThreadPath
    ) -> Response[bytes]:
        await p.authorize(_headers(request))
        p.check_assistant(assistant)
        xray = request.query_params.get("xray") or "false"
        return _json(p.drawn_graph(xray))

    @get("/assistants/{assistant:str}/schemas")
    async def assistant_schemas(
        request: Request[Any, Any, Any], assistant: ThreadPath
    ) -> Response[bytes]:
        await p.authorize(_headers(request))
        p.check_assistant(assistant)
        return _json(p.schemas())

    # -- threads ---------------------------------------------------------------------------

    @post("/threads", status_code=200)
    async def thread_create(request: Request[Any, Any, Any]) -> Response[bytes]:
        headers = _headers(request)
        owner = await p.authorize(headers)
        p.need_threads()
        body = decode_body(await body_of(request, headers), ThreadCreate)
        thread_id = body.thread_id or new_id()
        found = await p.records.get_thread(thread_id)
        if found is not None:
            if body.if_exists == "do_nothing" and found.owner == owner:
                return _json(await p.thread_body(found))
            raise RuntimeHTTPError(
                409, "Conflict", f"thread {thread_id} already exists", path="thread_id"
            )
        record = ThreadRecord(thread_id, owner, metadata=dict(body.metadata or {}))
        await p.records.put_thread(record)
        return _json(await p.thread_body(record))

    @post("/threads/search", status_code=200)
    async def thread_search(request: Request[Any, Any, Any]) -> Response[bytes]:
        headers = _headers(request)
        owner = await p.authorize(headers)
        query = decode_body(await body_of(request, headers), ThreadSearch)
        found = [
            t
            for t in await p.records.threads(owner)
            if matches(t.metadata, query.metadata) and query.status in (None, t.status)
        ]
        page = found[query.offset : query.offset + max(query.limit, 0)]
        return _json([await p.thread_body(t) for t in page])

    @get("/threads/{thread_id:str}")
    async def thread_get(request: Request[Any, Any, Any], thread_id: ThreadPath) -> Response[bytes]:
        owner = await p.authorize(_headers(request))
        return _json(await p.thread_body(await p.thread(thread_id, owner)))

    @delete("/threads/{thread_id:str}", status_code=204)
    async def thread_delete(request: Request[Any, Any, Any], thread_id: ThreadPath) -> None:
        owner = await p.authorize(_headers(request))
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

    @get("/threads/{thread_id:str}/state")
    async def state_get(request: Request[Any, Any, Any], thread_id: ThreadPath) -> Response[bytes]:
        owner = await p.authorize(_headers(request))
        await p.thread(thread_id, owner)
        return _json(snapshot_body(await p.state(thread_id)))

    @get("/threads/{thread_id:str}/state/{checkpoint_id:str}")
    async def state_at(
        request: Request[Any, Any, Any], thread_id: ThreadPath, checkpoint_id: ThreadPath
    ) -> Response[bytes]:
        owner = await p.authorize(_headers(request))
        await p.thread(thread_id, owner)
        snapshot = await p.state(thread_id, {"checkpoint_id": checkpoint_id})
        return _json(snapshot_body(snapshot))

    @post("/threads/{thread_id:str}/state/checkpoint", status_code=200)
    async def state_checkpoint(
        request: Request[Any, Any, Any], thread_id: ThreadPath
    ) -> Response[bytes]:
        headers = _headers(request)
        owner = await p.authorize(headers)
        query = decode_body(await body_of(request, headers), StateCheckpoint)
        await p.thread(thread_id, owner)
        return _json(snapshot_body(await p.state(thread_id, query.checkpoint)))

    @post("/threads/{thread_id:str}/state", status_code=200)
    async def state_update(
        request: Request[Any, Any, Any], thread_id: ThreadPath
    ) -> Response[bytes]:
        headers = _headers(request)
        owner = await p.authorize(headers)
        body = decode_body(await body_of(request, headers), StateUpdate)
        await p.thread(thread_id, owner)
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
        return _json({"checkpoint": checkpoint_of(config)})

    async def history(thread_id: str, owner: str | None, query: HistoryQuery) -> Response[bytes]:
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
        return _json(states)

    @post("/threads/{thread_id:str}/history", status_code=200)
    async def history_post(
        request: Request[Any, Any, Any], thread_id: ThreadPath
    ) -> Response[bytes]:
        headers = _headers(request)
        owner = await p.authorize(headers)
        return await history(
            thread_id, owner, decode_body(await body_of(request, headers), HistoryQuery)
        )

    @get("/threads/{thread_id:str}/history")
    async def history_get(
        request: Request[Any, Any, Any], thread_id: ThreadPath
    ) -> Response[bytes]:
        owner = await p.authorize(_headers(request))
        limit = _count(request.query_params.get("limit"), "limit", 10)
        return await history(thread_id, owner, HistoryQuery(limit=limit))

    # -- runs ------------------------------------------------------------------------------

    async def run_body(request: Request[Any, Any, Any], headers: Mapping[str, str]) -> RunCreate:
        return decode_body(await body_of(request, headers), RunCreate, empty_ok=False)

    @post("/runs/wait", status_code=200)
    async def runs_wait(request: Request[Any, Any, Any]) -> Response[bytes]:
        headers = _headers(request)
        return await p.wait_stateless(await run_body(request, headers), headers)

    @post("/threads/{thread_id:str}/runs/wait", status_code=200)
    async def thread_runs_wait(
        request: Request[Any, Any, Any], thread_id: ThreadPath
    ) -> Response[bytes]:
        headers = _headers(request)
        body = await run_body(request, headers)
        return await p.wait(await p.start(body, thread_id, headers, wait=True))

    @post("/runs/stream", status_code=200)
    async def runs_stream(request: Request[Any, Any, Any]) -> Stream:
        headers = _headers(request)
        return await p.stream(
            await p.start(await run_body(request, headers), None, headers, wait=False)
        )

    @post("/threads/{thread_id:str}/runs/stream", status_code=200)
    async def thread_runs_stream(request: Request[Any, Any, Any], thread_id: ThreadPath) -> Stream:
        headers = _headers(request)
        body = await run_body(request, headers)
        return await p.stream(await p.start(body, thread_id, headers, wait=False))

    async def create(request: Request[Any, Any, Any], thread_id: str | None) -> Response[bytes]:
        headers = _headers(request)
        body = await run_body(request, headers)
        if thread_id is None:
            # A stateless background run still needs a thread to be found by: its own.
            owner = await p.subject(headers)
            thread_id = new_id()
            await p.records.put_thread(ThreadRecord(thread_id, owner, metadata={"temporary": True}))
            body.if_not_exists = "create"
        handle = await p.start(body, thread_id, headers, wait=False)
        return _json(handle.record.public(), 200, p.run_headers(handle))

    @post("/runs", status_code=200)
    async def runs_create(request: Request[Any, Any, Any]) -> Response[bytes]:
        return await create(request, None)

    @post("/threads/{thread_id:str}/runs", status_code=200)
    async def thread_runs_create(
        request: Request[Any, Any, Any], thread_id: ThreadPath
    ) -> Response[bytes]:
        return await create(request, thread_id)

    @get("/threads/{thread_id:str}/runs")
    async def runs_list(request: Request[Any, Any, Any], thread_id: ThreadPath) -> Response[bytes]:
        owner = await p.authorize(_headers(request))
        await p.thread(thread_id, owner)
        params = request.query_params
        limit = _count(params.get("limit"), "limit", 10)
        offset = _count(params.get("offset"), "offset", 0)
        status = params.get("status")
        runs = [r for r in await p.records.runs(thread_id) if status in (None, r.status)]
        page = runs[offset : offset + limit]
        return _json([r.public() for r in page])

    @get("/threads/{thread_id:str}/runs/{run_id:str}")
    async def run_get(
        request: Request[Any, Any, Any], thread_id: ThreadPath, run_id: ThreadPath
    ) -> Response[bytes]:
        owner = await p.authorize(_headers(request))
        return _json((await p.run_of(thread_id, run_id, owner)).public())

    @get("/threads/{thread_id:str}/runs/{run_id:str}/join")
    async def run_join(
        request: Request[Any, Any, Any], thread_id: ThreadPath, run_id: ThreadPath
    ) -> Response[bytes]:
        owner = await p.authorize(_headers(request))
        await p.run_of(thread_id, run_id, owner)
        handle = p.runs.handle(run_id)
        if handle is not None:
            await handle.done.wait()
            if handle.error is not None:
                return _failure(handle.error, handle.pipeline_run_id, {})
            if handle.output is not None:
                return _json(handle.output)
        elif p.records.shared:
            # A run of another replica: its row says when it ends, and how.
            result = await p.ended_elsewhere(run_id)
            if result and "error" in result:
                return _failure(stored_error(result["error"]), None, {})
            if result and result.get("output") is not None:
                return _json(result["output"])
        if p.stateful is None:
            return _json({})
        return _json((await p.state(thread_id)).values)

    @get("/threads/{thread_id:str}/runs/{run_id:str}/stream")
    async def run_join_stream(
        request: Request[Any, Any, Any], thread_id: ThreadPath, run_id: ThreadPath
    ) -> Stream:
        headers = _headers(request)
        owner = await p.authorize(headers)
        await p.run_of(thread_id, run_id, owner)
        handle = p.runs.handle(run_id)
        after = small_int(headers.get("last-event-id", "").strip()) or 0
        if handle is None and p.records.shared:
            return Stream(
                p.follow_elsewhere(run_id, after),
                media_type="text/event-stream",
                headers=_SSE_HEADERS,
            )
        if handle is None:
            raise RuntimeHTTPError(
                409, "StreamNotResumable", f"the events of run {run_id} are no longer held"
            )
        handle.cancel_on_disconnect = request.query_params.get("cancel_on_disconnect") == "true"
        return Stream(
            p._follow(handle, after),
            media_type="text/event-stream",
            headers=_SSE_HEADERS,
        )

    @post("/threads/{thread_id:str}/runs/{run_id:str}/cancel", status_code=204)
    async def run_cancel(
        request: Request[Any, Any, Any], thread_id: ThreadPath, run_id: ThreadPath
    ) -> None:
        owner = await p.authorize(_headers(request))
        record = await p.run_of(thread_id, run_id, owner)
        handle = p.runs.handle(run_id)
        wait = request.query_params.get("wait") in ("1", "true", "True")
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

    # -- not built -------------------------------------------------------------------------

    @post("/runs/crons", status_code=501)
    async def crons_create() -> None:
        raise _no_crons()

    @post("/threads/{thread_id:str}/runs/crons", status_code=501)
    async def thread_crons_create(thread_id: ThreadPath) -> None:
        raise _no_crons()

    @post("/runs/crons/search", status_code=501)
    async def crons_search() -> None:
        raise _no_crons()

    return [
        assistants_search,
        assistant_get,
        assistant_graph,
        assistant_schemas,
        thread_create,
        thread_search,
        thread_get,
        thread_delete,
        state_get,
        state_at,
        state_checkpoint,
        state_update,
        history_post,
        history_get,
        runs_wait,
        thread_runs_wait,
        runs_stream,
        thread_runs_stream,
        runs_create,
        thread_runs_create,
        runs_list,
        run_get,
        run_join,
        run_join_stream,
        run_cancel,
        crons_create,
        thread_crons_create,
        crons_search,
    ]


def small_int(text: str) -> int | None:
    """``text`` as a non-negative integer of at most nine ASCII digits, else ``None``
    (``str.isdigit`` alone accepts "²", which ``int`` refuses)."""
    if 0 < len(text) <= 9 and text.isascii() and text.isdigit():
        return int(text)
    return None


def _count(raw: str | None, name: str, default: int) -> int:
    """A ``limit`` or ``offset`` query parameter (422 naming it when it is not one)."""
    if raw is None or raw == "":
        return default
    value = small_int(raw)
    if value is None:
        raise RuntimeHTTPError(
            422, "ValidationError", f"{name} must be a whole number below 10^9", path=name
        )
    return value


def _platform_run(body: RunCreate, modes: list[str]) -> PlatformRun:
    return PlatformRun(
        command=body.command.as_dict() if body.command is not None else None,
        config=body.config.as_dict() if body.config is not None else {},
        context=body.context,
        stream_modes=modes,
        subgraphs=body.stream_subgraphs,
        interrupt_before=body.interrupt_before,
        interrupt_after=body.interrupt_after,
        checkpoint_id=body.start_checkpoint(),
    )


def _failure(
    error: RuntimeHTTPError, run_id: str | None, headers: Mapping[str, str]
) -> Response[bytes]:
    """A run that failed once started (a 5xx): the envelope, with the Platform's
    ``__error__`` that ``runs.wait`` raises."""
    body = {**error.envelope(run_id), "__error__": error_body(error)}
    return _json(body, error.status, headers)


def _no_crons() -> RuntimeHTTPError:
    return RuntimeHTTPError(
        501, "NotImplemented", "crons are not supported by AgentDock's LangGraph Platform API"
    )
