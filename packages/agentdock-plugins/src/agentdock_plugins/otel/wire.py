"""OTLP trace export requests written straight to protobuf bytes.

The SDK's encoder builds a protobuf object per span, attribute and value before serialising
them; for the spans AgentDock makes (a handful of spans per run, a dozen attributes each),
that costs more CPU than everything else in the sinks together, and it runs in the same
process as the agent. This module writes the same bytes directly (the wire format of
``opentelemetry/proto/collector/trace/v1/trace_service.proto``): :func:`span_bytes` writes one
span from plain values, once per run whatever the number of endpoints, and :func:`request`
joins encoded spans behind a resource and scope encoded once per sink (:func:`encode_head`),
without touching them again. Attribute fields that repeat run after run are kept whole, and a
span that repeats but for its ids and times is kept as its tail (:func:`span_tail`,
:func:`join_span`); :func:`gzip_request` compresses a request once for every target.
:func:`encode_request` does the same for the SDK's ``ReadableSpan`` objects. Tests decode the
output with the official protobuf classes, field by field, and compare it with the SDK
encoder's."""

from __future__ import annotations

import gzip
import struct
import threading
from collections import deque
from collections.abc import Mapping, Sequence
from typing import Any

from opentelemetry.sdk.trace import ReadableSpan

__all__ = [
    "GZIP_LEVEL",
    "Head",
    "encode_head",
    "encode_request",
    "gzip_request",
    "join_span",
    "pack_span",
    "request",
    "run_attributes",
    "span_attributes",
    "span_bytes",
    "span_tail",
]

#: gzip level of a request: AgentDock's spans repeat keys and values run after run, and
#: level 1 compresses them to within a few percent of 6 or 9 in a third of the CPU.
GZIP_LEVEL = 1

#: A request's encoded ``resource`` and ``scope`` fields, made once per sink.
Head = tuple[bytes, bytes]

_KIND = {0: 1, 1: 2, 2: 3, 3: 4, 4: 5}  # SDK SpanKind value -> OTLP SpanKind
_HAS_IS_REMOTE = 0x100
_IS_REMOTE = 0x200
#: Bounds of the encoding caches: keys, values kept per key, the longest value kept.
_CACHE_SIZE = 4096
_VALUES_PER_KEY = 256
_CACHED_LENGTH = 64
_key_cache: dict[str, bytes] = {}
#: Field number (resource, span, event attributes) -> key -> value -> encoded field.
_pair_cache: dict[int, dict[str, dict[Any, bytes]]] = {1: {}, 3: {}, 9: {}}
_TAGS = {number: bytes((number << 3 | 2,)) for number in _pair_cache}


_SMALL = [bytes((n,)) for n in range(0x80)]
#: Strings shorter than this (UTF-8 bytes) have one-byte lengths in a ``KeyValue``.
_SHORT = 0x80 - 2
_U64 = struct.Struct("<Q")
_TIMES = struct.Struct("<BQBQ")  # start_time_unix_nano and end_time_unix_nano, tags included
_KINDS = [b"\x30" + bytes((kind,)) for kind in range(6)]
_LOCAL_FLAGS = b"\x85\x01" + struct.pack("<I", _HAS_IS_REMOTE)
_REMOTE_FLAGS = b"\x85\x01" + struct.pack("<I", _HAS_IS_REMOTE | _IS_REMOTE)
#: Bytes of a span's ``span_id``, times and flags fields (a parent's id adds 10).
_FIXED_SIZE = 10 + _TIMES.size + len(_LOCAL_FLAGS)
#: Span names (they repeat: ``execute_tool search``), encoded with their tag.
_names: dict[str, bytes] = {}


def _varint(value: int) -> bytes:
    if 0 <= value < 0x80:
        return _SMALL[value]
    if 0 < value < 0x4000:  # a span's or a request's length, mostly
        return bytes((value & 0x7F | 0x80, value >> 7))
    value &= 0xFFFFFFFFFFFFFFFF  # int64 two's complement, as protobuf writes negatives
    out = bytearray()
    while value > 0x7F:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def _field(number: int, payload: bytes) -> bytes:
    """A length-delimited field."""
    return _varint(number << 3 | 2) + _varint(len(payload)) + payload


def _any_value(value: Any) -> bytes:
    if isinstance(value, str):
        return _field(1, value.encode("utf-8"))
    if isinstance(value, bool):
        return b"\x10" + (b"\x01" if value else b"\x00")
    if isinstance(value, int):
        return b"\x18" + _varint(value)
    if isinstance(value, float):
        return b"\x21" + struct.pack("<d", value)
    if isinstance(value, bytes):
        return _field(7, value)
    if isinstance(value, Sequence):
        return _field(5, b"".join(_field(1, _any_value(item)) for item in value))
    return _field(1, str(value).encode("utf-8"))


