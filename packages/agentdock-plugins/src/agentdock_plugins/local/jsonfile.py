"""Small JSON files the local target and its supervisors share between processes.

A supervisor's state and an agent's remembered address are written by one process and read
by any other at any moment, so a file is replaced whole (written beside, then renamed over)
and a reader takes a missing or unreadable one for none. Standard library only: the
supervisor imports it.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

__all__ = ["read_json", "write_json"]


def read_json(path: Path) -> dict[str, Any] | None:
    """The JSON object in ``path``, or None when there is none (yet) or it cannot be read."""
    try:
        data = json.loads(path.read_text("utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def write_json(path: Path, data: Mapping[str, Any], **dumps: Any) -> None:
    """Replace ``path`` with ``data`` atomically (``dumps``: :func:`json.dumps` options)."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(data, **dumps), encoding="utf-8")
    os.replace(tmp, path)
