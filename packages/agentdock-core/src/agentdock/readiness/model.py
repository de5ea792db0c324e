"""The audit's values: levels, findings, per-agent rows and the report.

A report is plain data (frozen dataclasses) so that every output format, the baseline and
``agentdock validate`` read the same thing; :meth:`AuditReport.to_dict` is the ``--json``
document whose schema is ``contracts/audit-report.schema.json``.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "CATEGORIES",
    "REPORT_VERSION",
    "AgentRow",
    "AuditFinding",
    "AuditReport",
    "Dependency",
    "EnvVar",
    "FileProblem",
    "Level",
]

#: The version of the ``--json`` document; it changes only when a field changes meaning.
REPORT_VERSION = 1

#: Readiness checks, in the order of the per-agent matrix (the seed's columns, plus secrets,
#: debug routes, Dockerfiles and agent code). A rule of another category still counts in the
#: totals; it has no column.
CATEGORIES: tuple[str, ...] = (
    "bind",
    "config",
    "paths",
    "health",
    "shutdown",
    "secrets",
    "debug",
    "dockerfile",
    "llm",
)


class Level(enum.StrEnum):
    """How urgent a finding is: ``high`` blocks a deploy, ``medium`` needs work before one,
    ``low`` is worth a look."""

    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"

    @property
    def rank(self) -> int:
        return _RANK[self]

    @classmethod
    def parse(cls, text: str) -> Level:
        """``"HIGH"`` → :attr:`HIGH`; raises ``ValueError`` naming the levels otherwise."""
        try:
            return cls(text.strip().lower())
        except ValueError:
            raise ValueError(
                f"unknown level {text!r}; known: {', '.join(m.value for m in cls)}"
            ) from None


_RANK = {Level.HIGH: 3, Level.MEDIUM: 2, Level.LOW: 1}


@dataclass(frozen=True, slots=True)
class AuditFinding:
    """One problem at one place. ``message`` never holds a secret's value."""

    rule: str
    level: Level
    category: str
    agent: str
    file: str
    line: int
    message: str
    fix: str
    #: Stable across line moves (rule, file and the line's text), the baseline's key.
    fingerprint: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "level": self.level.value,
            "category": self.category,
            "agent": self.agent,
            "file": self.file,
            "line": self.line,
            "message": self.message,
            "fix": self.fix,
            "fingerprint": self.fingerprint,
        }


@dataclass(frozen=True, slots=True)
class FileProblem:
    """A file the audit could not read or parse, or chose to skip, and why."""

    file: str
    reason: str
    line: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"file": self.file, "reason": self.reason, "line": self.line}


@dataclass(frozen=True, slots=True)
class EnvVar:
    """An environment variable the code reads. ``default`` is ``None`` for secrets (the
    value is never reported) and where the code gives none."""

    name: str
    secret: bool
    default: str | None
    places: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "secret": self.secret,
            "default": self.default,
            "places": list(self.places),
        }


@dataclass(frozen=True, slots=True)
class Dependency:
    """A service an agent calls: from a URL or a client constructor found in its code."""

    agent: str
    scheme: str
    host: str
    port: int | None
    file: str
    line: int

    @property
    def target(self) -> str:
        return f"{self.host}:{self.port}" if self.port else self.host

    def to_dict(self) -> dict[str, Any]:
        return {
            "agent": self.agent,
            "scheme": self.scheme,
            "host": self.host,
            "port": self.port,
            "file": self.file,
            "line": self.line,
        }


@dataclass(frozen=True, slots=True)
class AgentRow:
    """One agent's line of the matrix: per category ``ok``, ``warn`` or ``fail``."""

    name: str
    path: str
    files: int
    checks: dict[str, str]
    counts: dict[str, int]

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "path": self.path,
            "files": self.files,
            "checks": dict(self.checks),
            "counts": dict(self.counts),
        }


@dataclass(frozen=True)
class AuditReport:
    """Everything one audit found under ``root``."""

    root: str
    files_scanned: int
    agents: tuple[AgentRow, ...]
    findings: tuple[AuditFinding, ...]
    problems: tuple[FileProblem, ...] = ()
    env: tuple[EnvVar, ...] = ()
    dependencies: tuple[Dependency, ...] = ()
    #: Findings the baseline hid (counted, not listed).
    baselined: int = 0
    rules: tuple[dict[str, str], ...] = field(default=())
    #: The baseline's entries that hid a finding of this run, as the file holds them
    #: (with their reasons): what refreshing the baseline keeps. Not in :meth:`to_dict`.
    accepted: tuple[dict[str, Any], ...] = field(default=())

    def at_or_above(self, level: Level) -> list[AuditFinding]:
        return [f for f in self.findings if f.level.rank >= level.rank]

    def counts_by_level(self) -> dict[str, int]:
        out = {level.value: 0 for level in Level}
        for f in self.findings:
            out[f.level.value] += 1
        return out

    def counts_by_category(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for f in self.findings:
            out[f.category] = out.get(f.category, 0) + 1
        return dict(sorted(out.items()))

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": REPORT_VERSION,
            "root": self.root,
            "files_scanned": self.files_scanned,
            "summary": {
                "agents": len(self.agents),
                "findings": len(self.findings),
                "baselined": self.baselined,
                "by_level": self.counts_by_level(),
                "by_category": self.counts_by_category(),
            },
            "agents": [a.to_dict() for a in self.agents],
            "findings": [f.to_dict() for f in self.findings],
            "problems": [p.to_dict() for p in self.problems],
            "env": [e.to_dict() for e in self.env],
            "dependencies": [d.to_dict() for d in self.dependencies],
            "rules": [dict(r) for r in self.rules],
        }
