"""Baselines: findings a team has looked at and accepted, kept in a JSON file beside the code.

An entry names a finding by its fingerprint (rule, file and the text of its line, so that
it survives lines moving) and says why it is accepted::

    {"version": 1, "findings": [
      {"fingerprint": "3f0c…", "rule": "loopback-bind", "file": "echo/dev.py",
       "reason": "the development server; containers run the AgentDock runtime"}]}
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from agentdock.readiness.model import AuditFinding

__all__ = ["BaselineError", "baseline_document", "load_baseline"]

BASELINE_VERSION = 1


class BaselineError(ValueError):
    """A baseline file that cannot be used: missing, not JSON, of another shape or of a
    version this agentdock does not read."""


def load_baseline(path: Path) -> dict[str, dict[str, Any]]:
    """The accepted findings of ``path``, by fingerprint.

    :raises BaselineError: with a one-line cause naming the file.
    """
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise BaselineError(f"{path}: no such baseline file") from None
    except OSError as exc:
        raise BaselineError(f"{path}: cannot read: {exc.strerror or exc}") from None
    except (ValueError, UnicodeDecodeError) as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise BaselineError(f"{path}: not JSON: {first}") from None
    if not isinstance(data, dict) or not isinstance(data.get("findings"), list):
        raise BaselineError(f'{path}: expected {{"version": 1, "findings": [...]}}')
    version = data.get("version", BASELINE_VERSION)  # no version: the first format
    if version != BASELINE_VERSION:
        raise BaselineError(
            f"{path}: baseline version {version!r} is not supported (this agentdock reads "
            f"version {BASELINE_VERSION})"
        )
    out: dict[str, dict[str, Any]] = {}
    for index, entry in enumerate(data["findings"]):
        if not isinstance(entry, dict) or not isinstance(entry.get("fingerprint"), str):
            raise BaselineError(f"{path}: findings[{index}] has no string 'fingerprint'")
        out[entry["fingerprint"]] = entry
    return out


def baseline_document(
    findings: Iterable[AuditFinding],
    reason: str = "",
    kept: Iterable[Mapping[str, Any]] = (),
) -> dict[str, Any]:
    """A baseline accepting ``findings``; each entry's ``reason`` is for people to fill in.

    ``kept`` are entries of the baseline being refreshed that still hid a finding
    (:attr:`AuditReport.accepted`): they come first, as they were, reasons included, so
    that ``--baseline F --write-baseline F`` adds the new findings without losing any."""
    new = [
        {
            "fingerprint": f.fingerprint,
            "rule": f.rule,
            "file": f.file,
            "line": f.line,
            "reason": reason,
        }
        for f in findings
    ]
    return {"version": BASELINE_VERSION, "findings": [*(dict(e) for e in kept), *new]}
