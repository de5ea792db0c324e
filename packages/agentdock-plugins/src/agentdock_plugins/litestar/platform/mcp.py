"""The Model Context Protocol over Streamable HTTP at ``/mcp/``: the agent is one tool.

Stateless (no ``Mcp-Session-Id``): each ``POST`` carries one JSON-RPC message and is
answered with ``application/json``; a notification is answered ``202``; ``GET`` (the
server's own event stream) and ``DELETE`` (ending a session) answer ``405``. Both eras of
the protocol are spoken: the ``initialize`` handshake (2024-11-05 to 2025-11-25) and the
per-request envelope of 2026-07-28 (``server/discover``; each request's ``_meta`` names
its protocol version, and results carry ``resultType``).

* ``tools/list`` names one tool: the agent, with its description and the Dockfile's input
  schema as ``inputSchema`` (its output schema as ``outputSchema`` when it is an object);
* ``tools/call`` runs the agent's pipeline, as ``/invoke`` does, with the caller's
  credentials: its output comes back as ``structuredContent`` and as JSON text, and the
  HTTP answer names the run (``x-run-id``, ``x-trace-id``), as A2A's ``message/send``
  does. A refusal once the caller is admitted (the input schema, a policy, the agent
  failing) is a tool error (``isError``) carrying AgentDock's error envelope, so the model
  sees why, its answer naming the run too. A result's ``_meta`` names its run
  (``agentdock/run_id``: on a success, on a tool error once the run started, on an
  ``input_required`` result) and, for a run stopped at an interrupt,
  ``agentdock/interrupted: true``. A run
  stopped at an ``interrupt()`` asks for input with 2026-07-28's ``input_required`` result
  (the retried call resumes it, :mod:`..resume`); in the handshake era, which has no way
  to take the answer, it is a tool error saying so.

Every request authenticates as ``/invoke`` does (``x-api-key`` or ``Authorization``; the
role needs ``invoke``; the rate limit counts it): a refusal there is the HTTP status and
error envelope of ``/invoke`` (401, 403, 429, 498, 499), not a JSON-RPC answer. It comes
before anything of the request is checked (its content type, its JSON-RPC framing, a
``tools/call``'s name,
arguments and ``requestState``, the protocol version): an unadmitted caller learns nothing
of them. Messages
are plain dicts decoded with msgspec; the ``mcp`` package is not imported by the server.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, NoReturn, cast

from agentdock_runtime import InvokeResult, Pipeline, RuntimeHTTPError
from agentdock_runtime.pipeline import INTERRUPT_KEY
from agentdock_runtime.version import served_version
from litestar import HttpMethod, Request, Response, route

from agentdock_plugins.litestar.invoke import Scope, request_headers
from agentdock_plugins.litestar.openapi import declared_schemas
from agentdock_plugins.litestar.platform.admitted import body_admitted
from agentdock_plugins.litestar.platform.encoding import encode, refused_run_ids, run_ids
from agentdock_plugins.litestar.platform.jsonrpc import (
    INVALID_PARAMS,
    INVALID_REQUEST,
    RpcError,
    error_response,
    is_admission,
    method_of,
    read_message,
    request_id,
    result_response,
    shown,
)
from agentdock_plugins.litestar.platform.state import interrupt_of
from agentdock_plugins.litestar.resume import can_resume, resume_run

if TYPE_CHECKING:
    from agentdock.spec import DockSpec

__all__ = ["HANDSHAKE_VERSIONS", "MODERN_VERSIONS", "mcp_handlers"]

#: Protocol revisions reached through ``initialize`` (oldest first).
HANDSHAKE_VERSIONS = ("2024-11-05", "2025-03-26", "2025-06-18", "2025-11-25")
#: Revisions that carry the protocol version in each request's ``_meta``.
MODERN_VERSIONS = ("2026-07-28",)
_VERSION_KEY = "io.modelcontextprotocol/protocolVersion"
UNSUPPORTED_VERSION = -32022
#: The ``_meta`` keys of a ``tools/call`` result: the run it started, and whether that run
#: stopped at an interrupt.
_RUN_ID_KEY = "agentdock/run_id"
_INTERRUPTED_KEY = "agentdock/interrupted"
#: The methods served (any other is -32601, whatever its params).
_METHODS = frozenset({"initialize", "server/discover", "tools/list", "tools/call", "ping"})
#: The threads of ``tools/call`` runs that may be resumed are ``mcp:<uuid>``.
THREAD_PREFIX = "mcp:"
#: The key of the one input request an interrupted run makes.
INPUT_KEY = "interrupt"
#: What the elicitation asks for: the answer that resumes the run.
_ANSWER_SCHEMA = {
    "type": "object",
    "properties": {"answer": {"type": "string", "description": "The answer to the question."}},
    "required": ["answer"],
}


class _Tool:
    """The agent as an MCP tool: its listing, built once, and its call."""

    def __init__(self, pipeline: Pipeline, spec: DockSpec) -> None:
        self.pipeline = pipeline
        self.name: str = spec.agent.name
        schema_in, schema_out, defs = declared_schemas(spec)
        if schema_in.get("type") != "object":  # a tool's arguments are an object
            schema_in = {"type": "object", "properties": {}, "additionalProperties": True}
        if defs:
            schema_in = {**schema_in, "$defs": defs}
        tool: dict[str, Any] = {
            "name": self.name,
            "description": spec.agent.description or f"The {self.name} agent.",
            "inputSchema": schema_in,
        }
        if schema_out.get("type") == "object":
            tool["outputSchema"] = {**schema_out, "$defs": defs} if defs else schema_out
        self.listing = [tool]
        self.server_info = {"name": self.name, "version": served_version(spec) or "0"}
        self.resumable = can_resume(pipeline)

    async def call(
        self, params: Mapping[str, Any], headers: Mapping[str, str], *, modern: bool = False
    ) -> tuple[dict[str, Any], dict[str, str]]:
        """``tools/call``: one run; in the 2026-07-28 era, of a resumable agent, on a thread
        of its own, so that a run stopped at an interrupt can ask for input and be resumed
        (``requestState`` names that thread). With the result, the headers naming the run
        it ran (``x-run-id``, ``x-trace-id``; none when it ran none)."""
        name = params.get("name")
        if not isinstance(name, str):
            await self.refuse(
                headers,
                RpcError(
                    INVALID_PARAMS, f"params.name must be a string: the tool is {self.name!r}"
                ),
            )
        elif name != self.name:
            await self.refuse(
                headers,
                RpcError(INVALID_PARAMS, f"unknown tool {shown(name)}; the tool is {self.name!r}"),
            )
        if params.get("requestState") is not None:
            return await self.resume(params, headers)
        arguments = params.get("arguments")
        if arguments is None:
            arguments = {}
        if not isinstance(arguments, dict):
            await self.refuse(headers, RpcError(INVALID_PARAMS, "arguments must be an object"))
        thread = f"{THREAD_PREFIX}{uuid.uuid4()}" if modern and self.resumable else None
        try:
            result = await self.pipeline.invoke(arguments, headers=headers, thread_id=thread)
        except RuntimeHTTPError as exc:
            if is_admission(exc):
                raise
            return _tool_error(exc), refused_run_ids(exc)
        return self.answer(result, thread), run_ids(result.run_id, result.trace_id)

    async def resume(
        self, params: Mapping[str, Any], headers: Mapping[str, str]
    ) -> tuple[dict[str, Any], dict[str, str]]:
        """A ``tools/call`` retried with ``inputResponses`` and the ``requestState`` of an
        ``input_required`` result: the run of that thread resumed with the answer, and the
        headers naming that run."""
        thread = params["requestState"]
        if not isinstance(thread, str) or not thread.startswith(THREAD_PREFIX):
            await self.refuse(
                headers, RpcError(INVALID_PARAMS, "requestState is not one this server sent")
            )
        responses = params.get("inputResponses")
        response = responses.get(INPUT_KEY) if isinstance(responses, Mapping) else None
        if not isinstance(response, Mapping):
            await self.refuse(
                headers, RpcError(INVALID_PARAMS, f"inputResponses.{INPUT_KEY} is missing")
            )
        if response.get("action") != "accept":
            await self.pipeline.authorize(headers, "invoke")  # answered to the admitted only
            text = f"the interrupt was not answered ({response.get('action')}): not resumed"
            return {"content": [{"type": "text", "text": text}], "isError": True}, {}
        content = response.get("content")
        if isinstance(content, Mapping) and set(content) == {"answer"}:
            content = content["answer"]
        try:
            result = await resume_run(
                self.pipeline, {"resume": content}, headers=headers, thread_id=thread
            )
        except RuntimeHTTPError as exc:
            if is_admission(exc):
                raise
            return _tool_error(exc), refused_run_ids(exc)
        return self.answer(result, thread), run_ids(result.run_id, result.trace_id)

    async def refuse(self, headers: Mapping[str, str], error: RpcError) -> NoReturn:
        """Raise ``error`` to an admitted caller only; any other gets the admission's refusal
        (401, 403, 429), as on ``/invoke``: a call's mistakes are told to no one else. A
        valid call is admitted once, by its run."""
        await self.pipeline.authorize(headers, "invoke")
        raise error

    def answer(self, result: InvokeResult, thread: str | None) -> dict[str, Any]:
        """A run's result: its output, or what an interrupt asks (:meth:`asks`)."""
        output = result.output
        if isinstance(output, Mapping) and INTERRUPT_KEY in output:
            return self.asks(output[INTERRUPT_KEY], result.run_id, thread)
        structured = output if isinstance(output, dict) else {"result": output}
        return {
            "content": [{"type": "text", "text": encode(output).decode()}],
            "structuredContent": structured,
            "isError": False,
            "_meta": {_RUN_ID_KEY: result.run_id},
        }

    def asks(self, interrupts: Any, run_id: str, thread: str | None) -> dict[str, Any]:
        """A run stopped at an ``interrupt()``. On a thread (2026-07-28): MCP's
        ``input_required`` result, one form elicitation (``answer``) whose message is the
        interrupt's value, and the thread as ``requestState``; otherwise (the handshake era,
        or an agent without threads, which cannot be resumed) a tool error saying so, the
        interrupts as ``structuredContent`` (an ``isError`` result is not checked against
        the output schema, which a partial state does not match)."""
        asked = [interrupt_of(item) for item in interrupts or ()]
        values = [item["value"] for item in asked]
        text = encode(values[0] if len(values) == 1 else values).decode()
        meta = {_RUN_ID_KEY: run_id, _INTERRUPTED_KEY: True}
        if thread is not None:
            form = {"mode": "form", "message": text, "requestedSchema": _ANSWER_SCHEMA}
            return {
                "resultType": "input_required",
                "inputRequests": {INPUT_KEY: {"method": "elicitation/create", "params": form}},
                "requestState": thread,
                "_meta": meta,
            }
        return {
            "content": [{"type": "text", "text": f"the run stopped at an interrupt: {text}"}],
            "structuredContent": {INTERRUPT_KEY: asked},
            "isError": True,
            "_meta": meta,
        }


