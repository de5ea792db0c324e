"""The control plane's Litestar application: the JSON API, the dashboard and its assets.

Static assets (htmx, uPlot, the dashboard's own script and style) ship in the package and
are served from ``/static/`` so the dashboard works without internet access. Every response
carries a Content-Security-Policy that allows scripts, styles and connections from this
origin only, and forbids framing.
"""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

import anyio
from jinja2 import Environment, FileSystemLoader, select_autoescape
from litestar import Litestar, Request, get
from litestar.datastructures import State
from litestar.enums import ScopeType
from litestar.openapi import OpenAPIConfig
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.static_files import create_static_files_router
from litestar.stores.memory import MemoryStore
from litestar.template.config import TemplateConfig
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from agentdock_plugins.controlplane import health
from agentdock_plugins.controlplane.api import api_router
from agentdock_plugins.controlplane.eventsocket import event_socket
from agentdock_plugins.controlplane.pages import pages_router
from agentdock_plugins.controlplane.sessions import RotatingSessionConfig
from agentdock_plugins.controlplane.state import ControlPlane
from agentdock_plugins.litestar.errors import EXCEPTION_HANDLERS

__all__ = ["SESSION_COOKIE", "SESSION_MAX_AGE", "controlplane_app"]

HERE = Path(__file__).parent
SESSION_COOKIE = "agentdock_session"
#: A browser session lasts 8 hours, then the user signs in again.
SESSION_MAX_AGE = 8 * 3600
_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)
_HEADERS = [
    (b"content-security-policy", _CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    # Not no-referrer: under it a browser sends "Origin: null" with a form post, which the
    # cross-site check (access.check_origin) must refuse.
    (b"referrer-policy", b"same-origin"),
]


def _security_headers(app: ASGIApp) -> ASGIApp:
    """Add the security headers to every HTTP response."""

    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await app(scope, receive, send)
            return

        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *_HEADERS]
            await send(message)

        await app(scope, receive, sending)

    return middleware


def _templates() -> TemplateConfig[JinjaTemplateEngine]:
    environment = Environment(
        loader=FileSystemLoader(HERE / "templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.filters["when"] = _when
    environment.filters["age"] = _age
    environment.filters["figure"] = _figure
    # JSON shown as text (autoescaped like any text), unlike ``tojson``, which is meant for
    # script and attribute contexts and writes ' as \u0027.
    environment.filters["pretty"] = lambda value: json.dumps(value, indent=2, ensure_ascii=False)
    environment.filters["compact"] = lambda value: json.dumps(value, ensure_ascii=False)
    return TemplateConfig(engine=JinjaTemplateEngine.from_environment(environment))


def _when(ts: Any) -> str:
    if not isinstance(ts, int | float):
        return "—"
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(ts))


def _figure(value: Any, unit: str) -> str:
    """A figure of the metrics for a table cell: ``ms``, ``pct``, ``usd`` or ``rate``."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return "—"
    if unit == "ms":
        return f"{value:,.0f} ms" if value >= 10 else f"{value:.1f} ms"
    if unit == "pct":
        return f"{value * 100:.1f}%"
    if unit == "usd":
        return f"${value:,.4f}" if value < 1 else f"${value:,.2f}"
    return f"{value:,.1f}/min"


def _age(seconds: Any) -> str:
    if not isinstance(seconds, int | float):
        return "—"
    s = int(seconds)
    days, hours, minutes = s // 86400, s % 86400 // 3600, s % 3600 // 60
    if days:
        return f"{days}d {hours}h"
    if hours:
        return f"{hours}h {minutes}m"
    return f"{minutes}m {s % 60}s" if minutes else f"{s}s"


@get("/openapi.json", include_in_schema=False)
async def openapi_document(request: Request[Any, Any, Any]) -> dict[str, Any]:
    """The API's OpenAPI document (the dashboard's pages are not in it)."""
    document: dict[str, Any] = request.app.openapi_schema.to_schema()
    return document


def controlplane_app(plane: ControlPlane, *, secure_cookies: bool = False) -> Litestar:
    """The application serving ``plane`` (``secure_cookies``: send the session cookie over
    HTTPS only, for a control plane behind TLS)."""
    sessions = RotatingSessionConfig(
        key=SESSION_COOKIE,
        max_age=SESSION_MAX_AGE,
        httponly=True,
        samesite="strict",
        secure=secure_cookies,
    )

    watcher: list[asyncio.Task[None]] = []

    async def on_startup(app: Litestar) -> None:
        plane.events.bind(asyncio.get_running_loop())
        plane.started_at = time.time()
        if plane.operations.rows is not None:
            await anyio.to_thread.run_sync(plane.recover_operations)
        await anyio.to_thread.run_sync(plane.prune_uploads)
        if plane.health_interval > 0:
            watcher.append(health.start(plane, plane.health_interval))

    async def on_shutdown(app: Litestar) -> None:
        for task in watcher:
            await health.stop(task)
        plane.operations.shutdown()
        await anyio.to_thread.run_sync(plane.flush_key_use)

    static = create_static_files_router(
        path="/static", directories=[HERE / "static"], include_in_schema=False
    )
    return Litestar(
        route_handlers=[api_router, event_socket, pages_router, static, openapi_document],
        state=State({"controlplane": plane}),
        stores={"sessions": MemoryStore()},
        middleware=[sessions.middleware, _security_headers],
        template_config=_templates(),
        exception_handlers=EXCEPTION_HANDLERS,
        on_startup=[on_startup],
        on_shutdown=[on_shutdown],
        openapi_config=OpenAPIConfig(
            title="AgentDock control plane",
            version="1",
            path="/schema",
            render_plugins=[],
        ),
        logging_config=None,
    )
