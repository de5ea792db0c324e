"""JSON as the I/O schemas see it: one decoder that refuses integers wider than 64 bits,
JSON Schema's types and equality (``1 == 1.0``, ``true`` is not a number) and ECMA-262
patterns; shared by both passes of :mod:`.iomodels`."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import msgspec

from agentdock_runtime.errors import (
    MalformedJSONError,
)

#: One failing field: where (dotted path, ``""`` for the whole body) and what is wrong.
FieldError = dict[str, str]
PathT = tuple[str | int, ...]

ANNOTATIONS = frozenset({"description", "title", "default", "examples"})
JSON_TYPES = ("string", "integer", "number", "boolean", "null", "array", "object")


class Invalid(Exception):
    def __init__(self, errors: list[FieldError]) -> None:
        super().__init__(errors)
        self.errors = errors


# -- JSON ---------------------------------------------------------------------------------------

_json_decoder = msgspec.json.Decoder()

#: Integers an agent's state can hold: checkpointers (msgpack), SQLite, Postgres and the
#: telemetry encoders store at most 64 bits, so a wider one fails the run later, as a 500.
_INT_MIN, _INT_MAX = -(2**63), 2**64 - 1
#: Only a run of 19 digits or more can be outside that range: a scan of the body decides
#: whether the decoded value needs walking at all. For bytes, two C-level passes: every
#: digit made ``0`` and every other byte a space, then a substring search for 19 ``0``
#: (some 1 ns a byte, where the regular expression ``[0-9]{19}`` takes 13 to 18: it tries
#: a match at every position).
_DIGITS_AS_ZEROS = bytes(0x30 if 0x30 <= byte <= 0x39 else 0x20 for byte in range(256))
_NINETEEN_ZEROS = b"0" * 19
_LONG_DIGITS_TEXT = re.compile(r"[0-9]{19}")


def _long_digits(raw: bytes | bytearray | memoryview | str) -> bool:
    """Whether ``raw`` holds a run of 19 digits (a string of them included)."""
    if isinstance(raw, str):
        return _LONG_DIGITS_TEXT.search(raw) is not None
    if isinstance(raw, memoryview):
        raw = raw.tobytes()
    return _NINETEEN_ZEROS in raw.translate(_DIGITS_AS_ZEROS)


def _wide_integer(value: Any, path: str) -> str | None:
    """The path of the first integer outside the 64-bit range in ``value``, if any."""
    if type(value) is int:
        return path if not _INT_MIN <= value <= _INT_MAX else None
    if type(value) is dict:
        for key, item in value.items():
            found = _wide_integer(item, f"{path}.{key}" if path else str(key))
            if found is not None:
                return found
    elif type(value) is list:
        for index, item in enumerate(value):
            found = _wide_integer(item, f"{path}[{index}]")
            if found is not None:
                return found
    return None


def wide_integer_error(value: Any) -> MalformedJSONError | None:
    """The refusal of an integer wider than 64 bits in the decoded ``value`` (naming its
    path), if it holds one."""
    where = _wide_integer(value, "")
    if where is None:
        return None
    return MalformedJSONError(
        f"the request body holds an integer outside the 64-bit range ({_INT_MIN} to {_INT_MAX})",
        path=where or None,
    )


def check_integers(raw: bytes | bytearray) -> None:
    """:class:`MalformedJSONError` naming the path of an integer wider than 64 bits in the
    JSON document ``raw`` (or, not JSON at all, as :func:`decode_json` tells it), for a body
    a decoder of its own reads, which takes an integer of any width. A body with no run of
    19 digits costs the scan alone (some 0.35 µs for 100 bytes)."""
    if _long_digits(raw):
        decode_json(raw)


#: The deepest a request body's arrays and objects may nest. The checkpointers' msgpack
#: encoder stops at 255 levels (a thread's run failed as a 500 past about 250) and the PII
#: policy's walk at some 500; no agent's input nests anywhere near this.
MAX_DEPTH = 128


def too_deep(raw: bytes | bytearray | memoryview | str, value: Any) -> MalformedJSONError | None:
    """The refusal of ``value`` (the JSON document ``raw`` decoded, by a typed decoder or
    not) when its arrays and objects nest more than :data:`MAX_DEPTH` levels. A body with
    no more brackets than that costs two counts in C; only one with more is walked."""
    if isinstance(raw, memoryview):
        raw = raw.tobytes()
    if isinstance(raw, str):
        brackets = raw.count("[") + raw.count("{")
    else:
        brackets = raw.count(b"[") + raw.count(b"{")
    if brackets <= MAX_DEPTH:
        return None
    if not isinstance(value, dict | list):  # a typed decoder's: walk the document itself
        try:
            value = _json_decoder.decode(raw)
        except RecursionError:
            return MalformedJSONError("the request body is nested too deeply")
    level = [value] if isinstance(value, dict | list) else []
    for _ in range(MAX_DEPTH):
        level = [
            child
            for item in level
            for child in (item.values() if isinstance(item, dict) else item)
            if isinstance(child, dict | list)
        ]
        if not level:
            return None
    return MalformedJSONError(f"the request body is nested more than {MAX_DEPTH} levels deep")


def decode_json(raw: bytes | bytearray | memoryview | str) -> Any:
    """One JSON document, or :class:`MalformedJSONError` (empty, truncated, bad UTF-8 or
    escapes such as lone surrogates, nested more than :data:`MAX_DEPTH` levels, an integer
    wider than 64 bits)."""
    try:
        value = _json_decoder.decode(raw)
        if _long_digits(raw):
            wide = wide_integer_error(value)
            if wide is not None:
                raise wide
        deep = too_deep(raw, value)
        if deep is not None:
            raise deep
        return value
    except msgspec.DecodeError as exc:
        if not (raw.strip() if isinstance(raw, bytes | str) else bytes(raw).strip()):
            raise MalformedJSONError("the request body is empty") from None
        raise MalformedJSONError(f"the request body is not valid JSON: {exc}") from None
    except UnicodeDecodeError:
        raise MalformedJSONError("the request body is not valid UTF-8") from None
    except RecursionError:
        raise MalformedJSONError("the request body is nested too deeply") from None


def json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list | tuple):
        return "array"
    if isinstance(value, Mapping):
        return "object"
    return type(value).__name__


def json_equal(a: Any, b: Any) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if isinstance(a, int | float) and isinstance(b, int | float):
        return a == b
    if isinstance(a, list | tuple) and isinstance(b, list | tuple):
        return len(a) == len(b) and all(json_equal(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, Mapping) and isinstance(b, Mapping):
        return a.keys() == b.keys() and all(json_equal(a[k], b[k]) for k in a)
    return type(a) is type(b) and a == b


def ecma(pattern: str) -> str:
    from agentdock.spec.models import ecma_to_python

    return ecma_to_python(pattern)
