"""Running the audit: collect the agents, run every selected rule once over each file it
reads, then over each agent and the whole tree, and fold the hits into a report.

Rules come from the ``agentdock_register_audit_rules`` hook and are built once per audit.
A rule that raises on a file is a :class:`FileProblem` naming the rule, never a crash. A
line carrying ``# agentdock: ignore[rule-id]`` (or a bare ``# agentdock: ignore``) hides the
rule's findings on that line.
"""

from __future__ import annotations

import hashlib
import inspect
import os
import re
from collections.abc import Callable, Collection, Iterable, Mapping
from functools import partial
from pathlib import Path
from typing import Any

from agentdock.readiness.baseline import load_baseline
from agentdock.readiness.facts import dependencies, env_vars
from agentdock.readiness.model import (
    CATEGORIES,
    AgentRow,
    AuditFinding,
    AuditReport,
    FileProblem,
    Level,
)
from agentdock.readiness.rule import AuditRule, Hit
from agentdock.readiness.sources import (
    DEFAULT_MAX_BYTES,
    AgentSources,
    SourceFile,
    collect,
    left_unread,
)

__all__ = ["AuditError", "audit", "load_rules", "rule_ids"]

_IGNORE = re.compile(r"#\s*agentdock:\s*ignore(?:\[([\w\s,-]+)\])?")


class AuditError(ValueError):
    """The audit cannot run: a path that does not exist or is not a directory, an unknown
    rule id or none at all, a bad baseline. The message is one line; ``error`` names the
    kind (``PathNotFound`` or ``AuditError``) and ``exit_code`` is the exit status
    ``agentdock audit`` gives it (5 for a missing path, else 1)."""

    def __init__(self, message: str, *, error: str = "AuditError", exit_code: int = 1) -> None:
        super().__init__(message)
        self.error = error
        self.exit_code = exit_code


def rule_ids(rules: str | Collection[str] | None) -> list[str] | None:
    """``rules`` as a list of ids: a string is split on commas (``"a, b"``), blanks dropped.

    :raises AuditError: no id is left (``""``, ``[]``): leave ``rules`` out to run them all.
    :raises TypeError: ``rules`` is neither a string nor a collection of strings.
    """
    if rules is None:
        return None
    if isinstance(rules, str):
        parts = rules.split(",")
    elif isinstance(rules, Collection) and all(isinstance(r, str) for r in rules):
        parts = list(rules)
    else:
        raise TypeError(f"rules must be a comma-separated string or strings, not {rules!r}")
    ids = [part.strip() for part in parts if part.strip()]
    if not ids:
        raise AuditError("rules names no rule id; leave it out to run every rule")
    return ids


def load_rules(
    plugins: Any = None,
    select: Collection[str] | None = None,
    problems: list[FileProblem] | None = None,
) -> list[AuditRule]:
    """Build each registered rule once; ``select`` keeps only those ids. A factory that
    raises, or builds something that is not an :class:`AuditRule` (an attribute missing, a
    level that is not a :class:`Level`), is left out and added to ``problems``.

    :raises AuditError: ``select`` names a rule nobody registered.
    """
    if plugins is None:
        from agentdock.plugins import get_plugin_manager

        plugins = get_plugin_manager()
    registered = plugins.registrations("audit_rules")
    if select is not None:
        unknown = sorted(set(select) - set(registered))
        if unknown:
            raise AuditError(
                f"unknown audit rule {', '.join(unknown)}; known: {', '.join(sorted(registered))}"
            )
    rules: list[AuditRule] = []
    for name, registration in sorted(registered.items()):
        if select is not None and name not in select:
            continue
        factory = registration.factory
        try:
            rule = factory() if callable(factory) else factory
        except Exception as exc:  # a broken plugin is reported, never fatal
            if problems is not None:
                problems.append(FileProblem(".", f"rule {name} failed: {_cause(exc)}"))
            continue
        if not isinstance(rule, AuditRule) or not isinstance(rule.level, Level):
            if problems is not None:
                problems.append(
                    FileProblem(
                        ".",
                        f"rule {name} is not an audit rule (it needs id, level: Level, "
                        "category, kinds, fix and check(source))",
                    )
                )
            continue
        rules.append(rule)
    return rules


def _cause(exc: BaseException) -> str:
    first = str(exc).splitlines()[0] if str(exc) else ""
    return (f"{type(exc).__name__}: {first}" if first else type(exc).__name__)[:200]


