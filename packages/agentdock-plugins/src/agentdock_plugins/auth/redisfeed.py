"""API key changes over Redis pub/sub: the writer publishes, every runtime subscribes.

With ``AGENTDOCK_REDIS_URL`` set, ``agentdock key revoke`` and ``key rotate`` publish the
change (:func:`agentdock.registry.change_message`) on :data:`~agentdock.registry.KEY_CHANNEL`
right after the registry commits it, and each runtime's :class:`RedisKeyChanges` thread
hears it and has its key rows re-read: replicas on other hosts stop accepting a revoked key
within a second. Pub/sub keeps nothing for a subscriber that is away, so every
(re)subscription is reported as a change of unknown extent (``None``). Publishing is
best-effort: the change is already committed, and a runtime that misses it re-reads the
row when its cache entry expires.

Log lines name the exception type only: a Redis URL may carry a password.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable
from typing import Any

from agentdock.registry import KEY_CHANNEL

from agentdock_plugins.keyfeed import RETRY_S, KeyFeed

__all__ = ["RETRY_S", "RedisKeyChanges", "publish"]

log = logging.getLogger("agentdock.auth")

#: Seconds one wait for a message lasts (how soon ``stop()`` is noticed).
_WAIT_S = 0.5
#: Seconds between pings on an idle subscription, to find a dead connection.
_HEALTH_CHECK_S = 10


def _client(url: str, **options: Any) -> Any:
    import redis

    return redis.Redis.from_url(url, socket_connect_timeout=1.0, **options)


def publish(url: str, message: str) -> bool:
    """Publish one change message; False (and a warning) when Redis cannot be reached."""
    client = None
    try:
        client = _client(url, socket_timeout=1.0)
        client.publish(KEY_CHANNEL, message)
        return True
    except Exception as exc:  # a bad URL, Redis down or refusing: the change itself stands
        log.warning(
            "could not announce the API key change on Redis (%s); runtimes that rely on "
            "Redis see it when their cached key rows expire",
            type(exc).__name__,
        )
        return False
    finally:
        if client is not None:
            with contextlib.suppress(Exception):
                client.close()


class RedisKeyChanges(KeyFeed):
    """Calls ``on_change(payload)`` for each message on the channel and ``on_change(None)``
    on each (re)subscription, from a daemon thread; :meth:`stop` ends it."""

    log = log
    failing_message = "cannot subscribe to API key changes on Redis (%s); retrying"
    recovered_message = "API key changes arrive over Redis again"
    # errors: any Exception (a bad URL, redis.RedisError, OSError) is retried.
    thread_name = "agentdock-key-redis"

    def __init__(
        self, url: str, on_change: Callable[[bytes | None], None], *, retry_s: float = RETRY_S
    ) -> None:
        self._url = url
        super().__init__(on_change, retry_s=retry_s)

    def _listen(self) -> None:
        client = pubsub = None
        try:
            client = _client(self._url, socket_timeout=None, health_check_interval=_HEALTH_CHECK_S)
            pubsub = client.pubsub()
            pubsub.subscribe(KEY_CHANNEL)
            while not self._stop.is_set():
                message = pubsub.get_message(timeout=_WAIT_S)
                if message is None:
                    continue
                if message["type"] == "subscribe":
                    self._connected()
                elif message["type"] == "message":
                    self._on_change(message["data"])
        finally:
            for closable in (pubsub, client):
                if closable is not None:
                    with contextlib.suppress(Exception):
                        closable.close()
