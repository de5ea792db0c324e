"""One connection to a cluster's API for the ``kubernetes`` target: server-side apply, reads
and deletes of the objects it manages, the version's pods and their logs.

Every call is bounded (:data:`REQUEST_TIMEOUT`) and its failures become deployment errors
that name the API server but never a credential; log lines pass through the target's
masking of the values it was given.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

from agentdock.deployment.errors import DeployError, DeployFailed
from agentdock.deployment.followedlog import FollowedLog

from agentdock_plugins.kubernetes.apiresponses import (
    api_message,
    drain,
    first_line,
    scrub,
    short_reason,
    stream_lines,
)
from agentdock_plugins.kubernetes.kubeconfig import connect
from agentdock_plugins.kubernetes.manifests import CONTAINER, FIELD_MANAGER, Manifest
from agentdock_plugins.kubernetes.readings import container_statuses, pod_created, selector_of

__all__ = ["APIS", "APPLY_CONTENT_TYPE", "FATAL_REASONS", "LOG_TAIL", "REQUEST_TIMEOUT", "Cluster"]

LOG_TAIL = 20
APPLY_CONTENT_TYPE = "application/apply-patch+yaml"
#: (connect, read) seconds for one API call: a black-holed address fails instead of hanging.
REQUEST_TIMEOUT = (5, 30)
#: Pod states that no amount of waiting fixes: the gate fails at once with the reason.
FATAL_REASONS = frozenset(
    {
        "CreateContainerConfigError",
        "CreateContainerError",
        "CrashLoopBackOff",
        "ErrImageNeverPull",
        "ImagePullBackOff",
        "InvalidImageName",
    }
)
#: Kind → (client API class, the method suffix of its namespaced calls).
APIS = {
    "ConfigMap": ("CoreV1Api", "config_map"),
    "Service": ("CoreV1Api", "service"),
    "NetworkPolicy": ("NetworkingV1Api", "network_policy"),
    "Deployment": ("AppsV1Api", "deployment"),
    "HorizontalPodAutoscaler": ("AutoscalingV2Api", "horizontal_pod_autoscaler"),
    "PodDisruptionBudget": ("PolicyV1Api", "pod_disruption_budget"),
}


class Cluster:
    """The API of the kubeconfig's cluster (loaded once per context by :meth:`connect`)."""

    def __init__(self, kubeconfig: str | None, masked: list[str]) -> None:
        self._kubeconfig = kubeconfig
        #: The target's values to mask in log lines (the same list, filled at ``start``).
        self._masked = masked
        self.api: Any = None
        self.context: str | None = None
        self.server = ""
        self.default_namespace = "default"

    def log_lines(
        self,
        handle: Mapping[str, Any],
        pods: Sequence[Mapping[str, Any]],
        tail: int | None,
        follow: bool,
        log: FollowedLog | None = None,
    ) -> Iterator[str]:
        """Each pod's lines in turn; the followed stream is shut when ``log`` is stopped
        (urllib3's ``shutdown`` is meant to be called from another thread)."""
        namespace = str(handle["namespace"])
        core = self.client("CoreV1Api")
        prefix = len(pods) > 1
        ordered = sorted(pods, key=pod_created)
        for index, pod in enumerate(ordered):
            if log is not None and log.stopped:
                return
            pod_name = str((pod.get("metadata") or {}).get("name"))
            streaming = follow and index == len(ordered) - 1
            response = self.pod_log(core, pod_name, namespace, tail, follow=streaming)
            if streaming and log is not None:
                log.on_stop(getattr(response, "shutdown", response.close))
            lines = (
                stream_lines(response)
                if streaming
                else iter(response.data.decode("utf-8", errors="replace").splitlines())
            )
            for line in lines:
                text = scrub(line, self._masked)
                yield f"[{pod_name}] {text}" if prefix else text

    def pod_log(
        self,
        core: Any,
        pod_name: str,
        namespace: str,
        tail: int | None,
        *,
        follow: bool = False,
        previous: bool = False,
    ) -> Any:
        """The raw response of the pod's log read (a stream to follow when ``follow``)."""
        return self.call(
            functools.partial(
                core.read_namespaced_pod_log,
                pod_name,
                namespace,
                container=CONTAINER,
                tail_lines=tail,
                follow=follow,
                previous=previous,
                _preload_content=False,
                _request_timeout=None if follow else REQUEST_TIMEOUT,
            )
        )

    def connect(self, context: str | None) -> None:
        """Load the cluster's configuration once (see :mod:`.kubeconfig`)."""
        if self.api is not None and (context is None or context == self.context):
            return
        connection = connect(self._kubeconfig, context)
        if connection.namespace:
            self.default_namespace = connection.namespace
        self.server = connection.server
        self.api = connection.api
        self.context = connection.context

    def client(self, name: str) -> Any:
        from kubernetes import client

        return getattr(client, name)(self.api)

    def call(self, fn: Callable[[], Any], *, missing_ok: bool = False) -> Any:
        """One API call with its failures as deployment errors (never a credential)."""
        import urllib3
        from kubernetes.client.exceptions import ApiException

        try:
            return fn()
        except ApiException as exc:
            if missing_ok and exc.status == 404:
                return None
            if exc.status == 0:
                raise DeployFailed(
                    f"cannot reach the Kubernetes API at {self.server}: {first_line(exc.reason)}",
                    hint="check the cluster address in the kubeconfig",
                ) from None
            raise DeployFailed(
                f"the Kubernetes API at {self.server} refused: {exc.status} "
                f"{exc.reason}: {api_message(exc)}",
                hint={
                    401: "the kubeconfig's credentials are not accepted",
                    403: "the kubeconfig's user lacks the permission named above",
                }.get(int(exc.status or 0)),
            ) from None
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise DeployFailed(
                f"cannot reach the Kubernetes API at {self.server}: {short_reason(exc)}",
                hint="check that the cluster is up and the kubeconfig's server address is right",
            ) from None

    def apply(self, manifest: Manifest, namespace: str) -> None:
        api, suffix = APIS[manifest["kind"]]
        method = getattr(self.client(api), f"patch_namespaced_{suffix}")
        response = self.call(
            lambda: method(
                manifest["metadata"]["name"],
                namespace,
                manifest,
                field_manager=FIELD_MANAGER,
                force=True,
                _content_type=APPLY_CONTENT_TYPE,
                _preload_content=False,
                _request_timeout=REQUEST_TIMEOUT,
            )
        )
        drain(response)

    def get(self, kind: str, name: str, namespace: str) -> dict[str, Any] | None:
        api, suffix = APIS[kind]
        method = getattr(self.client(api), f"read_namespaced_{suffix}")
        response = self.call(
            lambda: method(
                name, namespace, _preload_content=False, _request_timeout=REQUEST_TIMEOUT
            ),
            missing_ok=True,
        )
        if response is None:
            return None
        return dict(json.loads(response.data))

    def delete_ours(self, kind: str, name: str, namespace: str) -> None:
        """Delete an object AgentDock manages; someone else's object of that name stays."""
        live = self.get(kind, name, namespace)
        labels = ((live or {}).get("metadata") or {}).get("labels") or {}
        if live is None or labels.get("app.kubernetes.io/managed-by") != FIELD_MANAGER:
            return
        api, suffix = APIS[kind]
        method = getattr(self.client(api), f"delete_namespaced_{suffix}")
        response = self.call(
            lambda: method(
                name,
                namespace,
                propagation_policy="Background",
                _preload_content=False,
                _request_timeout=REQUEST_TIMEOUT,
            ),
            missing_ok=True,
        )
        if response is not None:
            drain(response)

    def pods(self, handle: Mapping[str, Any]) -> list[dict[str, Any]]:
        namespace = str(handle["namespace"])
        labels = selector_of(handle)
        core = self.client("CoreV1Api")
        response = self.call(
            lambda: core.list_namespaced_pod(
                namespace,
                label_selector=",".join(f"{k}={v}" for k, v in sorted(labels.items())),
                _preload_content=False,
                _request_timeout=REQUEST_TIMEOUT,
            )
        )
        items = json.loads(response.data).get("items") or []
        return [dict(p) for p in items]

    def pod_problem(self, handle: Mapping[str, Any]) -> tuple[str, str] | None:
        for pod in self.pods(handle):
            for status, _ in container_statuses(pod):
                waiting = (status.get("state") or {}).get("waiting") or {}
                reason = str(waiting.get("reason") or "")
                if reason in FATAL_REASONS:
                    pod_name = (pod.get("metadata") or {}).get("name")
                    message = scrub(str(waiting.get("message") or reason), self._masked)
                    return reason, f"{pod_name}: {first_line(message)}"
        return None

    def tail(self, handle: Mapping[str, Any]) -> list[str]:
        """The last log lines of the version's pods (a crashed container's previous run when
        the current one has none yet); empty when they cannot be read."""
        try:
            pods = self.pods(handle)
        except DeployError:
            return []
        core = self.client("CoreV1Api")
        namespace = str(handle["namespace"])
        lines: list[str] = []
        for pod in pods[:3]:
            pod_name = str((pod.get("metadata") or {}).get("name"))
            for previous in (False, True):
                try:
                    response = self.pod_log(core, pod_name, namespace, LOG_TAIL, previous=previous)
                except DeployError:
                    continue
                text = response.data.decode("utf-8", errors="replace")
                if text.strip():
                    prefix = f"[{pod_name}] " if len(pods) > 1 else ""
                    lines += [prefix + scrub(line, self._masked) for line in text.splitlines()]
                    break
        return lines[-LOG_TAIL:]
