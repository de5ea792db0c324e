"""Rewrite every string of a JSON-like value (nested mappings and lists), keys untouched.

Policies see the validated input or output: with an inline ``io_schema`` any mix of dicts,
lists, tuples and scalars, with ``input_class``/``output_class`` a pydantic model instance
(walked field by field, rewritten with ``model_copy``). The rewrite keeps unchanged
containers as the very same objects so that a clean value costs no copies.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any

__all__ = ["iter_strings", "map_strings"]


def map_strings(value: Any, fn: Callable[[str, str], str], path: str = "") -> Any:
    """``value`` with every string ``s`` at ``path`` replaced by ``fn(s, path)``.

    Containers whose strings all come back unchanged (the same object) are returned as is.
    """
    if isinstance(value, str):
        return fn(value, path)
    if isinstance(value, Mapping):
        changed: dict[Any, Any] | None = None
        for key, item in value.items():
            new = map_strings(item, fn, f"{path}.{key}" if path else str(key))
            if new is not item:
                if changed is None:
                    changed = dict(value)
                changed[key] = new
        return value if changed is None else changed
    fields = _model_fields(value)
    if fields is not None:
        update: dict[str, Any] = {}
        for name in fields:
            item = getattr(value, name)
            new = map_strings(item, fn, f"{path}.{name}" if path else name)
            if new is not item:
                update[name] = new
        return value.model_copy(update=update) if update else value
    if isinstance(value, list | tuple):
        out: list[Any] | None = None
        for index, item in enumerate(value):
            new = map_strings(item, fn, f"{path}[{index}]")
            if new is not item:
                if out is None:
                    out = list(value)
                out[index] = new
        if out is None:
            return value
        return tuple(out) if isinstance(value, tuple) else out
    return value


def iter_strings(value: Any, path: str = "") -> Iterator[tuple[str, str]]:
    """Every ``(path, string)`` of ``value``, depth first, in document order."""
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, Mapping):
        for key, item in value.items():
            yield from iter_strings(item, f"{path}.{key}" if path else str(key))
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            yield from iter_strings(item, f"{path}[{index}]")
    else:
        fields = _model_fields(value)
        for name in fields or ():
            yield from iter_strings(getattr(value, name), f"{path}.{name}" if path else name)


def _model_fields(value: Any) -> Any:
    """The field names of a pydantic model instance, or ``None`` for anything else."""
    if isinstance(value, str | int | float | bool) or value is None:
        return None
    fields = getattr(type(value), "model_fields", None)
    if isinstance(fields, Mapping) and callable(getattr(value, "model_copy", None)):
        return fields
    return None
