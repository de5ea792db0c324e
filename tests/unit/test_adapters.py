"""The LangGraph and LangChain adapters: runs, streams, tools, usage and conversations."""

from __future__ import annotations

import asyncio
import importlib
import os
import sys
import threading
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import SimpleNamespace
from typing import Annotated, Any, TypedDict

import agentdock
import pytest
from agentdock.run import (
    RunContext,
    RunResult,
    StreamEvent,
    ToolCall,
    ToolDenied,
    ToolGate,
    Usage,
)
from agentdock_cli.scaffold import scaffold
from agentdock_plugins.langchain.adapter import LangChainAdapter
from agentdock_plugins.langgraph.adapter import LangGraphAdapter, is_synchronous
from langchain_core.callbacks import UsageMetadataCallbackHandler
from langchain_core.messages import AIMessage, AnyMessage, HumanMessage
from langchain_core.output_parsers import StrOutputParser
from langchain_core.prompts import ChatPromptTemplate
from langchain_core.runnables import RunnableConfig, RunnableLambda
from langchain_core.tools import tool
from langgraph.graph import END, START, StateGraph
from langgraph.graph.message import add_messages
from langgraph.prebuilt import ToolNode, tools_condition

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
NO_ARGUMENTS = SimpleNamespace(model=None, arguments={})


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


def ctx(run_id: str = "run-1", **kwargs: Any) -> RunContext:
    return RunContext(run_id=run_id, **kwargs)


async def collect(events: AsyncIterator[StreamEvent]) -> list[StreamEvent]:
    return [event async for event in events]


def kinds(events: list[StreamEvent], kind: str) -> list[dict[str, Any]]:
    return [dict(e.data) for e in events if e.kind == kind]


# -- a small tool-calling graph, built synchronous or asynchronous ------------------------------


class Scripted:
    """A scripted chat model: each call pops the next reply (tool calls, then an answer)."""

    def __init__(self, replies: list[AIMessage]) -> None:
        self.replies = replies

    def __call__(self, messages: list[AnyMessage]) -> AIMessage:
        step = sum(1 for m in messages if isinstance(m, AIMessage))
        return self.replies[step].model_copy()


class Chat(TypedDict):
    messages: Annotated[list[AnyMessage], add_messages]


def _reply(content: str = "", calls: list[tuple[str, dict[str, Any]]] = ()) -> AIMessage:  # type: ignore[assignment]
    return AIMessage(
        content=content,
        tool_calls=[
            {"name": name, "args": args, "id": f"call_{i}", "type": "tool_call"}
            for i, (name, args) in enumerate(calls)
        ],
        usage_metadata={"input_tokens": 10, "output_tokens": 2, "total_tokens": 12},
    )


def tool_graph(*, asynchronous: bool, handle_tool_errors: bool = False) -> tuple[Any, list[str]]:
    """A two-tool agent graph and the list its tools append to when they really run."""
    ran: list[str] = []

    @tool
    def search(query: str) -> str:
        """Search for something."""
        ran.append("search")
        return f"results for {query}"

    @tool
    def delete_file(path: str) -> str:
        """Delete a file."""
        ran.append("delete_file")
        return f"deleted {path}"

    from langchain_core.language_models.fake_chat_models import FakeMessagesListChatModel

    model = FakeMessagesListChatModel(
        responses=[
            _reply(calls=[("search", {"query": "x"})]),
            _reply(calls=[("delete_file", {"path": "/tmp/a"})]),
            _reply("done"),
        ]
    )
    script = Scripted(list(model.responses))

    def agent(state: Chat, config: RunnableConfig) -> dict[str, Any]:
        reply = RunnableLambda(script).invoke(state["messages"], config)
        model.invoke("count usage", config)  # a real model call: usage goes through callbacks
        return {"messages": [reply]}

    async def aagent(state: Chat, config: RunnableConfig) -> dict[str, Any]:
        reply = script(state["messages"])
        await model.ainvoke("count usage", config)
        return {"messages": [reply]}

    graph = StateGraph(Chat)
    graph.add_node("agent", aagent if asynchronous else agent)
    graph.add_node("tools", ToolNode([search, delete_file], handle_tool_errors=handle_tool_errors))
    graph.add_edge(START, "agent")
    graph.add_conditional_edges("agent", tools_condition)
    graph.add_edge("tools", "agent")
    return graph.compile(), ran


class _Deny(ToolGate):
    """A gate that awaits its check (as asynchronous tool policies do) and denies ``name``."""

    def __init__(self, name: str, seen: list[ToolCall] | None) -> None:
        super().__init__(inline=False)
        self.name = name
        self.seen = seen

    async def adecide(self, call: ToolCall) -> None:
        if self.seen is not None:
            self.seen.append(call)
        await asyncio.sleep(0)
        if call.name == self.name:
            raise ToolDenied(call.name, "not allowed here")


