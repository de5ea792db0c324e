"""The client protocols' root routes when several agents are hosted: which agent answers.

Each agent's application already speaks the LangGraph Platform API, LangServe, MCP and A2A
for itself (:mod:`agentdock_plugins.litestar.platform`); here a root request is handed to
the agent it is for, so every call still runs through that agent's own auth and pipeline:

* ``/langserve/{agent}/…`` and ``/a2a/{agent}…``: the agent the path names;
* ``/assistants/{id}…``: the agent whose name, or assistant id, ``id`` is;
* ``POST /runs…`` and ``POST /threads/{id}/runs…`` (wait, stream, create): the agent named
  by the body's ``assistant_id``; the response is streamed from it as it comes;
* an assistant (or a LangServe agent) no agent has is answered as an unknown thread is:
  a caller an agent admits gets that agent's 404, anyone else the refusal (401);
* ``POST /assistants/search``, ``POST /threads/search``: every agent is asked with the
  caller's credentials, and the lists of those that accept them are joined (``offset`` and
  ``limit`` applied to the joined list);
* ``POST /threads``: the thread (its id chosen here when the body names none) is created
  in every agent that accepts the caller, so a run of any of them may use it;
* other ``/threads/{id}…`` requests: the first agent that knows the thread answers (the
  answer is read whole first: a ``join_stream`` arrives when the run ends);
* ``POST /mcp``: ``tools/list`` lists every agent's tool, ``tools/call`` goes to the agent
  the tool is named after, anything else (``initialize``, ``ping``) to the first agent
  that accepts the caller.

A ``POST``'s body chooses the agent, so it is read before any agent admits the caller; it
is read only once some hosted agent's auth provider knows the caller from the headers
alone: a caller none knows (no credential, a wrong one) is refused 401 with its body unread,
as an agent's own routes refuse it. The chosen agent then admits the caller as usual
(permission and rate limit counted once, by it).

"Every agent" asked in turn is every agent whose auth provider knows the caller, when one
does (``_Asked``): the others are not asked with its credentials, so a caller one agent
knows is no auth failure of the others; a caller none knows is asked of all, each refusing
and reporting it as its own routes would.

``/store/…`` is not routed across agents (each agent's store is its own): use
``/agents/{name}/store/…``.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Mapping, MutableMapping
from typing import TYPE_CHECKING, Any

import httpx
import msgspec
from agentdock_runtime import PayloadTooLarge, RuntimeHTTPError

from agentdock_plugins.litestar.errors import error_parts
from agentdock_plugins.litestar.hosting.hosted import outranks
from agentdock_plugins.litestar.invoke import request_headers
from agentdock_plugins.litestar.platform.context import assistant_id

if TYPE_CHECKING:
    from agentdock_plugins.litestar.hosting.host import AgentHost
    from agentdock_plugins.litestar.hosting.hosted import HostedAgent

__all__ = ["ROUTED_ROOTS", "ClientRoutes"]

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]

#: The first path segments routed here (the rest go to the host's own routes).
ROUTED_ROOTS = frozenset({"assistants", "runs", "threads", "langserve", "a2a", "mcp"})
#: Response headers not copied from an agent's buffered answer (the server sets its own).
_HOP = frozenset({"content-length", "transfer-encoding", "connection"})
#: Statuses that mean "not this agent's" when asking agents in turn.
_NOT_MINE = frozenset({401, 403, 404})

_decoder = msgspec.json.Decoder()
_encoder = msgspec.json.Encoder()


class _TooLarge(Exception):
    pass


class _ClientGone(Exception):
    """The connection ended before the whole body came (the client left, or the server's
    body deadline answered 408 on it): no agent is asked with what arrived."""


class ClientRoutes:
    """Routes root protocol requests to hosted agents (see the module docstring)."""

    def __init__(self, host: AgentHost, *, max_body_bytes: int) -> None:
        self.host = host
        self.max_body_bytes = max_body_bytes
        self.client = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=host), base_url="http://agentdock.host"
        )

    async def aclose(self) -> None:
        await self.client.aclose()

    def _agent(self, key: str) -> HostedAgent | None:
        """The agent named ``key``, or whose assistant id ``key`` is."""
        agents = self.host.agents
        found = agents.get(key)
        if found is not None:
            return found
        return next((a for n, a in agents.items() if assistant_id(n) == key), None)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> bool:
        """Answer ``scope`` if it is a routed request; False to let the host's routes."""
        parts = scope["path"].strip("/").split("/")
        root = parts[0]
        if root not in ROUTED_ROOTS or scope["type"] != "http":
            return False
        method = scope["method"]
        if root in ("langserve", "a2a"):
            agent = self.host.agents.get(parts[1]) if len(parts) > 1 else None
            if agent is not None:
                await self.host.enter(agent, scope, receive, send)
                return True
            if root == "a2a" or len(parts) < 3:
                return False
        searching = root == "assistants" and parts[1:] == ["search"] and method == "POST"
        if root == "assistants" and not searching:
            if len(parts) < 2:
                return False
            if len(parts) == 2 and method not in ("GET", "HEAD"):
                # An assistant is read, never written (``update``, ``delete``, and ``count``
                # at /assistants/count): 405, as a one-agent server answers, whatever the id.
                detail = f"{method} is not allowed on {scope['path']}"
                envelope = _envelope(405, "MethodNotAllowed", detail)
                await _reply(send, 405, envelope, {"allow": "GET"})
                return True
        body = b""
        asked = _Asked(self.host, scope)
        if method == "POST":
            # The body chooses the agent, so no agent can admit the caller before it is
            # read; but a caller no hosted agent's auth knows is refused before it is.
            refusal = await self._stranger(asked)
            if refusal is not None:
                await _reply(send, *error_parts(refusal))
                return True
            try:
                body = await _read_body(scope, receive, self.max_body_bytes)
            except _ClientGone:
                return True  # nothing to answer: the connection is gone
            except _TooLarge:
                await self._too_large(asked, send)
                return True
        if root == "langserve":
            # An agent not hosted: told, as an unknown assistant is, by the agents.
            await self._first(asked, send, body)
            return True
        if searching:
            await self._joined(asked, send, body)
            return True
        if root == "assistants":
            return await self._to_assistant(parts[1], asked, body, receive, send)
        if root == "mcp":
            await self._mcp(asked, send, body, receive)
            return True
        runs_at = 0 if root == "runs" else 2
        named = _field(body, "assistant_id") if method == "POST" else None
        if isinstance(named, str) and len(parts) > runs_at and parts[runs_at] == "runs":
            return await self._to_assistant(named, asked, body, receive, send)
        if parts == ["threads"] and method == "POST":
            await self._create_thread(asked, send, body)
        elif parts == ["threads", "search"] and method == "POST":
            await self._joined(asked, send, body)
        else:
            await self._first(asked, send, body)
        return True

    async def _to_assistant(
        self, ident: str, asked: _Asked, body: bytes, receive: Receive, send: Send
    ) -> bool:
        """Hand the request to the agent whose name or assistant id ``ident`` is. An
        assistant no agent has is decided as an unknown thread is (:meth:`_first`): a
        caller some agent admits gets its 404 naming the assistant, as a one-agent server
        answers; anyone else the refusal, learning nothing of which assistants exist."""
        agent = self._agent(ident)
        if agent is None:
            await self._first(asked, send, body)
            return True
        return await self._to(agent, asked.scope, body, receive, send)

    async def _to(
        self, agent: HostedAgent | None, scope: Scope, body: bytes, receive: Receive, send: Send
    ) -> bool:
        """Hand the request (its body read already) to ``agent``; False when there is none."""
        if agent is None:
            return False
        await self.host.enter(agent, scope, _replay(body, receive), send)
        return True

    async def _ask(self, name: str, scope: Scope, body: bytes) -> httpx.Response:
        """The whole answer of agent ``name`` to the request, asked in-process."""
        headers = [
            (k.decode("latin-1"), v.decode("latin-1"))
            for k, v in scope["headers"]
            if k.lower() not in (b"host", b"content-length")
        ]
        url = f"/agents/{name}{scope['path']}"
        query = scope.get("query_string", b"").decode("latin-1")
        return await self.client.request(
            scope["method"], f"{url}?{query}" if query else url, content=body, headers=headers
        )

    async def _stranger(self, asked: _Asked) -> RuntimeHTTPError | None:
        """The refusal for a caller whom no hosted agent's auth provider knows (from the
        headers alone: its body unread), chosen as :meth:`_first` chooses (a 401 last), and
        reported by every agent that refused it, as asking each agent would; ``None`` when
        one knows it (or takes anyone), whose own route then admits it as usual.

        Only authentication is asked: the role's permission and rate limit are the chosen
        agent's to judge, once (a rate limit asked here would count the call twice)."""
        if await asked.known():
            return None
        # Each agent's own refusal, reported as its routes report one.
        admitted, refusal = await self.host.admitting(asked.headers, "invoke", first=True)
        return None if admitted else refusal  # admitted: a key created meanwhile

    async def _too_large(self, asked: _Asked, send: Send) -> None:
        """A body over the limit: 413 to a caller some agent admits, anyone else the
        refusal of an agent that knew it (403, 429) before a 401, as an agent's own routes
        tell what is wrong with a body to an admitted caller only. Authentication reads
        only headers: the body (declared too large) is not read."""
        names = await asked.names()
        admitted, refusal = await self.host.admitting(asked.headers, "invoke", names, first=True)
        error = (
            refusal
            if refusal is not None and not admitted
            else PayloadTooLarge("the request body is too large")
        )
        status, content, extra = error_parts(error)
        await _reply(send, status, content, extra)

    async def _first(self, asked: _Asked, send: Send, body: bytes) -> None:
        """The first agent's answer that is not "not mine"; else the first refusal of an
        agent that knew the caller (its 403 or 404: the caller's key is good, the thread is
        not there), before the 401 of one that did not."""
        first: httpx.Response | None = None
        for name in await asked.names():
            answer = await self._ask(name, asked.scope, body)
            if answer.status_code not in _NOT_MINE:
                await _forward(send, answer)
                return
            if outranks(answer.status_code, None if first is None else first.status_code):
                first = answer
        if first is None:
            await _reply(send, 404, _envelope(404, "NotFound", "no agent is hosted"))
        else:
            await _forward(send, first)

    async def _joined(self, asked: _Asked, send: Send, body: bytes) -> None:
        """Every accepting agent's list, joined; ``offset``/``limit`` applied to it."""
        query = _decode(body)
        if not isinstance(query, dict):
            await self._first(asked, send, body)  # the agents' own 4xx for a malformed body
            return
        offset = query.pop("offset", 0)
        limit = query.pop("limit", 10)
        if not isinstance(offset, int) or not isinstance(limit, int):
            await self._first(asked, send, body)
            return
        widened = {**query, "offset": 0, "limit": offset + max(limit, 0)}
        wide = _encoder.encode(widened)
        joined: list[Any] = []
        accepted = False
        refusal: httpx.Response | None = None
        for name in await asked.names():
            answer = await self._ask(name, asked.scope, wide)
            if answer.status_code == 200:
                accepted = True
                joined += answer.json()
            elif answer.status_code in _NOT_MINE:
                if outranks(answer.status_code, None if refusal is None else refusal.status_code):
                    refusal = answer
            else:  # a malformed body: every agent would say the same
                await _forward(send, answer)
                return
        # An agent that accepted the caller answered, if only with an empty list: the
        # others' refusals are not the answer (they only say those agents are not its).
        if not accepted and refusal is not None and refusal.status_code != 404:
            await _forward(send, refusal)
            return
        await _reply(send, 200, _encoder.encode(joined[offset : offset + max(limit, 0)]))

    async def _create_thread(self, asked: _Asked, send: Send, body: bytes) -> None:
        """The thread created in every agent that accepts the caller (one id for all)."""
        document = _decode(body) if body.strip() else {}
        if not isinstance(document, dict):
            await self._first(asked, send, body)
            return
        document.setdefault("thread_id", str(uuid.uuid4()))
        if document["thread_id"] is None:
            document["thread_id"] = str(uuid.uuid4())
        shared = _encoder.encode(document)
        created: httpx.Response | None = None
        refusal: httpx.Response | None = None
        for name in await asked.names():
            answer = await self._ask(name, asked.scope, shared)
            if answer.status_code == 200:
                created = created or answer
            elif outranks(answer.status_code, None if refusal is None else refusal.status_code):
                refusal = answer
        chosen = created or refusal
        if chosen is None:
            await _reply(send, 404, _envelope(404, "NotFound", "no agent is hosted"))
        else:
            await _forward(send, chosen)

    async def _mcp(self, asked: _Asked, send: Send, body: bytes, receive: Receive) -> None:
        """``tools/list`` across agents, ``tools/call`` to the tool's agent, else the first."""
        message = _decode(body)
        method = message.get("method") if isinstance(message, dict) else None
        params = message.get("params") if isinstance(message, dict) else None
        if method == "tools/call" and isinstance(params, dict):
            agent = self.host.agents.get(str(params.get("name")))
            if agent is not None:
                await self.host.enter(agent, asked.scope, _replay(body, receive), send)
                return
        if method != "tools/list":
            await self._first(asked, send, body)
            return
        tools: list[Any] = []
        reply: dict[str, Any] | None = None
        refusal: httpx.Response | None = None
        for name in await asked.names():
            answer = await self._ask(name, asked.scope, body)
            if answer.status_code != 200:
                if outranks(answer.status_code, None if refusal is None else refusal.status_code):
                    refusal = answer
                continue
            document = answer.json()
            result = document.get("result")
            if not isinstance(result, dict):
                continue
            tools += result.get("tools", [])
            reply = reply or document
        if reply is None:
            if refusal is None:
                await _reply(send, 404, _envelope(404, "NotFound", "no agent is hosted"))
            else:
                await _forward(send, refusal)
            return
        reply["result"]["tools"] = tools
        await _reply(send, 200, _encoder.encode(reply))


