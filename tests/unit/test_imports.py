"""The import checker: one subprocess per Dockfile, nothing left behind in the caller."""

from __future__ import annotations

import sys
import textwrap
import time
from pathlib import Path

import pytest
from agentdock.findings import Code, Finding, Severity
from agentdock.spec import imports
from agentdock.spec.imports import ImportTarget, check_imports

ENTRY = ("agent", "entrypoint")
INPUT = ("io_schema", "input_class")
OUTPUT = ("io_schema", "output_class")

MODULES = {
    "good.py": """
        def build_graph():
            return "graph"

        CONFIG = {"not": "callable"}
    """,
    "boom.py": """
        raise RuntimeError("boom")
    """,
    "noisy.py": """
        import sys
        print('{"done": true}')
        print("@@agentdock-probe@@ not really")
        print("to stderr", file=sys.stderr)

        def run():
            return None
    """,
    "exits.py": """
        import sys
        sys.exit(3)
    """,
    "hard_exit.py": """
        import os
        print("leaving now", flush=True)
        os._exit(5)
    """,
    "loops.py": """
        while True:
            pass
    """,
    "schemas.py": """
        from typing import Callable

        from pydantic import BaseModel

        class Question(BaseModel):
            text: str

        class Answer(BaseModel):
            text: str

        class Plain:
            pass

        class NoSchema(BaseModel):
            fn: Callable[[], int]

        INSTANCE = Plain()
    """,
    "runnable.py": """
        class CompiledGraph:
            def invoke(self, payload):
                return payload

        graph = CompiledGraph()
    """,
    "spawns.py": """
        import pathlib
        import subprocess
        import sys

        child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
        pathlib.Path("child.pid").write_text(str(child.pid))

        def run():
            return None
    """,
    "threads.py": """
        import threading
        import time

        threading.Thread(target=lambda: time.sleep(60)).start()

        def run():
            return None
    """,
    "builders.py": """
        import os
        import time

        class Graph:
            async def ainvoke(self, payload):
                return payload

            def __call__(self, *args, **kwargs):
                raise AssertionError("a graph is served as it is, never called")

        graph = Graph()

        def good(model=None, arguments=None):
            assert model.name == "offline-fake" and arguments == {"depth": 2}
            return Graph()

        def raises(model):
            raise ValueError(f"bad token {os.environ['BUILDER_TOKEN']} for {model.name}")

        def returns_text():
            return "not a graph"

        def blocks(spec):
            time.sleep(600)
    """,
    "app/__init__.py": "",
    "app/graph.py": """
        from app.nodes import node

        def build_graph():
            return node
    """,
    "app/nodes.py": """
        node = "node"
    """,
}

PROBED = {name.removesuffix(".py").split("/")[0] for name in MODULES}


@pytest.fixture
def project(tmp_path: Path) -> Path:
    for name, source in MODULES.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(source))
    return tmp_path


@pytest.fixture(autouse=True)
def _leaves_no_trace(project: Path) -> object:
    path_before = list(sys.path)
    yield
    assert sys.path == path_before
    assert not [m for m in sys.modules if m.split(".")[0] in PROBED]
    assert not list(project.rglob("__pycache__"))


def entry(ref: str) -> ImportTarget:
    return ImportTarget(ENTRY, ref, "entrypoint")


def model(ref: str, path: tuple[str, ...] = INPUT) -> ImportTarget:
    return ImportTarget(path, ref, "model_class")


def only(findings: list[Finding]) -> Finding:
    assert len(findings) == 1, [f.one_line() for f in findings]
    return findings[0]


def test_good_targets_pass_in_one_call(project: Path) -> None:
    targets = [
        entry("good:build_graph"),
        model("schemas:Question", INPUT),
        model("schemas.Answer", OUTPUT),
    ]
    assert check_imports(project, targets) == []


def test_nested_package(project: Path) -> None:
    assert check_imports(project, [entry("app.graph:build_graph")]) == []


