"""The Agent2Agent protocol (A2A 0.3, JSON-RPC binding) for one agent at ``/a2a/{agent}``.

* ``GET /a2a/{agent}/.well-known/agent-card.json``: the agent card (0.3 field names): the
  agent as one skill, ``x-api-key`` and bearer security schemes, streaming on. Public, like
  ``/openapi.json``: it names no secret and holds no data.
* ``message/send``: one run of the agent's pipeline, as ``/invoke`` runs it; answers a
  ``Task`` (``completed`` with the output as a ``data`` artifact; ``input-required`` when
  the run stopped at an ``interrupt()``, what it asks in the status message, and a
  ``message/send`` naming the task's ``taskId`` answers it and resumes the run
  (:mod:`..resume`); ``rejected`` when a policy refuses; ``failed`` otherwise, with
  AgentDock's error envelope as a ``data`` part of the status message). The answer's
  ``x-run-id`` and ``x-trace-id`` name the run (none when the run never started).
* ``message/stream``: the same run as ``/stream`` runs it, answered as Server-Sent Events:
  the ``Task`` (``working``), then ``artifact-update`` and a final ``status-update``; its
  ``x-run-id`` and ``x-trace-id`` as ``message/send``'s (a task ``rejected`` or ``failed``
  once its run started included).
* ``tasks/get``: a task this server answered (the 1,024 most recent; a task id is a random
  UUID, known only to whoever sent the message).
* ``message/send`` with ``configuration.blocking: false``: the run, once admitted, goes on
  in the background; the answer is the task, ``working``, which ``tasks/get`` follows.
* ``tasks/cancel``: stops the run of a task under way (streamed or in the background; it is
  cancelled as an abandoned ``/stream`` is, and a stream ends with the ``canceled``
  status); a task that has ended is ``TaskNotCancelable`` (-32002), an unknown one
  ``TaskNotFound`` (-32001).

The message's input: its first ``data`` part that is an object; else its text, read as a
JSON object, or, when the input schema has one string property, as that property. A task's
history keeps (and ``tasks/get`` and every answer send back) the message as the run was
given it: its input as the input policies made it (redacted), in the part it came in; the
message of a run refused before those policies ran keeps no parts.
``contextId`` names a thread (``a2a:<contextId>``) when the agent has a checkpointer: a
message with the context id of an earlier task continues that conversation; a new one is
made when absent.

Every request authenticates as ``/invoke`` does (``x-api-key`` or ``Authorization``; the
role needs ``invoke``; the rate limit counts it): a refusal is the HTTP status and the
error envelope (401, 403, 429, 498, 499). It comes before the JSON-RPC errors, a malformed
body's included, and before the 415 of a body that is not JSON: a caller that is not
admitted learns nothing of the protocol.
"""

from __future__ import annotations

import asyncio
import uuid
from collections import OrderedDict
from collections.abc import AsyncIterator, Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated, Any, Literal, cast

import anyio
import msgspec
from agentdock_runtime import MalformedJSONError, Pipeline, RuntimeHTTPError
from agentdock_runtime.jsonvalues import decode_json
from agentdock_runtime.pipeline import INTERRUPT_KEY
from agentdock_runtime.version import served_version
from litestar import Request, Response, get, post
from litestar.params import PathParameter
from litestar.response import Stream

from agentdock_plugins.litestar.invoke import Scope, request_headers
from agentdock_plugins.litestar.openapi import declared_schemas
from agentdock_plugins.litestar.platform.admitted import body_admitted
from agentdock_plugins.litestar.platform.bodies import not_found
from agentdock_plugins.litestar.platform.encoding import encode, refused_run_ids, run_ids
from agentdock_plugins.litestar.platform.jsonrpc import (
    INVALID_PARAMS,
    RUN_REFUSALS,
    RpcError,
    error_response,
    is_admission,
    method_of,
    read_message,
    refused_data,
    request_id,
    result_response,
    shown,
)
from agentdock_plugins.litestar.platform.state import interrupt_of
from agentdock_plugins.litestar.resume import resume_run

if TYPE_CHECKING:
    from agentdock.spec import DockSpec

__all__ = ["A2A_VERSION", "a2a_handlers"]

