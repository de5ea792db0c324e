"""Renderings of an :class:`AuditReport`: text, Markdown, CSV, SARIF 2.1.0, ``env.template``
and a Graphviz ``dependencies.dot``. JSON is :meth:`AuditReport.to_dict`.

Every rendering is a pure function of the report, so that the CLI, the Python API and the
tests' expected files agree; none prints a secret (the report holds none).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable
from urllib.parse import quote

from agentdock.readiness.model import CATEGORIES, AuditFinding, AuditReport, Level

__all__ = [
    "FORMATS",
    "render",
    "to_csv",
    "to_dot",
    "to_env_template",
    "to_markdown",
    "to_sarif",
    "to_text",
]

FORMATS = ("text", "json", "sarif", "csv", "markdown")
_MARK = {"ok": "✅", "warn": "⚠", "fail": "❌"}
_PRIORITY = {Level.HIGH: "🔴 High", Level.MEDIUM: "🟠 Medium", Level.LOW: "🟡 Low"}
_SARIF_LEVEL = {Level.HIGH: "error", Level.MEDIUM: "warning", Level.LOW: "note"}
_SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
#: The matrix's column titles, after the seed's checklist.
COLUMN_TITLES = {
    "bind": "Bind 0.0.0.0",
    "config": "Env Config",
    "paths": "Volumes/Paths",
    "health": "Health Endpoint",
    "shutdown": "Graceful Shutdown",
    "secrets": "Secrets",
    "debug": "Debug Gated",
    "dockerfile": "Dockerfile",
    "llm": "Agent Code",
}


def render(report: AuditReport, fmt: str) -> str:
    """``report`` in one of :data:`FORMATS`."""
    if fmt == "json":
        return json.dumps(report.to_dict(), indent=2, ensure_ascii=False) + "\n"
    if fmt == "sarif":
        return json.dumps(to_sarif(report), indent=2, ensure_ascii=False) + "\n"
    if fmt == "csv":
        return to_csv(report)
    if fmt == "markdown":
        return to_markdown(report)
    if fmt == "text":
        return to_text(report)
    raise ValueError(f"unknown format {fmt!r}; known: {', '.join(FORMATS)}")


def _summary_lines(report: AuditReport) -> list[str]:
    levels = report.counts_by_level()
    lines = [
        f"{len(report.agents)} agent(s), {report.files_scanned} file(s) read, "
        f"{len(report.findings)} finding(s): {levels['high']} high, {levels['medium']} medium, "
        f"{levels['low']} low"
        + (f"; {report.baselined} accepted by the baseline" if report.baselined else "")
    ]
    for category, count in report.counts_by_category().items():
        agents = len({f.agent for f in report.findings if f.category == category})
        lines.append(f"  {category:<11} {count:>5} finding(s) in {agents} agent(s)")
    worst = _worst(report)
    if worst:
        lines.append("worst agents: " + ", ".join(f"{name} ({score})" for name, score in worst))
    return lines


def _worst(report: AuditReport, limit: int = 5) -> list[tuple[str, str]]:
    scored = [
        (row.counts["high"], row.counts["medium"], row.counts["low"], row.name)
        for row in report.agents
        if any(row.counts.values())
    ]
    scored.sort(key=lambda s: (-s[0], -s[1], -s[2], s[3]))
    return [(name, f"{h} high, {m} medium, {lo} low") for h, m, lo, name in scored[:limit]]


def _by_level(findings: Iterable[AuditFinding]) -> dict[Level, list[AuditFinding]]:
    out: dict[Level, list[AuditFinding]] = {level: [] for level in Level}
    for f in findings:
        out[f.level].append(f)
    return out


def to_text(report: AuditReport) -> str:
    """The executive summary, then findings by priority: ``file:line rule cause`` and a fix."""
    lines = ["Deployment readiness audit of " + report.root, *_summary_lines(report)]
    for level, findings in _by_level(report.findings).items():
        if not findings:
            continue
        lines.append("")
        lines.append(f"{level.value.upper()} ({len(findings)})")
        for f in findings:
            lines.append(f"  {f.file}:{f.line}  {f.rule}  {f.message}")
            lines.append(f"      fix: {f.fix}")
    if report.problems:
        lines.append("")
        lines.append(f"NOT AUDITED ({len(report.problems)})")
        for p in report.problems:
            where = f"{p.file}:{p.line}" if p.line else p.file
            lines.append(f"  {where}  {p.reason}")
    return "\n".join(lines) + "\n"


def to_csv(report: AuditReport) -> str:
    """The per-agent matrix: one row per agent, a column per readiness check (✅/⚠/❌),
    then the counts."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["agent", "path", *CATEGORIES, "high", "medium", "low"])
    for row in report.agents:
        writer.writerow(
            [
                row.name,
                row.path,
                *(_MARK[row.checks[c]] for c in CATEGORIES),
                row.counts["high"],
                row.counts["medium"],
                row.counts["low"],
            ]
        )
    return out.getvalue()


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def to_markdown(report: AuditReport) -> str:
    """The report laid out as a readiness audit: summary, checklist, priorities, findings,
    environment, topology."""
    lines = ["# Deployment Readiness Audit", "", "## Executive Summary", ""]
    lines += [line.strip() + "  " for line in _summary_lines(report)]
    lines += ["", "## Docker-Ready Checklist (per agent)", ""]
    titles = [COLUMN_TITLES.get(c, c) for c in CATEGORIES]
    lines.append("| Agent | " + " | ".join(titles) + " |")
    lines.append("|" + "---|" * (len(titles) + 1))
    for row in report.agents:
        cells = [_MARK[row.checks[c]] for c in CATEGORIES]
        lines.append(f"| {_cell(row.name)} | " + " | ".join(cells) + " |")
    lines += ["", "Legend: ✅ compliant; ⚠ needs review; ❌ deployment blocker.", ""]
    lines += ["## Critical Issues – Priority Ranking", ""]
    lines += [
        "| Priority | Rule | Category | Findings | Affected Agents |",
        "|---|---|---|---|---|",
    ]
    groups: dict[tuple[Level, str, str], list[AuditFinding]] = {}
    for f in report.findings:
        groups.setdefault((f.level, f.rule, f.category), []).append(f)
    for (level, rule, category), found in sorted(
        groups.items(), key=lambda kv: (-kv[0][0].rank, -len(kv[1]), kv[0][1])
    ):
        agents = len({f.agent for f in found})
        lines.append(f"| {_PRIORITY[level]} | `{rule}` | {category} | {len(found)} | {agents} |")
    lines += ["", "## Findings", ""]
    for f in report.findings:
        lines.append(
            f"- **{f.level.value}** `{f.rule}` `{_cell(f.file)}:{f.line}`: {_cell(f.message)}"
            f" — fix: {_cell(f.fix)}"
        )
    if report.env:
        lines += ["", "## Environment Configuration", "", "```", to_env_template(report), "```"]
    if report.dependencies:
        lines += ["", "## Container Network Topology", "", "```"]
        for dep in report.dependencies:
            lines.append(f"{dep.agent} ─> {dep.target} ({dep.scheme}, {dep.file}:{dep.line})")
        lines.append("```")
    if report.problems:
        lines += ["", "## Not audited", ""]
        lines += [f"- `{_cell(p.file)}`: {_cell(p.reason)}" for p in report.problems]
    return "\n".join(lines).rstrip() + "\n"