def deny(name: str, seen: list[ToolCall] | None = None) -> ToolGate:
    return _Deny(name, seen)


# -- LangGraph: examples -----------------------------------------------------------------------


def test_echo_graph_invoke_and_stream() -> None:
    spec = agentdock.load(EXAMPLES / "echo" / "Dockfile.yaml")
    with project(EXAMPLES / "echo", "echo"):
        adapter = LangGraphAdapter(entry(spec.agent.entrypoint), spec)
    assert adapter.synchronous
    result = run(adapter.invoke({"text": "hi"}, ctx()))
    assert result == RunResult(output={"text": "HI"})
    events = run(collect(adapter.stream({"text": "hello there"}, ctx())))
    assert events == [
        StreamEvent("event", {"node": "shout", "update": {"text": "HELLO THERE"}}),
        StreamEvent("output", {"output": {"text": "HELLO THERE"}}),
        StreamEvent("usage", {"input_tokens": 0, "output_tokens": 0, "total_tokens": 0}),
    ]


def test_chat_example_streams_tokens_and_sums_usage() -> None:
    spec = agentdock.load(EXAMPLES / "chat" / "Dockfile.yaml")
    with project(EXAMPLES / "chat", "agent"):
        adapter = LangGraphAdapter(entry(spec.agent.entrypoint), spec)
        graph = entry(spec.agent.entrypoint)(spec.model)
    question = {"question": "What is a Dockfile?"}
    result = run(adapter.invoke(question, ctx()))
    assert result.output == {"answer": "You asked: What is a Dockfile?"}
    expected = UsageMetadataCallbackHandler()
    graph.invoke(question, config={"callbacks": [expected]})
    (totals,) = expected.usage_metadata.values()
    assert result.usage == Usage(totals["input_tokens"], totals["output_tokens"])
    assert result.usage.output_tokens == 6  # "You asked: What is a Dockfile?", in words

    events = run(collect(adapter.stream(question, ctx())))
    tokens = kinds(events, "token")
    assert len(tokens) > 1
    assert "".join(t["text"] for t in tokens) == "You asked: What is a Dockfile?"
    assert {t["node"] for t in tokens} == {"respond"}
    assert events[-1] == StreamEvent(
        "usage",
        {
            "input_tokens": totals["input_tokens"],
            "output_tokens": totals["output_tokens"],
            "total_tokens": totals["total_tokens"],
        },
    )


def test_a_traced_streamed_run_times_its_model_with_one_handler_per_token() -> None:
    """Step timings ride in the run's recorder: each streamed token is handed to one
    handler (LangChain calls every handler that takes model events for each token), and
    the node and model are still timed, the model with its usage."""
    from langchain_core.callbacks import BaseCallbackHandler

    spec = agentdock.load(EXAMPLES / "chat" / "Dockfile.yaml")
    with project(EXAMPLES / "chat", "agent"):
        adapter = LangGraphAdapter(entry(spec.agent.entrypoint), spec)
    steps: list[tuple[str, dict[str, Any]]] = []
    context = ctx(
        emit=lambda kind, data: steps.append((kind, dict(data))),
        steps=frozenset({"node_event", "tool_event", "model_event"}),
    )
    calls: list[str] = []
    token = BaseCallbackHandler.on_llm_new_token

    def counted(self: BaseCallbackHandler, *args: Any, **kwargs: Any) -> Any:
        calls.append(type(self).__name__)
        return token(self, *args, **kwargs)

    question = {"question": "What is a Dockfile?"}
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(BaseCallbackHandler, "on_llm_new_token", counted)
        events = run(collect(adapter.stream(question, context)))
    tokens = kinds(events, "token")
    assert len(tokens) > 1
    # The recorder streams tokens with a method of its own; no other handler of the run
    # (LangGraph's stream handler for the "messages" mode aside) is called per token.
    assert [name for name in calls if name != "StreamMessagesHandler"] == []
    models = [data for kind, data in steps if kind == "model_event"]
    (usage,) = kinds(events, "usage")
    assert [(m["status"], m["tokens_output"]) for m in models] == [("ok", usage["output_tokens"])]
    assert "respond" in [data["node"] for kind, data in steps if kind == "node_event"]