def test_missing_module(project: Path) -> None:
    finding = only(check_imports(project, [entry("nothere.graph:build")]))
    assert finding.code is Code.EntrypointNotFoundError
    assert finding.severity is Severity.ERROR
    assert finding.path == ENTRY
    assert finding.message == "ModuleNotFoundError: No module named 'nothere'"
    assert finding.hint is not None and "nothere" in finding.hint


def test_exception_on_import(project: Path) -> None:
    finding = only(check_imports(project, [entry("boom:build")]))
    assert finding.code is Code.EntrypointNotFoundError
    assert "RuntimeError: boom" in finding.message
    assert "\n" not in finding.message
    assert finding.detail is not None
    assert "Traceback" in finding.detail
    assert "boom.py" in finding.detail
    assert "<string>" not in finding.detail


def test_long_exception_message_is_truncated(project: Path) -> None:
    (project / "wordy.py").write_text(f"raise ValueError({'x' * 1000!r} + '\\nsecond line')\n")
    finding = only(check_imports(project, [entry("wordy:build")]))
    assert finding.message.startswith("ValueError: xxx")
    assert len(finding.message) <= 200
    assert "second line" not in finding.message


def test_output_during_import_does_not_break_the_protocol(project: Path) -> None:
    assert check_imports(project, [entry("noisy:run"), entry("good:build_graph")]) == []


def test_sys_exit_on_import(project: Path) -> None:
    findings = check_imports(project, [entry("exits:run"), model("schemas:Question")])
    finding = only(findings)
    assert finding.code is Code.EntrypointNotFoundError
    assert finding.message == "SystemExit: 3"


def test_os_exit_on_import_is_reported_and_later_targets_still_checked(project: Path) -> None:
    targets = [entry("hard_exit:run"), model("schemas:Plain", OUTPUT)]
    first, second = check_imports(project, targets)
    assert first.path == ENTRY
    assert first.message.startswith("import of hard_exit ended the interpreter (exit code 5)")
    assert first.detail is not None and "leaving now" in first.detail
    assert second.path == OUTPUT
    assert second.code is Code.InvalidIOSchemaError
    assert second.message == "schemas.Plain is not a pydantic model"


def test_threads_started_on_import_do_not_hold_the_check(project: Path) -> None:
    started = time.monotonic()
    assert check_imports(project, [entry("threads:run")], timeout=30) == []
    assert time.monotonic() - started < 20


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[-1].split()[0] != "Z"


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc")
def test_processes_started_on_import_are_ended(project: Path) -> None:
    started = time.monotonic()
    assert check_imports(project, [entry("spawns:run")], timeout=30) == []
    assert time.monotonic() - started < 20
    pid = int((project / "child.pid").read_text())
    deadline = time.monotonic() + 10
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(pid)


def test_attribute_typo_suggests_the_right_name(project: Path) -> None:
    finding = only(check_imports(project, [entry("good:build_graphh")]))
    assert finding.code is Code.EntrypointNotFoundError
    assert finding.message == "module 'good' has no attribute 'build_graphh'"
    assert finding.hint is not None and "'build_graph'" in finding.hint


def test_nested_attribute_typo(project: Path) -> None:
    finding = only(check_imports(project, [entry("app.graph:build_grahp")]))
    assert finding.message == "module 'app.graph' has no attribute 'build_grahp'"
    assert finding.hint is not None and "build_graph" in finding.hint


def test_non_callable_entrypoint(project: Path) -> None:
    finding = only(check_imports(project, [entry("good:CONFIG")]))
    assert finding.code is Code.EntrypointNotFoundError
    assert "good:CONFIG is not callable" in finding.message


def test_object_with_invoke_is_accepted(project: Path) -> None:
    assert check_imports(project, [entry("runnable:graph")]) == []


