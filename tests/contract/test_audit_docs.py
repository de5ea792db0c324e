"""docs/audit.md lists every built-in audit rule with the examples its tests use, and every
42xx finding code."""

from __future__ import annotations

import sys
from pathlib import Path

import agentdock_plugins.audit as builtin_rules
from agentdock.findings import Code

ROOT = Path(__file__).resolve().parents[2]
DOC = (ROOT / "docs" / "audit.md").read_text(encoding="utf-8")
sys.path.insert(0, str(ROOT / "tests" / "unit"))
from test_audit_rules import NEGATIVE, POSITIVE  # noqa: E402


def test_every_rule_is_documented_with_its_examples() -> None:
    for rule in builtin_rules.RULES:
        heading = f"#### `{rule.id}`\n\n{rule.level.value} · "
        assert heading in DOC, rule.id
        section = DOC[DOC.index(heading) :].split("\n#### ", 1)[0]
        for files in (POSITIVE[rule.id], NEGATIVE[rule.id]):
            for name, text in files.items():
                if text:
                    assert f"# {name}\n{text.rstrip()}\n```" in section, (rule.id, name)


def test_every_audit_code_is_documented() -> None:
    for code in Code:
        if 4200 <= int(code) < 4300:
            assert f"| {int(code)} | {code.name} |" in DOC, code.name
