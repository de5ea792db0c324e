"""What the cluster's objects say: a Deployment's rollout, its labels and image, its pods.

Pure readings of the API's JSON (no client here), so ``status``, ``wait_ready`` and
``stop`` read them alike and tests can feed them recorded objects.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import datetime
from typing import Any

from agentdock_plugins.kubernetes.manifests import CONTAINER

__all__ = [
    "DEPLOYMENT_ANNOTATION",
    "agent_of",
    "container_statuses",
    "deployment_id_of",
    "image_of",
    "instance_of",
    "parse_timestamp",
    "pod_created",
    "rollout_state",
    "selector_of",
]

#: The annotation naming the AgentDock deployment a Kubernetes Deployment serves.
DEPLOYMENT_ANNOTATION = "io.agentdock/deployment-id"


def pod_created(pod: Mapping[str, Any]) -> str:
    return str((pod.get("metadata") or {}).get("creationTimestamp") or "")


def deployment_id_of(deployment: Mapping[str, Any]) -> str | None:
    annotations = (deployment.get("metadata") or {}).get("annotations") or {}
    value = annotations.get(DEPLOYMENT_ANNOTATION)
    return str(value) if value is not None else None


def rollout_state(deployment: Mapping[str, Any]) -> tuple[bool, str, str | None]:
    """(complete, what was seen, why it never will) — ``kubectl rollout status``'s rules."""
    meta = deployment.get("metadata") or {}
    spec = deployment.get("spec") or {}
    st = deployment.get("status") or {}
    for condition in st.get("conditions") or ():
        if condition.get("type") == "Progressing" and (
            condition.get("reason") == "ProgressDeadlineExceeded"
        ):
            return False, "progress deadline exceeded", str(condition.get("message") or "")
    generation = int(meta.get("generation") or 0)
    observed = int(st.get("observedGeneration") or 0)
    want = int(spec.get("replicas", 1))
    updated = int(st.get("updatedReplicas") or 0)
    total = int(st.get("replicas") or 0)
    available = int(st.get("availableReplicas") or 0)
    seen = f"{updated}/{want} updated, {available} available, {total} in all"
    if observed < generation:
        return False, "the controller has not seen the new spec yet", None
    if updated < want:
        return False, seen, None
    if total > updated:
        return False, seen + f", {total - updated} old pending termination", None
    if available < updated:
        return False, seen, None
    return True, seen, None


def container_statuses(pod: Mapping[str, Any]) -> Iterator[tuple[dict[str, Any], str]]:
    status = pod.get("status") or {}
    for item in status.get("containerStatuses") or ():
        yield dict(item), str(item.get("name"))


def selector_of(handle: Mapping[str, Any]) -> dict[str, str]:
    labels = {"app.kubernetes.io/instance": str(handle["name"])}
    if handle.get("version"):
        labels["io.agentdock/version"] = str(handle["version"]).replace("+", "_")
    return labels


def agent_of(deployment: Mapping[str, Any]) -> str:
    labels = (deployment.get("metadata") or {}).get("labels") or {}
    return str(labels.get("io.agentdock/agent") or (deployment.get("metadata") or {}).get("name"))


def instance_of(deployment: Mapping[str, Any]) -> str | None:
    labels = (deployment.get("metadata") or {}).get("labels") or {}
    value = labels.get("io.agentdock/instance")
    return str(value) if value else None


def image_of(deployment: Mapping[str, Any]) -> str | None:
    pod = ((deployment.get("spec") or {}).get("template") or {}).get("spec") or {}
    for container in pod.get("containers") or ():
        if container.get("name") == CONTAINER:
            return str(container.get("image"))
    return None


def parse_timestamp(text: str | None) -> float | None:
    if not text:
        return None
    try:
        return datetime.fromisoformat(str(text).replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None
