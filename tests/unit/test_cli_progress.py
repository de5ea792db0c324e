"""The deploy progress a person reads says the same steps as ``--json``: the promote and
retire lines of a deploy or rollback (docs/deploy.md)."""

from __future__ import annotations

import json

import pytest
from agentdock_cli.progress import Reporter


def _steps(capsys: pytest.CaptureFixture[str], as_json: bool) -> str:
    report = Reporter(as_json)
    report("start", "the version stands by: its runtime is forked (supervisor pid 7)")
    report("promote", "http://127.0.0.1:8000 is served by the new version")
    report("retire", "the previous deployment (1.0.0) stands by for a rollback for up to 600s")
    report("venv", "uv output that only updates the spinner")
    report.close()
    out = capsys.readouterr()
    return out.out + out.err


def test_text_progress_prints_the_promote_and_retire_steps_as_json_does(
    capsys: pytest.CaptureFixture[str],
) -> None:
    events = [json.loads(line) for line in _steps(capsys, True).splitlines()]
    assert [e["step"] for e in events] == ["start", "promote", "retire", "venv"]
    text = _steps(capsys, False)
    assert "promote http://127.0.0.1:8000 is served by the new version" in text, text
    assert "retire the previous deployment (1.0.0) stands by for a rollback" in text, text
    assert "uv output" not in text  # a builder's own output is not a step line