def test_invoice_copilot_reports_its_tool_calls() -> None:
    spec = agentdock.load(EXAMPLES / "invoice-copilot" / "Dockfile.yaml", env=INVOICE_ENV)
    with project(EXAMPLES / "invoice-copilot", "app"):
        adapter = LangGraphAdapter(entry(spec.agent.entrypoint), spec)
        schemas = importlib.import_module("app.schemas")
        result = run(adapter.invoke({"document": INVOICE}, ctx()))
        schemas.InvoiceOutput.model_validate(result.output)
        events = run(collect(adapter.stream({"document": INVOICE}, ctx())))
    assert result.output["invoice_number"] == "INV-2024-0042"
    assert result.output["summary"].startswith("Invoice INV-2024-0042 from ACME Supplies Ltd.")
    assert [t.name for t in result.tools] == ["extract_invoice", "summarize_invoice"]
    assert result.tools[0].args == {"document": INVOICE}
    assert result.usage.input_tokens > 0
    assert result.usage.output_tokens > 0
    steps = [
        e.data.get("node") or e.data.get("name")
        for e in events
        if e.kind not in ("token", "output", "usage")
    ]
    assert steps == [
        "agent",
        "extract_invoice",
        "tools",
        "agent",
        "summarize_invoice",
        "tools",
        "agent",
        "answer",
    ]
    assert events[-1].kind == "usage"
    # The stream ends with what invoke returned (the graph's output channels only).
    assert events[-2] == StreamEvent("output", {"output": result.output})
    # The document is never streamed back as tokens, only what the model produces.
    assert not any("4111111111111111" in str(t) for t in kinds(events, "token"))


# -- builders ----------------------------------------------------------------------------------


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
    # The graph it returned, given the agent's store (a copy: the graph itself is untouched).
    assert adapter.graph.builder is graph.builder and adapter.graph.store is adapter.store
    assert graph.store is None
    # A compiled graph is used as it is, not called.
    assert LangGraphAdapter(graph, spec).graph.builder is graph.builder


def test_builder_is_called_once_with_the_dockfile_model_block() -> None:
    spec = agentdock.load(EXAMPLES / "invoice-copilot" / "Dockfile.yaml", env=INVOICE_ENV)
    calls: list[Any] = []
    with project(EXAMPLES / "invoice-copilot", "app"):
        build_graph = entry(spec.agent.entrypoint)

        def spy(model: Any) -> Any:
            calls.append(model)
            return build_graph(model)

        adapter = LangGraphAdapter(spy, spec)
        run(adapter.invoke({"document": INVOICE}, ctx()))
        run(adapter.invoke({"document": INVOICE}, ctx()))
    assert calls == [spec.model]
    assert calls[0].name == "gpt-4o"


def test_builder_returning_a_non_runnable_is_a_type_error() -> None:
    with pytest.raises(TypeError, match="dict"):
        LangGraphAdapter(lambda: {"not": "a graph"}, NO_ARGUMENTS)
    with pytest.raises(TypeError, match="neither a runnable nor callable"):
        LangGraphAdapter(42, NO_ARGUMENTS)
    with pytest.raises(TypeError):
        LangChainAdapter(lambda model: "nope", NO_ARGUMENTS)


def test_arguments_are_checked_at_start_up() -> None:
    graph, _ = tool_graph(asynchronous=False)
    with pytest.raises(ValueError, match="worker_threads"):
        LangGraphAdapter(graph, SimpleNamespace(model=None, arguments={"worker_threads": 0}))
    with pytest.raises(ValueError, match="checkpointer"):
        LangGraphAdapter(graph, SimpleNamespace(model=None, arguments={"checkpointer": "mongo"}))
    adapter = LangGraphAdapter(graph, SimpleNamespace(model=None, arguments={"worker_threads": 3}))
    assert adapter._workers is not None
    assert adapter._workers.maximum == 3 and adapter._workers.core <= 3


# -- tools: events and gating ------------------------------------------------------------------


@pytest.mark.parametrize("asynchronous", [False, True], ids=["sync-graph", "async-graph"])
def test_tool_events_come_before_each_tool_runs(asynchronous: bool) -> None:
    graph, ran = tool_graph(asynchronous=asynchronous)
    adapter = LangGraphAdapter(graph, NO_ARGUMENTS)
    assert adapter.synchronous is not asynchronous
    seen: list[ToolCall] = []
    result = run(adapter.invoke({"messages": [HumanMessage("go")]}, ctx(tools=deny("none", seen))))
    assert ran == ["search", "delete_file"]
    assert seen == list(result.tools)
    assert result.tools == (
        ToolCall("search", {"query": "x"}, "call_0"),
        ToolCall("delete_file", {"path": "/tmp/a"}, "call_0"),
    )
    assert result.output["messages"][-1].content == "done"

    ran.clear()
    events = run(collect(adapter.stream({"messages": [HumanMessage("go")]}, ctx())))
    order = [
        (e.kind, e.data.get("name") or e.data.get("node")) for e in events if e.kind != "token"
    ]
    assert order == [
        ("event", "agent"),
        ("tool", "search"),
        ("event", "tools"),
        ("event", "agent"),
        ("tool", "delete_file"),
        ("event", "tools"),
        ("event", "agent"),
        ("output", None),
        ("usage", None),
    ]
    assert kinds(events, "tool")[0] == {"name": "search", "args": {"query": "x"}, "id": "call_0"}
    [final] = kinds(events, "output")
    assert [m.content for m in final["output"]["messages"]] == [
        m.content for m in result.output["messages"]
    ]


