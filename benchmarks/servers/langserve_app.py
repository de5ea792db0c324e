"""Peer (c): LangServe ``add_routes`` on the same graph (POST /echo/invoke, {"input": ...}).

Runs in its own virtual environment (LangServe pins its own langchain-core):

    BENCH_GRAPH=sync|async uvicorn langserve_app:app
"""

from __future__ import annotations

import os

from echo_graphs import build_async_graph, build_graph
from fastapi import FastAPI
from langserve import add_routes

GRAPH = build_async_graph() if os.environ.get("BENCH_GRAPH") == "async" else build_graph()

app = FastAPI()
add_routes(app, GRAPH, path="/echo")
