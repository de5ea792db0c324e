"""`agentdock audit` end to end: the fixture monorepo against its expected report, output
formats, --out, baselines, exit codes; the audit inside `validate` and `deploy`; the
examples audit clean."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from _cli import run_cli
from processes import require_binary

ROOT = Path(__file__).resolve().parents[2]
MONOREPO = ROOT / "tests" / "audit_monorepo"
AGENTS = MONOREPO / "agents"
EXPECTED = MONOREPO / "expected"

DOCKFILE = """\
version: "1.1"
agent:
  name: leaky-agent
  entrypoint: "agent:build"
  framework: langgraph
model: {provider: custom, name: fake}
io_schema:
  input: {type: object, properties: {text: {type: string}}}
  output: {type: object, properties: {text: {type: string}}}
policies: {safety: {max_output_chars: 200}}
auth: {mode: api_key, api_keys: {enabled: true}}
expose: {rest: true, streaming: sse}
"""
LEAKY = """\
import uvicorn


def build():
    return None


uvicorn.run(None, host="127.0.0.1")
"""


def _summary(document: dict[str, object]) -> dict[str, object]:
    return {
        "files_scanned": document["files_scanned"],
        "summary": document["summary"],
        "findings": [
            f"{f['level']} {f['rule']} {f['file']}:{f['line']}"
            for f in document["findings"]  # type: ignore[attr-defined]
        ],
        "problems": [
            f"{p['file']}:{p['line']} {p['reason']}"
            for p in document["problems"]  # type: ignore[attr-defined]
        ],
    }


def test_monorepo_report_matches_the_expected_files(tmp_path: Path) -> None:
    out = tmp_path / "out"
    code, stdout, _ = run_cli(["audit", str(AGENTS), "--json", "--out", str(out)])
    assert code == 0
    document = json.loads(stdout)
    expected = json.loads((EXPECTED / "report.json").read_text(encoding="utf-8"))
    assert _summary(document) == expected
    for name in ("matrix.csv", "env.template", "dependencies.dot"):
        assert (out / name).read_text(encoding="utf-8") == (EXPECTED / name).read_text(
            encoding="utf-8"
        ), name
    assert json.loads((out / "audit.json").read_text()) == document
    assert (out / "audit.sarif").exists() and (out / "audit.md").exists()


def test_monorepo_plants_every_builtin_rule() -> None:
    import agentdock_plugins.audit as builtin_rules

    expected = json.loads((EXPECTED / "report.json").read_text(encoding="utf-8"))
    fired = {line.split()[1] for line in expected["findings"]}
    # The engine's own not-audited finding fires on the fixture's unreadable files.
    assert fired == {rule.id for rule in builtin_rules.RULES} | {"not-audited"}


def test_monorepo_clean_agents_are_clean_and_the_planted_ones_are_not() -> None:
    code, stdout, _ = run_cli(["audit", str(AGENTS), "--format", "json"])
    assert code == 0
    rows = {row["name"]: row for row in json.loads(stdout)["agents"]}
    for clean in ("echo_clean", "gateway_clean", "worker_clean"):
        assert set(rows[clean]["checks"].values()) == {"ok"}, clean
    assert rows["service_registry"]["checks"]["bind"] == "fail"
    assert rows["translation_service"]["checks"]["secrets"] == "fail"


def test_text_and_markdown_read_like_the_audit(tmp_path: Path) -> None:
    code, text, _ = run_cli(["audit", str(AGENTS)])
    assert code == 0
    assert "12 agent(s)" in text and "worst agents: translation_service" in text
    assert "service_registry/service_registry_agent.py:18  loopback-bind" in text
    assert "NOT AUDITED (2)" in text
    code, markdown, _ = run_cli(["audit", str(AGENTS), "--format", "markdown"])
    assert code == 0
    assert "| Agent | Bind 0.0.0.0 | Env Config |" in markdown
    assert "| 🔴 High | `loopback-bind` | bind | 2 | 2 |" in markdown


def test_fail_on_and_exit_codes(tmp_path: Path) -> None:
    assert run_cli(["audit", str(AGENTS), "--fail-on", "high"])[0] == 1
    assert run_cli(["audit", str(AGENTS / "echo_clean"), "--fail-on", "low"])[0] == 0
    assert run_cli(["audit", str(AGENTS / "model_manager"), "--fail-on", "high"])[0] == 0
    assert run_cli(["audit", str(AGENTS / "model_manager"), "--fail-on", "medium"])[0] == 1
    code, stdout, _ = run_cli(["audit", str(tmp_path / "missing"), "--json"])
    assert code == 5 and json.loads(stdout)["error"] == "PathNotFound"
    assert run_cli(["audit", str(AGENTS), "--format", "yaml"])[0] == 2
    code, stdout, _ = run_cli(["audit", str(AGENTS), "--rules", "nope", "--json"])
    assert code == 1 and "unknown audit rule nope" in json.loads(stdout)["message"]


def test_rules_option_selects(tmp_path: Path) -> None:
    code, stdout, _ = run_cli(
        [
            "audit",
            str(AGENTS),
            "--json",
            "--rules",
            "loopback-bind,docker-root",
            "--rules",
            "host-path",
        ]
    )
    assert code == 0
    rules = {f["rule"] for f in json.loads(stdout)["findings"]}
    # A file left unread is reported whichever rules run.
    assert rules == {"loopback-bind", "docker-root", "host-path", "not-audited"}


def test_write_baseline_then_baseline_hides_everything(tmp_path: Path) -> None:
    baseline = tmp_path / "baseline.json"
    code, _, _ = run_cli(["audit", str(AGENTS), "--write-baseline", str(baseline)])
    assert code == 0
    code, stdout, _ = run_cli(
        ["audit", str(AGENTS), "--json", "--baseline", str(baseline), "--fail-on", "low"]
    )
    document = json.loads(stdout)
    assert code == 0
    assert document["findings"] == [] and document["summary"]["baselined"] == 50
    baseline.write_text("[]")
    code, stdout, _ = run_cli(["audit", str(AGENTS), "--json", "--baseline", str(baseline)])
    assert code == 1 and json.loads(stdout)["error"] == "AuditError"


def test_out_renders_svg_when_graphviz_is_there(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = tmp_path / "bin" / "dot"
    fake.parent.mkdir()
    # Stands in for Graphviz: copies its input (after -T svg) to the -o file.
    fake.write_text('#!/bin/sh\nwhile [ "$1" != "-o" ]; do in="$1"; shift; done\ncp "$in" "$2"\n')
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{fake.parent}{os.pathsep}{os.environ['PATH']}")
    out = tmp_path / "out"
    assert run_cli(["audit", str(AGENTS), "--out", str(out)])[0] == 0
    assert (out / "dependencies.svg").read_text() == (out / "dependencies.dot").read_text()


def test_out_renders_svg_with_the_real_graphviz(tmp_path: Path) -> None:
    require_binary("dot", "apt-get install graphviz")
    out = tmp_path / "out"
    assert run_cli(["audit", str(AGENTS), "--out", str(out)])[0] == 0
    svg = (out / "dependencies.svg").read_text(encoding="utf-8")
    assert "<svg" in svg and "<title>request_coordinator&#45;&gt;streaming_tts</title>" in svg


def test_examples_audit_clean() -> None:
    code, stdout, _ = run_cli(["audit", str(ROOT / "examples"), "--json", "--fail-on", "low"])
    document = json.loads(stdout)
    assert code == 0, document["findings"]
    assert document["summary"]["agents"] >= 4 and document["problems"] == []


def _leaky_project(root: Path) -> Path:
    (root / "Dockfile.yaml").write_text(DOCKFILE)
    (root / "agent.py").write_text(LEAKY)
    return root / "Dockfile.yaml"


def test_validate_reports_audit_findings_as_warnings_and_strict_errors(tmp_path: Path) -> None:
    dockfile = _leaky_project(tmp_path)
    code, stdout, _ = run_cli(["validate", str(dockfile), "--skip-imports", "--json"])
    document = json.loads(stdout)
    assert code == 0
    [warning] = [w for w in document["warnings"] if w["code"] == 4201]
    assert warning["name"] == "AuditBindWarning" and warning["path"] == "audit.loopback-bind"
    assert warning["line"] == 8
    assert warning["message"].startswith("agent.py: uvicorn.run() binds '127.0.0.1' (high)")
    code, stdout, _ = run_cli(["validate", str(dockfile), "--skip-imports", "--json", "--strict"])
    assert code == 1
    assert 4201 in [e["code"] for e in json.loads(stdout)["errors"]]


def test_deploy_strict_refuses_high_findings_before_building(tmp_path: Path) -> None:
    dockfile = _leaky_project(tmp_path)
    code, stdout, stderr = run_cli(
        ["deploy", str(dockfile), "--strict", "--json", "--target", "local"], cwd=tmp_path
    )
    assert code == 1
    assert json.loads(stdout)["error"] == "AuditBlocked"
    assert "agent.py:8 loopback-bind" in stderr
    assert not (tmp_path / ".agentdock").exists()


def test_unwritable_out_is_an_error_not_a_crash(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    code, stdout, _ = run_cli(["audit", str(AGENTS), "--json", "--out", str(blocker / "sub")])
    assert code == 1 and json.loads(stdout)["error"] == "OutputError"


@pytest.mark.parametrize("template", ["langgraph", "langchain"])
def test_scaffolded_agents_audit_clean(tmp_path: Path, template: str) -> None:
    assert run_cli(["init", str(tmp_path / "agent"), "-t", template])[0] == 0
    code, stdout, _ = run_cli(["audit", str(tmp_path / "agent"), "--json", "--fail-on", "low"])
    assert code == 0, json.loads(stdout)["findings"]


def test_a_planted_secret_reaches_no_command_output(tmp_path: Path) -> None:
    planted = "Zq7vK2mPx9LwR4tY8nB3"
    dockfile = _leaky_project(tmp_path)
    (tmp_path / "settings.py").write_text(
        f"API_TOKEN = '{planted}'\nDB = 'postgres://app:{planted}@db/app'\n"
    )
    (tmp_path / ".env.local").write_text(f"SERVICE_SECRET={planted}\n")
    outputs = []
    for args in (
        ["validate", str(dockfile), "--skip-imports", "--json"],
        ["validate", str(dockfile), "--skip-imports"],
        ["deploy", str(dockfile), "--strict", "--json"],
        ["audit", str(tmp_path), "--format", "markdown", "--out", str(tmp_path / "out")],
    ):
        code, stdout, stderr = run_cli(args, cwd=tmp_path)
        assert code in (0, 1), args
        outputs += [stdout, stderr]
    outputs += [p.read_text() for p in (tmp_path / "out").iterdir()]
    assert "secret-literal" in outputs[0] and "committed-env-file" in outputs[0]
    assert all(planted not in text for text in outputs)


def test_validate_of_an_example_never_imports_detect_secrets() -> None:
    # detect-secrets costs about half a second to import: it loads only for a key-shaped string.
    code = (
        "import sys, agentdock\n"
        "report = agentdock.validate('examples/invoice-copilot/Dockfile.yaml', "
        "skip_imports=True, allow_unresolved=True)\n"
        "assert report.ok, [f.one_line() for f in report.errors]\n"
        "wanted = ('detect_secrets', 'agentdock_plugins.audit')\n"
        "print(sorted(m for m in sys.modules if m.startswith(wanted)))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == str(
        [
            "agentdock_plugins.audit",
            "agentdock_plugins.audit.agentcode",
            "agentdock_plugins.audit.dockerfile",
            "agentdock_plugins.audit.network",
            "agentdock_plugins.audit.paths",
            "agentdock_plugins.audit.rules",
            "agentdock_plugins.audit.secrets",
            "agentdock_plugins.audit.service",
            "agentdock_plugins.audit.webapps",
        ]
    )


def test_secret_defaults_reach_no_format_and_are_marked_secret(tmp_path: Path) -> None:
    # Values that detect-secrets recognises (Slack, GitHub formats), one of high entropy,
    # and a Dockerfile default: none is a secret-named variable, all are secrets.
    slack = "xoxb-" + "1234567890-0987654321-AbCdEfGhIjKlMnOpQrStUvWx"
    github = "ghp_" + "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8"
    random = "Zq7vK2mPx9LwR4tY8nB3aQ5sD6fG"
    docker = "hf_" + "AbCdEfGhIjKlMnOpQrStUvWxYz0123456"
    (tmp_path / "app.py").write_text(
        "import os\n"
        f'SLACK = os.getenv("SLACK_HOOK", "{slack}")\n'
        f'GITHUB = os.environ.get("GITHUB", "{github}")\n'
        f'RANDOM = os.getenv("UPSTREAM_REF", "{random}")\n'
        'PLAIN = os.getenv("LOG_LEVEL", "info")\n'
    )
    (tmp_path / "Dockerfile").write_text(f"FROM python:3.11-slim\nARG HUB={docker}\n")
    out = tmp_path / "out"
    outputs = []
    for fmt in ("text", "json", "sarif", "csv", "markdown"):
        code, stdout, stderr = run_cli(
            ["audit", str(tmp_path), "--format", fmt, "--out", str(out), "--fail-on", "none"],
            cwd=tmp_path,
        )
        assert code == 0, stderr
        outputs += [stdout, stderr]
    outputs += [p.read_text() for p in out.iterdir() if p.suffix != ".svg"]
    for planted in (slack, github, random, docker):
        assert all(planted not in text for text in outputs), planted
    env = {e["name"]: e for e in json.loads((out / "audit.json").read_text())["env"]}
    for name in ("SLACK_HOOK", "GITHUB", "UPSTREAM_REF", "HUB"):
        assert env[name]["secret"] is True and env[name]["default"] is None, name
    assert env["LOG_LEVEL"] == {**env["LOG_LEVEL"], "secret": False, "default": "info"}
    template = (out / "env.template").read_text()
    assert "SLACK_HOOK=\n" in template and "LOG_LEVEL=info\n" in template
    assert "# secret:" in (out / "audit.md").read_text()


def test_refreshing_a_baseline_in_place_keeps_accepted_entries_and_reasons(
    tmp_path: Path,
) -> None:
    project = tmp_path / "svc"
    project.mkdir()
    (project / "__init__.py").write_text("")
    (project / "app.py").write_text("import uvicorn\nuvicorn.run(app, host='127.0.0.1')\n")
    baseline = tmp_path / "baseline.json"
    code, _, _ = run_cli(["audit", str(tmp_path), "--write-baseline", str(baseline)])
    assert code == 0
    document = json.loads(baseline.read_text())
    assert [e["rule"] for e in document["findings"]] == ["loopback-bind"]
    document["findings"][0]["reason"] = "the development server"
    baseline.write_text(json.dumps(document))
    # A new finding appears; the baseline is refreshed in place.
    (project / "cfg.py").write_text("REDIS_HOST = 'redis'\n")
    code, _, stderr = run_cli(
        ["audit", str(tmp_path), "--baseline", str(baseline), "--write-baseline", str(baseline)]
    )
    assert code == 0, stderr
    entries = {e["rule"]: e for e in json.loads(baseline.read_text())["findings"]}
    assert set(entries) == {"loopback-bind", "config-without-env"}
    assert entries["loopback-bind"]["reason"] == "the development server"
    assert entries["config-without-env"]["reason"] == ""
    # An accepted finding that is gone (the line fixed) leaves the refreshed baseline.
    (project / "app.py").write_text("import uvicorn\nuvicorn.run(app, host=HOST)\n")
    run_cli(
        ["audit", str(tmp_path), "--baseline", str(baseline), "--write-baseline", str(baseline)]
    )
    assert [e["rule"] for e in json.loads(baseline.read_text())["findings"]] == [
        "config-without-env"
    ]


def test_an_audit_that_read_nothing_fails_fail_on_medium(tmp_path: Path) -> None:
    (tmp_path / "broken.py").write_text("def f(:\n")
    code, stdout, _ = run_cli(["audit", str(tmp_path), "--json", "--fail-on", "medium"])
    document = json.loads(stdout)
    assert code == 1 and [p["file"] for p in document["problems"]] == ["broken.py"]
    assert [(f["rule"], f["level"]) for f in document["findings"]] == [("not-audited", "medium")]


def test_json_errors_are_one_json_object(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "app.py").write_text("x = 1\n")
    code, stdout, _ = run_cli(["audit", str(tmp_path), "--json", "--fail-on", "bogus"])
    error = json.loads(stdout)
    assert code == 2 and error["error"] == "UsageError" and "--fail-on" in error["message"]
    code, stdout, _ = run_cli(["audit", str(tmp_path), "--json", "--rules", ""])
    assert code == 1 and "no rule id" in json.loads(stdout)["message"]
    real_scandir = os.scandir

    def scandir(path: object = ".") -> object:
        if str(path) == str(tmp_path):
            raise PermissionError(13, "Permission denied", str(path))
        return real_scandir(path)  # type: ignore[call-overload]

    monkeypatch.setattr(os, "scandir", scandir)
    code, stdout, _ = run_cli(["audit", str(tmp_path), "--json"])
    error = json.loads(stdout)
    assert code == 1 and error["error"] == "AuditError"
    assert error["message"] == f"{tmp_path}: cannot read: Permission denied"


def test_a_baseline_of_an_unknown_version_is_refused(tmp_path: Path) -> None:
    (tmp_path / "app.py").write_text("x = 1\n")
    baseline = tmp_path / "baseline.json"
    baseline.write_text(json.dumps({"version": 2, "findings": []}))
    code, stdout, _ = run_cli(["audit", str(tmp_path), "--json", "--baseline", str(baseline)])
    error = json.loads(stdout)
    assert code == 1 and error["error"] == "AuditError"
    assert "version 2" in error["message"]
    baseline.write_text(json.dumps({"findings": []}))  # no version: read as version 1
    code, _, _ = run_cli(["audit", str(tmp_path), "--json", "--baseline", str(baseline)])
    assert code == 0