def test_pydantic_model_is_accepted(project: Path) -> None:
    assert check_imports(project, [model("schemas:Question"), model("schemas.Answer")]) == []


def test_non_pydantic_class(project: Path) -> None:
    finding = only(check_imports(project, [model("schemas.Plain")]))
    assert finding.code is Code.InvalidIOSchemaError
    assert finding.path == INPUT
    assert finding.message == "schemas.Plain is not a pydantic model"


def test_model_that_is_not_a_class(project: Path) -> None:
    finding = only(check_imports(project, [model("schemas:INSTANCE")]))
    assert finding.code is Code.InvalidIOSchemaError
    assert finding.message.startswith("schemas.INSTANCE is not a class")


def test_model_without_json_schema(project: Path) -> None:
    finding = only(check_imports(project, [model("schemas:NoSchema")]))
    assert finding.code is Code.InvalidIOSchemaError
    assert finding.message.startswith("schemas.NoSchema.model_json_schema() failed: ")
    assert "PydanticInvalidForJsonSchema" in finding.message
    assert finding.detail is not None and "Traceback" in finding.detail


def test_model_import_failure_uses_the_io_code(project: Path) -> None:
    finding = only(check_imports(project, [model("boom.Model")]))
    assert finding.code is Code.InvalidIOSchemaError
    assert "RuntimeError: boom" in finding.message


def test_missing_model_attribute(project: Path) -> None:
    finding = only(check_imports(project, [model("schemas.Questoin")]))
    assert finding.code is Code.InvalidIOSchemaError
    assert finding.message == "module 'schemas' has no attribute 'Questoin'"
    assert finding.hint is not None and "'Question'" in finding.hint


def test_timeout(project: Path) -> None:
    findings = check_imports(project, [entry("loops:run")], timeout=2)
    finding = only(findings)
    assert finding.code is Code.EntrypointNotFoundError
    assert finding.message == "import of loops timed out after 2s"
    assert finding.detail is not None and "loops.py" in finding.detail


def test_timeout_keeps_earlier_results(project: Path) -> None:
    targets = [entry("good:nope"), entry("loops:run")]
    first, second = check_imports(project, targets, timeout=2)
    assert first.message == "module 'good' has no attribute 'nope'"
    assert second.message == "import of loops timed out after 2s"


def test_findings_follow_target_order(project: Path) -> None:
    targets = [
        entry("good:nope"),
        model("schemas:Plain", INPUT),
        model("schemas:Missing", OUTPUT),
    ]
    assert [f.path for f in check_imports(project, targets)] == [ENTRY, INPUT, OUTPUT]


def test_no_targets(project: Path) -> None:
    assert check_imports(project, []) == []


def test_malformed_references(project: Path) -> None:
    first, second = check_imports(project, [entry("not a ref"), model("NoDots", OUTPUT)])
    assert first.code is Code.EntrypointNotFoundError
    assert first.message == "'not a ref' is not an import path; expected module.path:callable"
    assert second.code is Code.InvalidIOSchemaError
    assert second.path == OUTPUT


def test_missing_project_directory(tmp_path: Path) -> None:
    finding = only(check_imports(tmp_path / "absent", [entry("good:build_graph")]))
    assert finding.code is Code.EntrypointNotFoundError
    assert "does not exist" in finding.message


def test_interpreter_that_cannot_start(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "executable", str(project / "no-such-python"))
    finding = only(check_imports(project, [entry("good:build_graph"), model("schemas:Answer")]))
    assert finding.code is Code.EntrypointNotFoundError
    assert finding.path == ENTRY
    assert "could not start" in finding.message


