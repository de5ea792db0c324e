"""Every built-in plugin satisfies its kind's protocol and the capability protocols it
offers: at run time (``isinstance`` against the runtime-checkable protocols, on what the
registered factories build) and under ``mypy --strict`` (an assignment per class, which
checks the signatures too)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any, TypedDict

import pytest
from agentdock import capabilities, protocols
from agentdock.plugins import make_plugin_manager
from agentdock.registry import SQLiteStore
from policy_support import spec_with

#: Every policy of the built-in set switched on.
ALL_POLICIES = spec_with(
    safety={
        "redact_patterns": ["secret-[0-9]+"],
        "block_prompt_injection": True,
        "injection": {"tool_output": ["search"]},
        "compliance_keywords": ["confidential"],
        "max_output_chars": 100,
    },
    tools={"allowed": ["search"]},
)

KINDS: dict[str, type] = {
    "builders": protocols.Builder,
    "targets": protocols.Target,
    "hardware_profiles": protocols.HardwareProfile,
}


@pytest.fixture(scope="module")
def manager() -> Any:
    return make_plugin_manager(entry_points=True)


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_every_registered_factory_without_arguments_builds_its_kind(
    manager: Any, kind: str
) -> None:
    registrations = manager.registrations(kind)
    assert registrations
    for name, registration in registrations.items():
        built = registration.factory()
        assert isinstance(built, KINDS[kind]), f"{kind} {name}: {type(built).__name__}"


def test_every_built_in_policy_is_a_policy_with_a_known_stage(manager: Any) -> None:
    built = {
        name: registration.factory(ALL_POLICIES)
        for name, registration in manager.registrations("policies").items()
    }
    assert None not in built.values(), built
    assert len(built) == 7
    for name, policy in built.items():
        assert isinstance(policy, protocols.Policy), name
        assert policy.stage in ("pre", "tool", "tool_output", "post"), name
    holding = {n for n, p in built.items() if isinstance(p, capabilities.FinishingPolicy)}
    reading = {n for n, p in built.items() if isinstance(p, capabilities.EventCheckingPolicy)}
    assert holding == reading == {"redact_output"}


def test_the_server_the_hardware_and_the_sqlite_store_offer_their_capabilities(
    manager: Any, tmp_path: Path
) -> None:
    server = manager.get("servers", "litestar").factory(ALL_POLICIES)
    assert isinstance(server, protocols.Server)
    assert isinstance(server, capabilities.AppServer)
    assert isinstance(server, capabilities.ServerOptions)
    assert isinstance(server, capabilities.DirectoryServing)
    local = manager.get("targets", "local").factory()
    assert isinstance(local, capabilities.Promoting)
    assert isinstance(local, capabilities.Retiring)
    assert not isinstance(local, capabilities.TargetDryRun)
    kubernetes = manager.get("targets", "kubernetes").factory()
    assert not isinstance(kubernetes, capabilities.Retiring)
    assert isinstance(kubernetes, capabilities.Preflighting)
    assert isinstance(kubernetes, capabilities.TargetDryRun)
    assert isinstance(kubernetes, capabilities.InPlaceTarget)
    store = SQLiteStore(tmp_path / "registry.db")
    assert isinstance(store, protocols.Store)
    assert isinstance(store, capabilities.KeyViewWriting)
    assert isinstance(store, capabilities.StoreAtPath)
    assert not isinstance(store, capabilities.StoreAtUrl)
    store.close()


def test_the_store_contract_is_every_public_method_of_the_sql_store() -> None:
    from agentdock.registry import SQLStore

    public = {name for name in vars(SQLStore) if not name.startswith("_")}
    stated = {
        name
        for kind in (protocols.Store, *protocols.Store.__mro__)
        for name in vars(kind)
        if not name.startswith("_") and callable(vars(kind)[name])
    }
    assert public <= stated, sorted(public - stated)


def test_the_built_in_adapters_are_adapters() -> None:
    from agentdock_plugins.langchain.adapter import LangChainAdapter
    from agentdock_plugins.langgraph.adapter import LangGraphAdapter
    from langchain_core.runnables import RunnableLambda
    from langgraph.graph import END, START, StateGraph

    class State(TypedDict):
        text: str

    graph = StateGraph(State)
    graph.add_node("echo", lambda state: state)
    graph.add_edge(START, "echo")
    graph.add_edge("echo", END)
    assert isinstance(LangGraphAdapter(graph.compile(), ALL_POLICIES), protocols.Adapter)
    assert isinstance(
        LangChainAdapter(RunnableLambda(lambda x: x), ALL_POLICIES), protocols.Adapter
    )


def test_the_prometheus_sink_offers_every_sink_capability() -> None:
    from agentdock_plugins.prometheus.sink import PrometheusSink

    sink = PrometheusSink()
    assert isinstance(sink, protocols.TelemetrySink)
    for capability in (
        capabilities.EventSelectingSink,
        capabilities.PipelineBoundSink,
        capabilities.MetricsRendering,
        capabilities.MiddlewareProviding,
    ):
        assert isinstance(sink, capability), capability.__name__


#: Each built-in class assigned to its kind's protocol and to every capability it offers:
#: mypy --strict checks each member's signature.
TYPED = """
from agentdock import capabilities as c
from agentdock import protocols as p
from agentdock import storecontract as s
from agentdock.registry import SQLiteStore
from agentdock_plugins.auth.apikey import ApiKeyProvider
from agentdock_plugins.auth.jwt import JwtOrKeyProvider, JwtProvider
from agentdock_plugins.auth.oauth2 import OAuth2Provider
from agentdock_plugins.docker.builder import DockerBuilder
from agentdock_plugins.docker.target import DockerTarget
from agentdock_plugins.hardware.profiles import CpuProfile, CudaProfile
from agentdock_plugins.kubernetes.target import KubernetesTarget
from agentdock_plugins.langchain.adapter import LangChainAdapter
from agentdock_plugins.langfuse.sink import LangfuseSink
from agentdock_plugins.langgraph.adapter import LangGraphAdapter
from agentdock_plugins.litestar.server import LitestarServer
from agentdock_plugins.local.builder import LocalBuilder
from agentdock_plugins.local.target import LocalTarget
from agentdock_plugins.localstore.sink import LocalStoreSink
from agentdock_plugins.logsink.sink import LogSink
from agentdock_plugins.otel.sink import OtelSink
from agentdock_plugins.policies.compliance import ComplianceCheck
from agentdock_plugins.policies.output_limit import OutputLimit
from agentdock_plugins.policies.injection_input import PromptInjection
from agentdock_plugins.policies.redaction import InputRedaction, OutputRedaction
from agentdock_plugins.policies.tool_gate import ToolAllowList
from agentdock_plugins.policies.injection_tool_output import ToolOutputInjection
from agentdock_plugins.postgres.store import PostgresStore
from agentdock_plugins.prometheus.sink import PrometheusSink


