"""Reaching a cluster: the kubeconfig (or the pod's service account), read once.

As kubectl does: ``KUBECONFIG`` (several files joined), else ``~/.kube/config``, else the
in-cluster service account when running in a pod. The context's namespace becomes the
default one. A missing or unreadable configuration is a
:class:`~agentdock.deployment.errors.DeployFailed` whose hint names the fix, never showing
a credential.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agentdock.deployment.errors import DeployError, DeployFailed

from agentdock_plugins.kubernetes.apiresponses import first_line

__all__ = ["Connection", "connect"]


@dataclass(frozen=True, slots=True)
class Connection:
    """An API client, the server it talks to, the context chosen (None in a pod) and the
    namespace the configuration names (None: it names none)."""

    api: Any
    server: str
    context: str | None
    namespace: str | None


def connect(kubeconfig: str | None, context: str | None) -> Connection:
    """A client for ``context`` of ``kubeconfig`` (or of ``KUBECONFIG``, ``~/.kube/config``,
    the service account).

    :raises DeployFailed: there is no configuration, or it cannot be read.
    """
    from kubernetes import client, config
    from kubernetes.config.config_exception import ConfigException

    configuration = client.Configuration()
    default_namespace: str | None = None
    path = kubeconfig or os.environ.get("KUBECONFIG") or ""
    files = [p for p in path.split(os.pathsep) if p] if path else ["~/.kube/config"]
    existing = [p for p in files if Path(p).expanduser().is_file()]
    chosen: str | None = None
    try:
        if existing:
            joined = os.pathsep.join(existing)
            config.load_kube_config(  # type: ignore[no-untyped-call]
                config_file=joined,
                context=context,
                client_configuration=configuration,
                persist_config=False,
            )
            contexts, active = config.list_kube_config_contexts(  # type: ignore[no-untyped-call]
                config_file=joined
            )
            if context is not None:
                active = next((c for c in contexts if c.get("name") == context), active)
            chosen = str(active.get("name")) if active else None
            namespace = ((active or {}).get("context") or {}).get("namespace")
            if namespace:
                default_namespace = str(namespace)
        elif path:
            raise DeployFailed(
                f"KUBECONFIG names {path}, which does not exist",
                hint="point KUBECONFIG at your cluster's kubeconfig file",
            )
        elif os.environ.get("KUBERNETES_SERVICE_HOST"):
            config.load_incluster_config(  # type: ignore[no-untyped-call]
                client_configuration=configuration
            )
            ns_file = Path("/var/run/secrets/kubernetes.io/serviceaccount/namespace")
            if ns_file.is_file():
                default_namespace = ns_file.read_text().strip() or "default"
        else:
            raise DeployFailed(
                "no kubeconfig: KUBECONFIG is not set and ~/.kube/config does not exist",
                hint="point KUBECONFIG at your cluster's kubeconfig "
                "(kubectl config view shows the one kubectl uses)",
            )
    except DeployError:
        raise
    except (ConfigException, OSError, ValueError, TypeError, KeyError) as exc:
        raise DeployFailed(
            f"cannot use the kubeconfig: {first_line(exc)}",
            hint="check it with kubectl config view",
        ) from None
    except Exception as exc:  # a malformed file: yaml errors and the like
        raise DeployFailed(
            f"cannot read the kubeconfig: {type(exc).__name__}",
            hint="check it with kubectl config view",
        ) from None
    return Connection(
        client.ApiClient(configuration), str(configuration.host), chosen, default_namespace
    )
