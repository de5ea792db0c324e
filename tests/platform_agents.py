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


def echo_text_dockfile(name: str, module: str, *, auth: str = "", expose: str = "") -> str:
    """The Dockfile of :data:`ECHO_TEXT_GRAPH` written as ``module.py``: API keys on, REST
    with SSE on port 8080; ``auth`` adds lines under ``auth:`` (indented two spaces) and
    ``expose`` entries to the ``expose`` mapping (``"cors: {...}"``)."""
    more = f", {expose}" if expose else ""
    return f"""\
version: "1.1"
agent: {{name: {name}, entrypoint: "{module}:build_graph", framework: langgraph}}
model: {{provider: custom, name: offline}}
io_schema:
  input: {{type: object, properties: {{text: {{type: string}}}}}}
  output: {{type: object, properties: {{text: {{type: string}}}}}}
auth:
  mode: api_key
  api_keys: {{enabled: true}}
{auth}expose: {{rest: true, streaming: sse, port: 8080{more}}}
"""
