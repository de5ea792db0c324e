"""Every example served in-process through ``agentdock.testing.client``: ready, invoke, stream
and schema answer as the Dockfile declares.

Each example is copied to a temporary directory first (react-tools keeps its checkpoints next
to its Dockfile), and its package is forgotten afterwards so examples never see each other.
"""

from __future__ import annotations

import json
import shutil
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import agentdock
import httpx
import jsonschema
import pytest
from agentdock.testing import client

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
INVOICE_ENV = {
    "JWT_SECRET": "x" * 40,
    "LANGFUSE_PUBLIC": "pk-lf-test",
    "LANGFUSE_SECRET": "sk-lf-test",
}
INVOICE_TEXT = (
    "ACME GmbH\nInvoice No: INV-2024-001\nDate: 2024-03-01\nTotal: 1,250.00 EUR\n"
    "Consulting services, March."
)
_NOT_SOURCE = shutil.ignore_patterns(
    "__pycache__", ".pytest_cache", ".ruff_cache", ".mypy_cache", ".agentdock", "*.pyc"
)


@dataclass(frozen=True)
class Example:
    name: str
    package: str
    body: dict[str, Any]
    env: dict[str, str]
    tokens: bool = False


CASES = [
    Example("echo", "echo", {"text": "hello"}, {}),
    Example("chat", "agent", {"question": "What is AgentDock?"}, {}, tokens=True),
    Example("react-tools", "react_agent", {"question": "Please refund order A-1001."}, {}),
    Example("invoice-copilot", "app", {"document": INVOICE_TEXT}, INVOICE_ENV),
]


def _purge(package: str) -> None:
    for name in [n for n in sys.modules if n.split(".")[0] == package]:
        del sys.modules[name]


@pytest.fixture(params=CASES, ids=[c.name for c in CASES])
def served(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[Example, httpx.Client, Any]]:
    example: Example = request.param
    for key, value in example.env.items():
        monkeypatch.setenv(key, value)
    # Buffers and registries (the LangFuse spool of invoice-copilot) land here, not in the repo.
    monkeypatch.setenv("AGENTDOCK_HOME", str(tmp_path / "home"))
    project = tmp_path / example.name
    shutil.copytree(EXAMPLES / example.name, project, ignore=_NOT_SOURCE)
    dockfile = project / "Dockfile.yaml"
    spec = agentdock.load(dockfile)
    _purge(example.package)
    try:
        with client(dockfile, insecure_no_auth=True, timeout=30) as http:
            yield example, http, spec
    finally:
        while str(project) in sys.path:
            sys.path.remove(str(project))
        _purge(example.package)


def _declared(http: httpx.Client) -> tuple[dict[str, Any], dict[str, Any]]:
    """The input and output schemas of ``/schema``, each able to resolve the ``$defs``."""
    body = http.get("/schema").json()
    defs = body.get("$defs", {})
    # Class-declared schemas refer to ``#/components/schemas/<Model>`` (the OpenAPI layout).
    wrap = {"components": {"schemas": defs}, "$defs": defs}
    return {**body["input_schema"], **wrap}, {**body["output_schema"], **wrap}


def _frames(text: str) -> list[dict[str, Any]]:
    frames = []
    for block in text.split("\n\n"):
        if not block.strip() or block.startswith(":"):
            continue
        fields = dict(line.split(": ", 1) for line in block.splitlines())
        frames.append(
            {**json.loads(fields["data"]), "event": fields["event"], "sse_id": fields["id"]}
        )
    return frames


def test_ready(served: tuple[Example, httpx.Client, Any]) -> None:
    _example, http, spec = served
    response = http.get("/ready")
    assert response.status_code == 200, response.text
    assert response.json() == {"status": "ready", "agent": spec.agent.name}


def test_invoke_matches_the_output_schema(served: tuple[Example, httpx.Client, Any]) -> None:
    example, http, _spec = served
    input_schema, output_schema = _declared(http)
    jsonschema.validate(example.body, input_schema)
    response = http.post("/invoke", json=example.body)
    assert response.status_code == 200, response.text
    assert response.headers["x-run-id"]
    jsonschema.validate(response.json(), output_schema)


def test_stream_frames(served: tuple[Example, httpx.Client, Any]) -> None:
    example, http, _spec = served
    response = http.post("/stream", json=example.body)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/event-stream")
    frames = _frames(response.text)
    kinds = [f["event"] for f in frames]
    assert kinds[0] == "start" and kinds[-1] == "end", kinds
    assert "error" not in kinds
    assert frames[0]["run_id"] == frames[-1]["run_id"] == response.headers["x-run-id"]
    if example.tokens:
        assert "token" in kinds
    assert set(frames[-1]["usage"]) >= {"input_tokens", "output_tokens"}
    assert [int(f["sse_id"].rpartition(":")[2]) for f in frames] == list(range(1, len(frames) + 1))


def test_stream_end_carries_the_output_invoke_answers(
    served: tuple[Example, httpx.Client, Any],
) -> None:
    example, http, _spec = served
    invoked = http.post("/invoke", json=example.body)
    assert invoked.status_code == 200, invoked.text
    end = _frames(http.post("/stream", json=example.body).text)[-1]
    assert end["event"] == "end"
    assert end["output"] == invoked.json()
    _input_schema, output_schema = _declared(http)
    jsonschema.validate(end["output"], output_schema)


def test_schema_is_the_declared_one(served: tuple[Example, httpx.Client, Any]) -> None:
    example, http, spec = served
    body = http.get("/schema").json()
    if spec.io_schema.input_class:
        from agentdock_plugins.litestar.openapi import declared_schemas

        input_schema, output_schema, defs = declared_schemas(spec)
        assert body == {
            "input_schema": input_schema,
            "output_schema": output_schema,
            **({"$defs": defs} if defs else {}),
        }
        assert body["input_schema"]["required"] == ["document"]
        assert "summary" in body["output_schema"]["required"]
    else:
        assert body == {
            "input_schema": spec.io_schema.input.model_dump(mode="json", exclude_unset=True),
            "output_schema": spec.io_schema.output.model_dump(mode="json", exclude_unset=True),
        }
        declared = (EXAMPLES / example.name / "Dockfile.yaml").read_text(encoding="utf-8")
        for name in body["input_schema"]["required"]:
            assert name in declared
    openapi = http.get("/openapi.json").json()["components"]["schemas"]
    assert openapi["Input"] == body["input_schema"]
    assert openapi["Output"] == body["output_schema"]