def to_env_template(report: AuditReport) -> str:
    """Every variable the code reads, with where and its default; secrets left empty."""
    lines = [
        "# Environment variables read by the audited code (agentdock audit).",
        "# A value here is the default found in the code; secrets are left empty.",
    ]
    for var in report.env:
        lines.append("")
        where = ", ".join(var.places[:5]) + (" …" if len(var.places) > 5 else "")
        lines.append(f"# read at {where}")
        if var.secret:
            lines.append("# secret: set it from a secret store, never commit a value")
        value = "" if var.secret or var.default is None else var.default
        lines.append(f"{var.name}={_env_value(value)}")
    return "\n".join(lines) + "\n"


def _env_value(value: str) -> str:
    if value == "" or all(ch.isalnum() or ch in "-_./:@*+,=" for ch in value):
        return value
    return json.dumps(value, ensure_ascii=False)


def _dot_id(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)


def to_dot(report: AuditReport) -> str:
    """Which agent calls which host, port or service, as a Graphviz digraph. A host named
    like another agent (``service_registry`` for ``agents/service-registry``) points at it."""
    lines = ["digraph dependencies {", "  rankdir=LR;", "  node [shape=box];"]
    agents = {row.name for row in report.agents}
    by_short = {_short(name): name for name in agents}
    for name in sorted(agents):
        lines.append(f"  {_dot_id(name)} [style=filled, fillcolor=lightblue];")
    services: set[str] = set()
    edges: set[tuple[str, str, str]] = set()
    for dep in report.dependencies:
        target = by_short.get(_short(dep.host), dep.target)
        if target not in agents:
            services.add(target)
        edges.add((dep.agent, target, dep.scheme))
    for service in sorted(services):
        lines.append(f"  {_dot_id(service)} [shape=ellipse];")
    for source, target, scheme in sorted(edges):
        lines.append(f"  {_dot_id(source)} -> {_dot_id(target)} [label={_dot_id(scheme)}];")
    lines.append("}")
    return "\n".join(lines) + "\n"


