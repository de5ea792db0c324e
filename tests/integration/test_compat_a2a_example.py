"""docs/compat.md's A2A example runs as written: the code block is read from the page and run
against the chat example, its two lines (the URL and the key) pointed at that server."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import agentdock
import agentdock_plugins.auth
import agentdock_plugins.langgraph
import agentdock_plugins.litestar
import pytest
from agentdock import make_plugin_manager
from agentdock.registry import open_store
from auth_support import add_key
from served import serving

ROOT = Path(__file__).resolve().parents[2]
CHAT = ROOT / "examples" / "chat"
COMPAT = ROOT / "docs" / "compat.md"


def a2a_example() -> str:
    """The first Python block after the page's ``**A2A**`` heading."""
    page = COMPAT.read_text(encoding="utf-8")
    after = page[page.index("**A2A**") :]
    found = re.search(r"```python\n(.*?)```", after, re.DOTALL)
    assert found is not None, "no Python block after **A2A** in docs/compat.md"
    return found.group(1)


@pytest.fixture
def chat(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[str, str]]:
    """The chat example served on a real socket, auth on: its base URL and a key."""
    monkeypatch.setenv("AGENTDOCK_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("AGENTDOCK_REDIS_URL", raising=False)
    with open_store() as store:
        key = add_key(store, "chat")
    project = tmp_path / "chat"
    shutil.copytree(CHAT, project, ignore=shutil.ignore_patterns("__pycache__", ".agentdock"))
    for name in [n for n in sys.modules if n.split(".")[0] == "agent"]:
        del sys.modules[name]
    manager = make_plugin_manager(
        plugins=[agentdock_plugins.langgraph, agentdock_plugins.litestar, agentdock_plugins.auth]
    )
    app = agentdock.app(project / "Dockfile.yaml", plugins=manager)
    try:
        with serving(app) as port:
            yield f"http://127.0.0.1:{port}", key.key
    finally:
        while str(project) in sys.path:
            sys.path.remove(str(project))
        for name in [n for n in sys.modules if n.split(".")[0] == "agent"]:
            del sys.modules[name]


def test_the_a2a_example_of_compat_md_runs_as_written(
    chat: tuple[str, str], tmp_path: Path
) -> None:
    url, key = chat
    code = a2a_example()
    # Only the two lines a user changes are changed.
    assert code.count("https://agent.example.com") == 1 and code.count('"adk_…"') == 1
    code = code.replace("https://agent.example.com", url).replace('"adk_…"', repr(key))
    script = tmp_path / "a2a_example.py"
    script.write_text(code, encoding="utf-8")
    ran = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=120, check=False
    )
    assert ran.returncode == 0, ran.stderr
    state, output = ran.stdout.splitlines()
    assert state == "TASK_STATE_COMPLETED"
    assert output.startswith("{'answer': ") and "hi" in output
