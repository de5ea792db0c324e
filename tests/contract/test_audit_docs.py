"""docs/audit.md lists every built-in audit rule with the examples its tests use, and every
42xx finding code."""

from __future__ import annotations

import ast
import re
import sys
from pathlib import Path

import agentdock_plugins.audit as builtin_rules
from agentdock.findings import Code

ROOT = Path(__file__).resolve().parents[2]
DOC = (ROOT / "docs" / "audit.md").read_text(encoding="utf-8")
sys.path.insert(0, str(ROOT / "tests" / "unit"))
from test_audit_rules import NEGATIVE, POSITIVE  # noqa: E402


def _same(name: str, shown: str, tested: str) -> bool:
    """Python is compared as syntax trees (the docs' blocks are formatted by ruff), the rest
    as text."""
    if name.endswith(".py"):
        return ast.dump(ast.parse(shown)) == ast.dump(ast.parse(tested))
    return shown.rstrip() == tested.rstrip()


def test_every_rule_is_documented_with_its_examples() -> None:
    for rule in builtin_rules.RULES:
        heading = f"#### `{rule.id}`\n\n{rule.level.value} · "
        assert heading in DOC, rule.id
        section = DOC[DOC.index(heading) :].split("\n#### ", 1)[0]
        blocks = re.findall(r"```\w+\n# (\S+)\n(.*?)```", section, re.S)
        for files in (POSITIVE[rule.id], NEGATIVE[rule.id]):
            for name, text in files.items():
                if text:
                    assert any(
                        shown_name == name and _same(name, shown, text)
                        for shown_name, shown in blocks
                    ), (rule.id, name)


def test_every_audit_code_is_documented() -> None:
    for code in Code:
        if 4200 <= int(code) < 4300:
            assert f"| {int(code)} | {code.name} |" in DOC, code.name