class _Asked:
    """One root request and the agents to ask it of: those whose auth provider knows the
    caller (:meth:`.AgentHost.known`, learnt once, when first needed), or every agent when
    none does (each then refuses it and reports that, as its own routes would). A caller
    one agent knows is thus no auth failure of the others."""

    __slots__ = ("_known", "headers", "host", "scope")

    def __init__(self, host: AgentHost, scope: Scope) -> None:
        self.host = host
        self.scope = scope
        self.headers = request_headers(scope)
        self._known: list[str] | None = None

    async def known(self) -> list[str]:
        if self._known is None:
            self._known = await self.host.known(self.headers)
        return self._known

    async def names(self) -> list[str]:
        return await self.known() or sorted(self.host.agents)


def _decode(body: bytes) -> Any:
    try:
        return _decoder.decode(body)
    except (msgspec.DecodeError, RecursionError):
        return None


def _field(body: bytes, name: str) -> Any:
    document = _decode(body)
    return document.get(name) if isinstance(document, dict) else None


async def _read_body(scope: Scope, receive: Receive, limit: int) -> bytes:
    """The body, up to ``limit`` (:class:`_TooLarge` past it, unread when its
    ``content-length`` says so; :class:`_ClientGone` when the connection ends first)."""
    for name, value in scope["headers"]:
        if name == b"content-length" and value.isdigit() and int(value) > limit:
            raise _TooLarge
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            raise _ClientGone
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise _TooLarge
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def _replay(body: bytes, receive: Receive) -> Receive:
    """A ``receive`` that gives ``body`` once, then whatever the connection says next."""
    given = False

    async def again() -> MutableMapping[str, Any]:
        nonlocal given
        if not given:
            given = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return again


def _envelope(status: int, name: str, detail: str, path: str | None = None) -> bytes:
    envelope = {"error": name, "code": status, "detail": detail}
    return _encoder.encode(envelope if path is None else {**envelope, "path": path})


async def _reply(
    send: Send, status: int, body: bytes, headers: Mapping[str, str] | None = None
) -> None:
    raw = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    raw += [(k.encode("latin-1"), v.encode("latin-1")) for k, v in (headers or {}).items()]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})


async def _forward(send: Send, answer: httpx.Response) -> None:
    headers = [
        (k.encode("latin-1"), v.encode("latin-1"))
        for k, v in answer.headers.multi_items()
        if k.lower() not in _HOP
    ]
    await send({"type": "http.response.start", "status": answer.status_code, "headers": headers})
    await send({"type": "http.response.body", "body": answer.content})
