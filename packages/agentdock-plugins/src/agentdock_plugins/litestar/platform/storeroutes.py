"""The Platform API's store routes: ``PUT``/``GET``/``DELETE /store/items``,
``POST /store/items/search`` and ``POST /store/namespaces``, as ``langgraph-sdk``'s
``client.store`` calls them, on the agent's LangGraph store (the one its graph's nodes
get as ``store``: :mod:`agentdock_plugins.langgraph.store`).

Every route authenticates as the Platform's other routes do (the role needs ``invoke``:
whoever may run the agent, which may write the store, may use it). Namespaces are the
caller's own (:mod:`agentdock_plugins.langgraph.storescope`): with auth on and
``expose.threads: per_caller`` (the default) a namespace must start with the caller's
label, else 403; a search or listing without a prefix covers the caller's namespaces.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from agentdock_runtime import (
    Forbidden,
    InputValidationError,
    PayloadTooLarge,
    RuntimeHTTPError,
)
from langgraph.store.base import BaseStore
from litestar import Request, Response, delete, get, post, put

from agentdock_plugins.langgraph.storescope import caller_label
from agentdock_plugins.litestar.platform.bodies import decode_body, not_found
from agentdock_plugins.litestar.platform.context import Platform
from agentdock_plugins.litestar.platform.replies import body_of, headers_of, json_reply
from agentdock_plugins.litestar.platform.storebodies import (
    ItemDelete,
    ItemPut,
    ItemSearch,
    NamespaceList,
)

__all__ = ["MAX_ITEM_BYTES", "MAX_LIMIT", "store_handlers"]

#: The largest ``PUT /store/items`` body (the item's value with its namespace and key).
MAX_ITEM_BYTES = 256 * 1024
#: The most items or namespaces one search or listing answers.
MAX_LIMIT = 1000


def store_handlers(p: Platform) -> list[Any]:
    """The handlers of ``/store``, on the agent's store (built once)."""
    store: BaseStore | None = getattr(p.pipeline.adapter, "store", None)
    shared = bool(getattr(p.pipeline, "shared_threads", False))

    async def caller(headers: dict[str, str]) -> tuple[BaseStore, str | None]:
        """The store and the caller's label (``None``: every namespace is open to it)."""
        subject = await p.authorize(headers)
        if store is None:
            raise RuntimeHTTPError(
                409, "NoStore", f"agent {p.name} has no LangGraph store (it is not a graph)"
            )
        return store, None if subject is None or shared else caller_label(subject)

    @put("/store/items", status_code=204)
    async def store_put(request: Request[Any, Any, Any]) -> None:
        headers = headers_of(request)
        items, label = await caller(headers)
        raw = await body_of(request, headers)
        if len(raw) > MAX_ITEM_BYTES:
            raise PayloadTooLarge(
                f"a store item is at most {MAX_ITEM_BYTES} bytes of JSON", path="value"
            )
        body = decode_body(raw, ItemPut, empty_ok=False)
        namespace = _namespace(body.namespace, label, "namespace")
        index = body.index if body.index is False or isinstance(body.index, list) else None
        extra: dict[str, Any] = {} if body.ttl is None else {"ttl": body.ttl}
        try:
            await items.aput(namespace, _key(body.key), body.value, index, **extra)
        except NotImplementedError:
            raise InputValidationError(
                "this agent's store keeps no time-to-live: send no ttl", path="ttl"
            ) from None

    @get("/store/items")
    async def store_get(request: Request[Any, Any, Any]) -> Response[bytes]:
        headers = headers_of(request)
        items, label = await caller(headers)
        query = request.query_params
        joined = query.get("namespace")
        if joined is None:
            raise InputValidationError("namespace is required", path="namespace")
        labels = joined.split(".") if joined else []
        namespace = _namespace(labels, label, "namespace")
        key = _key(query.get("key"))
        item = await items.aget(namespace, key, refresh_ttl=_flag(query.get("refresh_ttl")))
        if item is None:
            raise not_found("item", key)
        return json_reply(item.dict())

    @delete("/store/items", status_code=204)
    async def store_delete(request: Request[Any, Any, Any]) -> None:
        headers = headers_of(request)
        items, label = await caller(headers)
        body = decode_body(await body_of(request, headers), ItemDelete, empty_ok=False)
        await items.adelete(_namespace(body.namespace, label, "namespace"), _key(body.key))

    @post("/store/items/search", status_code=200)
    async def store_search(request: Request[Any, Any, Any]) -> Response[bytes]:
        headers = headers_of(request)
        items, label = await caller(headers)
        body = decode_body(await body_of(request, headers), ItemSearch)
        prefix = _namespace(body.namespace_prefix, label, "namespace_prefix", prefix=True)
        found = await items.asearch(
            prefix,
            query=body.query,
            filter=body.filter,
            limit=_bounded(body.limit, "limit"),
            offset=_bounded(body.offset, "offset", MAX_LIMIT * 1000),
            refresh_ttl=body.refresh_ttl,
        )
        return json_reply({"items": [item.dict() for item in found]})

    @post("/store/namespaces", status_code=200)
    async def store_namespaces(request: Request[Any, Any, Any]) -> Response[bytes]:
        headers = headers_of(request)
        items, label = await caller(headers)
        body = decode_body(await body_of(request, headers), NamespaceList)
        prefix = _namespace(body.prefix or [], label, "prefix", prefix=True)
        suffix = _labels(body.suffix or [], "suffix")
        if body.max_depth is not None and body.max_depth < 1:
            raise InputValidationError("max_depth must be at least 1", path="max_depth")
        found = await items.alist_namespaces(
            prefix=prefix or None,
            suffix=suffix or None,
            max_depth=body.max_depth,
            limit=_bounded(body.limit, "limit"),
            offset=_bounded(body.offset, "offset", MAX_LIMIT * 1000),
        )
        return json_reply({"namespaces": [list(namespace) for namespace in found]})

    return [store_put, store_get, store_delete, store_search, store_namespaces]


def _labels(labels: Sequence[str], path: str) -> tuple[str, ...]:
    """``labels``, each a label LangGraph's stores accept (else 422 naming it)."""
    for i, label in enumerate(labels):
        if not label or "." in label or "\x00" in label:
            raise InputValidationError(
                "a namespace label is a non-empty string without '.' or NUL",
                path=f"{path}[{i}]",
            )
    return tuple(labels)


def _namespace(
    labels: Sequence[str], own: str | None, path: str, *, prefix: bool = False
) -> tuple[str, ...]:
    """A namespace (or a search's ``prefix``) the caller may use: its labels checked,
    starting with the caller's label ``own`` (else 403); an empty prefix is the caller's
    namespaces."""
    namespace = _labels(labels, path)
    if not namespace:
        if not prefix:
            raise InputValidationError(f"{path} needs at least one label", path=path)
        return (own,) if own is not None else ()
    if namespace[0] == "langgraph":
        raise InputValidationError("the label 'langgraph' is reserved", path=f"{path}[0]")
    if own is not None and namespace[0] != own:
        raise Forbidden(
            f"{path} must start with your own label {own!r} (each caller's items are its own)",
            path=f"{path}[0]",
        )
    return namespace


def _key(key: str | None) -> str:
    if not key:
        raise InputValidationError("key is required and not empty", path="key")
    return key


def _flag(raw: str | None) -> bool | None:
    if raw is None or raw == "":
        return None
    return raw.strip().lower() in ("true", "1", "yes")


def _bounded(value: int, name: str, most: int = MAX_LIMIT) -> int:
    if value < 0 or value > most:
        raise InputValidationError(f"{name} must be between 0 and {most}", path=name)
    return value
