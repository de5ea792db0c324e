"""Span attributes that repeat run after run, encoded once and reused as bytes.

Most of a span's attributes are decided by a few values that rarely change between runs:
the agent, the node or tool, the model and provider, the run's mode and status, LangFuse's
trace name, tags and environment. Building them into a dict and encoding them again for
every span was the larger part of a run's span cost; here they are encoded once per
combination of those values (:func:`~agentdock_plugins.otel.wire.span_attributes`) and the
bytes go into each span as they are (``span_bytes(..., encoded=...)``). Values that differ
per run (ids, timestamps, token counts) stay in the span's attribute dict.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping
from typing import Any, TypeVar, cast

from agentdock_plugins.otel.wire import span_attributes

__all__ = ["FixedFields", "plain"]

K = TypeVar("K", bound=tuple[Any, ...])

#: Value types an attribute keeps as they are; anything else becomes its ``str``.
_PLAIN = frozenset({str, int, float, bool})
_PLAIN_OR_NONE = _PLAIN | {type(None)}


def plain(value: Any) -> Any:
    """``value`` as a span attribute holds it: ``None`` stays (the attribute is left out),
    a string, int, float or bool as it is, anything else its ``str`` (then hashable too)."""
    if value is None or type(value) in _PLAIN:
        return value
    if isinstance(value, bool | int | float | str):
        return value
    return str(value)


class FixedFields:
    """Encoded attribute blocks by key, each made once by a given function.

    A key is a tuple of hashable values; their types are part of the lookup (``1``, ``1.0``
    and ``True`` are equal as dict keys but encode differently). Bounded: the values in a
    key come from events (a caller's role, a tool's name), so past ``limit`` keys the cache
    starts over rather than grow. Not thread-safe: each owner uses its own from one thread.
    """

    __slots__ = ("_blocks", "_limit")

    def __init__(self, limit: int = 4096) -> None:
        self._blocks: dict[Hashable, bytes] = {}
        self._limit = limit

    def get(self, key: K, make: Callable[[K], Mapping[str, Any]]) -> bytes:
        """The encoded attributes ``make(key)`` returns (``None`` values left out), made and
        encoded the first time ``key`` is seen. A value of ``key`` that is not a plain
        attribute value reaches ``make`` as its ``str`` (:func:`plain`)."""
        found, typed = self.find(key)
        if found is None:
            made = make(cast("K", typed[0]))
            found = self.keep(
                typed, span_attributes({k: v for k, v in made.items() if v is not None})
            )
        return found

    def find(self, key: tuple[Any, ...]) -> tuple[bytes | None, tuple[Any, Any]]:
        """What is kept for ``key`` (``None``: nothing yet), and the key to :meth:`keep` it
        under (``key`` made plain when it needs to be, and its types)."""
        types = tuple(map(type, key))
        try:
            found = self._blocks.get((key, types))
        except TypeError:  # a value that cannot be a key (a list): its text is one
            found = None
        if found is None and not _PLAIN_OR_NONE.issuperset(types):
            key = tuple(map(plain, key))
            types = tuple(map(type, key))
            found = self._blocks.get((key, types))
        return found, (key, types)

    def keep(self, typed: tuple[Any, Any], block: bytes) -> bytes:
        """Keep ``block`` under ``typed`` (from :meth:`find`); returns it."""
        if len(self._blocks) >= self._limit:
            self._blocks.clear()
        self._blocks[typed] = block
        return block