#: The A2A protocol version the card announces.
A2A_VERSION = "0.3.0"
TASK_NOT_FOUND = -32001
TASK_NOT_CANCELABLE = -32002
#: Finished tasks kept for ``tasks/get``.
MAX_TASKS = 1024
#: The checkpointer's threads of A2A contexts are ``a2a:<contextId>``.
THREAD_PREFIX = "a2a:"
#: A task whose run stopped at an ``interrupt()``: a message answering it resumes the run.
INPUT_REQUIRED = "input-required"
#: The methods served (any other is -32601, whatever its params).
_METHODS = frozenset({"message/send", "message/stream", "tasks/get", "tasks/cancel"})

AgentPath = Annotated[str, PathParameter()]
#: A ``message/send`` answer: the task, and its run's ``x-run-id`` and ``x-trace-id``.
Sent = tuple[dict[str, Any], dict[str, str]]
#: How a message carried its input: a ``data`` part, text holding a JSON object, or text
#: that is the input schema's one string property.
Carried = Literal["data", "json", "text"]


def _now() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


def _agent_message(context_id: str, task_id: str, parts: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "kind": "message",
        "messageId": str(uuid.uuid4()),
        "role": "agent",
        "parts": parts,
        "contextId": context_id,
        "taskId": task_id,
    }