def audit(
    path: str | os.PathLike[str] = ".",
    *,
    plugins: Any = None,
    rules: str | Collection[str] | None = None,
    baseline: str | os.PathLike[str] | None = None,
    max_file_bytes: int = DEFAULT_MAX_BYTES,
    include_tests: bool = False,
) -> AuditReport:
    """Audit the agent or tree of agents under ``path`` for deployment readiness.

    Nothing under ``path`` is imported or run: Python is read with :mod:`ast`, the other
    files as text.

    :param plugins: the plugin manager whose ``audit_rules`` run (default: the process-wide
        one).
    :param rules: only these rule ids, as strings or one comma-separated string (default:
        every registered rule).
    :param baseline: a baseline file (:mod:`agentdock.readiness.baseline`); its findings are
        hidden and counted in ``report.baselined``.
    :param max_file_bytes: files above this size are skipped and listed in ``problems``.
    :param include_tests: audit test code too (``tests/``, ``test_*.py``, ``conftest.py``),
        which is left out by default: it is not deployed.
    :raises AuditError: ``path`` does not exist (``exit_code`` 5), is not a directory or
        cannot be listed, a
        rule id is unknown or none is given, or the baseline cannot be read.
    :raises TypeError: ``rules`` is neither a string nor a collection of strings.
    """
    root = Path(path)
    if not root.exists():
        raise AuditError(f"{root}: does not exist", error="PathNotFound", exit_code=5)
    if not root.is_dir():
        raise AuditError(f"{root}: is not a directory")
    try:
        with os.scandir(root):
            pass  # the walk lists it again; an unreadable root is an error, not a finding
    except OSError as exc:
        raise AuditError(f"{root}: cannot read: {exc.strerror or exc}") from None
    select = rule_ids(rules)
    accepted: Mapping[str, Any] = {}
    if baseline is not None:
        try:
            accepted = load_baseline(Path(baseline))
        except ValueError as exc:
            raise AuditError(str(exc)) from None
    broken: list[FileProblem] = []
    built = load_rules(plugins, select, broken)
    agents, problems, read = collect(root, max_bytes=max_file_bytes, include_tests=include_tests)
    unread = [p for p in problems if left_unread(p)]
    problems.extend(broken)
    raw: list[tuple[AuditRule, AgentSources, SourceFile, Hit]] = []
    for agent in agents:
        for source in agent.files:
            if source.kind == "python" and source.tree is None:
                continue
            for rule in built:
                if source.kind in rule.kinds:
                    _run(
                        rule, source.rel, partial(rule.check, source), problems, raw, agent, source
                    )
        for rule in built:
            check_agent = getattr(rule, "check_agent", None)
            if check_agent is not None:
                _run(rule, agent.path, partial(check_agent, agent), problems, raw, agent, None)
    by_name = {a.name: a for a in agents}
    for rule in built:
        check_tree = getattr(rule, "check_tree", None)
        if check_tree is not None:
            for hit in _safe(rule, ".", partial(check_tree, agents), problems):
                owner = by_name.get(hit.file.agent) if hit.file is not None else None
                if owner is None or hit.file is None:
                    problems.append(FileProblem(".", f"rule {rule.id} named no audited file"))
                    continue
                raw.append((rule, owner, hit.file, hit))
    findings, matched = _findings(raw, accepted)
    for finding in _not_audited(unread, agents):
        if finding.fingerprint in accepted:
            matched.append(accepted[finding.fingerprint])
        else:
            findings.append(finding)
    findings.sort(key=_finding_order)
    return AuditReport(
        root=str(root),
        files_scanned=read,
        agents=tuple(_rows(agents, findings)),
        findings=tuple(findings),
        problems=tuple(sorted(problems, key=lambda p: (p.file, p.line or 0))),
        env=tuple(env_vars(agents)),
        dependencies=tuple(dependencies(agents)),
        baselined=len(matched),
        accepted=tuple(matched),
        rules=(*(_describe(rule) for rule in built), NOT_AUDITED),
    )


def _safe(
    rule: AuditRule,
    where: str,
    call: Callable[[], Iterable[Hit] | None],
    problems: list[FileProblem],
) -> list[Hit]:
    try:
        hits = list(call() or ())
    except Exception as exc:  # a broken rule is reported, never fatal
        problems.append(FileProblem(where, f"rule {rule.id} failed: {_cause(exc)}"))
        return []
    good = [
        hit
        for hit in hits
        if isinstance(hit, Hit)
        and isinstance(hit.line, int)
        and (hit.level is None or isinstance(hit.level, Level))
    ]
    if len(good) < len(hits):
        problems.append(FileProblem(where, f"rule {rule.id} returned something not a Hit"))
    return good