@pytest.mark.parametrize(
    ("asynchronous", "handle_tool_errors"),
    [(False, False), (True, False), (False, True), (True, True)],
    ids=["sync", "async", "sync-swallowing-errors", "async-swallowing-errors"],
)
def test_denied_tool_stops_the_run_before_it_runs(
    asynchronous: bool, handle_tool_errors: bool
) -> None:
    graph, ran = tool_graph(asynchronous=asynchronous, handle_tool_errors=handle_tool_errors)
    adapter = LangGraphAdapter(graph, NO_ARGUMENTS)
    with pytest.raises(ToolDenied) as denied:
        run(adapter.invoke({"messages": [HumanMessage("go")]}, ctx(tools=deny("delete_file"))))
    assert denied.value.tool == "delete_file"
    assert ran == ["search"]

    ran.clear()
    events: list[StreamEvent] = []

    async def consume() -> None:
        async for event in adapter.stream(
            {"messages": [HumanMessage("go")]}, ctx(tools=deny("delete_file"))
        ):
            events.append(event)

    with pytest.raises(ToolDenied):
        run(consume())
    assert ran == ["search"]
    assert [e["name"] for e in kinds(events, "tool")] == ["search"]
    assert not kinds(events, "usage")


def test_a_sync_tool_called_from_an_async_node_is_gated() -> None:
    ran: list[str] = []

    @tool
    def wipe(target: str) -> str:
        """Wipe something."""
        ran.append(target)
        return "wiped"

    async def node(state: Chat, config: RunnableConfig) -> dict[str, Any]:
        # A synchronous tool call from a worker thread of the async run.
        text = await asyncio.to_thread(wipe.invoke, {"target": "disk"}, config)
        return {"messages": [AIMessage(text)]}

    graph = StateGraph(Chat)
    graph.add_node("node", node)
    graph.add_edge(START, "node")
    graph.add_edge("node", END)
    adapter = LangGraphAdapter(graph.compile(), NO_ARGUMENTS)
    assert not adapter.synchronous
    with pytest.raises(ToolDenied):
        run(adapter.invoke({"messages": []}, ctx(tools=deny("wipe"))))
    assert ran == []
    result = run(adapter.invoke({"messages": []}, ctx()))
    assert ran == ["disk"]
    assert result.tools == (ToolCall("wipe", {"target": "disk"}, None),)


@pytest.mark.parametrize("asynchronous", [False, True], ids=["sync-graph", "async-graph"])
def test_a_run_that_allows_every_tool_still_records_each_call(asynchronous: bool) -> None:
    graph, ran = tool_graph(asynchronous=asynchronous)
    adapter = LangGraphAdapter(graph, NO_ARGUMENTS)
    result = run(adapter.invoke({"messages": [HumanMessage("go")]}, ctx()))
    assert ran == ["search", "delete_file"]
    assert result.tools == (
        ToolCall("search", {"query": "x"}, "call_0"),
        ToolCall("delete_file", {"path": "/tmp/a"}, "call_0"),
    )


@pytest.mark.parametrize("asynchronous", [False, True], ids=["sync-graph", "async-graph"])
def test_a_check_installed_during_the_run_gates_later_tools(asynchronous: bool) -> None:
    ran: list[str] = []
    context = ctx()

    @tool
    def wipe(target: str) -> str:
        """Wipe something."""
        ran.append(target)
        return "wiped"

    def first(state: Chat, config: RunnableConfig) -> dict[str, Any]:
        wipe.invoke({"target": "a"}, config)
        context.tools = deny("wipe")
        wipe.invoke({"target": "b"}, config)
        return {"messages": []}

    async def afirst(state: Chat, config: RunnableConfig) -> dict[str, Any]:
        await wipe.ainvoke({"target": "a"}, config)
        context.tools = deny("wipe")
        await wipe.ainvoke({"target": "b"}, config)
        return {"messages": []}

    graph = StateGraph(Chat)
    graph.add_node("node", afirst if asynchronous else first)
    graph.add_edge(START, "node")
    graph.add_edge("node", END)
    adapter = LangGraphAdapter(graph.compile(), NO_ARGUMENTS)
    with pytest.raises(ToolDenied):
        run(adapter.invoke({"messages": []}, context))
    assert ran == ["a"]


# -- usage -------------------------------------------------------------------------------------


@pytest.mark.parametrize("asynchronous", [False, True], ids=["sync-graph", "async-graph"])
def test_usage_is_summed_over_the_run(asynchronous: bool) -> None:
    graph, _ = tool_graph(asynchronous=asynchronous)
    adapter = LangGraphAdapter(graph, NO_ARGUMENTS)
    result = run(adapter.invoke({"messages": [HumanMessage("go")]}, ctx()))
    # Three model calls, 10 in and 2 out each.
    assert result.usage == Usage(30, 6)
    events = run(collect(adapter.stream({"messages": [HumanMessage("go")]}, ctx())))
    assert events[-1] == StreamEvent(
        "usage", {"input_tokens": 30, "output_tokens": 6, "total_tokens": 36}
    )


