"""Which ``.run(...)`` call starts a web framework's development server.

``asyncio.run(main())`` and ``runner.run()`` start nothing that listens, so a bare ``.run``
is not enough: a call is Flask's ``run`` when its receiver is a name the file binds to
``Flask(...)``, or when it passes ``port=`` (any framework's ``app.run(port=...)``). Both the
bind rule (Flask listens on 127.0.0.1 without ``host=``) and the shutdown rule read it.
"""

from __future__ import annotations

import ast

from agentdock.readiness import SourceFile
from agentdock.readiness.astutil import call_name, kwarg

__all__ = ["flask_apps", "is_app_run"]


def flask_apps(source: SourceFile) -> frozenset[str]:
    """Names the file binds to ``Flask(...)`` (``app = Flask(__name__)``), found once."""

    def build() -> frozenset[str]:
        names: set[str] = set()
        for assign in source.nodes(ast.Assign):
            value = assign.value
            if isinstance(value, ast.Call) and call_name(value).rsplit(".", 1)[-1] == "Flask":
                names.update(t.id for t in assign.targets if isinstance(t, ast.Name))
        return frozenset(names)

    return source.memo("flask-apps", build)


def is_app_run(source: SourceFile, name: str, call: ast.Call) -> bool:
    """``app.run(...)`` on a Flask app of this file, or any ``.run(port=...)`` but uvicorn's."""
    receiver, _, last = name.rpartition(".")
    if last != "run" or name == "uvicorn.run":
        return False
    return receiver in flask_apps(source) or kwarg(call, "port") is not None
