"""What an audit rule is: the protocol plugins implement and the hits they return.

A rule is registered through ``agentdock_register_audit_rules`` under its id and built once
per audit (``factory()``). It checks one file at a time (:meth:`AuditRule.check`, for the
file kinds it names), and may also look at a whole agent (``check_agent``) or at every
agent of the tree together (``check_tree``), for what no single file shows (a health path
that differs from the others', a shutdown handler that lives in another module).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from agentdock.readiness.model import Level
from agentdock.readiness.sources import SourceFile

__all__ = ["AuditRule", "Hit"]


@dataclass(frozen=True, slots=True)
class Hit:
    """One place a rule fires. ``message`` is one line and never quotes a secret;
    ``level`` overrides the rule's own for this hit; ``file`` is set by agent- and
    tree-level checks (a file check's hits are in the file it was given)."""

    line: int
    message: str
    level: Level | None = None
    file: SourceFile | None = None


@runtime_checkable
class AuditRule(Protocol):
    """A deployment-readiness check. Example::

        class NoPrint:
            \"\"\"``print`` goes nowhere useful in a container: log instead.\"\"\"

            id = "no-print"
            level = Level.LOW
            category = "llm"
            kinds = frozenset({"python"})
            fix = "use logging"

            def check(self, source):
                for call in source.nodes(ast.Call):
                    if isinstance(call.func, ast.Name) and call.func.id == "print":
                        yield Hit(call.lineno, "print() in agent code")

    The rule's docstring is its description in ``agentdock audit --json`` and SARIF.
    """

    #: Stable id, kebab-case: ``loopback-bind``. The baseline and ``--rules`` use it.
    id: str
    level: Level
    #: One of :data:`agentdock.readiness.model.CATEGORIES` (or a category of the rule's own).
    category: str
    #: The file kinds :meth:`check` is called for (:func:`~agentdock.readiness.sources.file_kind`).
    kinds: frozenset[str]
    #: One line: what to change.
    fix: str

    def check(self, source: SourceFile) -> Iterable[Hit]: ...
