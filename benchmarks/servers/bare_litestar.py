"""Baseline (a): the server a user would write by hand: Litestar + ``await graph.ainvoke``.

BENCH_GRAPH=sync|async uvicorn bare_litestar:app
"""

from __future__ import annotations

import os
from typing import Any

from echo_graphs import build_async_graph, build_graph
from litestar import Litestar, post

GRAPH = build_async_graph() if os.environ.get("BENCH_GRAPH") == "async" else build_graph()


@post("/invoke", status_code=200)
async def invoke(data: dict[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = await GRAPH.ainvoke(data)
    return result


app = Litestar([invoke])
