"""The audit engine on hostile trees, its baseline and suppressions, third-party rules, and
the formats (SARIF against the OASIS schema, JSON against contracts/audit)."""

from __future__ import annotations

import ast
import csv
import io
import json
import os
from collections.abc import Iterator
from pathlib import Path

import agentdock
import agentdock_plugins.audit as builtin_rules
import jsonschema
import pytest
from agentdock import hookimpl, make_plugin_manager
from agentdock.readiness import AuditError, Hit, Level, SourceFile, audit
from agentdock.readiness.baseline import baseline_document
from agentdock.readiness.formats import FORMATS, render, to_dot, to_env_template

ROOT = Path(__file__).resolve().parents[2]
CONTRACTS = ROOT / "contracts" / "audit"
#: A value no output may ever show.
PLANTED = "Zq7vK2mPx9LwR4tY8nB3"


def _manager(*extra: tuple[str, object]) -> object:
    return make_plugin_manager(plugins=[("audit", builtin_rules), *extra])


def _write(root: Path, files: dict[str, str | bytes]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(text, bytes):
            path.write_bytes(text)
        else:
            path.write_text(text, encoding="utf-8")


def test_unparseable_python_is_reported_and_the_scan_goes_on(tmp_path: Path) -> None:
    _write(
        tmp_path,
        {
            "svc/__init__.py": "",
            "svc/broken.py": "def f(:\n",
            "svc/ok.py": "uvicorn.run(app, host='127.0.0.1')\n",
        },
    )
    report = audit(tmp_path, plugins=_manager())
    assert [(p.file, p.line) for p in report.problems] == [("svc/broken.py", 1)]
    assert "does not parse" in report.problems[0].reason
    assert any(f.rule == "loopback-bind" and f.file == "svc/ok.py" for f in report.findings)


def test_binary_and_huge_files_are_skipped_and_said(tmp_path: Path) -> None:
    _write(
        tmp_path,
        {
            "svc/__init__.py": "",
            "svc/blob.py": b"\x00\x01\x02binary",
            "svc/latin.py": b"x = '\xff\xfe'\n",
            "svc/big.py": "x = 1\n" * 50_000,
        },
    )
    report = audit(tmp_path, plugins=_manager(), max_file_bytes=100_000)
    reasons = {p.file: p.reason for p in report.problems}
    assert reasons["svc/blob.py"] == "skipped: binary file"
    assert reasons["svc/latin.py"] == "skipped: not UTF-8 text"
    assert reasons["svc/big.py"].startswith("skipped: 300000 bytes, over the 100000-byte limit")
    assert report.files_scanned == 1


def test_symlink_loops_are_not_followed(tmp_path: Path) -> None:
    _write(tmp_path, {"svc/__init__.py": "", "svc/a.py": "uvicorn.run(app)\n"})
    (tmp_path / "svc" / "loop").symlink_to(tmp_path, target_is_directory=True)
    (tmp_path / "svc" / "self.py").symlink_to(tmp_path / "svc" / "self.py")
    report = audit(tmp_path, plugins=_manager())
    reasons = {p.file: p.reason for p in report.problems}
    assert reasons["svc/loop"] == "symlinked directory not followed"
    assert reasons["svc/self.py"] == "symlink not followed"
    assert [f.file for f in report.findings if f.rule == "loopback-bind"] == ["svc/a.py"]


def test_unreadable_files_and_directories_are_reported(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _write(tmp_path, {"svc/__init__.py": "", "svc/secret.py": "x = 1\n", "svc/sub/m.py": ""})
    real_read = Path.read_bytes
    real_scandir = os.scandir

    def read_bytes(self: Path) -> bytes:
        if self.name == "secret.py":
            raise PermissionError(13, "Permission denied")
        return real_read(self)

    def scandir(path: object = ".") -> object:
        if str(path).endswith("sub"):
            raise PermissionError(13, "Permission denied", str(path))
        return real_scandir(path)  # type: ignore[call-overload]

    monkeypatch.setattr(Path, "read_bytes", read_bytes)
    monkeypatch.setattr(os, "scandir", scandir)
    report = audit(tmp_path, plugins=_manager())
    reasons = {p.file: p.reason for p in report.problems}
    assert reasons["svc/secret.py"] == "cannot read: Permission denied"
    assert reasons["svc/sub"] == "cannot read directory: Permission denied"


def test_a_tree_of_ten_thousand_files(tmp_path: Path) -> None:
    for package in range(100):
        folder = tmp_path / f"pkg{package:03}"
        folder.mkdir()
        (folder / "__init__.py").write_text("")
        for index in range(99):
            (folder / f"m{index}.py").write_text(f"VALUE = {index}\n")
    report = audit(tmp_path, plugins=_manager())
    assert report.files_scanned == 10_000
    assert len(report.agents) == 100
    assert report.findings == () and report.problems == ()


def test_test_code_is_left_out_unless_asked_for(tmp_path: Path) -> None:
    _write(
        tmp_path,
        {
            "svc/__init__.py": "",
            "svc/app.py": "X = 1\n",
            "svc/tests/helpers.py": "URL = 'redis://localhost:6379/0'\n",
            "svc/test_app.py": "URL = 'redis://localhost:6379/0'\n",
            "svc/app_test.py": "URL = 'redis://localhost:6379/0'\n",
            "svc/conftest.py": "URL = 'redis://localhost:6379/0'\n",
        },
    )
    report = audit(tmp_path, plugins=_manager(), rules=["loopback-connect"])
    assert report.findings == () and report.files_scanned == 2
    everything = audit(tmp_path, plugins=_manager(), rules=["loopback-connect"], include_tests=True)
    assert sorted(f.file for f in everything.findings) == [
        "svc/app_test.py",
        "svc/conftest.py",
        "svc/test_app.py",
        "svc/tests/helpers.py",
    ]


def test_path_errors_and_unknown_rules(tmp_path: Path) -> None:
    with pytest.raises(AuditError, match="does not exist"):
        audit(tmp_path / "nope", plugins=_manager())
    (tmp_path / "f.py").write_text("")
    with pytest.raises(AuditError, match="is not a directory"):
        audit(tmp_path / "f.py", plugins=_manager())
    with pytest.raises(
        AuditError, match=r"unknown audit rule no-such-rule; known: .*loopback-bind"
    ):
        audit(tmp_path, plugins=_manager(), rules=["no-such-rule"])


def test_agents_are_dockfile_directories_else_packages(tmp_path: Path) -> None:
    _write(
        tmp_path,
        {
            "a/Dockfile.yaml": "version: '1.1'\n",
            "a/agent.py": "",
            "a/tools/helper.py": "",
            "b/sub/Dockfile.yaml": "version: '1.1'\n",
            "b/sub/agent.py": "",
            "scripts/tool.py": "",
        },
    )
    report = audit(tmp_path, plugins=_manager())
    assert [(a.name, a.files) for a in report.agents] == [
        (tmp_path.name, 1),
        ("a", 3),
        ("b/sub", 2),
    ]


def test_baseline_hides_accepted_findings_and_bad_baselines_say_why(tmp_path: Path) -> None:
    _write(
        tmp_path,
        {"svc/__init__.py": "", "svc/a.py": "uvicorn.run(app, host='127.0.0.1')\n"},
    )
    first = audit(tmp_path, plugins=_manager())
    assert first.findings
    baseline = tmp_path / "baseline.json"
    baseline.write_text(json.dumps(baseline_document(first.findings, "accepted in a test")))
    # A line moved down keeps its fingerprint.
    (tmp_path / "svc" / "a.py").write_text("import uvicorn\n\nuvicorn.run(app, host='127.0.0.1')\n")
    again = audit(tmp_path, plugins=_manager(), baseline=baseline)
    assert again.findings == ()
    assert again.baselined == len(first.findings)
    baseline.write_text("{not json")
    with pytest.raises(AuditError, match=r"baseline.json: not JSON"):
        audit(tmp_path, plugins=_manager(), baseline=baseline)
    baseline.write_text('{"findings": [{"rule": "x"}]}')
    with pytest.raises(AuditError, match=r"findings\[0\] has no string 'fingerprint'"):
        audit(tmp_path, plugins=_manager(), baseline=baseline)
    with pytest.raises(AuditError, match="no such baseline file"):
        audit(tmp_path, plugins=_manager(), baseline=tmp_path / "missing.json")


def test_inline_ignore_comments(tmp_path: Path) -> None:
    _write(
        tmp_path,
        {
            "svc/__init__.py": "",
            "svc/a.py": "uvicorn.run(app, host='127.0.0.1')  # agentdock: ignore[loopback-bind]\n"
            "uvicorn.run(app, host='127.0.0.1')  # agentdock: ignore[other-rule]\n"
            "uvicorn.run(app, host='127.0.0.1')  # agentdock: ignore\n",
        },
    )
    report = audit(tmp_path, plugins=_manager(), rules=["loopback-bind"])
    assert [f.line for f in report.findings] == [2]


class _CountPrints:
    """Counts print() calls: a third-party rule, registered the documented way."""

    id = "no-print"
    level = Level.LOW
    category = "llm"
    kinds = frozenset({"python"})
    fix = "log instead"

    def check(self, source: SourceFile) -> Iterator[Hit]:
        for call in source.nodes(ast.Call):
            if isinstance(call.func, ast.Name) and call.func.id == "print":
                yield Hit(call.lineno, "print() in agent code")


class _Broken:
    """Raises on every file."""

    id = "broken-rule"
    level = Level.HIGH
    category = "llm"
    kinds = frozenset({"python"})
    fix = "-"

    def check(self, source: SourceFile) -> Iterator[Hit]:
        raise RuntimeError("boom\nsecond line")


class _NotARule:
    """Has no kinds, no fix and a string for a level."""

    id = "not-a-rule"
    level = "high"


class _WrongHits(_CountPrints):
    """Yields things that are not hits."""

    id = "wrong-hits"

    def check(self, source: SourceFile) -> Iterator[Hit]:
        yield "line 1"  # type: ignore[misc]
        yield Hit(1, "a real one")


class _TreeWithoutFile(_CountPrints):
    """A tree-level check whose hit names no file."""

    id = "tree-without-file"
    kinds: frozenset[str] = frozenset()

    def check_tree(self, agents: object) -> Iterator[Hit]:
        yield Hit(1, "somewhere")


def _raising_factory() -> object:
    raise ValueError("cannot build")


class _ThirdParty:
    @hookimpl
    def agentdock_register_audit_rules(self, register: object) -> None:
        register("no-print", _CountPrints)  # type: ignore[operator]
        register("broken-rule", _Broken)  # type: ignore[operator]
        register("not-a-rule", _NotARule)  # type: ignore[operator]
        register("wrong-hits", _WrongHits)  # type: ignore[operator]
        register("raising-factory", _raising_factory)  # type: ignore[operator]
        register("tree-without-file", _TreeWithoutFile)  # type: ignore[operator]


def test_third_party_rules_run_and_a_raising_rule_is_a_problem(tmp_path: Path) -> None:
    _write(tmp_path, {"svc/__init__.py": "", "svc/a.py": "print('hi')\n"})
    report = audit(tmp_path, plugins=_manager(("third", _ThirdParty())))
    assert sorted((f.rule, f.line) for f in report.findings) == [
        ("no-print", 1),
        ("wrong-hits", 1),
        ("wrong-hits", 1),
    ]
    problems = sorted((p.file, p.reason) for p in report.problems)
    assert problems == [
        (
            ".",
            "rule not-a-rule is not an audit rule (it needs id, level: Level, category, "
            "kinds, fix and check(source))",
        ),
        (".", "rule raising-factory failed: ValueError: cannot build"),
        (".", "rule tree-without-file named no audited file"),
        ("svc/__init__.py", "rule broken-rule failed: RuntimeError: boom"),
        ("svc/__init__.py", "rule wrong-hits returned something not a Hit"),
        ("svc/a.py", "rule broken-rule failed: RuntimeError: boom"),
        ("svc/a.py", "rule wrong-hits returned something not a Hit"),
    ]
    assert {r["id"] for r in report.rules} >= {"no-print", "loopback-bind"}


def _secret_tree(root: Path) -> None:
    _write(
        root,
        {
            "svc/__init__.py": "",
            "svc/a.py": f"import os\nAPI_TOKEN = '{PLANTED}'\n"
            f"DB = 'postgres://app:{PLANTED}@db:5432/app'\n"
            f"PASSWORD = os.getenv('DB_PASSWORD', '{PLANTED}')\n"
            f"URL = os.getenv('CACHE_URL', 'redis://:{PLANTED}@cache:6379/0')\n"
            f"llm = ChatOpenAI(api_key='{PLANTED}')\n",
            "svc/.env": f"SERVICE_SECRET={PLANTED}\n",
            "svc/Dockerfile": f"FROM python:3.11-slim\nENV API_TOKEN={PLANTED}\nUSER app\n",
        },
    )


def test_secrets_never_reach_any_output(tmp_path: Path) -> None:
    _secret_tree(tmp_path)
    report = audit(tmp_path, plugins=_manager())
    rules = {f.rule for f in report.findings}
    assert {"secret-literal", "url-credentials", "hardcoded-api-key", "committed-env-file"} <= rules
    outputs = [render(report, fmt) for fmt in FORMATS]
    outputs += [to_env_template(report), to_dot(report), repr(report)]
    for text in outputs:
        assert PLANTED not in text
    env = {v.name: v for v in report.env}
    assert env["DB_PASSWORD"].secret and env["DB_PASSWORD"].default is None
    assert env["CACHE_URL"].default == "redis://:***@cache:6379/0"


def test_json_matches_its_contract_and_sarif_the_oasis_schema(tmp_path: Path) -> None:
    _secret_tree(tmp_path)
    _write(tmp_path, {"other/__init__.py": "", "other/b.py": "def f(:\n"})
    _write(tmp_path, {"other/my module.py": "uvicorn.run(app)\n"})
    report = audit(tmp_path, plugins=_manager())
    schema = json.loads((CONTRACTS / "audit-report.schema.json").read_text())
    document = json.loads(render(report, "json"))
    jsonschema.Draft202012Validator(schema).validate(document)
    assert document == report.to_dict()
    sarif_schema = json.loads((CONTRACTS / "sarif-schema-2.1.0.json").read_text())
    sarif = json.loads(render(report, "sarif"))
    jsonschema.Draft4Validator(sarif_schema).validate(sarif)
    run = sarif["runs"][0]
    assert len(run["results"]) == len(report.findings)
    ids = [rule["id"] for rule in run["tool"]["driver"]["rules"]]
    for result in run["results"]:
        assert ids[result["ruleIndex"]] == result["ruleId"]
    assert (
        run["invocations"][0]["toolExecutionNotifications"][0]["locations"][0]["physicalLocation"][
            "artifactLocation"
        ]["uri"]
        == "other/b.py"
    )


def test_csv_is_the_matrix(tmp_path: Path) -> None:
    _secret_tree(tmp_path)
    report = audit(tmp_path, plugins=_manager())
    rows = list(csv.reader(io.StringIO(render(report, "csv"))))
    assert rows[0][:3] == ["agent", "path", "bind"]
    assert rows[1][0] == "svc"
    assert rows[1][rows[0].index("secrets")] == "❌"
    assert rows[1][rows[0].index("health")] == "✅"


def test_python_api_is_reachable_from_the_package_root(tmp_path: Path) -> None:
    _write(tmp_path, {"svc/__init__.py": "", "svc/a.py": "uvicorn.run(app)\n"})
    report = agentdock.audit(tmp_path, plugins=_manager())
    assert isinstance(report, agentdock.AuditReport)
    assert [f.rule for f in report.findings] == ["loopback-bind"]


def test_a_file_name_that_is_not_utf8_is_skipped_and_said(tmp_path: Path) -> None:
    _write(tmp_path, {"svc/__init__.py": ""})
    os.close(os.open(os.path.join(os.fsencode(tmp_path), b"svc", b"bad\xff.py"), os.O_CREAT))
    report = audit(tmp_path, plugins=_manager())
    assert [(p.file, p.reason) for p in report.problems] == [
        ("svc/bad\\xff.py", "skipped: file name is not UTF-8")
    ]
    json.dumps(report.to_dict(), ensure_ascii=False).encode("utf-8")


def test_files_left_unread_are_medium_not_audited_findings(tmp_path: Path) -> None:
    _write(
        tmp_path,
        {
            "svc/__init__.py": b"\x00binary",
            "svc/broken.py": "def f(:\n",
            "svc/big.py": "x = 1\n" * 50,
        },
    )
    (tmp_path / "svc" / "link.py").symlink_to(tmp_path / "svc" / "big.py")
    report = audit(tmp_path, plugins=_manager(), max_file_bytes=100)
    got = sorted((f.rule, f.level.value, f.file, f.line) for f in report.findings)
    assert got == [
        ("not-audited", "medium", "svc/__init__.py", 0),
        ("not-audited", "medium", "svc/big.py", 0),
        ("not-audited", "medium", "svc/broken.py", 1),
    ]
    assert {f.agent for f in report.findings} == {"svc"}
    assert report.agents[0].counts["medium"] == 3
    # The problems stay listed; a symlink, not followed by design, is no finding.
    assert {p.file for p in report.problems} >= {"svc/big.py", "svc/link.py"}
    # A baseline can accept a file left out on purpose.
    baseline = tmp_path / "baseline.json"
    baseline.write_text(json.dumps(baseline_document(report.findings)))
    again = audit(tmp_path, plugins=_manager(), max_file_bytes=100, baseline=baseline)
    assert again.findings == () and again.baselined == 3


def test_the_python_api_raises_a_documented_error_for_a_missing_path(tmp_path: Path) -> None:
    assert agentdock.AuditError is AuditError and "AuditError" in agentdock.__all__
    with pytest.raises(agentdock.AuditError) as missing:
        agentdock.audit(tmp_path / "nonexistent")
    assert missing.value.exit_code == 5 and missing.value.error == "PathNotFound"
    assert "does not exist" in str(missing.value)
    (tmp_path / "file.py").write_text("")
    with pytest.raises(agentdock.AuditError) as not_dir:
        agentdock.audit(tmp_path / "file.py")
    assert not_dir.value.exit_code == 1 and not_dir.value.error == "AuditError"


def test_rules_given_as_a_comma_separated_string_are_split_on_commas(tmp_path: Path) -> None:
    _write(
        tmp_path,
        {
            "svc/__init__.py": "",
            "svc/a.py": "uvicorn.run(app, host='127.0.0.1')\nREDIS_HOST = 'redis'\n",
        },
    )
    report = audit(tmp_path, plugins=_manager(), rules="loopback-bind, config-without-env")
    assert {f.rule for f in report.findings} == {"loopback-bind", "config-without-env"}
    for empty in ("", " , ", []):
        with pytest.raises(AuditError, match="no rule id"):
            audit(tmp_path, plugins=_manager(), rules=empty)
    with pytest.raises(TypeError, match="rules"):
        audit(tmp_path, plugins=_manager(), rules=42)  # type: ignore[arg-type]
