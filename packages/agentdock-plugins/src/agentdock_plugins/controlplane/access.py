"""Who may do what: bearer platform keys for API clients, sessions for the browser.

An API client sends ``Authorization: Bearer adk_…`` (a platform key); a browser signs in
once with a key and then carries a session cookie (HttpOnly, SameSite=Strict, server-side
data: the cookie holds a random id, never the key). Every request re-reads the key's row,
so a revoked or expired key stops its sessions at once. That read is one indexed row of the
registry, made on the event loop by the guard (microseconds with SQLite in WAL mode); the
control plane is not an agent's request path, and a cache would delay revocation.

A browser request that changes something must also send the session's CSRF token in the
``X-CSRF-Token`` header (the dashboard's htmx and fetch calls do). Litestar's CSRF
middleware decides by route, not by how the request authenticated, and would make bearer
clients fetch a cookie first; so the token check lives here, bound to the session, and a
request with a bearer key (which a foreign page cannot make a browser send) needs none.

Without auth (``--insecure-no-auth``, loopback only) a request must also be addressed to a
loopback name (its ``Host``): a page whose host name an attacker re-points at 127.0.0.1 (DNS
rebinding) is same-origin with itself, so the cross-site check lets it through, and with no
credentials to hold it back it could deploy an uploaded project. With auth on, the host name
is not checked (a proxy may forward its own): such a page has no session and no key.
"""

from __future__ import annotations

import hmac
import secrets
import time
from typing import Any
from urllib.parse import urlsplit

from agentdock_runtime.hostcheck import host_name, is_loopback, shown_host
from litestar.connection import ASGIConnection
from litestar.enums import ScopeType
from litestar.exceptions import NotAuthorizedException, PermissionDeniedException
from litestar.handlers.base import BaseRouteHandler

from agentdock_plugins.controlplane.principals import ANONYMOUS, Principal, authenticate
from agentdock_plugins.controlplane.principals import principal_of as principal_of_record
from agentdock_plugins.controlplane.state import ControlPlane

__all__ = [
    "CSRF_HEADER",
    "SAFE_METHODS",
    "StillAllowed",
    "check_origin",
    "is_loopback",
    "new_session",
    "principal_of",
    "require",
]

CSRF_HEADER = "x-csrf-token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_UNSET = object()


def check_loopback_host(connection: ASGIConnection[Any, Any, Any, Any]) -> None:
    """Refuse (403) a request without auth that is not addressed to a loopback name."""
    host = connection.headers.get("host", "")
    if not is_loopback(host_name(host)):
        # Shown as the runtime's host check shows it: not at all unless printable ASCII.
        raise PermissionDeniedException(
            f"without sign-in only a loopback host name is served (localhost, 127.0.0.1, "
            f"[::1]), not {shown_host(host)}"
        )


def controlplane_of(connection: ASGIConnection[Any, Any, Any, Any]) -> ControlPlane:
    plane: ControlPlane = connection.app.state.controlplane
    return plane


def _session(connection: ASGIConnection[Any, Any, Any, Any]) -> dict[str, Any]:
    session: Any = connection.scope.get("session")
    return session if isinstance(session, dict) else {}


def principal_of(connection: ASGIConnection[Any, Any, Any, Any]) -> tuple[Principal | None, str]:
    """The caller and how it proved itself (``bearer``, ``session``, ``none``), once per request."""
    cached = connection.scope.get("state", {}).get("controlplane_principal", _UNSET)
    if cached is not _UNSET:
        found: tuple[Principal | None, str] = cached
        return found
    result = _resolve(connection)
    connection.scope.setdefault("state", {})["controlplane_principal"] = result
    return result


