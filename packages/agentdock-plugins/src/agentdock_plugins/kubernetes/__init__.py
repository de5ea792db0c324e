"""Built-in plugin: the ``kubernetes`` target (manifests, server-side apply, rollout gate).

It runs the ``docker`` builder's images. :mod:`.manifests` renders and writes the objects
(``agentdock deploy --target kubernetes --dry-run``); :mod:`.target` applies them through
the official client and follows the rollout.
"""

from __future__ import annotations

from typing import Any

from agentdock import hookimpl

__all__ = ["agentdock_register_targets"]


def _target() -> Any:
    from agentdock_plugins.kubernetes.target import KubernetesTarget

    return KubernetesTarget()


@hookimpl
def agentdock_register_targets(register: Any) -> None:
    register("kubernetes", _target, "a Deployment on a Kubernetes cluster (server-side apply)")
