"""``checkpointer: redis``: a LangGraph checkpoint saver on plain Redis commands.

LangGraph's own ``RedisSaver`` (langgraph-checkpoint-redis) needs the RediSearch and
RedisJSON modules: on a plain ``redis-server`` 7 its set-up fails with ``unknown command
'FT.INFO'``, and so it does on many managed services (ElastiCache, Memorystore, Redis 6/7)
that have no modules. This saver uses only hashes, sets and sorted sets, so it works on any
Redis from 6 on (redis-py opens its connections with ``HELLO 3``). It is always the one
``checkpointer: redis`` uses, module or not: one layout on every server means a replica on
Redis 8 reads what a replica on Redis 7 wrote, an upgrade of the server keeps every
conversation, and the one code path is the one the tests run.

Layout, for thread ``T`` and checkpoint namespace ``N`` (both percent-encoded; ``T`` inside
braces, a Cluster hash tag, though the saver needs one Redis, not a Cluster: ``put`` updates
the index of all threads in the same transaction)::

    PREFIX:threads                     set     every thread id (``list`` with no thread)
    PREFIX:{T}:namespaces              set     the thread's namespaces
    PREFIX:{T}:N:ids                   zset    checkpoint ids, score 0: ordered by id
    PREFIX:{T}:N:checkpoints           hash    id -> checkpoint, metadata, parent id
    PREFIX:{T}:N:blobs                 hash    (channel, version) -> channel value
    PREFIX:{T}:N:written               set     ids of checkpoints that have writes
    PREFIX:{T}:N:writes:ID             hash    (task id, index) -> one pending write

Checkpoint ids are uuid6 strings, which sort by time, so the sorted set's lexicographic
order is the order ``list`` returns (newest first) and ``before`` is a range bound. Values
are serialised with the saver's ``serde`` exactly as ``InMemorySaver`` does: the checkpoint
without its channel values, each channel value once per version, metadata through
``dumps_typed``. Pending writes come back in ``writes_sort_key`` order (task path, task id,
index); a write of a special channel (error, interrupt, ...) replaces the stored one, a
regular one is kept if already there, as ``InMemorySaver`` and ``PostgresSaver`` do.

Each operation is written once, as a generator of command batches (:class:`Batch`); a
synchronous driver runs them on ``redis.Redis`` (graphs run with ``invoke`` in worker
threads) and an asynchronous one on ``redis.asyncio.Redis`` (graphs run with ``ainvoke``),
one asyncio client per event loop since an asyncio connection belongs to its loop. A batch
is one round trip (a pipeline); a ``put`` is one ``MULTI``/``EXEC`` transaction. Keys never
expire: a thread stays until ``delete_thread`` (the Platform API's ``DELETE /threads/{id}``).
"""

from __future__ import annotations

import asyncio
import builtins  # ``list`` is a method of the saver below
import concurrent.futures
import weakref
from collections.abc import AsyncIterator, Generator, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar, cast
from urllib.parse import quote

import redis
import redis.asyncio
import redis.asyncio.retry
import redis.retry
from agentdock_runtime import StateStoreUnavailable
from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import (
    WRITES_IDX_MAP,
    BaseCheckpointSaver,
    ChannelVersions,
    Checkpoint,
    CheckpointMetadata,
    CheckpointTuple,
    get_checkpoint_id,
    get_checkpoint_metadata,
    writes_sort_key,
)
from langgraph.checkpoint.serde.base import SerializerProtocol
from redis.backoff import ExponentialWithJitterBackoff

from agentdock_plugins.langgraph.checkpoint import state_store_unavailable
from agentdock_plugins.privaterandom import RANDOM

__all__ = ["DEFAULT_PREFIX", "Batch", "RedisCheckpointSaver"]

T = TypeVar("T")

#: The first part of every key the saver writes.
DEFAULT_PREFIX = "agentdock:checkpoint"
#: Checkpoints read per round trip while ``list`` pages through a namespace.
PAGE = 64
#: Tries after a failed round trip (a pooled connection the server closed, a restart).
RETRIES = 3
#: What a round trip that still fails after its retries raises: the server is gone.
_UNREACHABLE = (redis.ConnectionError, redis.TimeoutError)


