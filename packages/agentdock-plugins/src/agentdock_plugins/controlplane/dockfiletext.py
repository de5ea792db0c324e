"""Validating a Dockfile posted as text: the same engine and limits as ``agentdock validate``.

The text is written alone into a fresh temporary project and loaded from there, so the
loader's own limits apply unchanged (size, depth, node count, alias expansion) and an
``!include`` can reach nothing but that empty project. ``${VAR}`` placeholders are kept,
never filled from the control plane's environment: a posted Dockfile cannot read the
server's variables back through a finding. Imports are not run (the code is not there).
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

__all__ = ["DOCKFILE_NAME", "MAX_TEXT_BYTES", "validate_text"]

DOCKFILE_NAME = "Dockfile.yaml"
#: The largest body the validate endpoint reads: a little over the loader's own 1 MiB, so
#: the loader, not the transport, says why an oversized Dockfile is refused.
MAX_TEXT_BYTES = 1_048_576 + 4096


def validate_text(text: str, *, strict: bool = False, plugins: Any = None) -> dict[str, Any]:
    """The ``agentdock validate --json`` document of ``text`` (``file`` is ``Dockfile.yaml``)."""
    from agentdock.spec.loader import load_document
    from agentdock.validation import validate_document

    with tempfile.TemporaryDirectory(prefix="agentdock-validate-") as directory:
        path = Path(directory) / DOCKFILE_NAME
        path.write_text(text, encoding="utf-8", errors="surrogatepass")
        document = load_document(path, environ={}, allow_unresolved=True)
        report = validate_document(document, strict=strict, skip_imports=True, plugins=plugins)
        out = report.to_dict()
    out["file"] = DOCKFILE_NAME
    cleaned: dict[str, Any] = _unrooted(out, directory)
    return cleaned


def _unrooted(value: Any, directory: str) -> Any:
    """``value`` with the temporary directory's name taken out of every text."""
    if isinstance(value, str):
        return value.replace(directory + "/", "").replace(directory, ".")
    if isinstance(value, list):
        return [_unrooted(v, directory) for v in value]
    if isinstance(value, dict):
        return {k: _unrooted(v, directory) for k, v in value.items()}
    return value