# -- the execution path ------------------------------------------------------------------------


class Slow(TypedDict):
    name: str
    at: float


def test_execution_path_is_chosen_from_the_graph() -> None:
    def sync_node(state: Slow) -> dict[str, Any]:
        return {}

    async def async_node(state: Slow) -> dict[str, Any]:
        return {}

    async def async_route(state: Slow) -> str:
        return END

    def graph_of(node: Any, route: Any = None) -> Any:
        graph = StateGraph(Slow)
        graph.add_node("a", node)
        graph.add_edge(START, "a")
        if route is None:
            graph.add_edge("a", END)
        else:
            graph.add_conditional_edges("a", route, [END])
        return graph.compile()

    assert is_synchronous(graph_of(sync_node))
    assert not is_synchronous(graph_of(async_node))
    assert not is_synchronous(graph_of(sync_node, async_route))
    assert is_synchronous(graph_of(graph_of(sync_node)))
    assert not is_synchronous(graph_of(graph_of(async_node)))
    assert not is_synchronous(RunnableLambda(lambda x: x))


def test_a_slow_synchronous_node_does_not_hold_other_runs() -> None:
    released = threading.Event()
    timed_out: list[bool] = []

    def node(state: Slow) -> dict[str, Any]:
        if state["name"] == "slow":
            # Blocks its thread until the other run, started after it, releases it.
            timed_out.append(not released.wait(timeout=10))
        else:
            released.set()
        return {"name": state["name"]}

    graph = StateGraph(Slow)
    graph.add_node("node", node)
    graph.add_edge(START, "node")
    graph.add_edge("node", END)
    adapter = LangGraphAdapter(graph.compile(), NO_ARGUMENTS)
    assert adapter.synchronous

    async def main() -> list[Any]:
        slow = asyncio.create_task(adapter.invoke({"name": "slow"}, ctx("slow")))
        await asyncio.sleep(0.05)
        assert not slow.done()
        fast = await adapter.invoke({"name": "fast"}, ctx("fast"))
        return [await slow, fast]

    slow, fast = run(main())
    assert timed_out == [False]
    assert slow.output["name"] == "slow"
    assert fast.output["name"] == "fast"


# -- stateful agents ---------------------------------------------------------------------------


def _counter_graph() -> Any:
    def say(state: Chat) -> dict[str, Any]:
        said = sum(1 for m in state["messages"] if isinstance(m, HumanMessage))
        return {"messages": [AIMessage(f"message {said}")]}

    graph = StateGraph(Chat)
    graph.add_node("say", say)
    graph.add_edge(START, "say")
    graph.add_edge("say", END)
    return graph.compile()


def hello() -> dict[str, Any]:
    """A new user message (one message object is added to a conversation once)."""
    return {"messages": [HumanMessage("hello")]}


def _said(result: RunResult) -> str:
    return str(result.output["messages"][-1].content)


def test_thread_id_continues_a_conversation_in_memory() -> None:
    adapter = LangGraphAdapter(_counter_graph(), NO_ARGUMENTS)

    async def main() -> list[str]:
        return [
            _said(await adapter.invoke(hello(), ctx(thread_id="t1"))),
            _said(await adapter.invoke(hello(), ctx(thread_id="t1"))),
            _said(await adapter.invoke(hello(), ctx(thread_id="t2"))),
            _said(await adapter.invoke(hello(), ctx())),
            _said(await adapter.invoke(hello(), ctx())),
        ]

    assert run(main()) == ["message 1", "message 2", "message 1", "message 1", "message 1"]
    events = run(collect(adapter.stream(hello(), ctx(thread_id="t1"))))
    (update,) = kinds(events, "event")
    assert update["update"]["messages"][-1].content == "message 3"


def test_thread_id_continues_across_a_restart_with_sqlite(tmp_path: Path) -> None:
    spec = SimpleNamespace(model=None, arguments={"checkpointer": "sqlite"})
    first = LangGraphAdapter(_counter_graph(), spec, project_dir=tmp_path)
    assert _said(run(first.invoke(hello(), ctx(thread_id="t1")))) == "message 1"
    assert _said(run(first.invoke(hello(), ctx(thread_id="t1")))) == "message 2"
    first.close()
    assert (tmp_path / ".agentdock" / "checkpoints.db").is_file()

    second = LangGraphAdapter(_counter_graph(), spec, project_dir=tmp_path)
    assert _said(run(second.invoke(hello(), ctx(thread_id="t1")))) == "message 3"
    assert _said(run(second.invoke(hello(), ctx(thread_id="other")))) == "message 1"
    second.close()