def _run(
    rule: AuditRule,
    where: str,
    call: Callable[[], Iterable[Hit] | None],
    problems: list[FileProblem],
    raw: list[tuple[AuditRule, AgentSources, SourceFile, Hit]],
    agent: AgentSources,
    source: SourceFile | None,
) -> None:
    for hit in _safe(rule, where, call, problems):
        target = hit.file or source
        if target is not None:
            raw.append((rule, agent, target, hit))


def _findings(
    raw: list[tuple[AuditRule, AgentSources, SourceFile, Hit]], accepted: Mapping[str, Any]
) -> tuple[list[AuditFinding], list[dict[str, Any]]]:
    """The findings not hidden, and the baseline entries that hid one."""
    out: list[AuditFinding] = []
    seen: dict[str, int] = {}
    matched: list[dict[str, Any]] = []
    for rule, agent, source, hit in raw:
        text = source.line_text(hit.line)
        if _ignored(text, rule.id):
            continue
        key = f"{rule.id}\0{source.rel}\0{' '.join(text.split())}\0{hit.message}"
        count = seen.get(key, 0)
        seen[key] = count + 1
        fingerprint = hashlib.sha256(f"{key}\0{count}".encode()).hexdigest()[:20]
        if fingerprint in accepted:
            matched.append(accepted[fingerprint])
            continue
        out.append(
            AuditFinding(
                rule=rule.id,
                level=hit.level or rule.level,
                category=rule.category,
                agent=agent.name,
                file=source.rel,
                line=hit.line,
                message=hit.message,
                fix=rule.fix,
                fingerprint=fingerprint,
            )
        )
    return out, matched


def _finding_order(f: AuditFinding) -> tuple[int, str, str, int, str]:
    return (-f.level.rank, f.agent, f.file, f.line, f.rule)


#: The finding for a file the audit could not judge: skipped (too large, binary, not
#: UTF-8), unreadable, or Python that does not parse. Medium, so that ``--fail-on medium``
#: never passes an audit that read nothing; a baseline can accept a file left out on purpose.
NOT_AUDITED = {
    "id": "not-audited",
    "level": Level.MEDIUM.value,
    "category": "audit",
    "description": "A file the audit could not read or parse was not audited: a problem in "
    "it would go unseen.",
    "fix": "fix the file (syntax, encoding), raise --max-file-size, or accept it in a baseline",
}


def _not_audited(unread: list[FileProblem], agents: list[AgentSources]) -> list[AuditFinding]:
    """One ``not-audited`` finding per file left unread, owned by the agent whose directory
    holds it."""
    out = []
    for problem in unread:
        owner = max(
            (a for a in agents if a.path == "." or f"{problem.file}/".startswith(f"{a.path}/")),
            key=lambda a: len(a.path),
            default=None,
        )
        key = f"{NOT_AUDITED['id']}\0{problem.file}\0{problem.reason}"
        out.append(
            AuditFinding(
                rule=NOT_AUDITED["id"],
                level=Level.MEDIUM,
                category=NOT_AUDITED["category"],
                agent=owner.name if owner else "",
                file=problem.file,
                line=problem.line or 0,
                message=f"not audited: {problem.reason}",
                fix=NOT_AUDITED["fix"],
                fingerprint=hashlib.sha256(key.encode()).hexdigest()[:20],
            )
        )
    return out


def _ignored(text: str, rule_id: str) -> bool:
    if "agentdock:" not in text:
        return False
    match = _IGNORE.search(text)
    if match is None:
        return False
    ids = match.group(1)
    return ids is None or rule_id in {part.strip() for part in ids.split(",")}


def _rows(agents: list[AgentSources], findings: list[AuditFinding]) -> list[AgentRow]:
    rows = []
    for agent in agents:
        mine = [f for f in findings if f.agent == agent.name]
        checks = {}
        for category in CATEGORIES:
            levels = {f.level for f in mine if f.category == category}
            checks[category] = "fail" if Level.HIGH in levels else "warn" if levels else "ok"
        counts = {level.value: sum(1 for f in mine if f.level is level) for level in Level}
        rows.append(AgentRow(agent.name, agent.path, len(agent.files), checks, counts))
    return rows


def _describe(rule: AuditRule) -> dict[str, str]:
    doc = inspect.getdoc(rule) or ""
    return {
        "id": rule.id,
        "level": rule.level.value,
        "category": rule.category,
        "description": " ".join(doc.split("\n\n", 1)[0].split()),
        "fix": rule.fix,
    }