def _key_value(key: str, value: Any) -> bytes:
    """A ``KeyValue`` message, its length first."""
    prefix = _key_cache.get(key)
    if prefix is None:
        if len(_key_cache) >= _CACHE_SIZE:
            _key_cache.clear()
        prefix = _key_cache[key] = _field(1, key.encode("utf-8"))
    kind = type(value)
    body: bytes
    # The common short strings and ints written in one concatenation, lengths from a table.
    if kind is str:
        raw: bytes = value.encode("utf-8")
        if len(raw) < _SHORT:
            body = prefix + b"\x12" + _SMALL[len(raw) + 2] + b"\x0a" + _SMALL[len(raw)] + raw
        else:
            body = prefix + _field(2, _field(1, raw))
    elif kind is int and 0 <= value < 0x80:
        body = prefix + b"\x12\x02\x18" + _SMALL[value]
    else:
        body = prefix + _field(2, _any_value(value))
    size = len(body)
    return (_SMALL[size] if size < 0x80 else _varint(size)) + body


def _attributes(number: int, attributes: Mapping[str, Any] | None) -> bytes:
    """Field ``number`` (repeated ``KeyValue``) for each attribute that is not ``None``.

    Most pairs repeat run after run (operation, agent, model, status, LangFuse's type and
    tags...): a short string, a bool or a short tuple of strings is encoded once per key and
    field, tag included, and found again with two dictionary look-ups. The cache is bounded
    (random values such as ids or subjects must not pile up): past the bound it starts over.
    """
    if not attributes:
        return b""
    tag = _TAGS[number]
    by_key = _pair_cache[number]
    out = []
    for key, value in attributes.items():
        kind = type(value)
        if (
            kind is str
            or kind is bool
            or (kind is tuple and len(value) <= 8 and all(type(item) is str for item in value))
        ):
            known = by_key.get(key)
            if known is None:
                if len(by_key) >= _CACHE_SIZE:
                    by_key.clear()
                known = by_key[key] = {}
            found = known.get(value)
            if found is None:
                found = tag + _key_value(key, value)
                if kind is not str or len(value) <= _CACHED_LENGTH:
                    if len(known) >= _VALUES_PER_KEY:
                        known.clear()
                    known[value] = found
            out.append(found)
        elif value is not None:
            out.append(tag + _key_value(key, value))
    return b"".join(out)


def span_bytes(
    trace_id: bytes,
    span_id: int,
    parent_span_id: int,
    *,
    parent_remote: bool,
    name: str,
    kind: int,
    start_ns: int,
    end_ns: int,
    attributes: Mapping[str, Any] | None,
    events: Sequence[tuple[str, Mapping[str, Any] | None, int]] = (),
    status_code: int = 0,
    status_message: str | None = None,
    encoded: bytes = b"",
) -> bytes:
    """One ``Span`` as the ``spans`` field of a ``ScopeSpans`` (what :func:`request` joins).

    :param trace_id: the 16 bytes of the trace id.
    :param parent_span_id: ``0`` for a root span.
    :param kind: the OTLP ``SpanKind`` (the SDK's value plus one).
    :param events: ``(name, attributes, time_unix_nano)`` of each span event.
    :param status_code: OTLP ``StatusCode`` (0 unset, 1 ok, 2 error).
    :param encoded: more attributes, already encoded (:func:`span_attributes`): the ones
        that are the same run after run are encoded once per agent, not once per span. Their
        keys must not be in ``attributes``.
    """
    return pack_span(
        b"\x0a\x10" + trace_id,
        span_id,
        parent_span_id,
        parent_remote,
        name,
        kind,
        start_ns,
        end_ns,
        attributes,
        encoded,
        events,
        status_message if status_code or status_message else None,
        status_code,
    )


def pack_span(
    trace_field: bytes,
    span_id: int,
    parent_span_id: int,
    parent_remote: bool,
    name: str,
    kind: int,
    start_ns: int,
    end_ns: int,
    attributes: Mapping[str, Any] | None,
    encoded: bytes,
    events: Sequence[tuple[str, Mapping[str, Any] | None, int]],
    status_message: str | None,
    status_code: int,
) -> bytes:
    """:func:`span_bytes` with positional arguments, for the span builder (keyword calls
    cost more than the rest of a small span): ``trace_field`` is the encoded ``trace_id``
    field (``b"\\x0a\\x10"`` and the 16 bytes), the same for every span of a run."""
    return join_span(
        trace_field,
        span_id,
        parent_span_id,
        parent_remote,
        start_ns,
        end_ns,
        span_tail(name, kind, attributes, encoded, events, status_message, status_code),
    )


