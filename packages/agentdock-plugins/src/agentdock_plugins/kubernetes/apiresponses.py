"""The Kubernetes API's raw responses and errors, read into lines a person can use.

Log streams are split into lines and their connections handed back; an API error becomes
its message's first line, a connection error a short reason; secrets are masked.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from typing import Any

from agentdock.masking import Masker

__all__ = ["api_message", "drain", "first_line", "scrub", "short_reason", "stream_lines"]


def stream_lines(response: Any) -> Iterator[str]:
    buffer = b""
    try:
        for chunk in response.stream(4096):
            buffer += chunk
            *done, buffer = buffer.split(b"\n")
            for line in done:
                yield line.decode("utf-8", errors="replace").rstrip("\r")
        if buffer:
            yield buffer.decode("utf-8", errors="replace").rstrip("\r")
    finally:
        with contextlib.suppress(Exception):
            response.release_conn()


def drain(response: Any) -> None:
    """Read the rest of a raw response so its connection can serve the next call."""
    with contextlib.suppress(Exception):
        response.drain_conn()
    with contextlib.suppress(Exception):
        response.release_conn()


def api_message(exc: Any) -> str:
    try:
        return first_line(str(json.loads(exc.body or b"{}").get("message") or ""))
    except (ValueError, AttributeError):
        return ""


def short_reason(exc: BaseException) -> str:
    inner = getattr(exc, "reason", None)
    text = str(inner) if inner is not None else str(exc)
    if "refused" in text.lower():
        return "connection refused"
    return first_line(f"{type(exc).__name__}: {text}")


def first_line(value: object) -> str:
    text = str(value).strip()
    return (text.splitlines() or [""])[0][:300]


def scrub(text: str, secrets: list[str]) -> str:
    return Masker(secrets)(text)
