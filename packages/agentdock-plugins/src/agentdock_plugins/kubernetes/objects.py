"""One builder per Kubernetes object of an agent version: ConfigMap, Service, container, pod
spec, Deployment, HorizontalPodAutoscaler, PodDisruptionBudget.

The builders take values already checked and derived by :func:`.manifests.render` (names,
labels, environment, resources) and only lay them out, so each object reads on its own.
The pods' security settings are fixed here: a non-root user, a read-only root filesystem
(``/tmp`` and the state directory are emptyDirs), no privilege escalation, no capabilities,
the runtime's default seccomp profile and no service-account token.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from agentdock_plugins.kubernetes.naming import ObjectNames

__all__ = [
    "CONFIG_DIR",
    "CONTAINER",
    "GID",
    "GPU_RESOURCE",
    "GPU_TOLERATION",
    "IMAGE_ID_ANNOTATION",
    "SPEC_FILE",
    "STATE_DIR",
    "UID",
    "AgentVersion",
    "Manifest",
    "autoscaler",
    "configmap",
    "container",
    "deployment",
    "disruption_budget",
    "pod_annotations",
    "pod_spec",
    "service",
]

#: A manifest: a JSON-compatible mapping with ``apiVersion``, ``kind`` and ``metadata``.
Manifest = dict[str, Any]

UID = 10001
GID = 10001
CONFIG_DIR = "/etc/agentdock"
SPEC_FILE = f"{CONFIG_DIR}/spec.yaml"
#: Where the image keeps AgentDock's state (``AGENTDOCK_HOME``): writable through an emptyDir,
#: as is ``/tmp``, because the root filesystem is read-only.
STATE_DIR = "/var/lib/agentdock"
CONTAINER = "agent"
#: The image id (its config's digest) of a pod template whose image is named by tag.
IMAGE_ID_ANNOTATION = "io.agentdock/image-id"
GPU_RESOURCE = "nvidia.com/gpu"
GPU_TOLERATION = {"key": GPU_RESOURCE, "operator": "Exists", "effect": "NoSchedule"}


@dataclass(frozen=True)
class AgentVersion:
    """What every object of one agent version shares: names, namespace, labels, port."""

    names: ObjectNames
    namespace: str
    #: The labels that select the pods (stable across versions).
    match: Mapping[str, str]
    #: Every object's labels: ``match`` plus the version, component and manager.
    labels: Mapping[str, str]
    port: int

    def meta(self, name: str) -> dict[str, Any]:
        """An object's ``metadata``: its name, the namespace and a copy of the labels."""
        return {"name": name, "namespace": self.namespace, "labels": dict(self.labels)}


def configmap(version: AgentVersion, snapshot: str) -> Manifest:
    """The spec snapshot, mounted in the pods as :data:`SPEC_FILE`."""
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": version.meta(version.names.configmap),
        "data": {"spec.yaml": snapshot},
    }


def service(version: AgentVersion) -> Manifest:
    """A ClusterIP Service on the agent's port, named for the agent (and instance)."""
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": version.meta(version.names.base),
        "spec": {
            "type": "ClusterIP",
            "selector": dict(version.match),
            "ports": [
                {"name": "http", "port": version.port, "targetPort": "http", "protocol": "TCP"}
            ],
        },
    }


def _probe(path: str, period: int, failures: int, timeout: int = 2) -> dict[str, Any]:
    return {
        "httpGet": {"path": path, "port": "http", "scheme": "HTTP"},
        "periodSeconds": period,
        "timeoutSeconds": timeout,
        "failureThreshold": failures,
        "successThreshold": 1,
    }