def _tool_error(exc: RuntimeHTTPError) -> dict[str, Any]:
    """A refusal once the caller is admitted, as a tool error carrying the envelope; once
    its run started, ``_meta`` names the run as a success's does."""
    result: dict[str, Any] = {
        "content": [{"type": "text", "text": f"{exc.name}: {exc.detail}"}],
        "structuredContent": exc.envelope(),
        "isError": True,
    }
    if exc.run_id is not None:
        result["_meta"] = {_RUN_ID_KEY: exc.run_id}
    return result


def _modern_version(params: Mapping[str, Any]) -> str | None:
    """The 2026-era version a request names in its ``_meta`` (-32022 for one not served)."""
    meta = params.get("_meta")
    if not isinstance(meta, Mapping) or _VERSION_KEY not in meta:
        return None
    version = meta[_VERSION_KEY]
    if version not in MODERN_VERSIONS:
        # What was asked, as much of it as an error repeats (a version is a short string).
        requested = None
        if isinstance(version, str):
            requested = version if len(version) <= 80 else version[:80] + "…"
        data = {"supported": [*MODERN_VERSIONS], "requested": requested}
        raise RpcError(UNSUPPORTED_VERSION, "Unsupported protocol version", data)
    return str(version)


def _handshake(params: Mapping[str, Any], tool: _Tool) -> dict[str, Any]:
    asked = params.get("protocolVersion")
    version = asked if asked in HANDSHAKE_VERSIONS else HANDSHAKE_VERSIONS[-1]
    return {
        "protocolVersion": version,
        "capabilities": {"tools": {"listChanged": False}},
        "serverInfo": tool.server_info,
    }


