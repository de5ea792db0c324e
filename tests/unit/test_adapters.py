"""The LangGraph and LangChain adapters on the example agents and the scaffolded chain."""

from __future__ import annotations

import asyncio
import importlib
import sys
from collections.abc import AsyncIterator, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import agentdock
import pytest
from agentdock_cli.scaffold import scaffold
from agentdock_plugins.langchain.adapter import LangChainAdapter
from agentdock_plugins.langgraph.adapter import LangGraphAdapter
from langchain_core.output_parsers import StrOutputParser
from langchain_core.prompts import ChatPromptTemplate

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
INVOICE_ENV = {
    "JWT_SECRET": "x" * 40,
    "LANGFUSE_PUBLIC": "pk-lf-test",
    "LANGFUSE_SECRET": "sk-lf-test",
}
INVOICE = """\
ACME Supplies Ltd.
Invoice No: INV-2024-0042
Date: 2024-03-15
Card: 4111111111111111
Total due: EUR 1,250.00
"""


def _purge(package: str) -> None:
    for name in [n for n in sys.modules if n == package or n.startswith(package + ".")]:
        del sys.modules[name]


@contextmanager
def project(directory: Path, package: str) -> Iterator[None]:
    """Import ``package`` from ``directory`` only, and forget it afterwards."""
    _purge(package)
    sys.path.insert(0, str(directory))
    try:
        yield
    finally:
        sys.path.remove(str(directory))
        _purge(package)


def entry(ref: str) -> Any:
    module, _, attr = ref.partition(":")
    return getattr(importlib.import_module(module), attr)


def run(coro: Any) -> Any:
    return asyncio.run(coro)


