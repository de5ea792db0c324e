"""Load another benchmark script of this folder as a module, by its file name.

The scripts are run as files (``python benchmarks/x.py``), not as a package, so one that
reuses another's harness (servers, wrk, keys) loads it here; it is registered in
``sys.modules`` under its name, so it is loaded once.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent


def load(name: str) -> Any:
    """The module of ``benchmarks/<name>.py``."""
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, HERE / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module
