"""Checks of a CycloneDX SBOM against the schema and against the trees it describes."""

from __future__ import annotations

import hashlib
import json
from email.parser import HeaderParser
from pathlib import Path
from typing import Any

import jsonschema
from referencing import Registry, Resource

SCHEMAS = Path(__file__).resolve().parents[1] / "contracts" / "cyclonedx"
_BASE = "http://cyclonedx.org/schema/"


def validate_cyclonedx(document: dict[str, Any]) -> None:
    """Raise unless ``document`` is valid CycloneDX 1.5 JSON."""
    resources = []
    for name in ("spdx.SNAPSHOT.schema.json", "jsf-0.82.SNAPSHOT.schema.json"):
        contents = json.loads((SCHEMAS / name).read_text("utf-8"))
        resources.append((_BASE + name, Resource.from_contents(contents)))
    registry: Registry[Any] = Registry().with_resources(resources)
    schema = json.loads((SCHEMAS / "bom-1.5.SNAPSHOT.schema.json").read_text("utf-8"))
    schema["$id"] = _BASE + "bom-1.5.SNAPSHOT.schema.json"
    jsonschema.Draft7Validator(schema, registry=registry).validate(document)


def installed(site: Path) -> dict[str, tuple[str, str]]:
    """Name → (version, SHA-256 of RECORD) of every distribution installed in ``site``."""
    out = {}
    for dist_info in site.glob("*.dist-info"):
        headers = HeaderParser().parsestr((dist_info / "METADATA").read_text("utf-8"))
        record = hashlib.sha256((dist_info / "RECORD").read_bytes()).hexdigest()
        out[str(headers["Name"])] = (str(headers["Version"]), record)
    return out


def listed(document: dict[str, Any]) -> dict[str, tuple[str, str]]:
    """Name → (version, SHA-256) of every component of an SBOM."""
    return {
        c["name"]: (c["version"], next(h["content"] for h in c["hashes"] if h["alg"] == "SHA-256"))
        for c in document["components"]
    }