async def collect(events: AsyncIterator[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    return [event async for event in events]


# -- LangGraph ---------------------------------------------------------------------------------


def test_echo_graph_invoke_and_stream() -> None:
    spec = agentdock.load(EXAMPLES / "echo" / "Dockfile.yaml")
    with project(EXAMPLES / "echo", "echo"):
        adapter = LangGraphAdapter(entry(spec.agent.entrypoint), spec)
    assert run(adapter.invoke({"text": "hi"}, {})) == {"text": "HI"}
    events = run(collect(adapter.stream({"text": "hello there"}, {})))
    assert events
    assert {
        "event": "event",
        "data": {"node": "shout", "update": {"text": "HELLO THERE"}},
    } in events


def test_chat_example_streams_tokens() -> None:
    spec = agentdock.load(EXAMPLES / "chat" / "Dockfile.yaml")
    with project(EXAMPLES / "chat", "agent"):
        adapter = LangGraphAdapter(entry(spec.agent.entrypoint), spec)
    result = run(adapter.invoke({"question": "What is a Dockfile?"}, {}))
    assert result == {"answer": "You asked: What is a Dockfile?"}
    events = run(collect(adapter.stream({"question": "What is a Dockfile?"}, {})))
    tokens = [e["data"]["text"] for e in events if e["event"] == "token"]
    assert len(tokens) > 1
    assert "".join(tokens) == "You asked: What is a Dockfile?"
    assert {e["data"]["node"] for e in events if e["event"] == "token"} == {"respond"}


def test_invoice_copilot_calls_its_tools() -> None:
    spec = agentdock.load(EXAMPLES / "invoice-copilot" / "Dockfile.yaml", env=INVOICE_ENV)
    with project(EXAMPLES / "invoice-copilot", "app"):
        adapter = LangGraphAdapter(entry(spec.agent.entrypoint), spec)
        schemas = importlib.import_module("app.schemas")
        result = run(adapter.invoke({"document": INVOICE}, {}))
        schemas.InvoiceOutput.model_validate(result)
        schemas.InvoiceInput.model_validate({"document": INVOICE})
    assert result["invoice_number"] == "INV-2024-0042"
    assert result["vendor"] == "ACME Supplies Ltd."
    assert result["total"] == 1250.0
    assert result["currency"] == "EUR"
    assert result["summary"].startswith("Invoice INV-2024-0042 from ACME Supplies Ltd.")
    events = run(collect(adapter.stream({"document": INVOICE}, {})))
    nodes = [e["data"]["node"] for e in events if e["event"] == "event"]
    assert nodes == ["agent", "tools", "agent", "tools", "agent", "answer"]
    # The document is never streamed back, only what the model and tools produce.
    assert not any("4111111111111111" in str(e["data"]) for e in events if e["event"] == "token")


def test_builder_receives_what_it_accepts() -> None:
    spec = SimpleNamespace(model=SimpleNamespace(name="m"), arguments={"timeout_sec": 5})
    with project(EXAMPLES / "echo", "echo"):
        graph = entry("echo.graph:build_graph")()
    seen: dict[str, Any] = {}

    def model_and_arguments(model: Any, arguments: dict[str, Any]) -> Any:
        seen.update(model=model, arguments=arguments)
        return graph

    def everything(**kwargs: Any) -> Any:
        seen["kwargs"] = kwargs
        return graph

    def nothing() -> Any:
        seen["nothing"] = True
        return graph

    LangGraphAdapter(model_and_arguments, spec)
    assert seen == {"model": spec.model, "arguments": {"timeout_sec": 5}}
    LangGraphAdapter(everything, spec)
    assert seen["kwargs"] == {"model": spec.model, "arguments": {"timeout_sec": 5}, "spec": spec}
    adapter = LangGraphAdapter(nothing, spec)
    assert seen["nothing"] is True
    assert adapter.graph is graph
    # A compiled graph is used as it is, not called.
    assert LangGraphAdapter(graph, spec).graph is graph


def test_builder_gets_the_dockfile_model_block() -> None:
    spec = agentdock.load(EXAMPLES / "invoice-copilot" / "Dockfile.yaml", env=INVOICE_ENV)
    calls: list[Any] = []
    with project(EXAMPLES / "invoice-copilot", "app"):
        build_graph = entry(spec.agent.entrypoint)

        def spy(model: Any) -> Any:
            calls.append(model)
            return build_graph(model)

        LangGraphAdapter(spy, spec)
    assert calls == [spec.model]
    assert calls[0].name == "gpt-4o"


def test_builder_returning_a_non_runnable_is_a_type_error() -> None:
    spec = SimpleNamespace(model=None, arguments={})
    with pytest.raises(TypeError, match="dict"):
        LangGraphAdapter(lambda: {"not": "a graph"}, spec)
    with pytest.raises(TypeError, match="neither a runnable nor callable"):
        LangGraphAdapter(42, spec)
    with pytest.raises(TypeError):
        LangChainAdapter(lambda model: "nope", spec)


# -- LangChain ---------------------------------------------------------------------------------


def test_langchain_template_chain(tmp_path: Path) -> None:
    directory = tmp_path / "qa"
    scaffold(directory, template="langchain")
    spec = agentdock.load(directory / "Dockfile.yaml")
    assert spec.agent.framework == "langchain"
    with project(directory, "agent"):
        adapter = LangChainAdapter(entry(spec.agent.entrypoint), spec)
    assert run(adapter.invoke({"question": "Is it offline?"}, {})) == {
        "answer": "You asked: Is it offline?"
    }
    events = run(collect(adapter.stream({"question": "Is it offline?"}, {})))
    assert len(events) > 1
    pieces = [e["data"]["chunk"]["answer"] for e in events if e["event"] == "event"]
    assert "".join(pieces) == "You asked: Is it offline?"


def test_langchain_adapter_streams_text_tokens(tmp_path: Path) -> None:
    directory = tmp_path / "qa"
    scaffold(directory, template="langchain")
    with project(directory, "agent"):
        model = importlib.import_module("agent.model").OfflineChatModel()
    chain = ChatPromptTemplate.from_messages([("human", "{question}")]) | model | StrOutputParser()
    adapter = LangChainAdapter(chain, SimpleNamespace(model=None, arguments={}))
    assert run(adapter.invoke({"question": "one two"}, {})) == "You asked: one two"
    events = run(collect(adapter.stream({"question": "one two"}, {})))
    tokens = [e["data"]["text"] for e in events if e["event"] == "token"]
    assert tokens == ["You ", "asked: ", "one ", "two"]
