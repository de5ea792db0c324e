"""Agent sources the Platform route tests write into their projects."""

#: A one-node LangGraph agent (``build_graph``) that answers its input's ``text``.
ECHO_TEXT_GRAPH = '''
"""Echoes its text."""

from typing import TypedDict

from langgraph.graph import END, START, StateGraph


class State(TypedDict, total=False):
    text: str


def build_graph():
    graph = StateGraph(State)
    graph.add_node("echo", lambda state: {"text": state.get("text", "")})
    graph.add_edge(START, "echo")
    graph.add_edge("echo", END)
    return graph.compile()
'''
