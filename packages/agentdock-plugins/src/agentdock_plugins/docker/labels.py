"""The labels of an agent image: what it runs, what it came from, which locks held it.

Label values come from the snapshot, which keeps ``${VAR}`` placeholders, so a label can
never hold a resolved secret.
"""

from __future__ import annotations

import datetime as _dt
from importlib import metadata

import yaml
from agentdock.deployment.artifacts import BuildRequest

from agentdock_plugins.docker.buildplan import Plan

__all__ = ["agentdock_version", "image_labels", "snapshot_fields"]


def agentdock_version() -> str:
    """The installed AgentDock runtime's version (a label: which runtime the image runs)."""
    try:
        return metadata.version("agentdock-runtime")
    except metadata.PackageNotFoundError:
        return "unknown"


def snapshot_fields(snapshot: str) -> dict[str, str]:
    """Label values from the snapshot, which keeps ``${VAR}`` placeholders: a label can
    then never hold a resolved value. A value that is a placeholder is left out."""
    try:
        doc = yaml.safe_load(snapshot)
    except yaml.YAMLError:
        return {}
    agent = doc.get("agent") if isinstance(doc, dict) else None
    out: dict[str, str] = {}
    if isinstance(agent, dict):
        description = agent.get("description")
        if isinstance(description, str) and "${" not in description:
            out["description"] = " ".join(description.split())[:512]
    meta = doc.get("metadata") if isinstance(doc, dict) else None
    if isinstance(meta, dict):
        maintainer = meta.get("maintainer")
        if isinstance(maintainer, str) and "${" not in maintainer:
            out["authors"] = maintainer[:256]
    return out


def image_labels(
    request: BuildRequest,
    plan: Plan,
    digest: str,
    tag: str,
    locks: dict[str, str] | None = None,
    sbom_sha256: str | None = None,
) -> dict[str, str]:
    """The OCI and AgentDock labels of an agent image. ``locks`` name the lock files the
    dependencies were held to (``io.agentdock.lock.<which>`` = ``KIND:SHA256``);
    ``sbom_sha256`` is the digest of the image's CycloneDX SBOM in the registry store."""
    fields = snapshot_fields(request.snapshot)
    labels = {
        "org.opencontainers.image.title": request.agent,
        "org.opencontainers.image.version": request.version,
        "org.opencontainers.image.created": _dt.datetime.now(_dt.UTC)
        .replace(microsecond=0)
        .isoformat()
        .replace("+00:00", "Z"),
        "org.opencontainers.image.ref.name": tag,
        "org.opencontainers.image.base.name": plan.base_ref,
        "org.opencontainers.image.base.digest": plan.base_id,
        "org.opencontainers.image.vendor": "AgentDock",
        "io.agentdock.agent": request.agent,
        "io.agentdock.version": request.version,
        "io.agentdock.spec-hash": request.content_hash,
        "io.agentdock.source-digest": request.content_hash,
        "io.agentdock.digest": digest,
        "io.agentdock.agentdock-version": agentdock_version(),
        "io.agentdock.python-version": plan.python_version,
    }
    if sbom_sha256:
        labels["io.agentdock.sbom"] = f"sha256:{sbom_sha256}"
        labels["io.agentdock.sbom.format"] = "CycloneDX 1.5 JSON"
    for which, value in (locks or {}).items():
        labels[f"io.agentdock.lock.{which}"] = value
    if "description" in fields:
        labels["org.opencontainers.image.description"] = fields["description"]
    if "authors" in fields:
        labels["org.opencontainers.image.authors"] = fields["authors"]
    return labels
