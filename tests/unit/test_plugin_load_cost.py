"""Loading the plugins and building the pipeline, as every runtime does before it serves,
import only what serving that Dockfile needs: the audit rules (and the source-reading
machinery they import) load when ``agentdock audit`` asks for them, the redaction engine
when the Dockfile configures a pattern or a recogniser."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import yaml

_PROBE = """
import sys
from agentdock.plugins import get_plugin_manager
manager = get_plugin_manager()
manager.load()
for kind in ("servers", "adapters", "policies", "telemetry_sinks"):
    manager.registrations(kind)
audit = ("agentdock_plugins.audit.", "agentdock.readiness")
print(sorted(m for m in sys.modules if m.startswith(audit)))
rules = manager.registrations("audit_rules")
print(len(rules), "agentdock_plugins.audit.rules" in sys.modules)
"""


def test_serving_plugins_load_without_the_audit_rules() -> None:
    out = subprocess.run(
        [sys.executable, "-c", _PROBE], capture_output=True, text=True, check=True
    ).stdout.splitlines()
    assert out[0] == "[]"
    count, loaded = out[1].split()
    assert int(count) >= 20 and loaded == "True"  # asked for, they are all there


_POLICIES = """
import sys
from agentdock.validation import load
from agentdock.plugins import get_plugin_manager
from agentdock_runtime import compile_pipeline
from agentdock_runtime.app import load_agent
manager = get_plugin_manager()
spec = load(sys.argv[1], plugins=manager)
agent = load_agent(spec, project_dir=sys.argv[2], plugins=manager)
compile_pipeline(spec, entry=agent.entry, plugins=manager, insecure_no_auth=True)
print("agentdock_plugins.policies.redaction_engine" in sys.modules)
"""


def test_a_runtime_without_redaction_never_imports_the_redaction_engine() -> None:
    echo = Path(__file__).resolve().parents[2] / "examples" / "echo"
    spec = yaml.safe_load((echo / "Dockfile.yaml").read_text())
    assert not spec["policies"]["safety"].get("redact_patterns")
    argv = [sys.executable, "-c", _POLICIES, str(echo / "Dockfile.yaml"), str(echo)]
    out = subprocess.run(argv, capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False"]


_START = """
import os, sys
from pathlib import Path
from agentdock.plugins import get_plugin_manager
from agentdock_runtime.entrypoint import load_spec
spec = load_spec(Path(sys.argv[1]), os.environ, plugins=get_plugin_manager())
print(spec.agent.name, "agentdock.readiness" in sys.modules)
"""


def test_a_runtime_start_does_not_audit_the_agent_s_code(tmp_path: Path) -> None:
    """The audit only warns: validate shows it, a start that could never show it skips it."""
    import agentdock

    echo = Path(__file__).resolve().parents[2] / "examples" / "echo"
    project = tmp_path / "echo"
    shutil.copytree(echo, project)
    (project / "server.py").write_text('import uvicorn\nuvicorn.run(app, host="127.0.0.1")\n')
    warned = agentdock.validate(project / "Dockfile.yaml", skip_imports=True)
    assert warned.ok and any(f.path[:1] == ("audit",) for f in warned.warnings)
    argv = [sys.executable, "-c", _START, str(project / "Dockfile.yaml")]
    out = subprocess.run(argv, capture_output=True, text=True, check=True).stdout
    assert out.split() == ["echo", "False"]


def test_the_cli_loads_its_commands_without_the_deployment_package() -> None:
    """Every command (``serve`` included) loads every command module: what only some
    commands use (the deployment package, rich's markup) is imported when they run."""
    probe = "import sys, agentdock_cli.main\nprint('agentdock.deployment' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False"]
