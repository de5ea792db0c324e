"""Loading the plugins, as every runtime does before it serves, imports only what serving
needs: the audit rules (and the source-reading machinery they import) load when
``agentdock audit`` asks for them."""

from __future__ import annotations

import subprocess
import sys

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
