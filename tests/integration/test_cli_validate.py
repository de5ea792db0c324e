"""`agentdock validate` end to end: output shapes, exit codes and bad input."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
from _cli import run_cli

GOOD = """\
version: "1.1"
agent:
  name: good-agent
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

AGENT = """\
class Graph:
    async def ainvoke(self, payload):
        return payload


def build():
    return Graph()
"""


run = run_cli


def run_json(args: list[str], cwd: Path | None = None) -> tuple[int, dict[str, Any]]:
    code, out, _ = run([*args, "--json"], cwd)
    document = json.loads(out)  # exactly one JSON object on stdout
    assert set(document) == {"ok", "file", "errors", "warnings"}
    for finding in document["errors"] + document["warnings"]:
        assert set(finding) == {"code", "name", "path", "message", "hint", "line"}
        assert isinstance(finding["code"], int)
        assert "\n" not in finding["message"]
    return code, document


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "Dockfile.yaml").write_text(GOOD)
    (tmp_path / "agent.py").write_text(AGENT)
    return tmp_path


def test_valid_file_prints_check_and_summary(project: Path) -> None:
    code, out, _ = run(["validate", str(project / "Dockfile.yaml")])
    assert code == 0
    assert "✓ Validated successfully" in out
    for word in ("good-agent", "langgraph", "custom/fake", "api_key", "rest, sse"):
        assert word in out


def test_default_file_is_dockfile_in_cwd(project: Path) -> None:
    code, document = run_json(["validate"], cwd=project)
    assert code == 0
    assert document["ok"] is True
    assert document["file"] == "Dockfile.yaml"


def test_missing_file_exits_5(tmp_path: Path) -> None:
    code, document = run_json(["validate", str(tmp_path / "nope.yaml")])
    assert code == 5
    assert document["ok"] is False
    assert document["errors"][0]["code"] == 4000


@pytest.mark.parametrize("pair", ["NOEQUALS", "=value", "1BAD=x"])
def test_malformed_env_is_a_usage_error(project: Path, pair: str) -> None:
    code, _, err = run(["validate", str(project / "Dockfile.yaml"), "--env", pair])
    assert code == 2
    assert "--env" in err


def test_two_errors_in_one_file_are_both_reported(project: Path) -> None:
    text = GOOD.replace('  entrypoint: "agent:build"\n', "").replace(
        "rest: true, streaming: sse", "rest: false, streaming: none"
    )
    (project / "Dockfile.yaml").write_text(text)
    code, document = run_json(["validate", str(project / "Dockfile.yaml")])
    assert code == 1
    pairs = {(e["code"], e["path"]) for e in document["errors"]}
    assert pairs == {(4002, "agent.entrypoint"), (4010, "expose")}
    lines = {e["path"]: e["line"] for e in document["errors"]}
    assert lines["expose"] == 11
    assert lines["agent.entrypoint"] == 3  # where the mapping that lacks the key starts


def test_unknown_key_suggests_closest(project: Path) -> None:
    (project / "Dockfile.yaml").write_text(GOOD + "observabilty: {tracing: true}\n")
    code, document = run_json(["validate", str(project / "Dockfile.yaml"), "--skip-imports"])
    assert code == 1
    [error] = document["errors"]
    assert error["path"] == "observabilty"
    assert error["hint"] == "did you mean 'observability'?"
    assert error["line"] == 13


def test_strict_turns_warnings_into_errors(project: Path) -> None:
    (project / "Dockfile.yaml").write_text(
        GOOD.replace("policies: {safety: {max_output_chars: 200}}\n", "")
    )
    code, document = run_json(["validate", str(project / "Dockfile.yaml")])
    assert code == 0
    assert [w["code"] for w in document["warnings"]] == [4105]
    code, document = run_json(["validate", str(project / "Dockfile.yaml"), "--strict"])
    assert code == 1
    assert [e["code"] for e in document["errors"]] == [4105]
    assert document["warnings"] == []


def test_entrypoint_raising_on_import(project: Path) -> None:
    (project / "agent.py").write_text("raise ValueError('bad config at import')\n")
    code, document = run_json(["validate", str(project / "Dockfile.yaml")])
    assert code == 1
    [error] = document["errors"]
    assert error["code"] == 4003
    assert error["path"] == "agent.entrypoint"
    assert error["message"].startswith("ValueError: bad config at import")
    code, out, _ = run(["validate", str(project / "Dockfile.yaml")])
    assert "Traceback" not in out
    code, out, _ = run(["validate", str(project / "Dockfile.yaml"), "--verbose"])
    assert code == 1
    assert "Traceback" in out


