"""A span's per-run attributes (:func:`~agentdock_plugins.otel.wire.run_attributes`) decode
with the official protobuf classes to what was given, whichever of its paths wrote them (a
short string or a count of one or two varint bytes in one concatenation, anything else
field by field), and are the bytes the general encoder writes."""

from __future__ import annotations

from typing import Any

from agentdock_plugins.otel import wire
from hypothesis import given, settings
from hypothesis import strategies as st
from opentelemetry.proto.trace.v1.trace_pb2 import Span

_values = st.one_of(
    st.none(),
    st.text(max_size=140),  # across the one-byte length bound of a short string
    st.text(alphabet="é€😀", max_size=50),  # multi-byte UTF-8
    st.integers(-5, 0x4005),  # across the one- and two-byte varints
    st.integers(-(2**63), 2**63 - 1),
    st.booleans(),
    st.floats(allow_nan=False),
    st.lists(st.text(max_size=5), max_size=3),
)
_keys = st.one_of(st.text(min_size=1, max_size=12), st.text(min_size=100, max_size=130))


def _decoded(value: Any) -> Any:
    which = value.WhichOneof("value")
    if which == "array_value":
        return [_decoded(item) for item in value.array_value.values]
    return getattr(value, which)


@settings(max_examples=300, deadline=None)
@given(attributes=st.dictionaries(_keys, _values, max_size=6))
def test_run_attributes_round_trip_and_match_the_general_encoder(
    attributes: dict[str, Any],
) -> None:
    encoded = wire.run_attributes(attributes)
    span = Span.FromString(encoded)  # the attributes field of a Span, repeated
    kept = {key: value for key, value in attributes.items() if value is not None}
    assert {pair.key: _decoded(pair.value) for pair in span.attributes} == kept
    general = b"".join(wire._TAGS[9] + wire._key_value(key, value) for key, value in kept.items())
    assert encoded == general
