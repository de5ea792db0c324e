"""A pipeline's targets get the same span bytes behind the same head: the request body is
compressed once for them (``wire.gzip_request``), and is what each would have sent."""

from __future__ import annotations

import gzip

import pytest
from agentdock_plugins.otel import wire
from agentdock_plugins.otel.wire import encode_head, gzip_request, request, span_bytes


def _span(number: int) -> bytes:
    return span_bytes(
        bytes(range(16)),
        number,
        0,
        parent_remote=False,
        name=f"node n{number}",
        kind=1,
        start_ns=1,
        end_ns=2,
        attributes={"agentdock.node.name": f"n{number}"},
    )


def test_the_same_request_is_compressed_once(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[int] = []
    real = gzip.compress

    def compress(data: bytes, compresslevel: int = 9) -> bytes:
        calls.append(compresslevel)
        return real(data, compresslevel=compresslevel)

    monkeypatch.setattr(wire.gzip, "compress", compress)
    head = encode_head({"service.name": "probe"}, "agentdock")
    spans = [_span(n) for n in range(1, 4)]
    first = gzip_request(head, spans)
    second = gzip_request(head, list(spans))  # the other target's batch: same span objects
    assert first == second and calls == [wire.GZIP_LEVEL]
    raw = request(head, spans)
    assert gzip.decompress(first[0]) == raw and first[1] == len(raw)
    # Taken twice, it is gone: a third request of the same spans is compressed anew.
    gzip_request(head, spans)
    assert len(calls) == 2
    # Another head (another pipeline) or other spans: compressed for their own request.
    other_head = encode_head({"service.name": "other"}, "agentdock")
    body, _ = gzip_request(other_head, spans)
    assert gzip.decompress(body) == request(other_head, spans)
    body, _ = gzip_request(head, spans[:2])
    assert gzip.decompress(body) == request(head, spans[:2])
    assert len(calls) == 4