class StillAllowed:
    """Whether the caller of a long stream (the event stream, a followed log) may still
    read it: the guard read its key once, at the start, so without this a revoked or
    expired key kept receiving events for as long as its stream stayed open. Called before
    each item (heartbeats included, so an idle stream ends too); the key's row is read again
    at most once every ``ControlPlane.stream_recheck_s`` seconds, as the guard reads it (one
    indexed row)."""

    def __init__(self, connection: ASGIConnection[Any, Any, Any, Any], role: str) -> None:
        self._connection = connection
        self._role = role
        self._every_s = controlplane_of(connection).stream_recheck_s
        self._checked = time.monotonic()

    def __call__(self) -> bool:
        now = time.monotonic()
        if now - self._checked < self._every_s:
            return True
        self._checked = now
        who, _ = _resolve(self._connection)
        return who is not None and who.can(self._role)


def _resolve(connection: ASGIConnection[Any, Any, Any, Any]) -> tuple[Principal | None, str]:
    plane = controlplane_of(connection)
    result: tuple[Principal | None, str]
    if not plane.auth:
        check_loopback_host(connection)
        result = (ANONYMOUS, "none")
    else:
        header = connection.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        if header:
            who = authenticate(plane.store, token.strip()) if scheme.lower() == "bearer" else None
            result = (who, "bearer")
        else:
            key_id = _session(connection).get("key_id")
            record = plane.store.get_api_key(key_id) if isinstance(key_id, str) else None
            result = (principal_of_record(record) if record else None, "session")
    who = result[0]
    if who is not None and who.key_id is not None:
        plane.note_key_use(who.key_id)
    return result


def check_csrf(connection: ASGIConnection[Any, Any, Any, Any]) -> None:
    """Refuse (403) a state-changing browser request without the session's CSRF token."""
    expected = _session(connection).get("csrf")
    sent = connection.headers.get(CSRF_HEADER, "")
    if not isinstance(expected, str) or not hmac.compare_digest(
        sent.encode("utf-8", "replace"), expected.encode("utf-8")
    ):
        raise PermissionDeniedException("missing or wrong CSRF token (X-CSRF-Token header)")


def check_origin(connection: ASGIConnection[Any, Any, Any, Any]) -> None:
    """Refuse (403) a state-changing request a browser sends from another site.

    Browsers name the page that makes a request (``Origin``, ``Sec-Fetch-Site``); a request
    from another site is refused whatever its credentials. This is what guards
    ``--insecure-no-auth``, where there is no session and so no CSRF token: without it any
    web page the user opens could post a form to the control plane on loopback. A WebSocket
    handshake is checked whatever it asks for: the browser sends the session cookie with it
    from any site, and what it reads back is the platform's event stream.
    """
    if connection.scope["type"] != ScopeType.WEBSOCKET and (
        connection.scope.get("method", "GET") in SAFE_METHODS
    ):
        return
    site = connection.headers.get("sec-fetch-site", "")
    origin = connection.headers.get("origin")
    host = connection.headers.get("host", "")
    foreign = site in ("cross-site", "same-site")
    if origin is not None and (origin == "null" or urlsplit(origin).netloc != host):
        foreign = True
    if foreign:
        raise PermissionDeniedException("a request from another site may not change anything")


def require(role: str) -> Any:
    """A route guard: the caller is signed in with ``role`` or stronger, a browser request
    that changes something comes from this site and carries its session's CSRF token."""

    def guard(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
        check_origin(connection)
        who, via = principal_of(connection)
        if who is None:
            raise NotAuthorizedException("sign in with a platform key (Authorization: Bearer)")
        if via == "session" and connection.scope.get("method", "GET") not in SAFE_METHODS:
            check_csrf(connection)
        if not who.can(role):
            raise PermissionDeniedException(f"the {who.role} role may not do this ({role} needed)")

    return guard


def new_session(principal: Principal) -> dict[str, Any]:
    """The server-side data of a new browser session (key id and a fresh CSRF token)."""
    return {"key_id": principal.key_id, "role": principal.role, "csrf": secrets.token_urlsafe(32)}
