"""Every built-in audit rule, in the order docs/audit.md lists them.

Kept apart from the plugin's module, which every process that loads plugins imports (a
runtime too): the rules and what they import load only when ``agentdock audit`` asks.
"""

from __future__ import annotations

from typing import Any

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

__all__ = ["RULES"]

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
