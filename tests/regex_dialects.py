"""Where Python's ``re`` and ECMA-262 (the JSON Schema regex dialect) read text differently."""

from __future__ import annotations

from typing import Any

#: Characters that Python's ``\s`` and ECMA-262's ``\s`` disagree on.
DIALECT_SPACES = frozenset("\x1c\x1d\x1e\x1f\x85\ufeff")


def strings(node: Any) -> list[str]:
    """Every key and string value of a JSON-like document."""
    if isinstance(node, str):
        return [node]
    if isinstance(node, dict):
        return [*node, *(s for v in node.values() for s in strings(v))]
    if isinstance(node, list):
        return [s for v in node for s in strings(v)]
    return []


def dialect_sensitive(document: Any) -> bool:
    """Python's ``re`` and ECMA-262 could disagree on some string of ``document``.

    Python's ``$`` also matches before a final newline, and the two ``\\s`` differ on
    :data:`DIALECT_SPACES`.
    """
    return any(s.endswith("\n") or DIALECT_SPACES & set(s) for s in strings(document))
