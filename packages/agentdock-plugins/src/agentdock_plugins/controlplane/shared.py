"""A value many callers read, computed at most once per period and shared.

The agents table is what every dashboard polls and every API client lists: each reading
asks the registry and each agent's target about every agent. A hundred dashboards at once
would run a hundred readings, each holding the interpreter lock, and starve the event loop
that delivers the live events. One reading per period serves every caller meanwhile;
callers that arrive while it runs wait for it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Generic, TypeVar

__all__ = ["Shared"]

T = TypeVar("T")


class Shared(Generic[T]):
    """``get(compute)``: the value computed less than ``ttl_s`` ago, else ``compute()``'s.
    ``ttl_s`` 0 computes on every call."""

    def __init__(self, ttl_s: float) -> None:
        self.ttl_s = ttl_s
        self._lock = threading.Lock()
        self._at = float("-inf")
        self._value: T | None = None

    def get(self, compute: Callable[[], T]) -> T:
        with self._lock:
            if self._value is None or time.monotonic() - self._at >= self.ttl_s:
                self._value = compute()
                self._at = time.monotonic()
            return self._value
