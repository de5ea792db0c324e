"""The run's one tool gate: adapters call ``check``/``acheck``, the denial is recorded once."""

from __future__ import annotations

import ast
import asyncio
import contextlib
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from agentdock.run import RunContext, RunResult, ToolCall, ToolDenied, ToolGate
from agentdock_runtime import InternalError, ToolDeniedError
from test_pipeline import GOOD, Agent, Recorder, build, raises, run

ROOT = Path(__file__).resolve().parents[3]


class ThreadedSwallower(Agent):
    """Checks its tools from a worker thread, as a synchronous graph does, and swallows the
    denial; keeps the run's context to look at its gate afterwards."""

    def __init__(self) -> None:
        super().__init__([])
        self.context: RunContext | None = None
        self.seen: list[BaseException] = []

    async def invoke(self, payload: Mapping[str, Any], context: RunContext) -> RunResult:
        self.context = context
        for name in ("rm", "ls"):
            try:
                await asyncio.to_thread(context.tools.check, ToolCall(name))
            except ToolDenied as exc:
                self.seen.append(exc)
        return RunResult({"text": "ran anyway"})


@pytest.mark.parametrize("sync", [True, False], ids=["sync-policy", "async-policy"])
def test_a_swallowed_denial_is_the_runs_one_record(sync: bool) -> None:
    agent = ThreadedSwallower()
    pipeline = build(agent, [], policies={"tool": Recorder("tool", [], sync=sync)})
    err = raises(pipeline.invoke(b'{"text": "a"}', headers=GOOD), ToolDeniedError)
    assert err.path == "rm" and err.status == 403
    gate = agent.context.tools  # type: ignore[union-attr]
    assert isinstance(gate.refusal, ToolDenied) and gate.refusal.tool == "rm"
    # The later call was stopped by the same refusal, not asked again.
    assert [type(e) for e in agent.seen] == [ToolDenied, ToolDenied]
    assert agent.seen[1] is gate.refusal
    assert gate.inline is sync


class LoopPolicy:
    """An asynchronous tool policy that notes the thread it runs on."""

    stage = "tool"

    def __init__(self) -> None:
        self.threads: list[int] = []

    async def check(self, call: ToolCall, context: RunContext) -> None:
        self.threads.append(threading.get_ident())


class LoopAgent(Agent):
    def __init__(self) -> None:
        super().__init__([])
        self.loop_thread = 0
        self.context: RunContext | None = None

    async def invoke(self, payload: Mapping[str, Any], context: RunContext) -> RunResult:
        self.loop_thread = threading.get_ident()
        self.context = context
        await asyncio.to_thread(context.tools.check, ToolCall("ls"))
        await context.tools.acheck(ToolCall("cat"))
        return RunResult({"text": "ok"})


def test_check_from_a_thread_waits_for_the_async_policies_on_the_runs_loop() -> None:
    policy = LoopPolicy()
    agent = LoopAgent()
    pipeline = build(agent, [], policies={"tool": policy})
    result = run(pipeline.invoke(b'{"text": "a"}', headers=GOOD))
    assert result.output == {"text": "ok"}
    assert policy.threads == [agent.loop_thread, agent.loop_thread]
    # Once the run is over, its gate refuses every call.
    gate = agent.context.tools  # type: ignore[union-attr]
    with pytest.raises(ToolDenied, match="the run is over"):
        gate.check(ToolCall("ls"))


class Crashing:
    stage = "tool"

    def check(self, call: ToolCall, context: RunContext) -> None:
        raise RuntimeError("boom")


def test_a_tool_policy_that_crashes_denies_the_tool_and_ends_the_run_500() -> None:
    agent = ThreadedSwallower()
    pipeline = build(agent, [], policies={"tool": Crashing()})
    err = raises(pipeline.invoke(b'{"text": "a"}', headers=GOOD), InternalError)
    assert err.detail == "policy 'tool' failed"
    assert isinstance(agent.seen[0], ToolDenied)
    assert isinstance(agent.context.tools.refusal, InternalError)  # type: ignore[union-attr]


def test_the_default_gate_allows_every_tool_until_closed() -> None:
    gate = RunContext("r").tools
    gate.check(ToolCall("anything"))
    run(gate.acheck(ToolCall("anything")))
    assert gate.refusal is None and gate.inline
    gate.close()
    with contextlib.suppress(ToolDenied):
        gate.check(ToolCall("late"))
    assert isinstance(gate.refusal, ToolDenied) and gate.refusal.reason == "the run is over"
    assert isinstance(RunContext("r2").tools, ToolGate) and RunContext("r2").tools is not gate


def test_no_package_imports_a_private_name_of_another() -> None:
    """Packages meet through public names only (a private one may change without notice)."""
    roots = {"agentdock", "agentdock_runtime", "agentdock_plugins", "agentdock_cli"}
    found = []
    for path in sorted((ROOT / "packages").glob("*/src/*/**/*.py")):
        own = path.relative_to(ROOT / "packages").parts[2]
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                top = node.module.split(".")[0]
                if top in roots and top != own:
                    found += [
                        f"{path.name}: {node.module}.{alias.name}"
                        for alias in node.names
                        if alias.name.startswith("_")
                    ]
    assert found == []