@dataclass(frozen=True)
class Batch:
    """Commands sent in one round trip; their replies, in order, come back to the sender."""

    commands: list[tuple[Any, ...]]
    transaction: bool = False


@dataclass(frozen=True)
class _Found:
    """A checkpoint ``list`` hands to its caller."""

    item: CheckpointTuple


#: An operation: yields batches (and, for ``list``, found checkpoints), returns its result.
_Op = Generator[Batch | _Found, list[Any] | None, T]


def pack(*parts: str | bytes) -> bytes:
    """Parts joined with a 4-byte length before each, so no byte in a part is special."""
    out = bytearray()
    for part in parts:
        data = part.encode() if isinstance(part, str) else part
        out += len(data).to_bytes(4, "big")
        out += data
    return bytes(out)


def unpack(data: bytes) -> list[bytes]:
    """The parts :func:`pack` joined."""
    parts: list[bytes] = []
    at = 0
    while at < len(data):
        size = int.from_bytes(data[at : at + 4], "big")
        parts.append(data[at + 4 : at + 4 + size])
        at += 4 + size
    return parts


@dataclass(frozen=True)
class _Keys:
    """The keys of one thread and namespace."""

    prefix: str
    thread_id: str
    checkpoint_ns: str
    base: str = field(init=False)

    def __post_init__(self) -> None:
        ns = quote(self.checkpoint_ns, safe="")
        object.__setattr__(self, "base", f"{thread_base(self.prefix, self.thread_id)}:{ns}")

    @property
    def ids(self) -> str:
        return f"{self.base}:ids"

    @property
    def checkpoints(self) -> str:
        return f"{self.base}:checkpoints"

    @property
    def blobs(self) -> str:
        return f"{self.base}:blobs"

    @property
    def written(self) -> str:
        return f"{self.base}:written"

    def writes(self, checkpoint_id: str) -> str:
        return f"{self.base}:writes:{quote(checkpoint_id, safe='')}"


def thread_base(prefix: str, thread_id: str) -> str:
    """The start of every key of ``thread_id``: its id in braces, a Cluster hash tag."""
    return f"{prefix}:{{{quote(thread_id, safe='')}}}"


def _backoff() -> ExponentialWithJitterBackoff:
    """Waits between tries: 50 ms doubling to at most 1 s, jittered.

    A URL's clients retry nothing by default, so every connection in the pool that the
    server closed (a restart, an idle timeout) would fail one request before it is
    replaced. Retrying is safe here: every batch can run twice to the same effect (sets,
    ``HSET`` of the same values, ``HSETNX``, ``DEL``), so a transaction whose reply was lost
    and is sent again changes nothing more."""
    return ExponentialWithJitterBackoff(base=0.05, cap=1.0)


def _unavailable(exc: Exception) -> StateStoreUnavailable:
    """The run's error once Redis stays unreachable after the retries."""
    return state_store_unavailable("Redis", exc)


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


