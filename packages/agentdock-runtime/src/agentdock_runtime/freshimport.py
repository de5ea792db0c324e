"""Importing an agent's entrypoint afresh, for a server that hosts (and reloads) several.

``importlib.import_module`` answers from ``sys.modules``: an agent whose code changed would
get its old module back, and two agents whose code uses one package name (``agent.graph``
in two directories) would share the first one imported. Before each import, every module
loaded from a file under the hosting directory is forgotten and the agent's own directory
goes first on ``sys.path``; modules of installed packages are never touched.

Objects already imported keep their module globals, so an agent that is still serving
(its in-flight runs, another hosted agent) is unaffected; only an import made later, at run
time, by an agent's code resolves anew. Imports are serialized by one lock: ``sys.modules``
and ``sys.path`` are the process's.
"""

from __future__ import annotations

import importlib
import sys
import threading
from pathlib import Path
from typing import Any

from agentdock_runtime.iomodels import import_object

__all__ = ["import_fresh"]

_LOCK = threading.Lock()


def import_fresh(ref: str, project_dir: Path, hosting_dir: Path) -> Any:
    """The object ``ref`` (``pkg.mod:Name``) imported from ``project_dir``, with every module
    from a file under ``hosting_dir`` imported anew."""
    root = hosting_dir.resolve()
    directory = str(project_dir.resolve())
    with _LOCK:
        for name, module in list(sys.modules.items()):
            if _loaded_under(module, root):
                del sys.modules[name]
        if directory in sys.path:
            sys.path.remove(directory)
        sys.path.insert(0, directory)
        importlib.invalidate_caches()
        return import_object(ref)


def _loaded_under(module: Any, root: Path) -> bool:
    """Whether ``module`` was loaded from a file (or is a namespace package) under ``root``."""
    file = getattr(module, "__file__", None)
    if file is not None:
        return Path(file).is_relative_to(root)
    spec = getattr(module, "__spec__", None)
    locations = list(getattr(spec, "submodule_search_locations", None) or ())
    return bool(locations) and all(Path(p).is_relative_to(root) for p in locations)