def test_sqlite_conversations_on_an_async_graph(tmp_path: Path) -> None:
    async def say(state: Chat) -> dict[str, Any]:
        said = sum(1 for m in state["messages"] if isinstance(m, HumanMessage))
        return {"messages": [AIMessage(f"message {said}")]}

    graph = StateGraph(Chat)
    graph.add_node("say", say)
    graph.add_edge(START, "say")
    graph.add_edge("say", END)
    path = tmp_path / "state" / "threads.db"
    spec = SimpleNamespace(
        model=None, arguments={"checkpointer": "sqlite", "checkpoint_path": str(path)}
    )
    for expected in ("message 1", "message 2"):
        adapter = LangGraphAdapter(graph.compile(), spec)
        assert not adapter.synchronous
        assert _said(run(adapter.invoke(hello(), ctx(thread_id="t")))) == expected
        adapter.close()
    assert path.is_file()


def test_stateless_agent_refuses_a_thread_id() -> None:
    spec = SimpleNamespace(model=None, arguments={"checkpointer": "none"})
    adapter = LangGraphAdapter(_counter_graph(), spec)
    with pytest.raises(ValueError, match="stateless"):
        run(adapter.invoke({"messages": []}, ctx(thread_id="t")))
    assert _said(run(adapter.invoke({"messages": []}, ctx()))) == "message 0"


# -- LangChain ---------------------------------------------------------------------------------


def test_langchain_template_chain(tmp_path: Path) -> None:
    directory = tmp_path / "qa"
    scaffold(directory, template="langchain")
    spec = agentdock.load(directory / "Dockfile.yaml")
    assert spec.agent.framework == "langchain"
    with project(directory, "agent"):
        adapter = LangChainAdapter(entry(spec.agent.entrypoint), spec)
    result = run(adapter.invoke({"question": "Is it offline?"}, ctx()))
    assert result.output == {"answer": "You asked: Is it offline?"}
    assert result.usage.output_tokens == 5  # "You asked: Is it offline?", in words
    assert result.usage.input_tokens > 0
    events = run(collect(adapter.stream({"question": "Is it offline?"}, ctx())))
    tokens = [e["text"] for e in kinds(events, "token")]
    assert "".join(tokens) == "You asked: Is it offline?"
    pieces = [e["chunk"]["answer"] for e in kinds(events, "event")]
    assert "".join(pieces) == "You asked: Is it offline?"
    assert events[-1] == StreamEvent(
        "usage",
        {
            "input_tokens": result.usage.input_tokens,
            "output_tokens": result.usage.output_tokens,
            "total_tokens": result.usage.total_tokens,
        },
    )


def test_langchain_adapter_streams_text_tokens(tmp_path: Path) -> None:
    directory = tmp_path / "qa"
    scaffold(directory, template="langchain")
    with project(directory, "agent"):
        model = importlib.import_module("agent.model").OfflineChatModel()
    chain = ChatPromptTemplate.from_messages([("human", "{question}")]) | model | StrOutputParser()
    adapter = LangChainAdapter(chain, NO_ARGUMENTS)
    result = run(adapter.invoke({"question": "one two"}, ctx()))
    assert result == RunResult(output="You asked: one two", usage=Usage(2, 4))
    events = run(collect(adapter.stream({"question": "one two"}, ctx())))
    assert [e["text"] for e in kinds(events, "token")] == ["You ", "asked: ", "one ", "two"]
    assert kinds(events, "event") == []
    assert events[-1].data["total_tokens"] == 6


def test_langchain_text_without_a_model_is_streamed_as_tokens() -> None:
    adapter = LangChainAdapter(RunnableLambda(lambda x: f"hi {x['name']}"), NO_ARGUMENTS)
    events = run(collect(adapter.stream({"name": "ada"}, ctx())))
    assert events == [
        StreamEvent("token", {"text": "hi ada"}),
        StreamEvent("output", {"output": "hi ada"}),
        StreamEvent("usage", {"input_tokens": 0, "output_tokens": 0, "total_tokens": 0}),
    ]


def test_langchain_stream_output_is_the_chunks_added_up() -> None:
    """Dict chunks of an LCEL chain add up to what ``invoke`` returns."""
    from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
    from langchain_core.messages import AIMessage
    from langchain_core.output_parsers import StrOutputParser
    from langchain_core.runnables import RunnableParallel

    def chain() -> Any:
        model = GenericFakeChatModel(messages=iter([AIMessage("streamed in parts")]))
        ask = RunnableLambda(lambda x: x["question"])
        return RunnableParallel(answer=ask | model | StrOutputParser())

    question = {"question": "q"}
    expected = run(LangChainAdapter(chain(), NO_ARGUMENTS).invoke(question, ctx())).output
    events = run(collect(LangChainAdapter(chain(), NO_ARGUMENTS).stream(question, ctx())))
    assert len(kinds(events, "token")) > 1  # it did stream in chunks
    assert kinds(events, "output") == [{"output": expected}]
    assert expected == {"answer": "streamed in parts"}


