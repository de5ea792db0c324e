"""Browser sessions whose id changes at sign-in.

Litestar's server-side sessions keep the id the browser's cookie names, even one the server
never issued. A cookie planted before sign-in (session fixation) would then name the signed-in
session too. Sign-in marks the request (:func:`rotate`), and the backend then stores the new
session under a fresh id, drops the old id's data, and sends the fresh id in the cookie.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from litestar.connection import ASGIConnection
from litestar.middleware.session.server_side import (
    ServerSideSessionBackend,
    ServerSideSessionConfig,
)

__all__ = ["RotatingSessionConfig", "rotate"]

_ROTATE = "controlplane_rotate_session"
_FRESH = "controlplane_fresh_session_id"


def rotate(connection: ASGIConnection[Any, Any, Any, Any]) -> None:
    """Give this request's session a new id when the response is sent."""
    connection.scope.setdefault("state", {})[_ROTATE] = True


class RotatingSessionBackend(ServerSideSessionBackend):
    def get_session_id(self, connection: ASGIConnection[Any, Any, Any, Any]) -> str:
        state = connection.scope.get("state", {})
        if not state.get(_ROTATE):
            return super().get_session_id(connection)
        fresh = state.get(_FRESH)
        if not isinstance(fresh, str):
            fresh = state[_FRESH] = self.generate_session_id()
        return fresh

    async def store_in_message(self, scope_session: Any, message: Any, connection: Any) -> None:
        state = connection.scope.get("state", {})
        old = connection.cookies.get(self.config.key)
        if state.get(_ROTATE) and old:
            await self.delete(old, store=self.config.get_store_from_app(connection.scope["app"]))
        await super().store_in_message(scope_session, message, connection)


@dataclass
class RotatingSessionConfig(ServerSideSessionConfig):
    """:class:`ServerSideSessionConfig` with :class:`RotatingSessionBackend`."""

    _backend_class = RotatingSessionBackend
