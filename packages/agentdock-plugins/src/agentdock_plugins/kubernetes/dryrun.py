"""``deploy --target kubernetes --dry-run``: a Dockfile's manifests, without a cluster.

No kubeconfig, build or registry is touched. Besides the manifests it says which Secret
the pods read and how to create it, and what a real deploy would refuse (a registry the
pods cannot share, replicas that would each keep rate limits of their own).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

from agentdock_plugins.kubernetes.manifests import (
    checkpoint_problem,
    dump,
    names,
    ratelimit_problem,
    registry_problem,
    render_file,
    required_variables,
    secret_hint,
    write,
)

__all__ = ["dry_run"]


def dry_run(
    path: str | os.PathLike[str],
    *,
    namespace: str,
    fmt: str = "yaml",
    out_dir: str | os.PathLike[str] | None = None,
    image: str | None = None,
    version: str | None = None,
    instance: str | None = None,
    env_files: Sequence[str | os.PathLike[str]] = (),
    ingress_from: Sequence[str],
    egress_to: Sequence[str],
) -> dict[str, Any]:
    """The dry run's result (see :meth:`.target.KubernetesTarget.dry_run`)."""
    from agentdock.deployment.inputs import find_dockfile
    from agentdock.deployment.runenv import value_sources

    manifests = render_file(
        path,
        image=image,
        version=version,
        namespace=namespace,
        instance=instance,
        env_files=env_files,
        ingress_from=ingress_from,
        egress_to=egress_to,
    )
    snapshot = manifests[0]["data"]["spec.yaml"]
    required, optional = required_variables(snapshot)
    agent = str(manifests[0]["metadata"]["labels"]["io.agentdock/agent"])
    values = value_sources(find_dockfile(path).resolve().parent, env_files)
    problem = registry_problem(snapshot, values, agent=agent, instance=instance)
    limits = ratelimit_problem(snapshot, agent=agent, instance=instance)
    checkpoints = checkpoint_problem(snapshot, agent=agent, instance=instance)
    refused = [problem, *(p.reason for p in (limits, checkpoints) if p is not None)]
    refused = [p for p in refused if p is not None]
    files = [str(p) for p in write(manifests, out_dir, fmt)] if out_dir is not None else []
    return {
        "manifests": manifests,
        "text": None if out_dir is not None else dump(manifests, fmt),
        "files": files,
        "namespace": namespace,
        "secret": names(agent, instance).secret,
        "required": required,
        "optional": optional,
        "hint": secret_hint(agent, instance, namespace) if required or optional else None,
        # A deploy refuses what the dry run only warns about (it would create keys here;
        # replicas would multiply the rate limits).
        "notes": [f"deploy --target kubernetes refuses this: {p}" for p in refused],
    }
