"""What the engine says about a container, read into the target protocol's words.

States, Docker's nanosecond timestamps, log streams split into lines, masked messages and
the engine's error classes (imported lazily: the docker SDK loads only when used).
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

from agentdock.masking import Masker

if TYPE_CHECKING:
    from docker.models.containers import Container

__all__ = [
    "container_state",
    "discard",
    "docker_time",
    "is_api_error",
    "is_not_found",
    "scrub",
    "stream_lines",
]

_NEVER_STARTED = "0001-01-01T00:00:00Z"


def container_state(state: Mapping[str, Any], health: str | None) -> str:
    """Docker's container state in the target protocol's words: a container that exited
    with an error (Docker gave up restarting it, or it died) is ``down``: nothing serves."""
    status = state.get("Status")
    if status == "running":
        return "degraded" if health == "unhealthy" else "running"
    if status in ("restarting", "paused"):
        return "degraded"
    if status in ("exited", "dead"):
        return "stopped" if state.get("ExitCode") == 0 else "down"
    return "stopped"  # created, removing


def docker_time(text: str | None) -> float | None:
    """Docker's RFC 3339 time with nanoseconds (``2026-11-25T18:40:01.123456789Z``) as a
    Unix timestamp; None for a container that never started."""
    if not text or text == _NEVER_STARTED:
        return None
    main, _, rest = text.partition(".")
    if rest:
        digits = re.match(r"\d*", rest)
        frac = digits.group(0) if digits else ""
        zone = rest[len(frac) :]
        text = f"{main}.{frac[:6].ljust(6, '0')}{zone}"
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def stream_lines(stream: Iterator[bytes]) -> Iterator[str]:
    buffer = b""
    for chunk in stream:
        buffer += chunk
        *done, buffer = buffer.split(b"\n")
        for line in done:
            yield line.decode("utf-8", errors="replace").rstrip("\r")
    if buffer:
        yield buffer.decode("utf-8", errors="replace").rstrip("\r")


def scrub(text: str, secrets: list[str] | None) -> str:
    return Masker(secrets or ())(text)


def discard(container: Container) -> None:
    # Best effort: the start error is what the caller needs to see.
    with contextlib.suppress(Exception):
        container.remove(force=True, v=True)


def is_not_found(exc: Exception) -> bool:
    import docker.errors

    return isinstance(exc, docker.errors.NotFound)


def is_api_error(exc: Exception) -> bool:
    import docker.errors

    return isinstance(exc, docker.errors.APIError)
