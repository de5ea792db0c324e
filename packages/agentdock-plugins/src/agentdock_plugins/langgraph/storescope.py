"""Whose store items a caller reaches: the namespaces under its own label.

LangGraph Platform tells a graph who calls in ``config["configurable"]
["langgraph_auth_user_id"]``, and its documented pattern keeps a user's items under a
namespace that starts with that id. AgentDock does the same, and holds the store API to
it: with auth on (and ``expose.threads: per_caller``, the default) a caller may put, get,
delete, search and list only namespaces whose first label is its own label, so a caller
never reads or overwrites another's items. The label is the caller's subject (the key's
``key:<id>``, the token's ``sub``) with ``%``, ``.`` and NUL percent-encoded, since a
namespace label may hold no period.
"""

from __future__ import annotations

__all__ = ["USER_ID", "caller_label"]

#: The ``configurable`` key that names the caller to a graph (LangGraph Platform's).
USER_ID = "langgraph_auth_user_id"


def caller_label(subject: object) -> str:
    """The namespace label of ``subject``'s items (one-to-one: ``%`` is encoded too)."""
    return str(subject).replace("%", "%25").replace(".", "%2E").replace("\x00", "%00")
