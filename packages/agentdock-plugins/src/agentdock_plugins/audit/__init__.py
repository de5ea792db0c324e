"""The built-in deployment-readiness rules of ``agentdock audit``, registered through
``agentdock_register_audit_rules`` like any third-party rule.

Each rule is a small class whose docstring says what it catches and why it matters; the
modules group them by family (network and configuration, paths, service behaviour,
secrets, Dockerfiles, agent code). docs/audit.md lists every rule with an example.
"""

from __future__ import annotations

from typing import Any

from agentdock import hookimpl

from agentdock_plugins.audit.agentcode import (
    BlockingIoInAsync,
    HardcodedModel,
    HttpNoTimeout,
    ToolShellEval,
    UnboundedRecursionLimit,
)
from agentdock_plugins.audit.dockerfile import (
    DockerAddUrl,
    DockerNoHealthcheck,
    DockerRoot,
    DockerSingleStage,
    DockerUnpinnedBase,
    UnpinnedRequirements,
)
from agentdock_plugins.audit.network import (
    ConfigWithoutEnv,
    EnvLoopbackFallback,
    HardcodedPort,
    HardcodedUrl,
    LoopbackBind,
    LoopbackConnect,
    UrlCredentials,
)
from agentdock_plugins.audit.paths import HostPath, WriteOutsideDataDir
from agentdock_plugins.audit.secrets import CommittedEnvFile, HardcodedApiKey, SecretLiteral
from agentdock_plugins.audit.service import (
    DebugEnabled,
    HealthInconsistent,
    HealthMissing,
    NoSigterm,
    UngatedAdminRoute,
)

__all__ = ["RULES", "agentdock_register_audit_rules"]

#: Every built-in rule class, in the order docs/audit.md lists them.
RULES: tuple[Any, ...] = (
    LoopbackBind,
    LoopbackConnect,
    EnvLoopbackFallback,
    HardcodedUrl,
    HardcodedPort,
    ConfigWithoutEnv,
    HostPath,
    WriteOutsideDataDir,
    HealthMissing,
    HealthInconsistent,
    NoSigterm,
    SecretLiteral,
    UrlCredentials,
    HardcodedApiKey,
    CommittedEnvFile,
    DebugEnabled,
    UngatedAdminRoute,
    DockerRoot,
    DockerUnpinnedBase,
    DockerSingleStage,
    DockerNoHealthcheck,
    DockerAddUrl,
    UnpinnedRequirements,
    HardcodedModel,
    BlockingIoInAsync,
    ToolShellEval,
    HttpNoTimeout,
    UnboundedRecursionLimit,
)


@hookimpl
def agentdock_register_audit_rules(register: Any) -> None:
    for rule in RULES:
        doc = (rule.__doc__ or "").strip().split("\n\n", 1)[0]
        register(rule.id, rule, description=" ".join(doc.split()))