def test_langchain_tools_are_gated() -> None:
    ran: list[str] = []

    @tool
    def send_email(to: str) -> str:
        """Send an email."""
        ran.append(to)
        return "sent"

    chain = RunnableLambda(lambda x: {"to": x["to"]}) | send_email
    adapter = LangChainAdapter(chain, NO_ARGUMENTS)
    with pytest.raises(ToolDenied):
        run(adapter.invoke({"to": "a@example.com"}, ctx(tools=deny("send_email"))))
    assert ran == []
    events = run(collect(adapter.stream({"to": "b@example.com"}, ctx())))
    assert ran == ["b@example.com"]
    assert events[0] == StreamEvent(
        "tool", {"name": "send_email", "args": {"to": "b@example.com"}, "id": None}
    )


def test_registered_factories_build_the_adapters(tmp_path: Path) -> None:
    manager = agentdock.make_plugin_manager(entry_points=True)
    adapters = manager.registrations("adapters")
    spec = SimpleNamespace(model=None, arguments={"checkpointer": "sqlite"})
    adapter = adapters["langgraph"].factory(_counter_graph(), spec, project_dir=tmp_path)
    assert isinstance(adapter, LangGraphAdapter)
    assert _said(run(adapter.invoke(hello(), ctx(thread_id="t")))) == "message 1"
    adapter.close()
    assert (tmp_path / ".agentdock" / "checkpoints.db").is_file()
    chain = adapters["langchain"].factory(RunnableLambda(lambda x: x), NO_ARGUMENTS)
    assert isinstance(chain, LangChainAdapter)


# -- what LangGraph is given per run -----------------------------------------------------------


def _echo_graph(node: Any) -> Any:
    graph = StateGraph(Slow)
    graph.add_node("node", node)
    graph.add_edge(START, "node")
    graph.add_edge("node", END)
    return graph.compile()


def test_a_synchronous_run_gives_langgraph_the_default_thread_limit_once_computed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """LangGraph builds a thread pool for every synchronous run from the config's
    ``max_concurrency``; without it the pool computes the stdlib default from
    ``os.cpu_count()`` (a read of sysfs) every run. The adapter passes that same default,
    computed once, so the limit is unchanged and the read is gone. Pinned here: should
    LangGraph build its pool another way, the pools recorded below change and this fails."""
    import concurrent.futures

    import langchain_core.runnables.config as runnable_config

    default = concurrent.futures.ThreadPoolExecutor()._max_workers
    seen: list[Any] = []

    def node(state: Slow, config: RunnableConfig) -> dict[str, Any]:
        seen.append(config.get("max_concurrency"))
        return {"name": state["name"].upper()}

    adapter = LangGraphAdapter(_echo_graph(node), NO_ARGUMENTS)
    assert adapter.synchronous
    pools: list[int] = []
    original = runnable_config.ContextThreadPoolExecutor

    class Recording(original):  # type: ignore[misc, valid-type]
        def __init__(self, max_workers: int | None = None, **kwargs: Any) -> None:
            super().__init__(max_workers=max_workers, **kwargs)
            pools.append(self._max_workers)

    reads: list[int] = []
    cpu_count = os.cpu_count

    def counted() -> int | None:
        reads.append(1)
        return cpu_count()

    monkeypatch.setattr(runnable_config, "ContextThreadPoolExecutor", Recording)
    monkeypatch.setattr(os, "cpu_count", counted)
    result = run(adapter.invoke({"name": "a", "at": 0.0}, ctx()))
    events = run(collect(adapter.stream({"name": "b", "at": 0.0}, ctx())))
    monkeypatch.undo()
    assert result.output["name"] == "A"
    assert events[-2] == StreamEvent("output", {"output": {"name": "B", "at": 0.0}})
    assert pools == [default, default]  # one pool a run, of the stdlib's default size
    assert seen == [default, default]  # and nested runnables inherit the same limit
    assert reads == []


def test_an_asynchronous_run_gets_no_thread_limit() -> None:
    """On the loop, a ``max_concurrency`` would put a semaphore around every task LangGraph
    starts (and limit the graph's own ``abatch`` calls): async runs go without one."""
    seen: list[Any] = []

    async def node(state: Slow, config: RunnableConfig) -> dict[str, Any]:
        seen.append(config.get("max_concurrency", "absent"))
        return {}

    adapter = LangGraphAdapter(_echo_graph(node), NO_ARGUMENTS)
    assert not adapter.synchronous
    run(adapter.invoke({"name": "a", "at": 0.0}, ctx()))
    assert seen == ["absent"]


class _Wide(TypedDict):
    name: str
    note: str


