"""The README's Python API section: every public name listed, every code block runnable.

The blocks run in order, as one script, from the repository root, in a fresh interpreter
with a registry of its own (``AGENTDOCK_HOME``): the deploy block builds and starts the chat
example on the local target, then stops it.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import agentdock
import pytest

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text(encoding="utf-8")
SECTION = README[
    README.index("## Python API\n") : README.index("\n## ", README.index("## Python API\n") + 1)
]


def python_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", SECTION, flags=re.DOTALL)


def test_every_public_name_is_reachable_and_listed() -> None:
    missing = []
    for name in agentdock.__all__:
        assert getattr(agentdock, name) is not None, name
        if (
            name != "__version__"
            and f"`{name}" not in SECTION
            and f"agentdock.{name}" not in SECTION
        ):
            missing.append(name)
    assert missing == [], f"the README's Python API section does not list {missing}"


def test_public_names_resolve_in_a_fresh_interpreter_without_frameworks() -> None:
    code = (
        "import sys, agentdock\n"
        "heavy = {m.split('.')[0] for m in sys.modules} & "
        "{'langgraph', 'langchain_core', 'litestar', 'httpx', 'pydantic', 'agentdock_runtime'}\n"
        "assert not heavy, heavy\n"
        "assert callable(agentdock.testing.client) and callable(agentdock.app)\n"
        "assert agentdock.testing.__name__ == 'agentdock.testing'\n"
        "assert set(agentdock.__all__) <= set(dir(agentdock))\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


@pytest.mark.slow
def test_the_python_api_examples_run(tmp_path: Path) -> None:
    blocks = python_blocks()
    assert len(blocks) >= 4
    script = tmp_path / "python_api.py"
    script.write_text("\n".join(blocks), encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("AGENTDOCK_")}
    env["AGENTDOCK_HOME"] = str(tmp_path / "home")
    result = subprocess.run(
        [sys.executable, str(script)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert "True []" in out  # the report of the echo example
    assert "echo 8080" in out
    assert "{'text': 'ASYNC'}" in out
    assert "http://127.0.0.1:" in out  # the chat deploy's endpoint
    assert "Deployment" in out