class _Agent:
    """What the routes share: the card, the input mapping, the recent tasks."""

    def __init__(self, pipeline: Pipeline, spec: DockSpec) -> None:
        self.pipeline = pipeline
        self.name: str = spec.agent.name
        adapter = getattr(pipeline, "adapter", None)
        self.threads = getattr(adapter, "stateful_graph", None) is not None
        schema_in, _, _ = declared_schemas(spec)
        strings = [
            key
            for key, value in (schema_in.get("properties") or {}).items()
            if isinstance(value, Mapping) and value.get("type") == "string"
        ]
        self.text_field = strings[0] if len(strings) == 1 else None
        self.tasks: OrderedDict[str, dict[str, Any]] = OrderedDict()
        #: The tasks whose run is under way, each with the event that asks it to stop.
        self.running: dict[str, asyncio.Event] = {}
        #: ``input-required`` tasks whose answer is being run (one answer at a time).
        self.answering: set[str] = set()
        #: The runs of non-blocking ``message/send`` (held so they are not collected).
        self.background: set[asyncio.Task[None]] = set()
        description = spec.agent.description or f"The {self.name} agent."
        self.card_template = {
            "protocolVersion": A2A_VERSION,
            "name": self.name,
            "description": description,
            "version": served_version(spec) or "0",
            "preferredTransport": "JSONRPC",
            "capabilities": {
                "streaming": True,
                "pushNotifications": False,
                "stateTransitionHistory": False,
            },
            "defaultInputModes": ["application/json", "text/plain"],
            "defaultOutputModes": ["application/json"],
            "skills": [
                {
                    "id": self.name,
                    "name": self.name,
                    "description": description,
                    "tags": ["agentdock"],
                    "inputModes": ["application/json", "text/plain"],
                    "outputModes": ["application/json"],
                }
            ],
            "securitySchemes": {
                "apiKey": {"type": "apiKey", "in": "header", "name": "x-api-key"},
                "bearer": {"type": "http", "scheme": "bearer"},
            },
            "security": [{"apiKey": []}, {"bearer": []}],
        }

    def card(self, base_url: str) -> dict[str, Any]:
        url = f"{base_url.rstrip('/')}/a2a/{self.name}"
        return {**self.card_template, "url": url}

    def input_of(self, message: Any) -> tuple[dict[str, Any], Carried]:
        if not isinstance(message, Mapping) or not isinstance(message.get("parts"), list):
            raise RpcError(INVALID_PARAMS, "params.message needs a list of parts")
        texts: list[str] = []
        for part in message["parts"]:
            if not isinstance(part, Mapping):
                continue
            kind = part.get("kind")
            if kind == "data" and isinstance(part.get("data"), dict):
                return dict(part["data"]), "data"
            if kind == "text" and isinstance(part.get("text"), str):
                texts.append(part["text"])
        text = "".join(texts)
        if text.lstrip().startswith("{"):
            try:
                value = decode_json(text)
            except MalformedJSONError as error:
                if error.path is not None:  # an integer wider than 64 bits, as in a body
                    raise RpcError(INVALID_PARAMS, error.detail, refused_data(error)) from None
                value = None  # not JSON: the text itself
            if isinstance(value, dict):
                return value, "json"
        if texts and self.text_field is not None:
            return {self.text_field: text}, "text"
        raise RpcError(
            INVALID_PARAMS,
            "the message needs a data part with an object, or text that is a JSON object",
        )

    def begin(self, params: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any], Carried]:
        """The run's input, its new task (``submitted``; the message in its history holds no
        parts until the run was given its input: :meth:`given`) and how the input came."""
        message = params.get("message")
        value, carried = self.input_of(message)
        message = cast("Mapping[str, Any]", message)
        context_id = message.get("contextId")
        if not isinstance(context_id, str) or not context_id:
            context_id = str(uuid.uuid4())
        task_id = str(uuid.uuid4())
        user = {**message, "contextId": context_id, "taskId": task_id, "parts": []}
        task = {
            "kind": "task",
            "id": task_id,
            "contextId": context_id,
            "status": {"state": "submitted", "timestamp": _now()},
            "history": [user],
            "artifacts": [],
        }
        return value, task, carried

    def given(self, message: dict[str, Any], value: Any, carried: Carried) -> None:
        """``message`` (of a task's history) holding ``value``, the input (or the answer)
        as the run's input policies made it, in the kind of part it came in: never the
        caller's raw text, which may hold what they redact."""
        if carried == "data":
            part = {"kind": "data", "data": value}
        elif carried == "text" and isinstance(value, Mapping):
            field = value.get(self.text_field) if self.text_field is not None else None
            text = field if isinstance(field, str) else encode(value).decode()
            part = {"kind": "text", "text": text}
        else:
            text = value if isinstance(value, str) else encode(value).decode()
            part = {"kind": "text", "text": text}
        message["parts"] = [part]

    def thread_of(self, task: Mapping[str, Any]) -> str | None:
        """The checkpointer's thread of the task's context. Named apart (``a2a:``), so a
        context id reaches no thread made by the Platform API (whose threads belong to
        their creator) or named by ``/invoke``'s ``x-thread-id``."""
        return f"{THREAD_PREFIX}{task['contextId']}" if self.threads else None

    def keep(self, task: dict[str, Any]) -> None:
        self.tasks[task["id"]] = task
        while len(self.tasks) > MAX_TASKS:
            self.tasks.popitem(last=False)

    def complete(self, task: dict[str, Any], output: Any, run_id: str) -> dict[str, Any]:
        """The task ``completed`` with ``output`` as its artifact, or ``input-required``
        when the run stopped at an interrupt (its values in the status message)."""
        if isinstance(output, Mapping) and INTERRUPT_KEY in output:
            return self.ask(task, output[INTERRUPT_KEY], run_id)
        task["artifacts"] = [
            {
                "artifactId": str(uuid.uuid4()),
                "name": "output",
                "parts": [
                    {
                        "kind": "data",
                        "data": output if isinstance(output, dict) else {"result": output},
                    }
                ],
            }
        ]
        task["status"] = {"state": "completed", "timestamp": _now()}
        task["metadata"] = {"agentdock/run_id": run_id}
        self.keep(task)
        return task

    def ask(self, task: dict[str, Any], interrupts: Any, run_id: str) -> dict[str, Any]:
        """The task ``input-required``: the run waits at an ``interrupt()``; the status
        message gives what it asks (its values as text and as a ``data`` part). A message
        with this task's ``taskId`` (and ``contextId``) answers it and resumes the run."""
        asked = [interrupt_of(item) for item in interrupts or ()]
        values = [item["value"] for item in asked]
        text = encode(values[0] if len(values) == 1 else values).decode()
        parts: list[dict[str, Any]] = [
            {"kind": "text", "text": text},
            {"kind": "data", "data": {INTERRUPT_KEY: asked}},
        ]
        message = _agent_message(task["contextId"], task["id"], parts)
        task["status"] = {"state": INPUT_REQUIRED, "message": message, "timestamp": _now()}
        task["metadata"] = {"agentdock/run_id": run_id}
        self.keep(task)
        return task

    async def waiting(
        self, params: Mapping[str, Any], headers: Mapping[str, str]
    ) -> dict[str, Any] | None:
        """The ``input-required`` task a message answers (its ``taskId``), else ``None``
        for a message that starts a task; an unknown task is -32001, one that is not
        waiting for input -32602, each told only to an admitted caller (the run admits
        the others)."""
        message = params.get("message")
        if not isinstance(message, Mapping):
            return None
        ident = message.get("taskId")
        if not ident:  # absent, or the empty string a protobuf client sends for none
            return None
        task = self.tasks.get(ident) if isinstance(ident, str) else None
        refusal: RpcError | None = None
        if not isinstance(ident, str):
            refusal = RpcError(INVALID_PARAMS, "params.message.taskId must be a string")
        elif task is None:
            refusal = RpcError(TASK_NOT_FOUND, f"task {shown(ident)} not found")
        elif task["status"]["state"] != INPUT_REQUIRED or ident in self.answering:
            state = "working" if ident in self.answering else task["status"]["state"]
            refusal = RpcError(
                INVALID_PARAMS, f"task {shown(ident)} is {state}: it takes no message"
            )
        elif message.get("contextId") not in (None, "", task["contextId"]):
            refusal = RpcError(INVALID_PARAMS, f"task {shown(ident)} is of another contextId")
        if refusal is not None:
            await self.pipeline.authorize(headers, "invoke")
            raise refusal
        return task

    def answer_of(self, message: Mapping[str, Any]) -> tuple[Any, Carried]:
        """The resume value a message carries: its first ``data`` part, else its text."""
        texts: list[str] = []
        for part in message.get("parts") or ():
            if not isinstance(part, Mapping):
                continue
            if part.get("kind") == "data" and "data" in part:
                return part["data"], "data"
            if part.get("kind") == "text" and isinstance(part.get("text"), str):
                texts.append(part["text"])
        if not texts:
            raise RpcError(INVALID_PARAMS, "the answer needs a data part or text")
        return "".join(texts), "json"

    async def resume(
        self, task: dict[str, Any], params: Mapping[str, Any], headers: Mapping[str, str]
    ) -> Sent:
        """``message/send`` answering an ``input-required`` task: the run resumed with the
        message's answer (not an input: the input policies see it, the schema does not)."""
        message = cast("Mapping[str, Any]", params["message"])
        value, carried = self.answer_of(message)
        payload = {"resume": value}
        answer = {**message, "contextId": task["contextId"], "taskId": task["id"], "parts": []}
        self.answering.add(task["id"])
        try:
            result = await resume_run(
                self.pipeline, payload, headers=headers, thread_id=self.thread_of(task)
            )
        except RuntimeHTTPError as exc:
            if is_admission(exc):  # a caller refused leaves the task as it was
                raise
            task["history"].append(answer)
            return self.fail(task, exc.envelope()), refused_run_ids(exc)
        finally:
            self.answering.discard(task["id"])
        if isinstance(result.input, Mapping):
            self.given(answer, result.input.get("resume"), carried)
        task["history"].append(answer)
        done = self.complete(task, result.output, result.run_id)
        return done, run_ids(result.run_id, result.trace_id)

    def fail(self, task: dict[str, Any], envelope: dict[str, Any]) -> dict[str, Any]:
        state = "rejected" if envelope.get("error") in RUN_REFUSALS else "failed"
        parts: list[dict[str, Any]] = [
            {"kind": "text", "text": f"{envelope.get('error')}: {envelope.get('detail')}"},
            {"kind": "data", "data": envelope},
        ]
        message = _agent_message(task["contextId"], task["id"], parts)
        task["status"] = {"state": state, "message": message, "timestamp": _now()}
        self.keep(task)
        return task

    async def send(self, params: Mapping[str, Any], headers: Mapping[str, str]) -> Sent:
        """``message/send``: the task the run ended, and the run's ``x-run-id`` and
        ``x-trace-id`` (none when no run started)."""
        waiting = await self.waiting(params, headers)
        if waiting is not None:
            return await self.resume(waiting, params, headers)
        value, task, carried = self.begin(params)
        try:
            result = await self.pipeline.invoke(
                value, headers=headers, thread_id=self.thread_of(task)
            )
        except RuntimeHTTPError as exc:
            if is_admission(exc):
                raise
            return self.fail(task, exc.envelope()), refused_run_ids(exc)
        self.given(task["history"][0], result.input, carried)
        return self.complete(task, result.output, result.run_id), run_ids(
            result.run_id, result.trace_id
        )

    async def send_later(self, params: Mapping[str, Any], headers: Mapping[str, str]) -> Sent:
        """``message/send`` with ``blocking: false``: the run admitted (a refusal of the
        caller keeps its HTTP status), then left to run; the task, ``working``, and the
        run's ids."""
        await self.no_answer(params, headers)
        value, task, carried = self.begin(params)
        items = self.pipeline.stream(value, headers=headers, thread_id=self.thread_of(task))
        try:
            first = await anext(items)
        except RuntimeHTTPError as exc:
            if is_admission(exc):
                raise
            return self.fail(task, exc.envelope()), refused_run_ids(exc)
        self.given(task["history"][0], first.input, carried)
        task["status"] = {"state": "working", "timestamp": _now()}
        self.keep(task)
        self.running[task["id"]] = asyncio.Event()
        answer = msgspec.json.decode(encode(task))  # as it stands now, not as the run goes on
        run_id = str(first.data.get("run_id", ""))
        frames = _events(None, items, task, self, run_id)
        run = asyncio.create_task(_drain(frames))
        self.background.add(run)
        run.add_done_callback(self.background.discard)
        return cast("dict[str, Any]", answer), run_ids(run_id, first.data.get("trace_id"))

    async def no_answer(self, params: Mapping[str, Any], headers: Mapping[str, str]) -> None:
        """An answer to an ``input-required`` task resumes with a blocking ``message/send``
        only (-32602 otherwise)."""
        if await self.waiting(params, headers) is not None:
            await self.pipeline.authorize(headers, "invoke")
            raise RpcError(
                INVALID_PARAMS, "answer an input-required task with a blocking message/send"
            )

    def _task(self, params: Mapping[str, Any]) -> dict[str, Any]:
        """The task ``params.id`` names: -32602 for an id that is not a string, -32001 for
        one that names no task."""
        ident = params.get("id")
        if not isinstance(ident, str):
            raise RpcError(INVALID_PARAMS, "params.id must be a string (the task's id)")
        task = self.tasks.get(ident)
        if task is None:
            raise RpcError(TASK_NOT_FOUND, f"task {shown(ident)} not found")
        return task

    def get_task(self, params: Mapping[str, Any]) -> dict[str, Any]:
        task = self._task(params)
        length = params.get("historyLength")
        if isinstance(length, int) and not isinstance(length, bool) and length >= 0:
            return {**task, "history": task["history"][-length:] if length else []}
        return task

    def cancel_task(self, params: Mapping[str, Any]) -> dict[str, Any]:
        """``tasks/cancel``: the task, ``canceled``, its run asked to stop."""
        task = self._task(params)
        stop = self.running.pop(task["id"], None)
        if stop is None:
            state = task["status"]["state"]
            raise RpcError(
                TASK_NOT_CANCELABLE, f"task {shown(task['id'])} is {state}: it cannot be canceled"
            )
        stop.set()
        task["status"] = {"state": "canceled", "timestamp": _now()}
        return task


