"""Suite-wide settings: nothing a test runs writes into the repository's own .agentdock/."""

from __future__ import annotations

import os
import shutil
import tempfile

# Registries, telemetry buffers and collectors default to $AGENTDOCK_HOME; servers started
# as subprocesses inherit it. Tests that need a home of their own set one with monkeypatch.
_HOME = tempfile.mkdtemp(prefix="agentdock-test-home-")
os.environ.setdefault("AGENTDOCK_HOME", _HOME)


def pytest_unconfigure() -> None:
    """The suite's home goes when the run ends (servers it started are stopped by then)."""
    shutil.rmtree(_HOME, ignore_errors=True)
