"""``httpx`` clients that drive an ASGI application in-process, lifespan included.

The clients behind :mod:`agentdock.testing`, which reaches them through
:mod:`agentdock._runtime` on first use: ``httpx`` is the runtime's dependency, not core's.

Nothing here is hand-rolled: requests go through ``httpx.ASGITransport``, the lifespan
(start-up before the first request, shutdown on close, a copy of its ``state`` in each
request scope) is asgi-lifespan's ``LifespanManager``, and the synchronous client runs both
on an event loop in a background thread through anyio's blocking portal. Litestar's own test
clients would do the same for a Litestar app only, and the runtime serves whatever ASGI
application its server plugin builds.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable
from contextlib import AbstractContextManager
from typing import Any, TypeVar

import httpx
from anyio.from_thread import BlockingPortal, start_blocking_portal
from asgi_lifespan import LifespanManager

__all__ = [
    "LifespanASGITransport",
    "LifespanError",
    "ThreadedASGITransport",
    "async_client",
    "client",
]

_T = TypeVar("_T")


class LifespanError(RuntimeError):
    """The application reported that its start-up or shutdown failed."""


class LifespanASGITransport(httpx.ASGITransport):
    """:class:`httpx.ASGITransport` that starts the application first and stops it on close.

    The application starts with ``async with`` or the first request, and may take as long
    as it needs (loading a model): no start-up or shutdown timeout is imposed.
    """

    def __init__(self, app: Any, **kwargs: Any) -> None:
        super().__init__(self._request, **kwargs)
        self._app = app
        #: Made on the event loop that starts the application (it detects that loop's library).
        self.lifespan: LifespanManager | None = None
        self.started = False
        self._lock: asyncio.Lock | None = None
        self._state: dict[str, Any] = {}

    async def _request(self, scope: Any, receive: Any, send: Any) -> None:
        """A request, with a shallow copy of the lifespan's state, as ASGI servers give it
        (asgi-lifespan's own ``app`` would hand every request the same dict, where a
        framework keeps per-connection data)."""
        await self._app({**scope, "state": dict(self._state)}, receive, send)

    async def _lifespan(self, scope: Any, receive: Any, send: Any) -> None:
        """The application's lifespan; :class:`LifespanError` when it reports a failed
        start-up or shutdown and returns (asgi-lifespan would wait for a completion that
        never comes)."""
        self._state = scope["state"]
        failures: list[str] = []

        async def watch(message: Any) -> None:
            if message["type"] in ("lifespan.startup.failed", "lifespan.shutdown.failed"):
                failures.append(f"{message['type']}: {message.get('message', '')}")
            await send(message)

        await self._app(scope, receive, watch)
        if failures:
            raise LifespanError(failures[0])

    async def _ensure_started(self) -> None:
        if self.started:
            return
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:
            if not self.started:
                self.lifespan = LifespanManager(
                    self._lifespan, startup_timeout=None, shutdown_timeout=None
                )
                await self.lifespan.__aenter__()
                self.started = True

    async def __aenter__(self) -> LifespanASGITransport:
        await self._ensure_started()
        return self

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        await self._ensure_started()
        return await super().handle_async_request(request)

    async def aclose(self) -> None:
        if self.started and self.lifespan is not None:
            self.started = False
            await self.lifespan.__aexit__(None, None, None)


class ThreadedASGITransport(httpx.BaseTransport):
    """A synchronous transport: the application runs on an event loop in its own thread,
    started with the first request (or ``with``) and stopped by ``close()``."""

    def __init__(self, app: Any, **kwargs: Any) -> None:
        self._inner = LifespanASGITransport(app, **kwargs)
        self._portal: BlockingPortal | None = None
        self._portal_context: AbstractContextManager[BlockingPortal] | None = None
        self._guard = threading.Lock()

    def _call(self, function: Callable[..., Awaitable[_T]], *args: Any) -> _T:
        with self._guard:
            if self._portal is None:
                self._portal_context = start_blocking_portal("asyncio")
                self._portal = self._portal_context.__enter__()
            portal = self._portal
        return portal.call(function, *args)

    def __enter__(self) -> ThreadedASGITransport:
        self._call(self._inner.__aenter__)
        return self

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        body = request.read()
        forwarded = httpx.Request(
            request.method,
            request.url,
            headers=request.headers,
            content=body,
            extensions=request.extensions,
        )
        status, headers, raw = self._call(self._send, forwarded)
        return httpx.Response(status, headers=headers, stream=httpx.ByteStream(raw))

    async def _send(self, request: httpx.Request) -> tuple[int, httpx.Headers, bytes]:
        response = await self._inner.handle_async_request(request)
        raw = b"".join([chunk async for chunk in response.aiter_raw()])
        await response.aclose()
        return response.status_code, response.headers, raw

    def close(self) -> None:
        with self._guard:
            portal, context = self._portal, self._portal_context
            self._portal = self._portal_context = None
        if portal is None or context is None:
            return
        try:
            portal.call(self._inner.aclose)
        finally:
            context.__exit__(None, None, None)


def client(app: Any, **kwargs: Any) -> httpx.Client:
    """A synchronous client for ``app``, which runs on an event loop in a background thread
    (see :class:`ThreadedASGITransport`); ``kwargs`` go to ``httpx.Client``."""
    return httpx.Client(transport=ThreadedASGITransport(app), **kwargs)


def async_client(app: Any, **kwargs: Any) -> httpx.AsyncClient:
    """A client for ``app`` on the caller's event loop (see :class:`LifespanASGITransport`);
    ``kwargs`` go to ``httpx.AsyncClient``."""
    return httpx.AsyncClient(transport=LifespanASGITransport(app), **kwargs)
