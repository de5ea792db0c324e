"""The examples: each Dockfile validates, examples/chat is exactly what `init` writes, and
examples/react-tools runs through the LangGraph adapter with its tools gated."""

from __future__ import annotations

import asyncio
import importlib
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import agentdock
import pytest
from agentdock.run import RunContext, StreamEvent, ToolCall, ToolDenied, ToolGate, Usage
from agentdock_cli.main import cli
from agentdock_plugins.langgraph.adapter import LangGraphAdapter
from click.testing import CliRunner
from langchain_core.callbacks import UsageMetadataCallbackHandler

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


# -- examples/react-tools: a tool-calling ReAct agent run through the LangGraph adapter --------

REACT = EXAMPLES / "react-tools"
REFUND = {"question": "Please refund order A-1001."}


@contextmanager
def react_agent() -> Iterator[Any]:
    """The example's package, imported from its directory only and forgotten afterwards."""

    def purge() -> None:
        for name in [n for n in sys.modules if n.split(".")[0] == "react_agent"]:
            del sys.modules[name]

    purge()
    sys.path.insert(0, str(REACT))
    try:
        yield importlib.import_module("react_agent.graph")
    finally:
        sys.path.remove(str(REACT))
        purge()


def react_adapter(tmp_path: Path) -> tuple[LangGraphAdapter, Any]:
    spec = agentdock.load(REACT / "Dockfile.yaml")
    with react_agent() as graph:
        tools = importlib.import_module("react_agent.tools")
        return LangGraphAdapter(graph.build_graph, spec, project_dir=tmp_path), tools


def test_react_tools_validates_cleanly() -> None:
    result = CliRunner().invoke(cli, ["validate", str(REACT / "Dockfile.yaml")])
    assert result.exit_code == 0, result.output
    report = agentdock.validate(REACT / "Dockfile.yaml")
    assert report.ok, [f.one_line() for f in report.errors]
    assert report.warnings == (), [f.one_line() for f in report.warnings]
    spec = report.spec
    assert spec.version == "1.1"
    assert spec.auth.mode == "api_key"
    assert spec.io_schema.mode == "inline"
    assert spec.policies.safety.max_output_chars is not None
    assert list(spec.policies.tools.allowed) == ["lookup_order", "issue_refund"]
    assert spec.arguments["checkpointer"] == "sqlite"


def test_react_tools_calls_both_tools_and_sums_usage(tmp_path: Path) -> None:
    adapter, _tools = react_adapter(tmp_path)
    assert adapter.synchronous
    result = asyncio.run(adapter.invoke(REFUND, RunContext("r1")))
    assert result.output == {"answer": "refund R-A-1001 of 39.50 issued."}
    assert result.tools == (
        ToolCall("lookup_order", {"order_id": "A-1001"}, "call_lookup_A-1001"),
        ToolCall("issue_refund", {"order_id": "A-1001", "amount": 39.5}, "call_refund_A-1001"),
    )
    # The run's usage is the sum over the model's three replies.
    with react_agent() as graph:
        usage = UsageMetadataCallbackHandler()
        graph.build_graph().invoke(REFUND, config={"callbacks": [usage]})
    (totals,) = usage.usage_metadata.values()
    assert result.usage == Usage(totals["input_tokens"], totals["output_tokens"])
    assert result.usage.input_tokens > 0
    adapter.close()


def test_react_tools_streams_a_tool_event_before_each_tool(tmp_path: Path) -> None:
    adapter, _tools = react_adapter(tmp_path)

    async def collect() -> list[StreamEvent]:
        return [e async for e in adapter.stream(REFUND, RunContext("r1"))]

    events = asyncio.run(collect())
    steps = [
        e.data.get("node") or e.data.get("name") for e in events if e.kind in {"event", "tool"}
    ]
    assert steps == [
        "ask",
        "agent",
        "lookup_order",
        "tools",
        "agent",
        "issue_refund",
        "tools",
        "agent",
        "answer",
    ]
    tools = [dict(e.data) for e in events if e.kind == "tool"]
    assert tools[1] == {
        "name": "issue_refund",
        "args": {"order_id": "A-1001", "amount": 39.5},
        "id": "call_refund_A-1001",
    }
    tokens = "".join(str(e.data["text"]) for e in events if e.kind == "token")
    assert tokens == "refund R-A-1001 of 39.50 issued."
    assert events[-1].kind == "usage"
    assert events[-1].data["total_tokens"] > 0
    adapter.close()


def test_react_tools_denied_refund_never_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    adapter, tools = react_adapter(tmp_path)
    ran: list[str] = []
    for name in ("lookup_order", "issue_refund"):
        tool = getattr(tools, name)
        monkeypatch.setattr(tool, "func", _spy(tool.func, name, ran))
    asked: list[str] = []

    class HumanForRefunds(ToolGate):
        async def adecide(self, call: ToolCall) -> None:
            asked.append(call.name)
            if call.name not in {"lookup_order"}:
                raise ToolDenied(call.name, "refunds need a human")

    gate = HumanForRefunds(inline=False)
    with pytest.raises(ToolDenied) as denied:
        asyncio.run(adapter.invoke(REFUND, RunContext("r1", tools=gate)))
    assert denied.value.tool == "issue_refund"
    assert asked == ["lookup_order", "issue_refund"]
    assert ran == ["lookup_order"]
    adapter.close()


