"""Rewrite every string of a value the way it will be encoded: keys, text, bytes, numbers.

Policies see the validated input or output: with an inline ``io_schema`` any mix of dicts,
lists, tuples and scalars, with ``input_class``/``output_class`` a pydantic model instance
(walked field by field, extra fields included, rewritten with ``model_copy``); agents'
stream updates may also hold sets, dataclasses and bytes. Everything the JSON encoder would
send is walked, so nothing it sends escapes a policy:

* mapping keys (a redacted key is renamed; the paths of what is under it use the new name,
  so a path never echoes a secret);
* ``bytes`` (as UTF-8 text, sent back as bytes);
* integers of seven digits or more, as their decimal text (a card or account number given
  as a number); a rewritten number becomes the rewritten text;
* set members and dataclass fields.

Unchanged containers are returned as the very same objects, so a clean value costs no
copies.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator, Mapping
from typing import Any

__all__ = ["iter_strings", "map_strings"]

#: Integers at least this large are also seen as text (shorter ones are counts and ids).
_LONG_NUMBER = 10**6

_Fn = Callable[[str, str], str]


def map_strings(value: Any, fn: _Fn, path: str = "", *, text_only: bool = False) -> Any:
    """``value`` with every string ``s`` at ``path`` replaced by ``fn(s, path)``.

    Containers whose strings all come back unchanged (the same object) are returned as is.
    With ``text_only`` only string values are rewritten (no keys, numbers or bytes): for
    rewrites that are about length, not content.
    """
    if isinstance(value, str):
        return fn(value, path)
    if text_only:
        return _map_text(value, fn, path)
    if isinstance(value, Mapping):
        return _map_mapping(value, fn, path)
    if isinstance(value, list | tuple):
        return _map_sequence(value, fn, path, False)
    if isinstance(value, bool) or value is None or isinstance(value, float):
        return value
    if isinstance(value, int):
        if abs(value) < _LONG_NUMBER:
            return value
        text = str(value)
        new_text = fn(text, path)
        return value if new_text == text else new_text
    if isinstance(value, bytes | bytearray):
        text = bytes(value).decode("utf-8", "surrogateescape")
        new_text = fn(text, path)
        return value if new_text is text else new_text.encode("utf-8", "surrogateescape")
    if isinstance(value, set | frozenset):
        items = [(item, map_strings(item, fn, f"{path}[]")) for item in value]
        if all(new is item for item, new in items):
            return value
        return type(value)(new for _, new in items)
    return _map_object(value, fn, path)


def _map_text(value: Any, fn: _Fn, path: str) -> Any:
    """:func:`map_strings` over string values only."""
    if isinstance(value, Mapping):
        changed: dict[Any, Any] | None = None
        for key, item in value.items():
            new = map_strings(item, fn, f"{path}.{key}" if path else str(key), text_only=True)
            if new is not item:
                if changed is None:
                    changed = dict(value)
                changed[key] = new
        return value if changed is None else changed
    if isinstance(value, list | tuple):
        return _map_sequence(value, fn, path, True)
    fields = _model_fields(value)
    if fields is not None:
        update = {
            name: new
            for name in fields
            if (new := map_strings(getattr(value, name), fn, f"{path}.{name}", text_only=True))
            is not getattr(value, name)
        }
        return value.model_copy(update=update) if update else value
    return value


def _map_sequence(value: list[Any] | tuple[Any, ...], fn: _Fn, path: str, text_only: bool) -> Any:
    """:func:`map_strings` over a list or tuple: the same object when nothing changed."""
    out: list[Any] | None = None
    for index, item in enumerate(value):
        new = map_strings(item, fn, f"{path}[{index}]", text_only=text_only)
        if new is not item:
            if out is None:
                out = list(value)
            out[index] = new
    if out is None:
        return value
    return tuple(out) if isinstance(value, tuple) else out


def _map_mapping(value: Mapping[Any, Any], fn: _Fn, path: str) -> Any:
    changed: dict[Any, Any] | None = None
    for index, (key, item) in enumerate(value.items()):
        new_key = fn(key, f"{path}<key {index}>") if isinstance(key, str) else key
        name = new_key if isinstance(new_key, str) else str(new_key)
        new = map_strings(item, fn, f"{path}.{name}" if path else name)
        if new is not item or new_key is not key:
            if changed is None:
                changed = dict(value)
            if new_key is not key:
                changed.pop(key, None)
                while new_key in changed:  # two keys redacted alike stay two keys
                    new_key = f"{new_key}#{index}"
            changed[new_key] = new
    return value if changed is None else changed


def _map_object(value: Any, fn: _Fn, path: str) -> Any:
    """A pydantic model (fields and extras) or a dataclass, rewritten; else ``value``."""
    fields = _model_fields(value)
    if fields is not None:
        update: dict[str, Any] = {}
        extra = getattr(value, "__pydantic_extra__", None) or {}
        for name in (*fields, *extra):
            item = getattr(value, name)
            new = map_strings(item, fn, f"{path}.{name}" if path else name)
            if new is not item:
                update[name] = new
        return value.model_copy(update=update) if update else value
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        changes: dict[str, Any] = {}
        for field in dataclasses.fields(value):
            item = getattr(value, field.name)
            new = map_strings(item, fn, f"{path}.{field.name}" if path else field.name)
            if new is not item:
                changes[field.name] = new
        return dataclasses.replace(value, **changes) if changes else value
    return value


def iter_strings(value: Any, path: str = "") -> Iterator[tuple[str, str]]:
    """Every ``(path, string)`` of ``value`` that :func:`map_strings` would see, depth first."""
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, Mapping):
        for index, (key, item) in enumerate(value.items()):
            if isinstance(key, str):
                yield f"{path}<key {index}>", key
            name = str(key)
            yield from iter_strings(item, f"{path}.{name}" if path else name)
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            yield from iter_strings(item, f"{path}[{index}]")
    elif isinstance(value, bool) or value is None or isinstance(value, float):
        return
    elif isinstance(value, int):
        if abs(value) >= _LONG_NUMBER:
            yield path, str(value)
    elif isinstance(value, bytes | bytearray):
        yield path, bytes(value).decode("utf-8", "surrogateescape")
    elif isinstance(value, set | frozenset):
        for item in value:
            yield from iter_strings(item, f"{path}[]")
    else:
        fields = _model_fields(value)
        if fields is not None:
            extra = getattr(value, "__pydantic_extra__", None) or {}
            for name in (*fields, *extra):
                yield from iter_strings(getattr(value, name), f"{path}.{name}" if path else name)
        elif dataclasses.is_dataclass(value) and not isinstance(value, type):
            for field in dataclasses.fields(value):
                yield from iter_strings(
                    getattr(value, field.name), f"{path}.{field.name}" if path else field.name
                )


def _model_fields(value: Any) -> Any:
    """The field names of a pydantic model instance, or ``None`` for anything else."""
    fields = getattr(type(value), "model_fields", None)
    if isinstance(fields, Mapping) and callable(getattr(value, "model_copy", None)):
        return fields
    return None