def container(
    *, image: str, port: int, env: list[dict[str, Any]], resources: Mapping[str, Any]
) -> dict[str, Any]:
    """The agent's container: probes on ``/health`` and ``/ready``, locked down."""
    out: dict[str, Any] = {
        "name": CONTAINER,
        "image": image,
        "imagePullPolicy": "IfNotPresent",
        "ports": [{"name": "http", "containerPort": port, "protocol": "TCP"}],
        "env": env,
        "startupProbe": _probe("/health", 2, 60),
        "livenessProbe": _probe("/health", 10, 3),
        "readinessProbe": _probe("/ready", 5, 3),
        "securityContext": {
            "runAsNonRoot": True,
            "runAsUser": UID,
            "runAsGroup": GID,
            "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": True,
            "privileged": False,
            "capabilities": {"drop": ["ALL"]},
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        "volumeMounts": [
            {"name": "spec", "mountPath": SPEC_FILE, "subPath": "spec.yaml", "readOnly": True},
            {"name": "tmp", "mountPath": "/tmp"},  # noqa: S108 - an emptyDir, not a file
            {"name": "state", "mountPath": STATE_DIR},
        ],
    }
    if resources:
        out["resources"] = dict(resources)
    return out


def pod_spec(
    agent: dict[str, Any], *, configmap: str, node_selector: Mapping[str, str], gpus: int
) -> dict[str, Any]:
    """The pod around ``agent``: the snapshot's ConfigMap and two emptyDirs as volumes."""
    out: dict[str, Any] = {
        "automountServiceAccountToken": False,
        "enableServiceLinks": False,
        "terminationGracePeriodSeconds": 40,
        "securityContext": {
            "runAsNonRoot": True,
            "runAsUser": UID,
            "runAsGroup": GID,
            "fsGroup": GID,
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        "containers": [agent],
        "volumes": [
            {"name": "spec", "configMap": {"name": configmap}},
            {"name": "tmp", "emptyDir": {}},
            {"name": "state", "emptyDir": {}},
        ],
    }
    if node_selector:
        out["nodeSelector"] = dict(node_selector)
    if gpus:
        out["tolerations"] = [dict(GPU_TOLERATION)]
    return out


def pod_annotations(
    snapshot: str, *, port: int, public_metrics: bool, image_id: str | None
) -> dict[str, str]:
    """The pod template's annotations: Prometheus scraping, the snapshot's digest (so a new
    snapshot rolls the pods even when the image is the same) and, for an image named by tag,
    its id."""
    out = {
        "prometheus.io/scrape": "true" if public_metrics else "false",
        "prometheus.io/port": str(port),
        "prometheus.io/path": "/metrics",
        "io.agentdock/spec-sha256": hashlib.sha256(snapshot.encode("utf-8")).hexdigest(),
    }
    if image_id:
        out[IMAGE_ID_ANNOTATION] = image_id
    return out


def deployment(
    version: AgentVersion, pod: dict[str, Any], *, replicas: int, annotations: dict[str, str]
) -> Manifest:
    """A Deployment that rolls one pod at a time and never goes below its replicas."""
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": version.meta(version.names.base),
        "spec": {
            "replicas": replicas,
            "revisionHistoryLimit": 5,
            "progressDeadlineSeconds": 600,
            "selector": {"matchLabels": dict(version.match)},
            "strategy": {
                "type": "RollingUpdate",
                "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1},
            },
            "template": {
                "metadata": {"labels": dict(version.labels), "annotations": annotations},
                "spec": pod,
            },
        },
    }


def autoscaler(version: AgentVersion, autoscale: Any) -> Manifest:
    """A HorizontalPodAutoscaler on CPU utilization (``deploy.autoscale``)."""
    return {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": version.meta(version.names.base),
        "spec": {
            "scaleTargetRef": {
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "name": version.names.base,
            },
            "minReplicas": autoscale.min_replicas,
            "maxReplicas": autoscale.max_replicas,
            "metrics": [
                {
                    "type": "Resource",
                    "resource": {
                        "name": "cpu",
                        "target": {
                            "type": "Utilization",
                            "averageUtilization": autoscale.cpu_percent,
                        },
                    },
                }
            ],
        },
    }


def disruption_budget(version: AgentVersion) -> Manifest:
    """A PodDisruptionBudget that lets a drain take one pod at a time."""
    return {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": version.meta(version.names.base),
        "spec": {"maxUnavailable": 1, "selector": {"matchLabels": dict(version.match)}},
    }