def _frame(ident: Any, result: Mapping[str, Any]) -> bytes:
    return b"data: " + encode({"jsonrpc": "2.0", "id": ident, "result": result}) + b"\n\n"


def a2a_handlers(pipeline: Pipeline, spec: DockSpec) -> list[Any]:
    """The Litestar handlers of A2A for ``pipeline`` (built once)."""
    served = _Agent(pipeline, spec)

    def check_agent(name: str) -> None:
        if name != served.name:
            raise not_found("agent", name)

    @get("/a2a/{agent:str}/.well-known/agent-card.json")
    async def card(request: Request[Any, Any, Any], agent: AgentPath) -> Response[bytes]:
        check_agent(agent)
        return Response(
            content=encode(served.card(str(request.base_url))), media_type="application/json"
        )

    async def stream(
        ident: Any,
        value: dict[str, Any],
        task: dict[str, Any],
        carried: Carried,
        headers: Mapping[str, str],
    ) -> Stream:
        items = pipeline.stream(value, headers=headers, thread_id=served.thread_of(task))
        try:
            first = await anext(items)  # a refusal of the caller keeps its HTTP status
        except RuntimeHTTPError as exc:
            if is_admission(exc):
                raise
            served.fail(task, exc.envelope())  # the run started: its ids, as message/send
            ids = refused_run_ids(exc)
            return Stream(_one(ident, task), media_type="text/event-stream", headers=ids)
        served.given(task["history"][0], first.input, carried)
        run_id = str(first.data.get("run_id", ""))
        return Stream(
            _events(ident, items, task, served, run_id),
            media_type="text/event-stream",
            headers={"cache-control": "no-cache", **run_ids(run_id, first.data.get("trace_id"))},
        )

    @post("/a2a/{agent:str}", status_code=200)
    async def rpc(request: Request[Any, Any, Any], agent: AgentPath) -> Response[bytes] | Stream:
        headers = request_headers(cast("Scope", request.scope))
        body, headers = await body_admitted(pipeline, request, headers)
        check_agent(agent)  # after admission: a stranger learns no agent's name
        ident: Any = None
        try:
            message = read_message(body)
            ident = request_id(message)
            method = method_of(message, _METHODS)
            params = message.get("params")
            if not isinstance(params, Mapping):
                raise RpcError(INVALID_PARAMS, "params must be an object")
        except RpcError as exc:
            # Malformed framing is told to an admitted caller only: a stranger gets the
            # admission's refusal (401, 403, 429) and learns nothing of the protocol.
            await pipeline.authorize(headers, "invoke")
            return error_response(ident, exc)
        ids: dict[str, str] = {}
        try:
            if method == "message/send" and _non_blocking(params):
                result, ids = await served.send_later(params, headers)
            elif method == "message/send":
                result, ids = await served.send(params, headers)
            elif method == "message/stream":
                await served.no_answer(params, headers)
                value, task, carried = served.begin(params)
                return await stream(ident, value, task, carried, headers)
            elif method == "tasks/get":
                await pipeline.authorize(headers, "invoke")
                result = served.get_task(params)
            else:  # tasks/cancel
                await pipeline.authorize(headers, "invoke")
                result = served.cancel_task(params)
        except RpcError as exc:
            return error_response(ident, exc)
        return result_response(ident, result, ids)

    return [card, rpc]


