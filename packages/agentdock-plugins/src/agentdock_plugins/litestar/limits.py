"""The bounds the server holds every client to, read once from ``AGENTDOCK_*`` variables.

They protect the process rather than describe the agent, so they belong to the deployment,
not to the Dockfile: the same image may serve a notebook on a laptop and a public endpoint.

=============================== ======= ==========================================================
variable                        default meaning
=============================== ======= ==========================================================
``AGENTDOCK_MAX_BODY_BYTES``    1048576 largest request body (413 past it) and largest
                                        WebSocket message, after decompression (close 1009)
``AGENTDOCK_HEADER_TIMEOUT``    5       seconds a connection has to deliver a request's headers
``AGENTDOCK_BODY_TIMEOUT``      10      seconds a request's body has to arrive after its headers
``AGENTDOCK_WS_MAX_CONNECTIONS`` 100    open ``/ws/stream`` connections per process (503 past it)
``AGENTDOCK_WS_IDLE_TIMEOUT``   300     seconds a WebSocket may stay without a frame or a run
=============================== ======= ==========================================================
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping

__all__ = [
    "BODY_TIMEOUT_ENV",
    "DEFAULT_BODY_TIMEOUT",
    "DEFAULT_HEADER_TIMEOUT",
    "DEFAULT_MAX_BODY_BYTES",
    "DEFAULT_WS_IDLE_TIMEOUT",
    "DEFAULT_WS_MAX_CONNECTIONS",
    "HEADER_TIMEOUT_ENV",
    "MAX_BODY_BYTES_ENV",
    "WS_IDLE_TIMEOUT_ENV",
    "WS_MAX_CONNECTIONS_ENV",
    "ServerLimits",
]

MAX_BODY_BYTES_ENV = "AGENTDOCK_MAX_BODY_BYTES"
HEADER_TIMEOUT_ENV = "AGENTDOCK_HEADER_TIMEOUT"
BODY_TIMEOUT_ENV = "AGENTDOCK_BODY_TIMEOUT"
WS_MAX_CONNECTIONS_ENV = "AGENTDOCK_WS_MAX_CONNECTIONS"
WS_IDLE_TIMEOUT_ENV = "AGENTDOCK_WS_IDLE_TIMEOUT"

#: Largest request body, and largest WebSocket message.
DEFAULT_MAX_BODY_BYTES = 1024 * 1024
#: Seconds from a connection's first byte (or its opening) to the end of a request's headers.
DEFAULT_HEADER_TIMEOUT = 5.0
#: Seconds from the end of a request's headers to the end of its body.
DEFAULT_BODY_TIMEOUT = 10.0
#: Open WebSocket connections per process.
DEFAULT_WS_MAX_CONNECTIONS = 100
#: Seconds a WebSocket may stay open with no frame from the client and no run going on.
DEFAULT_WS_IDLE_TIMEOUT = 300.0


@dataclasses.dataclass(frozen=True, slots=True)
class ServerLimits:
    """What one server process allows a client (see the module docstring).

    :raises ValueError: a bound is not a positive number.
    """

    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    header_timeout: float = DEFAULT_HEADER_TIMEOUT
    body_timeout: float = DEFAULT_BODY_TIMEOUT
    ws_max_connections: int = DEFAULT_WS_MAX_CONNECTIONS
    ws_idle_timeout: float = DEFAULT_WS_IDLE_TIMEOUT

    def __post_init__(self) -> None:
        problems = [
            f"{field.name} must be a positive number, got {getattr(self, field.name)!r}"
            for field in dataclasses.fields(self)
            if not _positive(getattr(self, field.name))
        ]
        if problems:
            raise ValueError("; ".join(problems))

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> ServerLimits:
        """The limits ``environ`` sets; the defaults for the variables it leaves unset.

        :raises ValueError: one or more variables are malformed (each named, with its value).
        """
        values: dict[str, int | float] = {}
        problems: list[str] = []
        for name, variable, kind in (
            ("max_body_bytes", MAX_BODY_BYTES_ENV, int),
            ("header_timeout", HEADER_TIMEOUT_ENV, float),
            ("body_timeout", BODY_TIMEOUT_ENV, float),
            ("ws_max_connections", WS_MAX_CONNECTIONS_ENV, int),
            ("ws_idle_timeout", WS_IDLE_TIMEOUT_ENV, float),
        ):
            raw = environ.get(variable, "").strip()
            if not raw:
                continue
            try:
                value = kind(raw)
            except ValueError:
                value = -1
            if not _positive(value):
                unit = "a positive whole number" if kind is int else "a positive number of seconds"
                problems.append(f"{variable} must be {unit}, got {raw!r}")
                continue
            values[name] = value
        if problems:
            raise ValueError("; ".join(problems))
        return cls(**values)  # type: ignore[arg-type]


def _positive(value: object) -> bool:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    return math.isfinite(value) and value > 0