class _Narrow(TypedDict):
    name: str


def _interrupting(*nodes: str, asynchronous: bool) -> Any:
    """A graph whose ``nodes`` run side by side after START, each stopping at an
    ``interrupt()``; its output schema is narrower than its state."""
    from langgraph.types import interrupt

    graph = StateGraph(_Wide, output_schema=_Narrow)
    for name in nodes:

        def stop(state: _Wide, name: str = name) -> dict[str, Any]:
            return {"note": interrupt(f"{name}?")}

        async def astop(state: _Wide, name: str = name) -> dict[str, Any]:
            return {"note": interrupt(f"{name}?")}

        graph.add_node(name, astop if asynchronous else stop)
        graph.add_edge(START, name)
        graph.add_edge(name, END)
    return graph.compile()


def _plain(*, asynchronous: bool) -> Any:
    def node(state: _Wide) -> dict[str, Any]:
        return {"name": state["name"].upper(), "note": "kept inside"}

    async def anode(state: _Wide) -> dict[str, Any]:
        return node(state)

    graph = StateGraph(_Wide, output_schema=_Narrow)
    graph.add_node("node", anode if asynchronous else node)
    graph.add_edge(START, "node")
    graph.add_edge("node", END)
    return graph.compile()


def _functional(*, asynchronous: bool, stop: bool) -> Any:
    """A functional-API graph: one output channel (a string), not a list of keys."""
    from langgraph.func import entrypoint
    from langgraph.types import interrupt

    if asynchronous:

        @entrypoint()
        async def shout(value: dict[str, Any]) -> str:
            return str(interrupt("why?") if stop else value["name"].upper())

        return shout

    @entrypoint()
    def shout_sync(value: dict[str, Any]) -> str:
        return str(interrupt("why?") if stop else value["name"].upper())

    return shout_sync


def _comparable(value: Any) -> Any:
    """``value`` with each interrupt as its value (their ids differ from run to run)."""
    from langgraph.types import Interrupt

    if isinstance(value, dict):
        return {key: _comparable(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_comparable(item) for item in value]
    if isinstance(value, tuple):
        return ("tuple", [_comparable(item) for item in value])
    if isinstance(value, Interrupt):
        return ("interrupt", value.value)
    return value


@pytest.mark.parametrize("asynchronous", [False, True], ids=["sync", "async"])
@pytest.mark.parametrize(
    "build",
    [
        _plain,
        lambda asynchronous: _interrupting("one", asynchronous=asynchronous),
        lambda asynchronous: _interrupting("one", "two", asynchronous=asynchronous),
        lambda asynchronous: _functional(asynchronous=asynchronous, stop=False),
        lambda asynchronous: _functional(asynchronous=asynchronous, stop=True),
    ],
    ids=["plain", "interrupt", "two-interrupts", "functional", "functional-interrupt"],
)
def test_a_run_answers_what_langgraph_invoke_answers(asynchronous: bool, build: Any) -> None:
    """A run is folded from LangGraph's ``values`` stream alone, not ``invoke``'s
    ``updates`` and ``values``: its answer is still ``invoke``'s, interrupts included (all
    of them, as a list, when two nodes of one step stop) and output schema applied."""
    graph = build(asynchronous=asynchronous)
    adapter = LangGraphAdapter(graph, NO_ARGUMENTS)
    expected = (
        run(graph.ainvoke({"name": "a", "note": ""}))
        if asynchronous
        else graph.invoke({"name": "a", "note": ""})
    )
    result = run(adapter.invoke({"name": "a", "note": ""}, ctx()))
    assert _comparable(result.output) == _comparable(expected)


@pytest.mark.parametrize("asynchronous", [False, True], ids=["sync", "async"])
def test_a_run_asks_langgraph_for_the_values_stream_only(asynchronous: bool) -> None:
    """``invoke``/``ainvoke`` stream ``updates`` besides ``values`` only to collect
    interrupts, which the ``values`` chunks carry too: a run asks for ``values`` alone
    (one stream mode less, about 50 calls a run on a one-node graph)."""
    adapter = LangGraphAdapter(_plain(asynchronous=asynchronous), NO_ARGUMENTS)
    graph = adapter.graph  # the graph the adapter runs (a copy, given its store)
    modes: list[Any] = []
    if asynchronous:
        astream = graph.astream

        def spy(*args: Any, **kwargs: Any) -> Any:
            modes.append(kwargs.get("stream_mode"))
            return astream(*args, **kwargs)

        graph.astream = spy
    else:
        stream = graph.stream

        def spy_sync(*args: Any, **kwargs: Any) -> Any:
            modes.append(kwargs.get("stream_mode"))
            return stream(*args, **kwargs)

        graph.stream = spy_sync
    result = run(adapter.invoke({"name": "a", "note": ""}, ctx()))
    assert result.output == {"name": "A"}
    assert modes == ["values"]
