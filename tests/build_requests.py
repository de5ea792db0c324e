"""Build requests for the builders' tests, made as ``agentdock deploy`` makes them."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from agentdock.deployment.artifacts import BuildRequest
from agentdock.deployment.sources import collect_sources, content_hash
from agentdock.validation import validate

__all__ = ["build_request"]


def build_request(
    project: Path,
    home: Path,
    *,
    version: str = "0.1.0",
    options: Mapping[str, Any] | None = None,
) -> BuildRequest:
    """The request for the Dockfile in ``project``: snapshot, filtered sources, content hash."""
    snapshot = (project / "Dockfile.yaml").read_text("utf-8")
    report = validate(project / "Dockfile.yaml", allow_unresolved=True, skip_imports=True)
    assert report.spec is not None, [f.one_line() for f in report.errors]
    sources = collect_sources(project)
    return BuildRequest(
        agent=report.spec.agent.name,
        version=version,
        project_dir=project,
        snapshot=snapshot,
        content_hash=content_hash(snapshot, project, sources),
        sources=sources,
        spec=report.spec,
        home=home,
        options=dict(options or {}),
    )