def test_react_tools_conversation_survives_a_restart(tmp_path: Path) -> None:
    first, _tools = react_adapter(tmp_path)
    result = asyncio.run(first.invoke(REFUND, RunContext("r1", thread_id="customer-7")))
    assert result.output == {"answer": "refund R-A-1001 of 39.50 issued."}
    first.close()
    assert (tmp_path / ".agentdock" / "checkpoints.db").is_file()

    second, _tools = react_adapter(tmp_path)
    again = {"question": "And order A-1002 too."}
    result = asyncio.run(second.invoke(again, RunContext("r2", thread_id="customer-7")))
    assert result.output == {"answer": "refund R-A-1002 of 89.00 issued."}
    state = second._stateful.get_state({"configurable": {"thread_id": "customer-7"}})
    questions = [m.content for m in state.values["messages"] if m.type == "human"]
    assert questions == [REFUND["question"], again["question"]]
    # The second turn's prompt includes the first turn: more input tokens than a fresh thread.
    fresh = asyncio.run(second.invoke(again, RunContext("r3", thread_id="customer-8")))
    assert result.usage.input_tokens > fresh.usage.input_tokens
    second.close()


def _spy(function: Any, name: str, ran: list[str]) -> Any:
    def spy(*args: Any, **kwargs: Any) -> Any:
        ran.append(name)
        return function(*args, **kwargs)

    return spy


ALL_STEPS = frozenset({"node_event", "tool_event", "model_event"})


def _traced_context(
    run_id: str, tools: ToolGate | None = None, steps: frozenset[str] = ALL_STEPS
) -> tuple[RunContext, list[Any]]:
    events: list[Any] = []
    context = RunContext(
        run_id, emit=lambda kind, data: events.append((kind, dict(data))), steps=steps
    )
    if tools is not None:
        context.tools = tools
    return context, events


def test_react_tools_reports_each_node_tool_and_model_call(tmp_path: Path) -> None:
    adapter, _tools = react_adapter(tmp_path)
    context, events = _traced_context("r-traced")
    assert context.traced
    result = asyncio.run(adapter.invoke(REFUND, context))
    adapter.close()
    kinds = [kind for kind, _ in events]
    tools = [data for kind, data in events if kind == "tool_event"]
    assert [(t["tool"], t["status"], t["call_id"]) for t in tools] == [
        ("lookup_order", "ok", "call_lookup_A-1001"),
        ("issue_refund", "ok", "call_refund_A-1001"),
    ]
    models = [data for kind, data in events if kind == "model_event"]
    assert len(models) == 3, "one per reply of the scripted model"
    assert sum(m["tokens_input"] for m in models) == result.usage.input_tokens
    assert sum(m["tokens_output"] for m in models) == result.usage.output_tokens
    nodes = [data["node"] for kind, data in events if kind == "node_event"]
    assert nodes.count("agent") == 3 and nodes.count("tools") == 2
    assert kinds.count("node_event") == len(nodes)
    spans = [data["span_id"] for _, data in events]
    assert len(set(spans)) == len(spans) and all(len(s) == 16 for s in spans)
    for _, data in events:
        assert data["duration_ms"] >= 0 and data["start_unix_nano"] > 0


def test_a_denied_tool_is_reported_as_denied(tmp_path: Path) -> None:
    adapter, _tools = react_adapter(tmp_path)

    class DenyRefunds(ToolGate):
        async def adecide(self, call: ToolCall) -> None:
            if call.name == "issue_refund":
                raise ToolDenied(call.name, "not today")

    context, events = _traced_context("r-denied", DenyRefunds(inline=False))
    with pytest.raises(ToolDenied):
        asyncio.run(adapter.invoke(REFUND, context))
    adapter.close()
    tools_reported = [(d["tool"], d["status"]) for k, d in events if k == "tool_event"]
    assert tools_reported == [("lookup_order", "ok"), ("issue_refund", "denied")]


def test_only_the_steps_a_sink_uses_are_timed(tmp_path: Path) -> None:
    adapter, _tools = react_adapter(tmp_path)
    context, events = _traced_context("r-tools", steps=frozenset({"tool_event"}))
    asyncio.run(adapter.invoke(REFUND, context))
    adapter.close()
    assert [kind for kind, _ in events] == ["tool_event", "tool_event"]


def test_an_untraced_run_installs_no_timing_callbacks(tmp_path: Path) -> None:
    from agentdock_plugins.langchain_callbacks import RunTracker

    async def handlers() -> list[str]:
        return [type(h).__name__ for h in RunTracker(RunContext("r")).handlers]

    assert asyncio.run(handlers()) == ["_ToolRecorder"]


def test_a_traced_run_times_its_steps_without_a_handler_of_their_own() -> None:
    """LangChain calls each handler taking model events once per streamed token: the step
    timings are handed over by the run's one recorder, not by a second handler."""
    from agentdock_plugins.langchain_callbacks import RunTracker

    async def handlers() -> list[str]:
        context = RunContext("r", steps=ALL_STEPS)
        return [type(h).__name__ for h in RunTracker(context).handlers]

    assert asyncio.run(handlers()) == ["_ToolRecorder"]
