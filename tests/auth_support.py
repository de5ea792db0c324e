"""Shared by the auth tests and benchmarks: a minimal spec with a given ``auth`` block, and
API keys stored in a registry the way ``agentdock key create`` stores them (a digest)."""

from __future__ import annotations

from typing import Any

from agentdock.auth import GeneratedKey, generate_key
from agentdock.spec.models import DockSpec11

__all__ = ["AGENT", "add_key", "auth_spec", "rotate_key", "stored_key"]

#: The agent of :func:`auth_spec` and the default owner of :func:`add_key`'s keys.
AGENT = "echo_agent"


def auth_spec(auth: dict[str, Any], agent: str = AGENT) -> DockSpec11:
    """A valid 1.1 spec of ``agent`` whose ``auth`` block is ``auth``."""
    return DockSpec11.model_validate(
        {
            "version": "1.1",
            "agent": {"name": agent, "entrypoint": "app:graph", "framework": "langgraph"},
            "model": {"provider": "openai", "name": "gpt-4o-mini"},
            "io_schema": {
                "input": {"type": "object", "properties": {"text": {"type": "string"}}},
                "output": {"type": "object", "properties": {"text": {"type": "string"}}},
            },
            "auth": auth,
            "expose": {"rest": True, "streaming": "sse", "port": 8080},
        }
    )


def stored_key(
    store: Any, agent: str = AGENT, role: str = "developer", **fields: Any
) -> tuple[GeneratedKey, Any]:
    """A new key of ``agent`` with ``role``, stored in ``store`` (``fields``: the other
    columns, such as ``expires_at`` or ``now``); the key and its registry row."""
    generated = generate_key()
    record = store.create_api_key(
        agent=agent,
        role=role,
        key_id=generated.key_id,
        hashed_key=generated.digest,
        hash_algorithm=generated.algorithm,
        **fields,
    )
    return generated, record


def add_key(store: Any, agent: str = AGENT, role: str = "developer", **fields: Any) -> GeneratedKey:
    """:func:`stored_key`'s key alone."""
    return stored_key(store, agent, role, **fields)[0]


def rotate_key(
    store: Any, key_id: str, agent: str = AGENT, **fields: Any
) -> tuple[GeneratedKey, Any]:
    """Rotate ``key_id`` of ``agent`` to a new key (``fields``: ``grace_seconds``, ``now``);
    the new key and what the store answered (None when it refused)."""
    new = generate_key()
    result = store.rotate_api_key(
        agent=agent,
        key_id=key_id,
        new_key_id=new.key_id,
        new_hashed_key=new.digest,
        hash_algorithm=new.algorithm,
        **fields,
    )
    return new, result
