"""AgentDock: turn a LangGraph or LangChain agent plus one Dockfile into a secure service.

The Python API is small::

    import agentdock

    report = agentdock.validate("Dockfile.yaml")
    if report.ok:
        spec = report.spec            # the frozen DockSpec
    spec = agentdock.load("Dockfile.yaml")  # raises DockfileError when invalid

    d = agentdock.deploy("Dockfile.yaml")   # build, start behind the health gate, activate
    agentdock.status(d.agent)
    agentdock.rollback(d.agent)             # the previous version, without rebuilding

Plugin authors import :data:`hookimpl` from here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from agentdock.findings import Code, Finding, Severity, ValidationReport
from agentdock.hookspecs import hookimpl

if TYPE_CHECKING:
    from agentdock.deployment import (
        DeployError,
        Deployment,
        cleanup,
        deploy,
        logs,
        remove,
        rollback,
        status,
        stop,
        versions,
    )
    from agentdock.plugins import PluginManager, get_plugin_manager, make_plugin_manager
    from agentdock.spec.models import DockSpec
    from agentdock.validation import DockfileError, load, validate

__version__ = "0.1.0"

__all__ = [
    "Code",
    "DeployError",
    "Deployment",
    "DockSpec",
    "DockfileError",
    "Finding",
    "PluginManager",
    "Severity",
    "ValidationReport",
    "__version__",
    "app",
    "cleanup",
    "deploy",
    "get_plugin_manager",
    "hookimpl",
    "load",
    "logs",
    "make_plugin_manager",
    "remove",
    "rollback",
    "status",
    "stop",
    "validate",
    "versions",
]

_LAZY = {
    "app": "agentdock_runtime.app",
    "DockfileError": "agentdock.validation",
    "load": "agentdock.validation",
    "validate": "agentdock.validation",
    "DockSpec": "agentdock.spec.models",
    **dict.fromkeys(
        (
            "DeployError",
            "Deployment",
            "cleanup",
            "deploy",
            "logs",
            "remove",
            "rollback",
            "status",
            "stop",
            "versions",
        ),
        "agentdock.deployment",
    ),
    "PluginManager": "agentdock.plugins",
    "get_plugin_manager": "agentdock.plugins",
    "make_plugin_manager": "agentdock.plugins",
}


def __getattr__(name: str) -> Any:
    # Heavy modules (pydantic, jsonschema) load on first use, so plugins and the CLI
    # pay only for what they touch.
    module_name = _LAZY.get(name)
    if module_name is None:
        raise AttributeError(f"module 'agentdock' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module_name), name)
    globals()[name] = value
    return value
