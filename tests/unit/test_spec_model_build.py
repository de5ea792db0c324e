"""The Dockfile's models build their validators when they first validate, not when
:mod:`agentdock.spec.models` is imported (a start-up cost of every runtime and command)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

CHECK = """
import sys
from agentdock.spec import models
from agentdock.validation import validate

classes = [c for c in vars(models).values() if isinstance(c, type) and hasattr(c, "model_fields")]
assert len(classes) > 30, len(classes)
built = [c.__name__ for c in classes if c.__pydantic_complete__]
print("built at import:", built)
report = validate(sys.argv[1], skip_imports=True, audit=False)
spec = report.spec
assert type(spec) is models.DockSpec11 and models.DockSpec11.__pydantic_complete__
assert spec.policies.safety.block_prompt_injection is True
assert not models.DockSpec10.__pydantic_complete__
print("ok")
"""


def test_importing_the_models_builds_no_validator_and_validating_builds_one() -> None:
    result = subprocess.run(
        [sys.executable, "-c", CHECK, str(ROOT / "examples" / "echo" / "Dockfile.yaml")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["built at import: []", "ok"]


def test_the_warm_process_builds_them_once_for_every_runtime_it_forks() -> None:
    check = (
        "from agentdock_runtime.zygote import preload\n"
        "preload()\n"
        "from agentdock.spec.models import MODELS\n"
        "print(sorted(m.__name__ for m in MODELS.values() if m.__pydantic_complete__))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", check], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "['DockSpec10', 'DockSpec11']"