def test_interpreter_that_gives_no_reply(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake = project / "fake-python"
    fake.write_text("#!/bin/sh\necho 'garbage on stdout'\necho 'fatal: broken' >&2\nexit 1\n")
    fake.chmod(0o755)
    monkeypatch.setattr(sys, "executable", str(fake))
    finding = only(check_imports(project, [entry("good:build_graph")]))
    assert finding.code is Code.EntrypointNotFoundError
    assert finding.message.startswith("the import check could not run")
    assert "exit code 1" in finding.message
    assert "fatal: broken" in finding.message


def test_unparsable_reply(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(
        imports,
        "_probe_source",
        lambda: "import sys; sys.stdin.read(); print('@@agentdock-probe@@ {not json')",
    )
    finding = only(check_imports(project, [entry("good:build_graph")]))
    assert finding.code is Code.EntrypointNotFoundError
    assert "could not run" in finding.message


def test_probe_that_never_starts_times_out(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(imports, "_probe_source", lambda: "import time; time.sleep(30)")
    finding = only(check_imports(project, [model("schemas:Question")], timeout=1))
    assert finding.code is Code.InvalidIOSchemaError
    assert finding.message == "import of schemas timed out after 1s"


def test_marker_matches_the_probe() -> None:
    from agentdock.spec import probe

    assert probe.MARKER == imports._MARKER


# -- builder entrypoints: called once, as the runtime would ---------------------------------

SPEC = {
    "version": "1.1",
    "agent": {"name": "built", "entrypoint": "builders:good", "framework": "langgraph"},
    "model": {"provider": "custom", "name": "offline-fake"},
    "io_schema": {
        "input": {"type": "object", "properties": {"q": {"type": "string"}}},
        "output": {"type": "object", "properties": {"a": {"type": "string"}}},
    },
    "arguments": {"depth": 2},
    "auth": {"mode": "api_key"},
    "expose": {"rest": True},
}
PLANTED = "planted-builder-token-3e9d1c"


def built(ref: str) -> ImportTarget:
    return ImportTarget(ENTRY, ref, "entrypoint", build={"version": "1.1", "data": SPEC})


def test_a_builder_is_called_with_what_it_accepts(project: Path) -> None:
    assert check_imports(project, [built("builders:good"), built("builders:graph")]) == []


def test_a_builder_that_raises_is_4003_with_its_cause_and_secrets_masked(project: Path) -> None:
    finding = only(
        check_imports(
            project,
            [built("builders:raises")],
            env={"BUILDER_TOKEN": PLANTED},
            secrets=[PLANTED],
        )
    )
    assert finding.code is Code.EntrypointNotFoundError and finding.path == ENTRY
    assert finding.message == (
        "the builder builders:raises raised ValueError: bad token *** for offline-fake"
    )
    assert "--no-build" in (finding.hint or "")
    assert finding.detail is not None and "builders.py" in finding.detail
    assert PLANTED not in repr(finding) + (finding.detail or "")


def test_a_builder_must_return_a_runnable(project: Path) -> None:
    finding = only(check_imports(project, [built("builders:returns_text")]))
    assert finding.message == (
        "the builder builders:returns_text returned str, not a runnable graph"
    )


def test_without_build_the_builder_is_not_called(project: Path) -> None:
    assert check_imports(project, [entry("builders:raises"), entry("builders:blocks")]) == []


def test_a_builder_that_blocks_is_cut_off(project: Path) -> None:
    finding = only(check_imports(project, [built("builders:blocks")], timeout=3))
    assert finding.code is Code.EntrypointNotFoundError
    assert finding.message == "the builder builders:blocks did not return within 3s"
    assert finding.detail is not None and "builders.py" in finding.detail  # where it waits


def test_the_probe_imports_with_seldom_young_collections(tmp_path: Path) -> None:
    # The module reports the collector's threshold it was imported under, through a
    # failure message (the only thing the probe sends back).
    (tmp_path / "gcseen.py").write_text(
        "import gc\nraise RuntimeError(f'threshold {gc.get_threshold()[0]}')\n"
    )
    findings = check_imports(tmp_path, [ImportTarget(ENTRY, "gcseen:build", "entrypoint")])
    [finding] = findings
    assert "threshold 50000" in finding.message