class RedisCheckpointSaver(BaseCheckpointSaver[str]):
    """LangGraph checkpoints in a Redis server, through plain commands only.

    :param url: ``redis://`` or ``rediss://`` URL; its password never leaves the clients.
    :param prefix: the first part of every key, so several agents can share one database.
    :param client_options: extra keyword arguments for both clients (timeouts).
    """

    def __init__(
        self,
        url: str,
        *,
        prefix: str = DEFAULT_PREFIX,
        serde: SerializerProtocol | None = None,
        client_options: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(serde=serde)
        self.prefix = prefix
        self._url = url
        self._options = dict(client_options or {})
        self._client: redis.Redis = redis.Redis.from_url(
            url, retry=redis.retry.Retry(_backoff(), RETRIES), **self._options
        )
        self._aclients: weakref.WeakKeyDictionary[
            asyncio.AbstractEventLoop, redis.asyncio.Redis
        ] = weakref.WeakKeyDictionary()
        self._closing: set[concurrent.futures.Future[None]] = set()

    # -- lifecycle ---------------------------------------------------------------------------

    def ping(self) -> None:
        """Reach the server once (start-up): raises redis' error when it cannot be used."""
        self._client.ping()

    def close(self) -> None:
        """Close the synchronous client and hand each asyncio client's close to its loop."""
        self._client.close()
        for loop, client in list(self._aclients.items()):
            if loop.is_closed():
                continue
            if loop.is_running():
                # Held until done: the loop keeps only a weak reference to the task.
                future = asyncio.run_coroutine_threadsafe(client.aclose(), loop)
                self._closing.add(future)
                future.add_done_callback(self._closing.discard)
        self._aclients.clear()

    async def aclose(self) -> None:
        """Close the client of the running loop, and the synchronous one."""
        client = self._aclients.pop(asyncio.get_running_loop(), None)
        if client is not None:
            await client.aclose()
        self.close()

    def _aclient(self) -> redis.asyncio.Redis:
        loop = asyncio.get_running_loop()
        client = self._aclients.get(loop)
        if client is None:
            client = redis.asyncio.Redis.from_url(
                self._url, retry=redis.asyncio.retry.Retry(_backoff(), RETRIES), **self._options
            )
            self._aclients[loop] = client
        return client

    # -- drivers -----------------------------------------------------------------------------

    def _execute(self, batch: Batch) -> list[Any]:
        pipe = self._client.pipeline(transaction=batch.transaction)
        for command in batch.commands:
            pipe.execute_command(*command)  # type: ignore[no-untyped-call]
        try:
            return pipe.execute()
        except _UNREACHABLE as exc:
            raise _unavailable(exc) from None

    async def _aexecute(self, batch: Batch) -> list[Any]:
        pipe = self._aclient().pipeline(transaction=batch.transaction)
        for command in batch.commands:
            pipe.execute_command(*command)
        try:
            return await pipe.execute()
        except _UNREACHABLE as exc:
            raise _unavailable(exc) from None

    def _run(self, op: _Op[T]) -> T:
        reply: list[Any] | None = None
        while True:
            try:
                step = op.send(reply)
            except StopIteration as done:
                return cast(T, done.value)
            assert isinstance(step, Batch)
            reply = self._execute(step) if step.commands else []

    async def _arun(self, op: _Op[T]) -> T:
        reply: list[Any] | None = None
        while True:
            try:
                step = op.send(reply)
            except StopIteration as done:
                return cast(T, done.value)
            assert isinstance(step, Batch)
            reply = await self._aexecute(step) if step.commands else []

    def _iterate(self, op: _Op[None]) -> Iterator[CheckpointTuple]:
        reply: list[Any] | None = None
        while True:
            try:
                step = op.send(reply)
            except StopIteration:
                return
            if isinstance(step, _Found):
                reply = None
                yield step.item
            else:
                reply = self._execute(step) if step.commands else []

    async def _aiterate(self, op: _Op[None]) -> AsyncIterator[CheckpointTuple]:
        reply: list[Any] | None = None
        while True:
            try:
                step = op.send(reply)
            except StopIteration:
                return
            if isinstance(step, _Found):
                reply = None
                yield step.item
            else:
                reply = await self._aexecute(step) if step.commands else []

    # -- the saver's interface ---------------------------------------------------------------

    def get_tuple(self, config: RunnableConfig) -> CheckpointTuple | None:
        return self._run(self._get_tuple(config))

    async def aget_tuple(self, config: RunnableConfig) -> CheckpointTuple | None:
        return await self._arun(self._get_tuple(config))

    def list(
        self,
        config: RunnableConfig | None,
        *,
        filter: dict[str, Any] | None = None,
        before: RunnableConfig | None = None,
        limit: int | None = None,
    ) -> Iterator[CheckpointTuple]:
        return self._iterate(self._list(config, filter, before, limit))

    async def alist(
        self,
        config: RunnableConfig | None,
        *,
        filter: dict[str, Any] | None = None,
        before: RunnableConfig | None = None,
        limit: int | None = None,
    ) -> AsyncIterator[CheckpointTuple]:
        async for item in self._aiterate(self._list(config, filter, before, limit)):
            yield item

    def put(
        self,
        config: RunnableConfig,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
    ) -> RunnableConfig:
        return self._run(self._put(config, checkpoint, metadata, new_versions))

    async def aput(
        self,
        config: RunnableConfig,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
    ) -> RunnableConfig:
        return await self._arun(self._put(config, checkpoint, metadata, new_versions))

    def put_writes(
        self,
        config: RunnableConfig,
        writes: Sequence[tuple[str, Any]],
        task_id: str,
        task_path: str = "",
    ) -> None:
        self._run(self._put_writes(config, writes, task_id, task_path))

    async def aput_writes(
        self,
        config: RunnableConfig,
        writes: Sequence[tuple[str, Any]],
        task_id: str,
        task_path: str = "",
    ) -> None:
        await self._arun(self._put_writes(config, writes, task_id, task_path))

    def delete_thread(self, thread_id: str) -> None:
        self._run(self._delete_thread(thread_id))

    async def adelete_thread(self, thread_id: str) -> None:
        await self._arun(self._delete_thread(thread_id))

    def get_next_version(self, current: str | int | None, channel: None) -> str:
        """String versions that sort as they grow, as ``InMemorySaver`` and
        ``PostgresSaver`` make them (a counter, then a random part)."""
        if current is None:
            number = 0
        elif isinstance(current, int):
            number = current
        else:
            number = int(current.split(".")[0])
        return f"{number + 1:032}.{RANDOM.random():016}"

    # -- operations --------------------------------------------------------------------------

    def _keys(self, thread_id: str, checkpoint_ns: str) -> _Keys:
        return _Keys(self.prefix, thread_id, checkpoint_ns)

    def _put(
        self,
        config: RunnableConfig,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
    ) -> _Op[RunnableConfig]:
        configurable = config["configurable"]
        thread_id = str(configurable["thread_id"])
        checkpoint_ns = str(configurable.get("checkpoint_ns", ""))
        keys = self._keys(thread_id, checkpoint_ns)
        stored = checkpoint.copy()
        values: dict[str, Any] = stored.pop("channel_values")  # type: ignore[misc]
        blobs: builtins.list[bytes] = []
        for channel, version in new_versions.items():
            typed = self.serde.dumps_typed(values[channel]) if channel in values else ("empty", b"")
            blobs += [pack(channel, str(version)), pack(*typed)]
        record = pack(
            *self.serde.dumps_typed(stored),
            *self.serde.dumps_typed(get_checkpoint_metadata(config, metadata)),
            configurable.get("checkpoint_id") or "",
        )
        commands: builtins.list[tuple[Any, ...]] = [
            ("SADD", f"{self.prefix}:threads", thread_id),
            ("SADD", f"{thread_base(self.prefix, thread_id)}:namespaces", checkpoint_ns),
            ("HSET", keys.checkpoints, checkpoint["id"], record),
            ("ZADD", keys.ids, 0, checkpoint["id"]),
        ]
        if blobs:
            commands.append(("HSET", keys.blobs, *blobs))
        yield Batch(commands, transaction=True)
        return {
            "configurable": {
                "thread_id": thread_id,
                "checkpoint_ns": checkpoint_ns,
                "checkpoint_id": checkpoint["id"],
            }
        }

    def _put_writes(
        self,
        config: RunnableConfig,
        writes: Sequence[tuple[str, Any]],
        task_id: str,
        task_path: str,
    ) -> _Op[None]:
        configurable = config["configurable"]
        thread_id = str(configurable["thread_id"])
        checkpoint_ns = str(configurable.get("checkpoint_ns", ""))
        checkpoint_id = str(configurable["checkpoint_id"])
        keys = self._keys(thread_id, checkpoint_ns)
        key = keys.writes(checkpoint_id)
        commands: builtins.list[tuple[Any, ...]] = [
            ("SADD", f"{self.prefix}:threads", thread_id),
            ("SADD", f"{thread_base(self.prefix, thread_id)}:namespaces", checkpoint_ns),
            ("SADD", keys.written, checkpoint_id),
        ]
        for position, (channel, value) in enumerate(writes):
            idx = WRITES_IDX_MAP.get(channel, position)
            name = pack(task_id, str(idx))
            entry = pack(task_id, str(idx), task_path, channel, *self.serde.dumps_typed(value))
            # A special channel's write replaces the stored one; a regular one is kept.
            commands.append(("HSET" if idx < 0 else "HSETNX", key, name, entry))
        yield Batch(commands, transaction=True)

    def _get_tuple(self, config: RunnableConfig) -> _Op[CheckpointTuple | None]:
        configurable = config["configurable"]
        thread_id = str(configurable["thread_id"])
        checkpoint_ns = str(configurable.get("checkpoint_ns", ""))
        keys = self._keys(thread_id, checkpoint_ns)
        checkpoint_id = get_checkpoint_id(config)
        if not checkpoint_id:
            reply = yield Batch([("ZREVRANGEBYLEX", keys.ids, "+", "-", "LIMIT", 0, 1)])
            assert reply is not None
            if not reply[0]:
                return None
            checkpoint_id = _text(reply[0][0])
        reply = yield Batch(
            [("HGET", keys.checkpoints, checkpoint_id), ("HVALS", keys.writes(checkpoint_id))]
        )
        assert reply is not None
        if reply[0] is None:
            return None
        found = yield from self._tuples(keys, [(checkpoint_id, reply[0], reply[1])])
        return found[0]

    def _list(
        self,
        config: RunnableConfig | None,
        filter: dict[str, Any] | None,
        before: RunnableConfig | None,
        limit: int | None,
    ) -> _Op[None]:
        left = limit
        if left is not None and left <= 0:
            return
        if config is not None:
            threads = [str(config["configurable"]["thread_id"])]
            only_ns = config["configurable"].get("checkpoint_ns")
            only_id = get_checkpoint_id(config)
        else:
            reply = yield Batch([("SMEMBERS", f"{self.prefix}:threads")])
            assert reply is not None
            threads = sorted(_text(t) for t in reply[0])
            only_ns, only_id = None, None
        before_id = get_checkpoint_id(before) if before else None
        for thread_id in threads:
            if only_ns is not None:
                namespaces = [str(only_ns)]
            else:
                reply = yield Batch(
                    [("SMEMBERS", f"{thread_base(self.prefix, thread_id)}:namespaces")]
                )
                assert reply is not None
                namespaces = sorted(_text(n) for n in reply[0])
            for checkpoint_ns in namespaces:
                keys = self._keys(thread_id, checkpoint_ns)
                upper = f"({before_id}" if before_id else "+"
                offset = 0
                while True:
                    if only_id:
                        if before_id and only_id >= before_id:
                            break
                        ids = [only_id]
                    else:
                        count = PAGE if filter or left is None else min(PAGE, left)
                        reply = yield Batch(
                            [("ZREVRANGEBYLEX", keys.ids, upper, "-", "LIMIT", offset, count)]
                        )
                        assert reply is not None
                        ids = [_text(i) for i in reply[0]]
                        offset += len(ids)
                    if not ids:
                        break
                    reply = yield Batch([("HMGET", keys.checkpoints, *ids)])
                    assert reply is not None
                    chosen: builtins.list[tuple[str, bytes]] = []
                    for checkpoint_id, record in zip(ids, reply[0], strict=True):
                        if record is None:
                            continue
                        if filter and not self._matches(record, filter):
                            continue
                        chosen.append((checkpoint_id, record))
                        if left is not None:
                            left -= 1
                            if left == 0:
                                break
                    if chosen:
                        reply = yield Batch([("HVALS", keys.writes(i)) for i, _ in chosen])
                        assert reply is not None
                        found = yield from self._tuples(
                            keys,
                            [(i, r, w) for (i, r), w in zip(chosen, reply, strict=True)],
                        )
                        for item in found:
                            yield _Found(item)
                    if left == 0:
                        return
                    if only_id or len(ids) < count:
                        break

    def _delete_thread(self, thread_id: str) -> _Op[None]:
        base = thread_base(self.prefix, thread_id)
        reply = yield Batch([("SMEMBERS", f"{base}:namespaces")])
        assert reply is not None
        all_keys = [self._keys(thread_id, _text(ns)) for ns in reply[0]]
        reply = yield Batch([("SMEMBERS", keys.written) for keys in all_keys])
        assert reply is not None
        doomed: builtins.list[str] = [f"{base}:namespaces"]
        for keys, written in zip(all_keys, reply, strict=True):
            doomed += [keys.ids, keys.checkpoints, keys.blobs, keys.written]
            doomed += [keys.writes(_text(i)) for i in written]
        yield Batch(
            [("DEL", *doomed), ("SREM", f"{self.prefix}:threads", thread_id)], transaction=True
        )

    # -- decoding ----------------------------------------------------------------------------

    def _matches(self, record: bytes, wanted: dict[str, Any]) -> bool:
        parts = unpack(record)
        metadata = self.serde.loads_typed((_text(parts[2]), parts[3]))
        return all(metadata.get(k) == v for k, v in wanted.items())

    def _tuples(
        self, keys: _Keys, rows: builtins.list[tuple[str, bytes, builtins.list[bytes]]]
    ) -> Generator[Batch, builtins.list[Any] | None, builtins.list[CheckpointTuple]]:
        """Checkpoint tuples of ``(id, record, writes)`` rows, their channel values read in
        one round trip."""
        decoded = []
        fields: builtins.list[builtins.list[bytes]] = []
        for checkpoint_id, record, writes in rows:
            parts = unpack(record)
            checkpoint: Checkpoint = self.serde.loads_typed((_text(parts[0]), parts[1]))
            metadata = self.serde.loads_typed((_text(parts[2]), parts[3]))
            parent = _text(parts[4]) or None
            versions = list(checkpoint["channel_versions"].items())
            fields.append([pack(channel, str(version)) for channel, version in versions])
            decoded.append((checkpoint_id, checkpoint, metadata, parent, versions, writes))
        reply = yield Batch([("HMGET", keys.blobs, *f) for f in fields if f])
        assert reply is not None
        blobs = iter(reply)
        found: builtins.list[CheckpointTuple] = []
        for (checkpoint_id, checkpoint, metadata, parent, versions, writes), names in zip(
            decoded, fields, strict=True
        ):
            values: dict[str, Any] = {}
            if names:
                for (channel, _version), blob in zip(versions, next(blobs), strict=True):
                    if blob is None:
                        continue
                    kind, data = unpack(blob)
                    if kind != b"empty":
                        values[channel] = self.serde.loads_typed((_text(kind), data))
            found.append(
                CheckpointTuple(
                    config=self._config(keys, checkpoint_id),
                    checkpoint={**checkpoint, "channel_values": values},
                    metadata=metadata,
                    parent_config=self._config(keys, parent) if parent else None,
                    pending_writes=self._pending(writes),
                )
            )
        return found

    def _pending(self, writes: builtins.list[bytes]) -> builtins.list[tuple[str, str, Any]]:
        entries = []
        for entry in writes:
            task_id, idx, task_path, channel, kind, data = unpack(entry)
            key = writes_sort_key(_text(task_path), _text(task_id), int(idx))
            entries.append((key, _text(task_id), _text(channel), (_text(kind), data)))
        entries.sort(key=lambda e: e[0])
        return [(task_id, channel, self.serde.loads_typed(v)) for _, task_id, channel, v in entries]

    @staticmethod
    def _config(keys: _Keys, checkpoint_id: str) -> RunnableConfig:
        return {
            "configurable": {
                "thread_id": keys.thread_id,
                "checkpoint_ns": keys.checkpoint_ns,
                "checkpoint_id": checkpoint_id,
            }
        }
