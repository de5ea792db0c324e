"""The audit inside ``agentdock validate``: each finding on the agent's own code becomes a
warning (an error under ``--strict``) with a 42xx code per category, the rule id in its
path (``audit.loopback-bind``) and the fix as its hint."""

from __future__ import annotations

from pathlib import Path

from agentdock.findings import Code, Finding, Severity
from agentdock.readiness import AuditError, AuditFinding, audit
from agentdock.readiness.sources import DOCKFILE_NAMES

__all__ = ["CATEGORY_CODES", "audit_findings", "to_finding"]

CATEGORY_CODES: dict[str, Code] = {
    "bind": Code.AuditBindWarning,
    "config": Code.AuditConfigWarning,
    "paths": Code.AuditPathWarning,
    "health": Code.AuditHealthWarning,
    "shutdown": Code.AuditShutdownWarning,
    "secrets": Code.AuditSecretWarning,
    "debug": Code.AuditDebugWarning,
    "dockerfile": Code.AuditDockerfileWarning,
    "llm": Code.AuditAgentCodeWarning,
}


def to_finding(finding: AuditFinding, project_dir: Path) -> Finding:
    return Finding(
        CATEGORY_CODES.get(finding.category, Code.AuditWarning),
        ("audit", finding.rule),
        f"[{finding.level.value}] {finding.message}",
        severity=Severity.WARNING,
        hint=finding.fix,
        file=str(project_dir / finding.file),
        line=finding.line,
    )


def audit_findings(project_dir: Path) -> list[Finding]:
    """The audit of ``project_dir`` as validation warnings: none where the directory holds
    no Dockfile (a document validated as a mapping has no code of its own) or the audit
    cannot run."""
    if not any((project_dir / name).is_file() for name in DOCKFILE_NAMES):
        return []
    try:
        report = audit(project_dir)
    except AuditError:
        return []
    return [to_finding(f, project_dir) for f in report.findings]