def _discover(tool: _Tool) -> dict[str, Any]:
    return {
        "supportedVersions": [*HANDSHAKE_VERSIONS, *MODERN_VERSIONS],
        "capabilities": {"tools": {"listChanged": False}},
        "cacheScope": "public",
        "ttlMs": 0,
        "_meta": {"io.modelcontextprotocol/serverInfo": tool.server_info},
    }


def mcp_handlers(pipeline: Pipeline, spec: DockSpec) -> list[Any]:
    """The Litestar handlers of MCP for ``pipeline`` (built once)."""
    tool = _Tool(pipeline, spec)

    async def answer(
        message: Mapping[str, Any], headers: Mapping[str, str]
    ) -> tuple[dict[str, Any], dict[str, str]]:
        """The result of a request, and the headers naming the run it ran (a
        ``tools/call``'s), as A2A's ``message/send`` names its run."""
        ids: dict[str, str] = {}
        try:
            method = method_of(message, _METHODS)  # -32601 whatever the params
            params = message.get("params")
            if params is None:
                params = {}
            if not isinstance(params, Mapping):
                raise RpcError(INVALID_PARAMS, "params must be an object")
            modern = _modern_version(params)
        except RpcError as exc:
            await tool.refuse(headers, exc)
        if method == "tools/call":
            # The pipeline admits the caller.
            result, ids = await tool.call(params, headers, modern=modern is not None)
        else:
            await pipeline.authorize(headers, "invoke")
            if method == "initialize":
                result = _handshake(params, tool)
            elif method == "server/discover":
                result = _discover(tool)
            elif method == "tools/list":
                result = {"tools": tool.listing}
                if modern:
                    result.update(cacheScope="private", ttlMs=0)
            else:  # ping
                result = {}
        if modern or method == "server/discover":
            result.setdefault("resultType", "complete")
        return result, ids

    @route("/mcp", http_method=[HttpMethod.POST], status_code=200)
    async def mcp_post(request: Request[Any, Any, Any]) -> Response[bytes]:
        headers = request_headers(cast("Scope", request.scope))
        body, headers = await body_admitted(pipeline, request, headers)
        ident: Any = None
        try:
            message = read_message(body)
            if "id" in message:
                ident = request_id(message)
            elif "method" not in message:  # a response to a server request: none are sent
                raise RpcError(INVALID_REQUEST, "a message needs a method or an id")
        except RpcError as exc:
            # Malformed framing is told to an admitted caller only, as a call's mistakes are.
            await pipeline.authorize(headers, "invoke")
            return error_response(ident, exc)
        try:
            if ident is None:
                await pipeline.authorize(headers, "invoke")
                return Response(content=b"", status_code=202)
            result, ids = await answer(message, headers)
            return result_response(ident, result, ids)
        except RpcError as exc:
            return error_response(ident, exc)

    @route("/mcp", http_method=[HttpMethod.GET, HttpMethod.DELETE], status_code=405)
    async def mcp_no_stream() -> Response[bytes]:
        # Stateless: no server-initiated stream to open, no session to end.
        body = {"error": "MethodNotAllowed", "code": 405, "detail": "stateless MCP server"}
        return Response(
            content=encode(body),
            status_code=405,
            media_type="application/json",
            headers={"allow": "POST"},
        )

    return [mcp_post, mcp_no_stream]
