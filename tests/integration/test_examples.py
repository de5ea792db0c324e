"""The examples: each Dockfile validates, and examples/chat is exactly what `init` writes."""

from __future__ import annotations

from pathlib import Path

import agentdock
import pytest
from agentdock_cli.main import cli
from click.testing import CliRunner

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
INVOICE_VARIABLES = ("JWT_SECRET", "LANGFUSE_PUBLIC", "LANGFUSE_SECRET")
INVOICE_ENV = {
    "JWT_SECRET": "x" * 40,
    "LANGFUSE_PUBLIC": "pk-lf-test",
    "LANGFUSE_SECRET": "sk-lf-test",
}
_NOT_SOURCE = {"__pycache__", ".pytest_cache", ".ruff_cache", ".mypy_cache"}


def tree(directory: Path) -> dict[str, bytes]:
    return {
        p.relative_to(directory).as_posix(): p.read_bytes()
        for p in sorted(directory.rglob("*"))
        if p.is_file() and not _NOT_SOURCE.intersection(p.parts) and p.suffix != ".pyc"
    }


@pytest.fixture
def no_invoice_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in INVOICE_VARIABLES:
        monkeypatch.delenv(name, raising=False)


@pytest.mark.parametrize("example", ["echo", "chat"])
def test_example_validates_cleanly(example: str) -> None:
    report = agentdock.validate(EXAMPLES / example / "Dockfile.yaml")
    assert report.ok, [f.one_line() for f in report.errors]
    assert report.warnings == (), [f.one_line() for f in report.warnings]
    assert report.spec.agent.framework == "langgraph"
    assert report.spec.auth.mode == "api_key"
    assert report.spec.policies.safety.max_output_chars is not None


def test_echo_example_shape() -> None:
    spec = agentdock.load(EXAMPLES / "echo" / "Dockfile.yaml")
    assert spec.version == "1.1"
    assert spec.agent.entrypoint == "echo.graph:build_graph"
    assert spec.io_schema.mode == "inline"
    assert spec.expose.streaming == "sse"


@pytest.mark.usefixtures("no_invoice_env")
def test_invoice_copilot_validates_with_its_variables() -> None:
    report = agentdock.validate(EXAMPLES / "invoice-copilot" / "Dockfile.yaml", env=INVOICE_ENV)
    assert report.ok, [f.one_line() for f in report.errors]
    spec = report.spec
    assert spec.version == "1.0"
    assert spec.agent.name == "invoice_copilot"
    assert spec.auth.mode == "jwt"
    assert spec.io_schema.input_class == "app.schemas.InvoiceInput"
    assert spec.io_schema.output_class == "app.schemas.InvoiceOutput"
    assert list(spec.policies.tools.allowed) == ["extract_invoice", "summarize_invoice"]
    assert list(spec.policies.safety.redact_patterns) == [r"\d{16}"]
    assert [role.name for role in spec.auth.roles] == ["admin", "developer"]


@pytest.mark.usefixtures("no_invoice_env")
def test_invoice_copilot_without_its_variables() -> None:
    report = agentdock.validate(EXAMPLES / "invoice-copilot" / "Dockfile.yaml")
    assert not report.ok
    unresolved = {f.dotted_path: f.message for f in report.errors if int(f.code) == 4001}
    assert set(unresolved) == {
        "auth.jwt.secret_key",
        "observability.langfuse.public_key",
        "observability.langfuse.secret_key",
    }
    messages = " ".join(unresolved.values())
    for name in INVOICE_VARIABLES:
        assert name in messages


def test_invoice_env_example_documents_the_variables() -> None:
    text = (EXAMPLES / "invoice-copilot" / ".env.example").read_text(encoding="utf-8")
    assigned = dict(
        line.split("=", 1) for line in text.splitlines() if line and not line.startswith("#")
    )
    assert set(assigned) == set(INVOICE_VARIABLES)
    dockfile = (EXAMPLES / "invoice-copilot" / "Dockfile.yaml").read_text(encoding="utf-8")
    for name in INVOICE_VARIABLES:
        assert f'"${{{name}}}"' in dockfile


def test_chat_example_is_a_fresh_init(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["init", str(tmp_path / "chat")], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    fresh = tree(tmp_path / "chat")
    committed = tree(EXAMPLES / "chat")
    assert sorted(committed) == sorted(fresh)
    for name, content in fresh.items():
        assert committed[name] == content, f"examples/chat/{name} differs from `agentdock init`"
