"""The README and plugin guide stay in step with the code they describe."""

from __future__ import annotations

import asyncio
import inspect
import re
import types
from pathlib import Path

from agentdock import hookspecs, make_plugin_manager, validate
from agentdock.findings import Code
from agentdock.run import RunContext, RunResult, StreamEvent
from agentdock.spec.reference import render_reference

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text(encoding="utf-8")
GUIDE = (ROOT / "docs" / "plugins.md").read_text(encoding="utf-8")


def test_readme_reference_matches_schema() -> None:
    start = "<!-- dockfile-reference:start -->\n"
    end = "<!-- dockfile-reference:end -->"
    block = README[README.index(start) + len(start) : README.index(end)]
    assert block == render_reference("1.1"), (
        "README's Dockfile reference is stale: replace the block between the markers with "
        "the output of `uv run agentdock schema --format markdown`"
    )


def test_reference_lists_every_schema_key() -> None:
    table = render_reference("1.1")
    for key in (
        "agent.entrypoint",
        "auth.oauth2.jwks_url",
        "deploy.resources.memory",
        "policies.safety.redact_patterns",
        "auth.roles[].permissions",
    ):
        assert f"`{key}`" in table


def test_readme_lists_every_inline_schema_keyword() -> None:
    from agentdock.spec.semantic import IO_SCHEMA_KEYWORDS

    section = README[README.index("### Inline I/O schemas") : README.index("### Editor support")]
    for keyword in IO_SCHEMA_KEYWORDS:
        assert f"`{keyword}`" in section, keyword


def test_readme_lists_every_finding_code() -> None:
    for code in Code:
        assert re.search(rf"\| {int(code)} \| {code.name} \|", README), code.name


def test_guide_documents_every_hook() -> None:
    hooks = [
        name
        for name, _ in inspect.getmembers(hookspecs, inspect.isfunction)
        if name.startswith("agentdock_")
    ]
    assert len(hooks) == 14
    for name in hooks:
        params = ", ".join(inspect.signature(getattr(hookspecs, name)).parameters)
        assert f"### {name}({params})" in GUIDE, name


def test_readme_plugin_example_runs(tmp_path: Path) -> None:
    section = README[README.index("## Plugins") :]
    code = re.search(r"```python\n(.*?)```", section, re.S)
    assert code is not None
    assert 15 <= len(code.group(1).strip().splitlines()) <= 30
    module = types.ModuleType("readme_echo_plugin")
    exec(compile(code.group(1), "README.md", "exec"), module.__dict__)  # noqa: S102
    manager = make_plugin_manager(plugins=[("echo", module)])
    adapter_cls = manager.registrations("adapters")["echo"].factory
    document = {
        "version": "1.1",
        "agent": {"name": "echo-agent", "entrypoint": "agent:build", "framework": "echo"},
        "model": {"provider": "custom", "name": "none"},
        "io_schema": {
            "input": {"type": "object", "properties": {"text": {"type": "string"}}},
            "output": {"type": "object", "properties": {"text": {"type": "string"}}},
        },
        "auth": {"mode": "api_key", "api_keys": {"enabled": True}},
        "policies": {"safety": {"max_output_chars": 100}},
        "expose": {"rest": True},
    }
    report = validate(document, skip_imports=True, plugins=manager)
    assert report.ok, [f.one_line() for f in report.errors]
    adapter = adapter_cls(None, report.spec)
    context = RunContext(run_id="readme")
    assert asyncio.run(adapter.invoke({"text": "hi"}, context)) == RunResult(output={"text": "hi"})

    async def stream() -> list[StreamEvent]:
        return [event async for event in adapter.stream({"text": "hi"}, context)]

    assert asyncio.run(stream()) == [StreamEvent("token", {"text": "{'text': 'hi'}"})]
    bare = validate(document, skip_imports=True, plugins=make_plugin_manager())
    assert bare.codes() == [4007]