def adapters(a: LangGraphAdapter, b: LangChainAdapter) -> list[p.Adapter]:
    return [a, b]


def policies(
    a: InputRedaction, b: OutputRedaction, c1: PromptInjection, d: ToolAllowList,
    f: ComplianceCheck, g: OutputLimit,
) -> list[p.Policy]:
    return [a, b, c1, d, f, g]


def tool_output(e: ToolOutputInjection, a: InputRedaction) -> list[p.AnyPolicy]:
    checks_outputs: p.ToolOutputPolicy = e
    return [checks_outputs, a]


def holding(a: OutputRedaction) -> tuple[c.FinishingPolicy, c.EventCheckingPolicy]:
    return a, a


def auth(
    a: ApiKeyProvider, b: JwtProvider, c1: JwtOrKeyProvider, d: OAuth2Provider
) -> list[p.AuthProvider]:
    return [a, b, c1, d]


def closing(
    a: ApiKeyProvider, b: JwtProvider, c1: JwtOrKeyProvider
) -> list[c.ClosingAuthProvider]:
    return [a, b, c1]


def fetching(a: OAuth2Provider) -> tuple[c.ReadinessReporting, c.KeySetReporting]:
    return a, a


def sinks(
    a: PrometheusSink, b: OtelSink, c1: LogSink, d: LocalStoreSink, e: LangfuseSink
) -> list[p.TelemetrySink]:
    return [a, b, c1, d, e]


def metrics(
    a: PrometheusSink,
) -> tuple[c.EventSelectingSink, c.PipelineBoundSink, c.MetricsRendering, c.MiddlewareProviding]:
    return a, a, a, a


def losing(a: LogSink, b: LocalStoreSink) -> list[c.LossCountingSink]:
    return [a, b]


def handing_over(a: OtelSink, b: LangfuseSink) -> list[c.HandingOverSink]:
    return [a, b]


def builders(a: LocalBuilder, b: DockerBuilder) -> list[p.Builder]:
    return [a, b]


def targets(a: LocalTarget, b: DockerTarget, c1: KubernetesTarget) -> list[p.Target]:
    return [a, b, c1]


def target_capabilities(
    a: LocalTarget, b: KubernetesTarget
) -> tuple[c.Promoting, c.Retiring, c.Preflighting, c.TargetDryRun, c.InPlaceTarget]:
    return a, a, b, b, b


def servers(
    a: LitestarServer,
) -> tuple[p.Server, c.AppServer, c.ServerOptions, c.DirectoryServing]:
    return a, a, a, a


def hardware(a: CpuProfile, b: CudaProfile) -> list[p.HardwareProfile]:
    return [a, b]


def stores(a: SQLiteStore, b: PostgresStore) -> list[p.Store]:
    return [a, b]


def store_concerns(
    a: SQLiteStore,
) -> tuple[s.VersionStore, s.ArtifactStore, s.DeploymentStore, s.LockStore, s.ApiKeyStore,
           s.AuditStore]:
    return a, a, a, a, a, a


def store_capabilities(
    a: SQLiteStore, b: PostgresStore
) -> tuple[c.KeyViewWriting, c.StoreAtPath, c.StoreAtUrl]:
    return a, a, b
"""


def test_every_built_in_class_satisfies_its_protocols_under_mypy_strict(tmp_path: Path) -> None:
    source = tmp_path / "contracts_under_check.py"
    source.write_text(TYPED, encoding="utf-8")
    # In a process of its own: mypy raises the interpreter's recursion limit for good.
    done = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--cache-dir", str(tmp_path / "cache"),
         "--no-error-summary", str(source)],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
