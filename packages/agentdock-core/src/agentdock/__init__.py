"""AgentDock: turn a LangGraph or LangChain agent plus one Dockfile into a secure service.

The Python API is small, and every name of it is reachable from ``import agentdock``
(loaded on first use, so the import itself stays cheap)::

    import agentdock

    report = agentdock.validate("Dockfile.yaml")
    if report.ok:
        spec = report.spec            # the frozen DockSpec
    spec = agentdock.load("Dockfile.yaml")  # raises DockfileError when invalid

    with agentdock.testing.client("Dockfile.yaml", insecure_no_auth=True) as http:
        http.post("/invoke", json={...})    # the agent in-process, no socket
    asgi = agentdock.app("Dockfile.yaml")   # for uvicorn or any ASGI server

    b = agentdock.build("Dockfile.yaml")    # build and record the version, start nothing
    d = agentdock.deploy("Dockfile.yaml")   # build, start behind the health gate, activate
    agentdock.status(d.agent)
    agentdock.rollback(d.agent)             # the previous version, without rebuilding
    agentdock.audit("agents/").findings     # deployment readiness, read without importing

Plugin authors import :data:`hookimpl` from here. The README's "Python API" section lists
every name of :data:`__all__`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from agentdock.findings import Code, Finding, Severity, ValidationReport
from agentdock.hookspecs import hookimpl

if TYPE_CHECKING:
    from agentdock import testing
    from agentdock._runtime import app
    from agentdock.deployment import (
        Build,
        BuildFailed,
        DeployError,
        DeployFailed,
        DeployInProgress,
        Deployment,
        HealthGateFailed,
        InvalidDeployInput,
        NotFound,
        TargetUnavailable,
        VersionConflict,
        build,
        cleanup,
        deploy,
        deploy_directory,
        deploy_instances,
        dry_run,
        logs,
        remove,
        rollback,
        status,
        stop,
        versions,
    )
    from agentdock.deployment.operations import instances
    from agentdock.plugins import PluginManager, get_plugin_manager, make_plugin_manager
    from agentdock.readiness import AuditError, AuditReport, audit
    from agentdock.remote import control_plane
    from agentdock.spec.models import DockSpec
    from agentdock.validation import DockfileError, load, validate

__version__ = "0.1.0"

__all__ = [
    "AuditError",
    "AuditReport",
    "Build",
    "BuildFailed",
    "Code",
    "DeployError",
    "DeployFailed",
    "DeployInProgress",
    "Deployment",
    "DockSpec",
    "DockfileError",
    "Finding",
    "HealthGateFailed",
    "InvalidDeployInput",
    "NotFound",
    "PluginManager",
    "Severity",
    "TargetUnavailable",
    "ValidationReport",
    "VersionConflict",
    "__version__",
    "app",
    "audit",
    "build",
    "cleanup",
    "control_plane",
    "deploy",
    "deploy_directory",
    "deploy_instances",
    "dry_run",
    "get_plugin_manager",
    "hookimpl",
    "instances",
    "load",
    "logs",
    "make_plugin_manager",
    "remove",
    "rollback",
    "status",
    "stop",
    "testing",
    "validate",
    "versions",
]

#: Names loaded on first use: ``name -> module``; ``testing`` is the module itself.
_LAZY = {
    "app": "agentdock._runtime",
    "testing": "agentdock.testing",
    "DockfileError": "agentdock.validation",
    "load": "agentdock.validation",
    "validate": "agentdock.validation",
    "DockSpec": "agentdock.spec.models",
    **dict.fromkeys(
        (
            "Build",
            "BuildFailed",
            "DeployError",
            "DeployFailed",
            "DeployInProgress",
            "Deployment",
            "HealthGateFailed",
            "InvalidDeployInput",
            "NotFound",
            "TargetUnavailable",
            "VersionConflict",
            "build",
            "cleanup",
            "deploy",
            "deploy_directory",
            "deploy_instances",
            "dry_run",
            "logs",
            "remove",
            "rollback",
            "status",
            "stop",
            "versions",
        ),
        "agentdock.deployment",
    ),
    # agentdock.deployment.instances is also a module: the function lives in operations.
    "instances": "agentdock.deployment.operations",
    "PluginManager": "agentdock.plugins",
    "audit": "agentdock.readiness",
    "AuditReport": "agentdock.readiness",
    "AuditError": "agentdock.readiness",
    "get_plugin_manager": "agentdock.plugins",
    "control_plane": "agentdock.remote",
    "make_plugin_manager": "agentdock.plugins",
}


def __getattr__(name: str) -> Any:
    # Heavy modules (pydantic, jsonschema) load on first use, so plugins and the CLI
    # pay only for what they touch.
    module_name = _LAZY.get(name)
    if module_name is None:
        raise AttributeError(f"module 'agentdock' has no attribute {name!r}")
    import importlib

    module = importlib.import_module(module_name)
    value = module if module_name == f"{__name__}.{name}" else getattr(module, name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
