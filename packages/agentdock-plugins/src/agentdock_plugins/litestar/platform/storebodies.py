"""The request bodies of the Platform API's store routes, as ``langgraph-sdk``'s
``client.store`` sends them (decoded with msgspec by :func:`~.bodies.decode_body`)."""

from __future__ import annotations

from typing import Any

import msgspec

__all__ = ["ItemDelete", "ItemPut", "ItemSearch", "NamespaceList"]


class ItemPut(msgspec.Struct, kw_only=True):
    namespace: list[str]
    key: str
    value: dict[str, Any]
    #: ``False``: not indexed; a list: the fields to index (stores without an index
    #: ignore it).
    index: bool | list[str] | None = None
    #: Minutes the item lives (a store without TTLs refuses it).
    ttl: float | None = None


class ItemDelete(msgspec.Struct, kw_only=True):
    namespace: list[str] = msgspec.field(default_factory=list)
    key: str


class ItemSearch(msgspec.Struct, kw_only=True):
    namespace_prefix: list[str] = msgspec.field(default_factory=list)
    filter: dict[str, Any] | None = None
    limit: int = 10
    offset: int = 0
    query: str | None = None
    refresh_ttl: bool | None = None


class NamespaceList(msgspec.Struct, kw_only=True):
    prefix: list[str] | None = None
    suffix: list[str] | None = None
    max_depth: int | None = None
    limit: int = 100
    offset: int = 0
