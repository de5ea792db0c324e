"""OTLP trace export requests written straight to protobuf bytes.

The SDK's encoder builds a protobuf object per span, attribute and value before serialising
them; for the spans AgentDock makes (a handful of spans per run, a dozen attributes each),
that costs more CPU than everything else in the sinks together, and it runs in the same
process as the agent. This module writes the same bytes directly (the wire format of
``opentelemetry/proto/collector/trace/v1/trace_service.proto``), with each attribute key's
prefix and each resource and scope encoded once. A contract test decodes its output with the
official protobuf classes and compares it with the SDK encoder's.
"""

from __future__ import annotations

import struct
from collections.abc import Mapping, Sequence
from typing import Any

from opentelemetry.sdk.trace import ReadableSpan

__all__ = ["Head", "encode_head", "encode_request", "request", "span_bytes"]

#: A request's encoded ``resource`` and ``scope`` fields, made once per sink.
Head = tuple[bytes, bytes]

_KIND = {0: 1, 1: 2, 2: 3, 3: 4, 4: 5}  # SDK SpanKind value -> OTLP SpanKind
_HAS_IS_REMOTE = 0x100
_IS_REMOTE = 0x200
_key_cache: dict[str, bytes] = {}
_pair_cache: dict[tuple[str, Any], bytes] = {}
_PAIR_CACHE_SIZE = 4096


_SMALL = [bytes((n,)) for n in range(0x80)]
_U64 = struct.Struct("<Q")
_U32 = struct.Struct("<I")


def _varint(value: int) -> bytes:
    if 0 <= value < 0x80:
        return _SMALL[value]
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
    # Most pairs repeat run after run (operation, agent, model, status...): keep them whole.
    cacheable = (type(value) is str and len(value) <= 64) or type(value) is bool
    if cacheable:
        found = _pair_cache.get((key, value))
        if found is not None:
            return found
    prefix = _key_cache.get(key)
    if prefix is None:
        if len(_key_cache) >= _PAIR_CACHE_SIZE:
            _key_cache.clear()
        prefix = _key_cache[key] = _field(1, key.encode("utf-8"))
    body = prefix + _field(2, _any_value(value))
    encoded = _varint(len(body)) + body
    if cacheable:
        if len(_pair_cache) >= _PAIR_CACHE_SIZE:
            _pair_cache.clear()  # bounded: random values (ids, subjects) must not pile up
        _pair_cache[(key, value)] = encoded
    return encoded


def _attributes(number: int, attributes: Mapping[str, Any] | None) -> bytes:
    if not attributes:
        return b""
    tag = _varint(number << 3 | 2)
    return b"".join(tag + _key_value(k, v) for k, v in attributes.items() if v is not None)


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
) -> bytes:
    """One ``Span`` as the ``spans`` field of a ``ScopeSpans`` (what :func:`request` joins).

    :param trace_id: the 16 bytes of the trace id.
    :param parent_span_id: ``0`` for a root span.
    :param kind: the OTLP ``SpanKind`` (the SDK's value plus one).
    :param events: ``(name, attributes, time_unix_nano)`` of each span event.
    :param status_code: OTLP ``StatusCode`` (0 unset, 1 ok, 2 error).
    """
    out = [b"\x0a\x10" + trace_id, b"\x12\x08" + span_id.to_bytes(8, "big")]
    if parent_span_id:
        out.append(b"\x22\x08" + parent_span_id.to_bytes(8, "big"))
    out.append(_field(5, name.encode("utf-8")))
    out.append(b"\x30" + _varint(kind))
    out.append(b"\x39" + _U64.pack(start_ns) + b"\x41" + _U64.pack(end_ns))
    out.append(_attributes(9, attributes))
    for event_name, event_attributes, stamp in events:
        body = (
            b"\x09"
            + _U64.pack(stamp)
            + _field(2, event_name.encode("utf-8"))
            + _attributes(3, event_attributes)
        )
        out.append(_field(11, body))
    status_body = b""
    if status_message:
        status_body += _field(2, status_message.encode("utf-8"))
    if status_code:
        status_body += b"\x18" + _varint(status_code)
    out.append(_field(15, status_body))
    flags = _HAS_IS_REMOTE | (_IS_REMOTE if parent_span_id and parent_remote else 0)
    out.append(b"\x85\x01" + _U32.pack(flags))
    return _field(2, b"".join(out))


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
