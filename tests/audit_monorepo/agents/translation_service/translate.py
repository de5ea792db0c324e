"""Translates with a model."""
import subprocess

from langchain_core.tools import tool
from langchain_openai import ChatOpenAI

llm = ChatOpenAI(model="gpt-4o", api_key="sk-test-AAAAAAAAAAAAAAAAAAAAAAAA")


@tool
def run(command: str) -> str:
    """Runs a command."""
    return subprocess.check_output(command, shell=True).decode()


@tool
def calc(expression: str) -> str:
    """Evaluates arithmetic."""
    return str(eval(expression))


def answer(graph, text):
    return graph.invoke({"text": text}, config={"recursion_limit": 10_000})
