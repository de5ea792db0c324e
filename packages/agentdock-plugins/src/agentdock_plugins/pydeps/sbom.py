"""A CycloneDX 1.5 bill of materials of what a bundle or an image installs.

Written from the installed distributions themselves (their ``*.dist-info`` metadata), not
from the requirements: what is listed is what ships. Each component carries its name,
version, package URL and a SHA-256 of its ``RECORD`` file, which holds the hash of every
file the distribution installed, so the one hash pins the whole installed tree. The
document is deterministic for the same trees (the serial number derives from the
artifact's digest), so a rebuild of the same inputs writes the same bytes.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Iterable
from email.parser import HeaderParser
from pathlib import Path
from typing import Any

from agentdock_plugins.pydeps.dists import normalize_name

__all__ = [
    "SBOM_FILE",
    "SBOM_SPEC_VERSION",
    "installed_components",
    "sbom_path",
    "write_sbom",
]

SBOM_FILE = "sbom.cdx.json"
SBOM_SPEC_VERSION = "1.5"
_NAMESPACE = uuid.UUID("0b8a3c39-6f0e-4c55-9d25-6a3f2d7d2f1e")


def sbom_path(home: Path, digest: str) -> Path:
    """Where the registry store keeps the SBOM of the artifact of ``digest``."""
    return Path(home) / "sbom" / f"{digest}.cdx.json"


def _metadata(dist_info: Path) -> tuple[str, str, str | None] | None:
    try:
        text = (dist_info / "METADATA").read_text("utf-8", errors="replace")
    except OSError:
        return None
    headers = HeaderParser().parsestr(text, headersonly=True)
    name, version = headers.get("Name"), headers.get("Version")
    if not name or not version:
        return None
    licence = headers.get("License-Expression") or None
    return str(name), str(version), licence


def installed_components(sites: Iterable[Path]) -> list[dict[str, Any]]:
    """One CycloneDX ``library`` component per distribution installed under ``sites``."""
    found: dict[str, dict[str, Any]] = {}
    for site in sites:
        for dist_info in sorted(Path(site).glob("*.dist-info")):
            meta = _metadata(dist_info)
            record = dist_info / "RECORD"
            if meta is None or not record.is_file():
                continue
            name, version, licence = meta
            norm = normalize_name(name)
            component: dict[str, Any] = {
                "type": "library",
                "bom-ref": f"pkg:pypi/{norm}@{version}",
                "name": name,
                "version": version,
                "purl": f"pkg:pypi/{norm}@{version}",
                "hashes": [
                    {"alg": "SHA-256", "content": hashlib.sha256(record.read_bytes()).hexdigest()}
                ],
                "properties": [{"name": "agentdock:hash-of", "value": "dist-info/RECORD"}],
            }
            if licence:
                component["licenses"] = [{"expression": licence}]
            found[norm] = component
    return [found[key] for key in sorted(found)]


def write_sbom(
    path: Path,
    sites: Iterable[Path],
    *,
    name: str,
    version: str,
    digest: str,
    kind: str,
    properties: dict[str, str] | None = None,
) -> str:
    """Write the SBOM of the trees ``sites`` for the artifact ``name`` ``version`` (of
    ``digest``; ``kind`` is ``bundle`` or ``image``) at ``path``; returns the SHA-256 of
    the bytes written (what an image's label names)."""
    components = installed_components(sites)
    props = [{"name": f"agentdock:{k}", "value": v} for k, v in sorted((properties or {}).items())]
    document: dict[str, Any] = {
        "bomFormat": "CycloneDX",
        "specVersion": SBOM_SPEC_VERSION,
        "serialNumber": f"urn:uuid:{uuid.uuid5(_NAMESPACE, digest)}",
        "version": 1,
        "metadata": {
            "component": {
                "type": "application",
                "bom-ref": f"agentdock:{name}@{version}",
                "name": name,
                "version": version,
                "hashes": [{"alg": "SHA-256", "content": digest}],
                "properties": [{"name": "agentdock:artifact", "value": kind}, *props],
            },
            "tools": {"components": [{"type": "application", "name": "agentdock"}]},
        },
        "components": components,
        "dependencies": [
            {
                "ref": f"agentdock:{name}@{version}",
                "dependsOn": [c["bom-ref"] for c in components],
            }
        ],
    }
    data = (json.dumps(document, indent=2, sort_keys=True) + "\n").encode("utf-8")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(data)
    tmp.replace(path)
    return hashlib.sha256(data).hexdigest()