def _short(name: str) -> str:
    return name.rsplit("/", 1)[-1].replace("-", "_").lower()


def _uri(path: str) -> str:
    """A relative path as a URI reference (spaces and the like percent-encoded)."""
    return quote(path, safe="/")


def to_sarif(report: AuditReport) -> dict[str, object]:
    """SARIF 2.1.0, one run, one rule per registered rule, as GitHub code scanning reads it."""
    rules = [
        {
            "id": r["id"],
            "name": r["id"],
            "shortDescription": {"text": r["description"] or r["id"]},
            # The rules are documented in docs/audit.md, one heading per id.
            "help": {"text": r["fix"], "markdown": f"{r['fix']} (docs/audit.md, `{r['id']}`)"},
            "defaultConfiguration": {"level": _SARIF_LEVEL[Level(r["level"])]},
            "properties": {"category": r["category"], "level": r["level"]},
        }
        for r in report.rules
    ]
    index = {r["id"]: i for i, r in enumerate(report.rules)}
    results = []
    for f in report.findings:
        result: dict[str, object] = {
            "ruleId": f.rule,
            "level": _SARIF_LEVEL[f.level],
            "message": {"text": f"{f.message}. Fix: {f.fix}"},
            "locations": [
                {
                    "physicalLocation": {
                        "artifactLocation": {"uri": _uri(f.file), "uriBaseId": "%SRCROOT%"},
                        "region": {"startLine": max(f.line, 1)},
                    }
                }
            ],
            "partialFingerprints": {"agentdockFingerprint/v1": f.fingerprint},
            "properties": {"agent": f.agent, "category": f.category, "level": f.level.value},
        }
        if f.rule in index:
            result["ruleIndex"] = index[f.rule]
        results.append(result)
    notifications = [
        {
            "level": "warning",
            "message": {"text": p.reason},
            "locations": [
                {
                    "physicalLocation": {
                        "artifactLocation": {"uri": p.file, "uriBaseId": "%SRCROOT%"}
                    }
                }
            ],
        }
        for p in report.problems
    ]
    return {
        "$schema": _SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "agentdock-audit",
                        "rules": rules,
                    }
                },
                "results": results,
                "invocations": [
                    {"executionSuccessful": True, "toolExecutionNotifications": notifications}
                ],
                "columnKind": "unicodeCodePoints",
            }
        ],
    }
