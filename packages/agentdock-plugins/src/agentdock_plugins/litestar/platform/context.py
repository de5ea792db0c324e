"""What the Platform API's routes share, built once per agent: the agent, its assistant,
graph, threads and runs, who calls, and how a run starts, is waited for and streamed.

Every route authenticates as ``/invoke`` does (``x-api-key`` or ``Authorization: Bearer``,
through the agent's auth provider; the role needs ``invoke``; the rate limit counts the
request). Runs are admitted by the pipeline itself; the other routes through
``Pipeline.authorize``. A run's body that cannot start a run (the wrong shape, another
assistant, an unknown mode) is told to an admitted caller only (:mod:`.admitted`): anyone
else gets 401, 403 or 429 first; one that is not JSON is, to an admitted caller, a run
refused at its input, as on ``/invoke``. A thread belongs to the
subject that created it: to any other caller it is unknown (404), like a thread that does
not exist.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Mapping
from typing import TYPE_CHECKING, Any, Literal, NoReturn

from agentdock.registry.platformrows import ACTIVE_STATUSES as ACTIVE
from agentdock_runtime import Pipeline, RuntimeHTTPError, Unauthorized
from agentdock_runtime.gates import as_async
from litestar.response import Stream

from agentdock_plugins.langgraph.platformrun import PLATFORM_RUN, PlatformRun, run_payload
from agentdock_plugins.langgraph.stateschema import state_jsonschema
from agentdock_plugins.litestar.openapi import declared_schemas
from agentdock_plugins.litestar.platform.admitted import decode_admitted, refuse
from agentdock_plugins.litestar.platform.bodies import RunCreate, not_found
from agentdock_plugins.litestar.platform.encoding import HEARTBEAT, encode, refused_run_ids, run_ids
from agentdock_plugins.litestar.platform.records import Records, RunRecord, ThreadRecord, now_iso
from agentdock_plugins.litestar.platform.replies import (
    SSE_HEADERS,
    Reply,
    failure_parts,
    small_int,
)
from agentdock_plugins.litestar.platform.runs import BEAT_SEC, RunHandle, Runs, new_id

if TYPE_CHECKING:
    from agentdock.spec import DockSpec

__all__ = ["NAMESPACE_GRAPH", "Platform", "assistant_id", "platform_run"]

#: The namespace of LangGraph Platform's graph ids: an agent's assistant id is the one
#: ``langgraph dev`` gives a graph of the same name.
NAMESPACE_GRAPH = uuid.UUID("6ba7b821-9dad-11d1-80b4-00c04fd430c8")


def assistant_id(agent: str) -> str:
    """The stable assistant id of an agent (a UUID from its name)."""
    return str(uuid.uuid5(NAMESPACE_GRAPH, agent))


class Platform:
    """What the routes share: the agent, its graph, its threads and runs."""

    def __init__(
        self, pipeline: Pipeline, spec: DockSpec, records: Records, heartbeat: float
    ) -> None:
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
        self.assistant: dict[str, Any] = {
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
        refusal is the pipeline's own, reported as its refusals are. Headers the route
        admitted already (:meth:`Pipeline.admit`) carry the identity: not asked again."""
        if self._authenticate is None:
            return None
        admitted = self.pipeline.admitted_identity(headers)
        if admitted is not None:  # authenticated and allowed to invoke at admission
            sub = admitted.get("sub")
            return None if sub is None else str(sub)
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

    async def refuse(self, headers: Mapping[str, str], error: RuntimeHTTPError) -> NoReturn:
        """Raise ``error`` to an admitted caller only (see :mod:`.admitted`)."""
        await refuse(self.pipeline, headers, error)

    async def run_request(
        self, raw: bytes, headers: Mapping[str, str], *, mode: Literal["invoke", "stream"]
    ) -> tuple[RunCreate, list[str]]:
        """A run's body and its stream modes; a body of the wrong shape, or that names
        another assistant or a mode not streamed, is told to an admitted caller only. A
        body that is not JSON is a run refused at its input, as on ``/invoke`` (``mode``:
        how the pipeline would have run it, ``invoke`` for ``runs.wait``)."""
        body = await decode_admitted(self.pipeline, headers, raw, RunCreate, run=mode)
        try:
            self.check_assistant(body.assistant_id)
            return body, body.modes()
        except RuntimeHTTPError as error:
            await self.refuse(headers, error)

    # -- lookups -----------------------------------------------------------------------------

    def check_assistant(self, ident: str) -> None:
        if ident not in (self.assistant_id, self.name):
            raise not_found("assistant", ident)

    async def known_assistant(self, headers: Mapping[str, str], ident: str) -> None:
        """A route on one assistant: the caller authorized, then ``ident`` checked to be
        this agent's assistant (its id or its name; else 404)."""
        await self.authorize(headers)
        self.check_assistant(ident)

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
                state = state_jsonschema(self.graph)
            except Exception:  # a graph whose state cannot be described: none is given
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
        self,
        request: tuple[RunCreate, list[str]],
        thread_id: str | None,
        headers: Mapping[str, str],
        *,
        wait: bool,
    ) -> RunHandle:
        """A run of ``request`` (from :meth:`run_request`) started, on ``thread_id``'s
        thread if one is named."""
        body, modes = request
        try:
            if body.multitask_strategy == "rollback":
                raise RuntimeHTTPError(
                    501,
                    "NotImplemented",
                    "multitask_strategy rollback is not supported; use interrupt, enqueue or "
                    "reject",
                    path="multitask_strategy",
                )
            if thread_id is not None:
                self.need_threads()
        except RuntimeHTTPError as error:
            await self.refuse(headers, error)
        thread: ThreadRecord | None = None
        owner: str | None = None
        if thread_id is not None:
            owner = await self.subject(headers)
            found = await self.records.get_thread(thread_id)
            if found is None and body.if_not_exists == "create":
                found = ThreadRecord(thread_id, owner)
                await self.records.put_thread(found)
            if found is None or found.owner != owner:
                # Told after the rate limit too: a caller over it gets 429, not the 404.
                await self.refuse(headers, not_found("thread", thread_id))
            thread = found
        run = platform_run(body, modes)
        record = RunRecord(
            run_id=new_id(),
            thread_id=thread.thread_id if thread is not None else "",
            assistant_id=self.assistant_id,
            owner=owner,
            multitask_strategy=body.multitask_strategy,
            metadata=body.metadata or {},
            kwargs={"stream_mode": modes, "config": run.config},
        )
        payload = run_payload(run.command, body.input)
        handle = await self.runs.start(record, thread, run, payload, headers, wait=wait)
        handle.cancel_on_disconnect = body.on_disconnect == "cancel"
        return handle

    async def wait_stateless(
        self, request: tuple[RunCreate, list[str]], headers: Mapping[str, str]
    ) -> Reply:
        """``POST /runs/wait``: no thread, so nothing to queue behind, cancel or join; the
        run is the request's own pipeline call, in the request's task."""
        body, modes = request
        run = platform_run(body, modes)
        token = PLATFORM_RUN.set(run)
        try:
            result = await self.pipeline.invoke(
                run_payload(run.command, body.input),
                headers=headers,
                resume=run.command is not None,
            )
        except RuntimeHTTPError as error:
            if error.status < 500:
                raise
            return failure_parts(error, error.run_id, refused_run_ids(error))
        finally:
            PLATFORM_RUN.reset(token)
        return 200, encode(result.output), run_ids(result.run_id, result.trace_id)

    def run_headers(self, handle: RunHandle) -> dict[str, str]:
        """A started run's ``content-location``, ``x-run-id`` and ``x-trace-id`` (named when
        the run is started, before it runs: ``runs.create`` answers with them)."""
        return {"content-location": self._run_path(handle), **self.ids_of(handle)}

    @staticmethod
    def ids_of(handle: RunHandle) -> dict[str, str]:
        """``x-run-id`` and ``x-trace-id`` of ``handle``'s pipeline run."""
        run_id = handle.pipeline_run_id
        return run_ids(run_id, handle.trace_id) if run_id else {}

    def _run_path(self, handle: RunHandle) -> str:
        record = handle.record
        if record.thread_id:
            return f"/threads/{record.thread_id}/runs/{record.run_id}"
        return f"/runs/{record.run_id}"

    async def wait(self, handle: RunHandle) -> Reply:
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
                error.run_id, error.trace_id = handle.pipeline_run_id, handle.trace_id
                raise error
            return failure_parts(error, handle.pipeline_run_id, self.run_headers(handle))
        return 200, encode(handle.output), self.run_headers(handle)

    async def stream(self, handle: RunHandle, after: int = 0) -> Stream:
        await asyncio.shield(handle.started)  # a refusal keeps its HTTP status
        return Stream(
            self.follow(handle, after),
            media_type="text/event-stream",
            headers={**SSE_HEADERS, **self.run_headers(handle)},
        )

    async def follow(self, handle: RunHandle, after: int) -> Any:
        try:
            async for frame in handle.follow(after, self.heartbeat):
                yield frame
        finally:
            if handle.cancel_on_disconnect and not handle.done.is_set():
                handle.cancel()


def platform_run(body: RunCreate, modes: list[str]) -> PlatformRun:
    """What a run's body asks of the graph (command, config, modes, interrupts)."""
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