def span_tail(
    name: str,
    kind: int,
    attributes: Mapping[str, Any] | None,
    encoded: bytes,
    events: Sequence[tuple[str, Mapping[str, Any] | None, int]],
    status_message: str | None,
    status_code: int,
) -> bytes:
    """The fields of a span that are not its ids, times or flags (:func:`join_span` adds
    them): for a span that repeats run after run but for those (a graph node's), made once.
    Protobuf takes a message's fields in any order, so they need not be in field order."""
    named = _names.get(name)
    if named is None:
        if len(_names) >= _CACHE_SIZE:
            _names.clear()
        named = _names[name] = _field(5, name.encode("utf-8"))
    if events:
        more = b"".join(
            _field(
                11,
                b"\x09"
                + _U64.pack(stamp)
                + _field(2, event_name.encode("utf-8"))
                + _attributes(3, event_attributes),
            )
            for event_name, event_attributes, stamp in events
        )
    else:
        more = b""
    if status_code or status_message:
        status_body = _field(2, status_message.encode("utf-8")) if status_message else b""
        if status_code:
            status_body += b"\x18" + _varint(status_code)
        status = _field(15, status_body)
    else:
        status = b"\x7a\x00"  # an empty status, as the SDK's encoder writes it
    return b"".join(
        (
            named,
            _KINDS[kind] if 0 <= kind < len(_KINDS) else b"\x30" + _varint(kind),
            _attributes(9, attributes) if attributes else b"",
            encoded,
            more,
            status,
        )
    )


def join_span(
    trace_field: bytes,
    span_id: int,
    parent_span_id: int,
    parent_remote: bool,
    start_ns: int,
    end_ns: int,
    tail: bytes,
    extra: bytes = b"",
) -> bytes:
    """A whole span (as :func:`span_bytes` returns it) from its ids, times and ``tail``
    (:func:`span_tail`); ``extra``: more encoded fields (attributes of this span only)."""
    # The body's length is known before it is written: one join, no second copy.
    size = (
        len(trace_field)
        + len(tail)
        + len(extra)
        + (_FIXED_SIZE + 10 if parent_span_id else _FIXED_SIZE)
    )
    return b"".join(
        (
            b"\x12",
            # A span's length: two bytes but for the largest spans (_varint, inlined).
            bytes((size & 0x7F | 0x80, size >> 7)) if 0x80 <= size < 0x4000 else _varint(size),
            trace_field,
            b"\x12\x08",
            span_id.to_bytes(8, "big"),
            b"\x22\x08" + parent_span_id.to_bytes(8, "big") if parent_span_id else b"",
            _TIMES.pack(0x39, start_ns, 0x41, end_ns),
            tail,
            extra,
            _REMOTE_FLAGS if parent_span_id and parent_remote else _LOCAL_FLAGS,
        )
    )


def run_attributes(attributes: Mapping[str, Any]) -> bytes:
    """A span's attributes that differ run after run (ids, token counts), encoded without
    the cache of :func:`span_attributes`: a value seen once would only crowd it. ``None``
    values are left out."""
    out = []
    for key, value in attributes.items():
        kind = type(value)
        # The usual values, a short string or a small count, written in one concatenation
        # behind the key's field kept with its length (:func:`_short_key`).
        if kind is str:
            raw: bytes = value.encode("utf-8")
            size = len(raw)
            if size < _SHORT:
                prefix, used = _short_keys.get(key) or _short_key(key)
                whole = used + size
                if whole < 0x80:
                    out.append(
                        b"\x4a"
                        + _SMALL[whole]
                        + prefix
                        + b"\x12"
                        + _SMALL[size + 2]
                        + b"\x0a"
                        + _SMALL[size]
                        + raw
                    )
                    continue
        elif kind is int and 0 <= value < 0x4000:  # a varint of one or two bytes
            prefix, used = _short_keys.get(key) or _short_key(key)
            number = _varint(value)
            whole = used + len(number) - 1
            if whole < 0x80:
                out.append(
                    b"\x4a"
                    + _SMALL[whole]
                    + prefix
                    + b"\x12"
                    + _SMALL[len(number) + 1]
                    + b"\x18"
                    + number
                )
                continue
        elif value is None:
            continue
        out.append(b"\x4a" + _key_value(key, value))
    return b"".join(out)