async def _one(ident: Any, task: dict[str, Any]) -> AsyncIterator[bytes]:
    yield _frame(ident, task)


async def _events(
    ident: Any, items: Any, task: dict[str, Any], agent: _Agent, run_id: str
) -> AsyncIterator[bytes]:
    """The task (working), then its artifact and its final status, from the run's items;
    ``tasks/cancel`` stops the run (its items) and the final status is ``canceled``."""
    stop = agent.running.setdefault(task["id"], asyncio.Event())
    try:
        task["status"] = {"state": "working", "timestamp": _now()}
        agent.keep(task)
        yield _frame(ident, task)
        while (item := await _next_unless(items, stop)) is not None:
            if item.event in ("end", "error"):
                # The run's last item: the task can no longer be cancelled (the pipeline
                # records a stream closed once this item is out as it ended, not cancelled).
                agent.running.pop(task["id"], None)
            if item.event == "end":
                done = agent.complete(task, item.data.get("output"), run_id)
                if done["status"]["state"] == INPUT_REQUIRED:
                    break  # no artifact: the final status asks for input
                artifact = done["artifacts"][0]
                yield _frame(
                    ident,
                    {
                        "kind": "artifact-update",
                        "taskId": task["id"],
                        "contextId": task["contextId"],
                        "artifact": artifact,
                        "lastChunk": True,
                    },
                )
                break
            if item.event == "error":
                agent.fail(task, dict(item.data))
                break
        agent.running.pop(task["id"], None)
        yield _frame(
            ident,
            {
                "kind": "status-update",
                "taskId": task["id"],
                "contextId": task["contextId"],
                "status": task["status"],
                "final": True,
            },
        )
    finally:
        agent.running.pop(task["id"], None)
        with anyio.CancelScope(shield=True):
            await items.aclose()


def _non_blocking(params: Mapping[str, Any]) -> bool:
    configuration = params.get("configuration")
    return isinstance(configuration, Mapping) and configuration.get("blocking") is False


async def _drain(frames: AsyncIterator[bytes]) -> None:
    """A background task's run to its end (its frames are not sent anywhere)."""
    async for _ in frames:
        pass


async def _next_unless(items: Any, stop: asyncio.Event) -> Any:
    """The run's next item; ``None`` when it has ended or ``stop`` is set first (the run,
    waiting for its next item, is then cancelled)."""
    step = asyncio.ensure_future(anext(items, None))
    halt = asyncio.ensure_future(stop.wait())
    try:
        await asyncio.wait((step, halt), return_when=asyncio.FIRST_COMPLETED)
    finally:
        halt.cancel()
        if not step.done():
            step.cancel()
            with anyio.CancelScope(shield=True):
                await asyncio.wait((step,))
    return None if step.cancelled() else step.result()