def test_a_builder_that_raises_fails_validation_with_its_cause(project: Path) -> None:
    """The builder is called as the runtime would call it, its secrets masked in the cause."""
    planted = "planted-builder-secret-61f0d2"
    (project / "Dockfile.yaml").write_text(GOOD.replace("name: fake", 'name: "${MODEL_NAME}"'))
    (project / ".env").write_text(f"MODEL_NAME={planted}\n")
    (project / "agent.py").write_text(
        "def build(model):\n    raise ConnectionError(f'no route to {model.name}')\n"
    )
    code, document = run_json(["validate", str(project / "Dockfile.yaml")])
    assert code == 1
    [error] = document["errors"]
    assert (error["code"], error["path"]) == (4003, "agent.entrypoint")
    assert error["message"] == "the builder agent:build raised ConnectionError: no route to ***"
    assert "--no-build" in error["hint"]
    for extra in ([], ["--verbose"]):
        code, out, err = run(["validate", str(project / "Dockfile.yaml"), *extra])
        assert code == 1 and planted not in out + err
    assert "Traceback" in out and "agent.py" in out  # --verbose shows where it raised
    code, document = run_json(["validate", str(project / "Dockfile.yaml"), "--no-build"])
    assert code == 0, document  # imported, not called


def test_a_builder_must_return_a_graph(project: Path) -> None:
    (project / "agent.py").write_text("def build():\n    return object()\n")
    code, document = run_json(["validate", str(project / "Dockfile.yaml")])
    assert code == 1
    assert document["errors"][0]["message"] == (
        "the builder agent:build returned object, not a runnable graph"
    )


def test_skip_imports_does_not_import(project: Path) -> None:
    (project / "agent.py").write_text("raise ValueError('never imported')\n")
    code, document = run_json(["validate", str(project / "Dockfile.yaml"), "--skip-imports"])
    assert code == 0, document


def test_env_flag_and_allow_unresolved(project: Path) -> None:
    text = GOOD.replace("name: fake", 'name: "${MODEL_NAME}"')
    (project / "Dockfile.yaml").write_text(text)
    code, document = run_json(["validate", str(project / "Dockfile.yaml"), "--skip-imports"])
    assert code == 1
    assert [(e["code"], e["path"]) for e in document["errors"]] == [(4001, "model.name")]
    code, document = run_json(
        ["validate", str(project / "Dockfile.yaml"), "--skip-imports", "--allow-unresolved"]
    )
    assert code == 0
    assert [w["code"] for w in document["warnings"]] == [4107]
    code, document = run_json(
        ["validate", str(project / "Dockfile.yaml"), "--skip-imports", "--env", "MODEL_NAME=m"]
    )
    assert code == 0


def test_secret_never_in_output(project: Path) -> None:
    secret = "S3cr3t-" + "q" * 10  # too short: the error must not quote it
    text = GOOD.replace(
        "auth: {mode: api_key, api_keys: {enabled: true}}",
        'auth: {mode: jwt, jwt: {secret_key: "${JWT_SECRET}"}}',
    )
    (project / "Dockfile.yaml").write_text(text)
    (project / ".env").write_text(f"JWT_SECRET={secret}\n")
    for extra in ([], ["--json"], ["--verbose"]):
        code, out, err = run(["validate", str(project / "Dockfile.yaml"), *extra])
        assert code == 1
        assert secret not in out + err
        assert "4005" in out or '"code": 4005' in out


@pytest.mark.parametrize(
    ("content", "code"),
    [
        (b"", 4000),
        (b"- a\n- b\n", 4000),
        (b"version: [\n", 4000),
        (bytes(range(256)) * 4, 4000),
        (
            b"a: &a [1]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\n"
            b"d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]\ne: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]\n"
            b"f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]\ng: [*f,*f,*f,*f,*f,*f,*f,*f,*f]\n",
            4000,
        ),
        (b"x: " + b"[" * 5000 + b"]" * 5000 + b"\n", 4000),
    ],
    ids=["empty", "list", "invalid-yaml", "binary", "alias-bomb", "deep"],
)
def test_bad_files_give_4000_and_exit_1(tmp_path: Path, content: bytes, code: int) -> None:
    path = tmp_path / "Dockfile.yaml"
    path.write_bytes(content)
    exit_code, document = run_json(["validate", str(path)])
    assert exit_code == 1
    assert [e["code"] for e in document["errors"]] == [code]


def test_huge_file_refused(tmp_path: Path) -> None:
    path = tmp_path / "Dockfile.yaml"
    with path.open("wb") as handle:
        handle.truncate(50 * 1024 * 1024)
    exit_code, document = run_json(["validate", str(path)])
    assert exit_code == 1
    [error] = document["errors"]
    assert error["code"] == 4000
    assert "limit" in error["message"]


def test_validate_process_does_not_import_heavy_frameworks(project: Path) -> None:
    probe = textwrap.dedent(
        """
        import json, sys
        from agentdock_cli.main import main
        sys.argv = ["agentdock", "validate", sys.argv[1], "--skip-imports", "--json"]
        try:
            main()
        except SystemExit:
            pass
        heavy = sorted({m.split(".")[0] for m in sys.modules} & {"litestar", "langgraph",
                       "langchain_core", "docker", "httpx", "msgspec"})
        print(json.dumps(heavy), file=sys.stderr)
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", probe, str(project / "Dockfile.yaml")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert json.loads(result.stdout)["ok"] is True
    assert json.loads(result.stderr.strip().splitlines()[-1]) == []
