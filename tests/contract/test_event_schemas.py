"""The telemetry event schemas of ``contracts/events/`` against the events the runtime emits.

Each example agent is compiled into a pipeline with a capturing sink (a test plugin), driven
through successful, refused and failing runs, and every event it emitted must validate
against the schema of its name. A secret planted in the input never appears in any event.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import sys
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import agentdock
import agentdock_plugins.langgraph
import agentdock_plugins.policies
import jsonschema
import pytest
import yaml
from agentdock import hookimpl, make_plugin_manager
from agentdock_runtime import RuntimeHTTPError, Unauthorized, compile_pipeline
from agentdock_runtime.app import load_agent

ROOT = Path(__file__).resolve().parents[2]
SCHEMAS = ROOT / "contracts" / "events"
EXAMPLES = ROOT / "examples"
SECRET = "sk-planted-secret-0123456789abcdef"
NAMES = (
    "run_start",
    "run_end",
    "tool_event",
    "node_event",
    "model_event",
    "policy_event",
    "error_event",
    "auth_event",
)


def validator(name: str) -> jsonschema.Draft202012Validator:
    schema = json.loads((SCHEMAS / f"{name}.schema.json").read_text())
    return jsonschema.Draft202012Validator(
        schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    )


VALIDATORS = {name: validator(name) for name in NAMES}


def envelope(name: str, data: Mapping[str, Any], **overrides: Any) -> dict[str, Any]:
    event = {
        "event": name,
        "version": "1.0",
        "timestamp": "2026-11-25T16:40:00.123456Z",
        "agent": "echo",
        "run_id": "0" * 31 + "1",
        "trace_id": "4bf92f3577b34da6a3ce929d0e0e4736",
        "span_id": "00f067aa0ba902b7",
        "data": dict(data),
    }
    event.update(overrides)
    return event


RUN_END = {
    "mode": "invoke",
    "status": "ok",
    "success": True,
    "error_type": None,
    "latency_ms": 12.5,
    "tokens_input": 10,
    "tokens_output": 4,
    "cost_usd": 0.0001,
    "role": "user",
    "subject": "alice",
    "thread_id": None,
    "retries": 0,
    "model": "gpt-4o-mini",
    "provider": "openai",
    "start_unix_nano": 1_795_000_000_000_000_000,
    "end_unix_nano": 1_795_000_000_012_500_000,
    "parent_span_id": None,
    "parent_sampled": True,
}


# -- the schemas themselves ----------------------------------------------------------------------


@pytest.mark.parametrize("name", NAMES)
def test_schema_is_valid_draft_2020_12_with_the_common_envelope(name: str) -> None:
    schema = json.loads((SCHEMAS / f"{name}.schema.json").read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert set(schema["required"]) == {
        "event",
        "version",
        "timestamp",
        "agent",
        "run_id",
        "trace_id",
        "span_id",
        "data",
    }
    assert schema["properties"]["event"] == {"const": name}
    assert schema["properties"]["data"]["additionalProperties"] is False


def test_documented_examples_validate() -> None:
    samples = [
        envelope("run_end", RUN_END),
        envelope(
            "run_start",
            {
                k: RUN_END[k]
                for k in (
                    "mode",
                    "thread_id",
                    "role",
                    "subject",
                    "model",
                    "provider",
                    "start_unix_nano",
                )
            },
        ),
        envelope(
            "tool_event",
            {
                "tool": "lookup_order",
                "call_id": "call_1",
                "status": "ok",
                "duration_ms": 3.0,
                "start_unix_nano": 1,
                "span_id": "1111111111111111",
            },
        ),
        envelope(
            "node_event",
            {
                "node": "agent",
                "status": "ok",
                "duration_ms": 3.0,
                "start_unix_nano": 1,
                "span_id": "1111111111111111",
            },
        ),
        envelope(
            "model_event",
            {
                "model": "gpt-4o-mini",
                "provider": "openai",
                "tokens_input": 3,
                "tokens_output": 1,
                "duration_ms": 9.0,
                "start_unix_nano": 1,
                "span_id": "1111111111111111",
            },
        ),
        envelope(
            "policy_event",
            {
                "stage": "pre",
                "policy": "redact_input",
                "action": "redact",
                "matches": 2,
                "duration_ms": 0.1,
                "kinds": ["email", "pattern_0"],
            },
        ),
        envelope(
            "error_event",
            {
                "error_type": "Unauthorized",
                "code": 401,
                "detail": "invalid or missing credentials",
                "stage": "auth",
            },
            run_id=None,
        ),
        envelope(
            "auth_event",
            {
                "outcome": "failure",
                "reason": "expired",
                "mode": "jwt",
                "role": None,
                "subject": None,
            },
            run_id=None,
            trace_id=None,
            span_id=None,
        ),
    ]
    for sample in samples:
        VALIDATORS[sample["event"]].validate(sample)


@pytest.mark.parametrize(
    ("mutate", "why"),
    [
        (lambda e: e["data"].update(input="the user's text"), "extra data field"),
        (lambda e: e["data"].pop("latency_ms"), "missing latency"),
        (lambda e: e["data"].update(status="fine"), "unknown status"),
        (lambda e: e["data"].update(cost_usd=-1), "negative cost"),
        (lambda e: e["data"].update(tokens_input=1.5), "fractional tokens"),
        (lambda e: e.update(trace_id="XYZ"), "bad trace id"),
        (lambda e: e.update(span_id="0" * 32), "span id too long"),
        (lambda e: e.update(version="2.0"), "unknown version"),
        (lambda e: e.update(timestamp="2026-11-25 16:40:00"), "not ISO UTC"),
        (lambda e: e.update(extra=True), "extra envelope field"),
    ],
)
def test_schema_rejects_bad_events(mutate: Any, why: str) -> None:
    event = envelope("run_end", RUN_END)
    mutate(event)
    assert not VALIDATORS["run_end"].is_valid(event), why


# -- what the runtime really emits ---------------------------------------------------------------


class Capture:
    """A test plugin: an api_key auth provider and a sink that keeps every event."""

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []

    def authenticate(self, headers: Mapping[str, str]) -> Mapping[str, Any]:
        if headers.get("x-api-key") != "good":
            raise Unauthorized("invalid or missing credentials")
        return {"sub": "alice", "role": "developer"}

    async def emit(self, events: Sequence[Mapping[str, Any]]) -> None:
        self.events.extend(json.loads(json.dumps(e)) for e in events)

    async def flush(self) -> None:
        return None

    @hookimpl
    def agentdock_register_auth_providers(self, register: Any) -> None:
        register("api_key", lambda spec: self)

    @hookimpl
    def agentdock_register_telemetry_sinks(self, register: Any) -> None:
        register("capture", lambda spec: self)


@pytest.fixture
def project(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Path, str]]:
    name, package = request.param
    target = tmp_path / name
    shutil.copytree(
        EXAMPLES / name, target, ignore=shutil.ignore_patterns("__pycache__", ".agentdock")
    )
    dockfile = target / "Dockfile.yaml"
    document = yaml.safe_load(dockfile.read_text())
    document.setdefault("policies", {}).setdefault("safety", {})["redact_patterns"] = [
        r"sk-planted-secret-[0-9a-f]+"
    ]
    dockfile.write_text(yaml.safe_dump(document, sort_keys=False))
    try:
        yield dockfile, package
    finally:
        while str(target) in sys.path:
            sys.path.remove(str(target))
        for module in [n for n in sys.modules if n.split(".")[0] == package]:
            del sys.modules[module]


def drive(dockfile: Path, bodies: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    capture = Capture()
    manager = make_plugin_manager(
        plugins=[agentdock_plugins.langgraph, agentdock_plugins.policies, ("capture", capture)]
    )
    spec = agentdock.load(dockfile)
    agent = load_agent(spec, project_dir=dockfile.parent, plugins=manager)
    pipeline = compile_pipeline(spec, entry=agent.entry, plugins=manager)
    good = {"x-api-key": "good"}

    async def main() -> None:
        for body in bodies:
            await pipeline.invoke(json.dumps(body).encode(), headers=good)
            async for _ in pipeline.stream(json.dumps(body).encode(), headers=good):
                pass
        for headers, payload in (({"x-api-key": SECRET}, bodies[0]), (good, {"nope": SECRET})):
            with pytest.raises(RuntimeHTTPError):
                await pipeline.invoke(json.dumps(payload).encode(), headers=headers)
        await pipeline.aclose()

    asyncio.run(main())
    return capture.events


CASES = [
    (("echo", "echo"), [{"text": f"hello {SECRET}"}]),
    (
        ("react-tools", "react_agent"),
        [{"question": f"Please refund order A-1001. {SECRET}"}, {"question": "Status of A-1002?"}],
    ),
]


@pytest.mark.parametrize(
    ("project", "bodies"), CASES, indirect=["project"], ids=[c[0][0] for c in CASES]
)
def test_emitted_events_match_their_schemas(
    project: tuple[Path, str], bodies: list[dict[str, Any]]
) -> None:
    dockfile, _ = project
    events = drive(dockfile, bodies)
    seen = {event["event"] for event in events}
    assert {"run_start", "run_end", "auth_event", "error_event", "policy_event"} <= seen, seen
    for event in events:
        assert event["event"] in VALIDATORS, event["event"]
        errors = sorted(VALIDATORS[event["event"]].iter_errors(event), key=str)
        assert not errors, f"{event['event']}: {[e.message for e in errors]}"
    ends = [e for e in events if e["event"] == "run_end"]
    assert {e["data"]["status"] for e in ends} == {"ok", "error"}
    assert all(e["run_id"] == e["trace_id"] or e["trace_id"] for e in ends)
    dump = json.dumps(events)
    assert SECRET not in dump and SECRET.upper() not in dump


@pytest.mark.parametrize("project", [CASES[1][0]], indirect=True, ids=["react-tools"])
def test_tool_calls_are_reported(project: tuple[Path, str]) -> None:
    dockfile, _ = project
    events = drive(dockfile, [{"question": "Please refund order A-1001."}])
    tools = [e for e in events if e["event"] == "tool_event"]
    assert {e["data"]["tool"] for e in tools} >= {"lookup_order"}
    for event in tools:
        assert event["data"]["span_id"] != event["span_id"]
