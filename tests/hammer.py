"""A client that keeps calling one URL while a test releases versions behind it.

It counts what it sees (answers by their text, failures by their kind) so a test can assert
on counts: no failed request, and which versions answered. Two ways of holding the URL,
as clients do: ``keep_alive`` reuses one connection for as long as the server keeps it
open, else every request opens a connection of its own.
"""

from __future__ import annotations

import collections
import threading
import time
from typing import Any

import httpx

__all__ = ["Hammer"]


class Hammer(threading.Thread):
    """POSTs ``{"text": "hi"}`` to ``url`` about ``rate`` times a second until stopped."""

    def __init__(
        self,
        url: str,
        *,
        headers: dict[str, str] | None = None,
        rate: float = 50.0,
        keep_alive: bool = True,
        text: str = "hi",
    ) -> None:
        super().__init__(name="hammer", daemon=True)
        self.url, self.headers, self.pause, self.text = url, headers or {}, 1.0 / rate, text
        self.keep_alive = keep_alive
        self.answers: collections.Counter[str] = collections.Counter()
        self.failures: list[str] = []
        self.lock = threading.Lock()
        self.halt = threading.Event()

    def __enter__(self) -> Hammer:
        self.start()
        return self

    def __exit__(self, *_exc: Any) -> None:
        self.halt.set()
        self.join(30)

    def seen(self) -> collections.Counter[str]:
        with self.lock:
            return collections.Counter(self.answers)

    def wait_for(self, answer: str, count: int = 5, timeout: float = 60.0) -> None:
        """Until ``answer`` was seen ``count`` times more than now."""
        goal = self.seen()[answer] + count
        deadline = time.monotonic() + timeout
        while self.seen()[answer] < goal:
            assert time.monotonic() < deadline, (
                f"{answer!r} never answered: {self.seen()}, {len(self.failures)} failed "
                f"({self.failures[-1:]})"
            )
            assert self.is_alive(), "the client stopped"
            time.sleep(0.02)

    def run(self) -> None:
        limits = httpx.Limits(max_keepalive_connections=1 if self.keep_alive else 0)
        with httpx.Client(timeout=10.0, trust_env=False, limits=limits) as client:
            while not self.halt.is_set():
                failure: str | None = None
                try:
                    resp = client.post(self.url, json={"text": self.text}, headers=self.headers)
                    if resp.status_code != 200:
                        failure = f"HTTP {resp.status_code}: {resp.text[:200]}"
                except httpx.HTTPError as exc:
                    failure = f"{type(exc).__name__}: {exc}"
                with self.lock:
                    if failure is None:
                        self.answers[str(resp.json()["text"])] += 1
                    else:
                        self.failures.append(failure)
                self.halt.wait(self.pause)
