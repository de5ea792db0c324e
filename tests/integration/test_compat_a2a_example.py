"""docs/compat.md's A2A example runs as written: the code block is read from the page and run
against the chat example, its two lines (the URL and the key) pointed at that server."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from served import served_chat

ROOT = Path(__file__).resolve().parents[2]
COMPAT = ROOT / "docs" / "compat.md"


def a2a_example() -> str:
    """The first Python block after the page's ``**A2A**`` heading."""
    page = COMPAT.read_text(encoding="utf-8")
    after = page[page.index("**A2A**") :]
    found = re.search(r"```python\n(.*?)```", after, re.DOTALL)
    assert found is not None, "no Python block after **A2A** in docs/compat.md"
    return found.group(1)


@pytest.fixture
def chat(tmp_path: Path) -> Iterator[tuple[str, str]]:
    """The chat example served on a real socket, auth on: its base URL and a key."""
    with served_chat(tmp_path) as served:
        yield served


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
