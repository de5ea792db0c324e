"""The runtime's listening socket, bound before anything says where the agent is served.

``agentdock serve`` and the container entrypoint bind here, then print where they serve
from the socket itself, so a banner never names a port that was taken (or a port ``0`` that
the system has yet to pick). The bound socket reaches the server plugin the way a
supervisor's does: through ``AGENTDOCK_LISTEN_FD`` (see :func:`hand_over`).
"""

from __future__ import annotations

import errno
import os
import socket
from collections.abc import Mapping

from agentdock.listenfd import LISTEN_FD_ENV, descriptors

__all__ = [
    "BACKLOG",
    "LISTEN_FD_ENV",
    "ListenError",
    "bind",
    "bound_address",
    "hand_over",
    "host_port",
    "inherited",
    "is_wildcard",
    "local_url",
    "url",
]

#: uvicorn's default backlog.
BACKLOG = 2048


class ListenError(OSError):
    """``host:port`` cannot be listened on; ``in_use`` when another process holds it."""

    def __init__(self, host: str, port: int, cause: OSError) -> None:
        self.host = host
        self.port = port
        self.in_use = cause.errno == errno.EADDRINUSE
        reason = "already in use" if self.in_use else (cause.strerror or str(cause))
        self.message = f"cannot listen on {host_port(host, port)}: {reason}"
        super().__init__(cause.errno, self.message)

    def __str__(self) -> str:
        return self.message


def host_port(host: str, port: int) -> str:
    """``host:port`` as an address is written (brackets around an IPv6 address)."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def bind(host: str, port: int) -> socket.socket:
    """A socket bound to ``host:port`` and listening (``port`` 0: one the system picks).

    :raises ListenError: the address is taken, not local, or not allowed.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        # As uvicorn does: a port left in TIME_WAIT by the last run can be bound again.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(BACKLOG)
    except OSError as exc:
        sock.close()
        raise ListenError(host, port, exc) from None
    return sock


def inherited(environ: Mapping[str, str] | None = None) -> socket.socket | None:
    """The runtime's own listening socket a supervisor handed down in
    ``AGENTDOCK_LISTEN_FD`` (the first it names), if any: a duplicate, since the variable and
    its descriptors stay for the server plugin."""
    env = os.environ if environ is None else environ
    fds = descriptors(env.get(LISTEN_FD_ENV, ""))
    if not fds:
        return None
    try:
        return socket.socket(fileno=os.dup(fds[0]))
    except OSError:
        return None


def bound_address(sock: socket.socket) -> tuple[str, int]:
    """``(host, port)`` the socket is bound to."""
    name = sock.getsockname()
    return str(name[0]), int(name[1])


def url(host: str, port: int) -> str:
    """``http://host:port`` (brackets around an IPv6 address)."""
    return f"http://{host_port(host, port)}"


def is_wildcard(host: str) -> bool:
    """Whether ``host`` means every interface of the machine."""
    return host in ("", "0.0.0.0", "::", "*")


def local_url(host: str, port: int) -> str:
    """The URL this machine reaches a socket bound on ``host:port`` at: the loopback for a
    wildcard address, else the address itself."""
    if is_wildcard(host):
        return url("::1" if ":" in host else "127.0.0.1", port)
    return url(host, port)


def hand_over(sock: socket.socket) -> None:
    """Let the server plugin serve ``sock``: its descriptor goes into ``AGENTDOCK_LISTEN_FD``
    of this process (the ``litestar`` server adopts it instead of binding)."""
    os.environ[LISTEN_FD_ENV] = str(sock.detach())
