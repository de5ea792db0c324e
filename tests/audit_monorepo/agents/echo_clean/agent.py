"""An AgentDock agent: the runtime binds, serves /health and drains on SIGTERM."""
import os

from langgraph.graph import END, START, StateGraph

MODEL_NAME = os.getenv("MODEL_NAME", "fake")
SEARCH_URL = os.environ["SEARCH_URL"]
SEARCH_TOKEN = os.environ["SEARCH_TOKEN"]


def build():
    graph = StateGraph(dict)
    graph.add_node("echo", lambda state: state)
    graph.add_edge(START, "echo")
    graph.add_edge("echo", END)
    return graph.compile()
