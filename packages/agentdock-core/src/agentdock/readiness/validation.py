"""The audit inside ``agentdock validate``: each finding on the agent's own code becomes a
warning (an error under ``--strict``) with a 42xx code per category, the rule id in its
path (``audit.loopback-bind``) and the fix as its hint. Validation calls it for a Dockfile
read from a file (a mapping has no directory of its own), without building the spec."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from agentdock.findings import Code, Finding, Severity
from agentdock.readiness.engine import AuditError, audit
from agentdock.readiness.model import AuditFinding

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
        # The file is named in the message too: validate's JSON findings carry a line only.
        f"{finding.file}: {finding.message} ({finding.level.value})",
        severity=Severity.WARNING,
        hint=finding.fix,
        file=str(project_dir / finding.file),
        line=finding.line,
    )


def audit_findings(project_dir: Path, plugins: Any) -> list[Finding]:
    """The audit of the Dockfile's directory as validation warnings; none where no plugin
    registers audit rules or the audit cannot run."""
    if not plugins.registrations("audit_rules"):
        return []
    try:
        report = audit(project_dir, plugins=plugins)
    except AuditError:
        return []
    return [to_finding(f, project_dir) for f in report.findings]
