"""Deployment-readiness audit of agent code (``agentdock audit``, ``agentdock.audit()``).

The engine reads a project or a tree of agents without importing it, runs the rules that
plugins register through ``agentdock_register_audit_rules`` and returns an
:class:`AuditReport`; :mod:`agentdock.readiness.formats` renders it (text, JSON, SARIF, CSV,
Markdown, ``env.template``, ``dependencies.dot``). The package is named for what it judges,
so that ``agentdock.audit`` stays the function.
"""

from __future__ import annotations

from agentdock.readiness.engine import AuditError, audit, load_rules
from agentdock.readiness.model import (
    CATEGORIES,
    AgentRow,
    AuditFinding,
    AuditReport,
    Dependency,
    EnvVar,
    FileProblem,
    Level,
)
from agentdock.readiness.rule import AuditRule, Hit
from agentdock.readiness.sources import AgentSources, SourceFile

__all__ = [
    "CATEGORIES",
    "AgentRow",
    "AgentSources",
    "AuditError",
    "AuditFinding",
    "AuditReport",
    "AuditRule",
    "Dependency",
    "EnvVar",
    "FileProblem",
    "Hit",
    "Level",
    "SourceFile",
    "audit",
    "load_rules",
]