#: A key's ``KeyValue.key`` field, and its size plus the 4 bytes of a short value's tags
#: and lengths (:func:`run_attributes`).
_short_keys: dict[str, tuple[bytes, int]] = {}


def _short_key(key: str) -> tuple[bytes, int]:
    if len(_short_keys) >= _CACHE_SIZE:
        _short_keys.clear()
    prefix = _field(1, key.encode("utf-8"))
    found = _short_keys[key] = (prefix, len(prefix) + 4)
    return found


def span_attributes(attributes: Mapping[str, Any]) -> bytes:
    """``attributes`` as a span's ``attributes`` fields, for :func:`span_bytes`' ``encoded``
    (made once, then put into every span that carries them)."""
    return _attributes(9, attributes)


def _span(span: ReadableSpan) -> bytes:
    context = span.context
    assert context is not None
    parent = span.parent
    status = span.status
    return span_bytes(
        context.trace_id.to_bytes(16, "big"),
        context.span_id,
        parent.span_id if parent is not None else 0,
        parent_remote=parent is not None and parent.is_remote,
        name=span.name,
        kind=_KIND[span.kind.value],
        start_ns=span.start_time or 0,
        end_ns=span.end_time or 0,
        attributes=span.attributes,
        events=[(e.name, e.attributes, e.timestamp or 0) for e in span.events],
        status_code=status.status_code.value,
        status_message=status.description,
    )


def _resource(resource: Any) -> bytes:
    return _attributes(1, dict(resource.attributes) if resource is not None else None)


def _scope(scope: Any) -> bytes:
    if scope is None:
        return b""
    body = _field(1, scope.name.encode("utf-8"))
    if scope.version:
        body += _field(2, scope.version.encode("utf-8"))
    return body


def encode_request(spans: Sequence[ReadableSpan]) -> bytes:
    """A serialised ``ExportTraceServiceRequest`` holding ``spans``."""
    groups: dict[int, tuple[Any, dict[Any, list[bytes]]]] = {}
    for span in spans:
        resource = span.resource
        entry = groups.get(id(resource))
        if entry is None:
            entry = groups[id(resource)] = (resource, {})
        entry[1].setdefault(span.instrumentation_scope, []).append(_span(span))
    out = []
    for resource, scopes in groups.values():
        scope_spans = b"".join(
            _field(2, _field(1, _scope(scope)) + b"".join(encoded))
            for scope, encoded in scopes.items()
        )
        out.append(_field(1, _field(1, _resource(resource)) + scope_spans))
    return b"".join(out)


def encode_head(resource_attributes: Mapping[str, Any], scope: str, version: str = "") -> Head:
    """The ``resource`` field of a ``ResourceSpans`` and the ``scope`` field of a
    ``ScopeSpans``, encoded once and put in front of every request's spans."""
    scope_body = _field(1, scope.encode("utf-8"))
    if version:
        scope_body += _field(2, version.encode("utf-8"))
    return _field(1, _attributes(1, resource_attributes)), _field(1, scope_body)


def request(head: Head, spans: Sequence[bytes]) -> bytes:
    """A serialised ``ExportTraceServiceRequest``: one resource, one scope, ``spans`` (each
    from :func:`span_bytes`) joined as they are, never re-encoded."""
    resource, scope = head
    return _field(1, resource + _field(2, scope + b"".join(spans)))


#: Requests compressed lately: ``(head, spans, body, size)``. The targets of one pipeline get
#: the same span bytes behind the same head, and under load their queues cut the same
#: batches, so the second target finds the body the first one compressed.
_compressed: deque[tuple[Head, Sequence[bytes], bytes, int]] = deque(maxlen=8)
_compressed_lock = threading.Lock()


def gzip_request(head: Head, spans: Sequence[bytes]) -> tuple[bytes, int]:
    """:func:`request` compressed at :data:`GZIP_LEVEL`, and its size before compression.

    The same request asked for again (the same head object, equal spans: the other target
    of a pipeline) is compressed once: the last few bodies are kept until asked for again,
    and found by comparing span lists, which hold the same span objects (cheap).
    """
    with _compressed_lock:
        for entry in _compressed:
            known_head, known_spans, body, size = entry
            if known_head is head and len(known_spans) == len(spans) and known_spans == spans:
                _compressed.remove(entry)  # taken by the other target: not kept longer
                return body, size
    raw = request(head, spans)
    body = gzip.compress(raw, compresslevel=GZIP_LEVEL)
    with _compressed_lock:
        _compressed.append((head, list(spans), body, len(raw)))
    return body, len(raw)
