"""The Dockfile reference table, rendered from the JSON Schema itself.

The README embeds this table between markers and a test renders it again, so the
documentation cannot drift from the schema.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from agentdock.spec.schema import load_schema

__all__ = ["reference_rows", "render_reference"]

_CONSTRAINTS: tuple[tuple[str, Callable[[Any], str]], ...] = (
    ("enum", lambda v: "one of " + ", ".join(f"`{x}`" for x in v)),
    ("const", lambda v: f"`{v}`"),
    ("pattern", lambda v: f"matches `{v}`"),
    ("minimum", lambda v: f"≥ {v}"),
    ("maximum", lambda v: f"≤ {v}"),
    ("minLength", lambda v: f"length ≥ {v}"),
    ("minItems", lambda v: f"≥ {v} items"),
    ("uniqueItems", lambda v: "unique items" if v else ""),
)


def _resolve(node: Mapping[str, Any], root: Mapping[str, Any]) -> Mapping[str, Any]:
    ref = node.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/$defs/"):
        merged = dict(root["$defs"][ref.removeprefix("#/$defs/")])
        merged.update({k: v for k, v in node.items() if k != "$ref"})
        return merged
    return node


def _type_of(node: Mapping[str, Any]) -> str:
    kind = node.get("type")
    if kind == "array":
        items = node.get("items")
        inner = items.get("type") if isinstance(items, Mapping) else None
        return f"array of {inner}" if inner else "array"
    if isinstance(kind, str):
        return kind
    if "const" in node:
        return type(node["const"]).__name__.replace("str", "string")
    return "any"


def _constraints(node: Mapping[str, Any]) -> str:
    parts = [render(node[key]) for key, render in _CONSTRAINTS if key in node]
    items = node.get("items")
    if isinstance(items, Mapping):
        parts.extend(f"items {render(items[key])}" for key, render in _CONSTRAINTS if key in items)
    return "; ".join(p for p in parts if p)


def reference_rows(
    version: str = "1.1", schema: Mapping[str, Any] | None = None
) -> Iterator[tuple[str, str, bool, str, str, str]]:
    """``(key, type, required, default, constraints, description)`` for every documented key
    of ``schema`` (default: the Dockfile schema of ``version``)."""
    root = schema if schema is not None else load_schema(version)
    yield from _walk(root, root, "")


def _walk(
    node: Mapping[str, Any], root: Mapping[str, Any], prefix: str
) -> Iterator[tuple[str, str, bool, str, str, str]]:
    required = set(node.get("required", ()))
    for key, child in node.get("properties", {}).items():
        if not isinstance(child, Mapping):
            continue
        child = _resolve(child, root)
        path = f"{prefix}.{key}" if prefix else key
        default = child.get("default")
        yield (
            path,
            _type_of(child),
            key in required,
            "" if default is None else f"`{json.dumps(default)}`",
            _constraints(child),
            str(child.get("description", "")),
        )
        if prefix.startswith("io_schema"):
            continue  # inline JSON Schema objects are documented as a whole
        yield from _walk(child, root, path)
        items = child.get("items")
        if isinstance(items, Mapping) and "properties" in items:
            yield from _walk(_resolve(items, root), root, f"{path}[]")
        extra = child.get("additionalProperties")
        if isinstance(extra, Mapping) and extra.get("type"):
            yield (
                f"{path}.<name>",
                _type_of(extra),
                False,
                "",
                _constraints(extra),
                "One entry per name.",
            )


def render_reference(version: str = "1.1", schema: Mapping[str, Any] | None = None) -> str:
    """The reference as a Markdown table (of ``schema`` when given, else of ``version``'s)."""
    lines = [
        "| key | type | required | default | constraints | description |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for key, kind, required, default, constraints, description in reference_rows(version, schema):
        cells = [f"`{key}`", kind, "yes" if required else "", default, constraints, description]
        lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    return "\n".join(lines) + "\n"
