"""``httpx`` clients that drive an ASGI application in-process, lifespan included.

The clients behind :mod:`agentdock.testing`, which reaches them through
:mod:`agentdock._runtime` on first use: ``httpx`` is the runtime's dependency, not core's.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

import httpx

__all__ = [
    "Lifespan",
    "LifespanASGITransport",
    "ThreadedASGITransport",
    "async_client",
    "client",
]

_T = TypeVar("_T")


class LifespanError(RuntimeError):
    """The application failed to start up or shut down."""


class Lifespan:
    """Runs an ASGI application's lifespan protocol: start-up, then shutdown."""

    def __init__(self, app: Any) -> None:
        self._app = app
        self._to_app: asyncio.Queue[dict[str, Any]] | None = None
        self._from_app: asyncio.Queue[dict[str, Any]] | None = None
        self._task: asyncio.Task[None] | None = None
        self._supported = True
        self.started = False

    async def startup(self) -> None:
        """Send ``lifespan.startup`` and wait for the application's answer."""
        if self.started:
            return
        self.started = True
        self._to_app = asyncio.Queue()
        self._from_app = asyncio.Queue()
        scope = {"type": "lifespan", "asgi": {"version": "3.0", "spec_version": "2.0"}}
        self._task = asyncio.get_running_loop().create_task(self._run({**scope, "state": {}}))
        await self._to_app.put({"type": "lifespan.startup"})
        reply = await self._reply()
        if reply is not None and reply["type"] == "lifespan.startup.failed":
            raise LifespanError(f"application start-up failed: {reply.get('message', '')}")

    async def shutdown(self) -> None:
        """Send ``lifespan.shutdown`` and wait until the application has stopped."""
        if not self.started or self._to_app is None or self._task is None:
            return
        self.started = False
        if self._supported and not self._task.done():
            await self._to_app.put({"type": "lifespan.shutdown"})
            reply = await self._reply()
            if reply is not None and reply["type"] == "lifespan.shutdown.failed":
                raise LifespanError(f"application shutdown failed: {reply.get('message', '')}")
        if not self._task.done():
            await self._task

    async def _run(self, scope: dict[str, Any]) -> None:
        assert self._to_app is not None and self._from_app is not None
        to_app, from_app = self._to_app, self._from_app

        async def receive() -> dict[str, Any]:
            return await to_app.get()

        async def send(message: dict[str, Any]) -> None:
            await from_app.put(message)

        try:
            await self._app(scope, receive, send)
        except Exception:
            # An application without lifespan support raises on the unknown scope type.
            self._supported = False
            if from_app.empty():
                raise

    async def _reply(self) -> dict[str, Any] | None:
        """The application's next message, or ``None`` once it has returned."""
        assert self._from_app is not None and self._task is not None
        getter = asyncio.ensure_future(self._from_app.get())
        done, _ = await asyncio.wait({getter, self._task}, return_when=asyncio.FIRST_COMPLETED)
        if getter in done:
            return getter.result()
        getter.cancel()
        if self._task.exception() is not None:
            self._supported = False
        return None


class LifespanASGITransport(httpx.ASGITransport):
    """:class:`httpx.ASGITransport` that starts the application first and stops it on close."""

    def __init__(self, app: Any, **kwargs: Any) -> None:
        super().__init__(app, **kwargs)
        self.lifespan = Lifespan(app)
        self._lock: asyncio.Lock | None = None

    async def _ensure_started(self) -> None:
        if self.lifespan.started:
            return
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:
            await self.lifespan.startup()

    async def __aenter__(self) -> LifespanASGITransport:
        await self._ensure_started()
        return self

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        await self._ensure_started()
        return await super().handle_async_request(request)

    async def aclose(self) -> None:
        await self.lifespan.shutdown()


class ThreadedASGITransport(httpx.BaseTransport):
    """A synchronous transport: the application runs on an event loop in its own thread."""

    def __init__(self, app: Any, **kwargs: Any) -> None:
        self._inner = LifespanASGITransport(app, **kwargs)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._guard = threading.Lock()

    def _call(self, coro: Coroutine[Any, Any, _T]) -> _T:
        with self._guard:
            if self._loop is None:
                loop = asyncio.new_event_loop()
                thread = threading.Thread(
                    target=loop.run_forever, name="agentdock-testing", daemon=True
                )
                thread.start()
                self._loop, self._thread = loop, thread
            loop = self._loop
        return asyncio.run_coroutine_threadsafe(coro, loop).result()

    def __enter__(self) -> ThreadedASGITransport:
        self._call(self._inner.__aenter__())
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
        status, headers, raw = self._call(self._send(forwarded))
        return httpx.Response(status, headers=headers, stream=httpx.ByteStream(raw))

    async def _send(self, request: httpx.Request) -> tuple[int, httpx.Headers, bytes]:
        response = await self._inner.handle_async_request(request)
        raw = b"".join([chunk async for chunk in response.aiter_raw()])
        await response.aclose()
        return response.status_code, response.headers, raw

    def close(self) -> None:
        with self._guard:
            loop, thread = self._loop, self._thread
            self._loop = self._thread = None
        if loop is None or thread is None:
            return
        try:
            asyncio.run_coroutine_threadsafe(self._inner.aclose(), loop).result()
        finally:
            loop.call_soon_threadsafe(loop.stop)
            thread.join()
            loop.close()


def client(app: Any, **kwargs: Any) -> httpx.Client:
    """A synchronous client for ``app``, which runs on an event loop in a background thread
    (see :class:`ThreadedASGITransport`); ``kwargs`` go to ``httpx.Client``."""
    return httpx.Client(transport=ThreadedASGITransport(app), **kwargs)


def async_client(app: Any, **kwargs: Any) -> httpx.AsyncClient:
    """A client for ``app`` on the caller's event loop (see :class:`LifespanASGITransport`);
    ``kwargs`` go to ``httpx.AsyncClient``."""
    return httpx.AsyncClient(transport=LifespanASGITransport(app), **kwargs)
