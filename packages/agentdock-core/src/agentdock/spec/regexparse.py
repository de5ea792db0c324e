"""The standard library's private regex parser (``re._parser``), loaded once, and the
parse-tree helpers the checks of :mod:`.regexlint` share: flags, opcode names and a
pattern's shape. tests/unit/test_private_apis.py checks the shape read here."""

from __future__ import annotations

import importlib
import re
import warnings
from collections.abc import Iterable
from typing import Any

#: A counted repeat with at least this many iterations is treated like an unbounded one.
REPEAT_THRESHOLD = 10

_IGNORECASE = re.IGNORECASE.value
_ASCII = re.ASCII.value
_UNICODE = re.UNICODE.value

#: Codepoints outside ASCII that stand for the Unicode parts of ``\d``, ``\w`` and ``\s``
#: (and for "anything else") when two character sets are compared.
_REPRESENTATIVES = (0xA0, 0xAA, 0xBD, 0xE9, 0x3A9, 0x663, 0x2028, 0x20AC, 0x4E00, 0x1D7D8, 0x1F600)


def _load_parser() -> Any:
    for name in ("re._parser", "sre_parse"):
        try:
            return importlib.import_module(name)
        except ImportError:
            continue
    return None


_parser: Any = _load_parser()


def _parse(pattern: str) -> Any:
    if _parser is None:
        raise RuntimeError("no regular expression parser available")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return _parser.parse(pattern)


def _global_flags(tree: Any) -> int:
    return int(tree.state.flags) & ~_UNICODE


def _name(op: object) -> str:
    return str(getattr(op, "name", op))


def _shape(items: Iterable[tuple[Any, Any]], *, keep_groups: bool) -> tuple[object, ...]:
    """A hashable form of a parse tree that ignores set order and which parts are captured.

    With ``keep_groups`` (for patterns that refer back to a group) captures are kept.
    """
    out: list[object] = []
    for op, av in items:
        name = _name(op)
        if name == "SUBPATTERN":
            group, add, delete, body = av
            if keep_groups:
                out.append((name, group, add, delete, _shape(body, keep_groups=True)))
            elif not add and not delete:
                out.extend(_shape(body, keep_groups=keep_groups))
            else:
                out.append((name, add, delete, _shape(body, keep_groups=keep_groups)))
        elif name == "IN":
            out.append((name, tuple(sorted((_name(o), repr(v)) for o, v in av))))
        elif name == "BRANCH":
            out.append((name, tuple(_shape(b, keep_groups=keep_groups) for b in av[1])))
        elif name in ("MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT"):
            out.append((name, int(av[0]), int(av[1]), _shape(av[2], keep_groups=keep_groups)))
        elif name in ("ASSERT", "ASSERT_NOT"):
            out.append((name, av[0], _shape(av[1], keep_groups=keep_groups)))
        elif name == "ATOMIC_GROUP":
            out.append((name, _shape(av, keep_groups=keep_groups)))
        elif name == "GROUPREF_EXISTS":
            no = _shape(av[2], keep_groups=keep_groups) if av[2] is not None else None
            out.append((name, av[0], _shape(av[1], keep_groups=keep_groups), no))
        else:
            out.append((name, repr(av)))
    return tuple(out)
