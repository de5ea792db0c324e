"""``AGENTDOCK_LISTEN_FD``: listening sockets a runtime is handed instead of binding one.

``agentdock serve`` and the container entrypoint bind before they say where they serve, and
a local deployment's supervisor binds the agent's address once for every version; each
hands the sockets down in this variable, descriptors separated by commas, the runtime's own
first. The runtime's entrypoint reads it to announce its address and the server plugin to
serve, so both take the name and its reading from here. Standard library only: the
supervisor imports it.
"""

from __future__ import annotations

__all__ = ["LISTEN_FD_ENV", "descriptors"]

#: The listening sockets the server plugin serves instead of binding ``host:port`` itself.
LISTEN_FD_ENV = "AGENTDOCK_LISTEN_FD"


def descriptors(value: str) -> list[int]:
    """The file descriptors a comma-separated variable names, in order; a part that is not
    a number is skipped."""
    return [int(part) for part in value.split(",") if part.strip().isdigit()]
