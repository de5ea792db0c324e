"""Where a container's port is published: the bind address and a free host port.

The rule is the local target's: this machine only unless ``--host`` or ``expose.host``
asks for more; a port taken on the address (a loopback listener included, for a wildcard
publish) moves the publish to a free one.
"""

from __future__ import annotations

import socket

from agentdock.deployment.inputs import DEFAULT_HOST

__all__ = ["bind_address", "free_port", "port_free"]


def bind_address(host: str | None) -> str:
    """The host address to publish on, from ``--host`` or the Dockfile's ``expose.host``:
    the local target's rule (:data:`~agentdock.deployment.inputs.DEFAULT_HOST`, this machine
    only, when nothing was asked), with every interface for a wildcard and the loopback for
    ``localhost``."""
    host = (host or "").strip()
    if not host:
        return DEFAULT_HOST
    if host in ("0.0.0.0", "::", "*"):
        return "0.0.0.0"
    if host in ("localhost", "::1"):
        return "127.0.0.1"
    return host


def port_free(bind: str, port: int) -> bool:
    family = socket.AF_INET6 if ":" in bind else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        try:
            sock.bind((bind, port))
        except OSError:
            return False
    # A listener on the loopback alone still collides with a wildcard publish.
    if bind == "0.0.0.0" and port:
        return port_free("127.0.0.1", port)
    return True


def free_port(bind: str) -> int:
    family = socket.AF_INET6 if ":" in bind else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.bind((bind, 0))
        return int(sock.getsockname()[1])
