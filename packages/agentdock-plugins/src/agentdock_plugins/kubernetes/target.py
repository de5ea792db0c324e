"""The ``kubernetes`` target: server-side apply of an agent's manifests through the official client.

``start`` applies every manifest of :func:`~agentdock_plugins.kubernetes.manifests.render`
with the field manager ``agentdock`` (forced: AgentDock owns the fields it writes), so
applying the same version again changes nothing and applying an older version rolls the
same Deployment back. ``wait_ready`` follows the rollout as ``kubectl rollout status`` does.
The cluster comes from the kubeconfig (``$KUBECONFIG``, else ``~/.kube/config``; context
``$AGENTDOCK_KUBE_CONTEXT`` or the current one) or, inside a pod, the service account.

Deployments of one agent (and instance) share one set of objects, updated in place. The
Deployment carries the id of the AgentDock deployment that applied it last
(:data:`DEPLOYMENT_ANNOTATION`): ``stop`` of a deployment that was replaced in place is a
no-op, and ``stop`` of one whose rollout never completed while an earlier one was live
leaves the objects alone (the earlier pods keep serving, ``maxUnavailable: 0``) for the
previous version's manifests to be applied again.

Run-time values (``StartRequest.env``) are never sent: the pods read them from the Secret
``<name>-env``, which the user creates (see ``manifests.secret_hint``).

The pods run the image by digest when the local engine knows its registry digest, else by
its tag with its id in an annotation (:mod:`.image`). The NetworkPolicy's peers come from
``$AGENTDOCK_KUBE_INGRESS_FROM`` and ``$AGENTDOCK_KUBE_EGRESS_TO`` (:mod:`.network`).
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from agentdock.deployment.errors import (
    DeployError,
    DeployFailed,
    HealthGateFailed,
    InvalidDeployInput,
    NotFound,
)
from agentdock.masking import MIN_SECRET_LENGTH, SECRET_NAMES_ENV, Masker

from agentdock_plugins.kubernetes.image import resolve
from agentdock_plugins.kubernetes.manifests import (
    CONTAINER,
    FIELD_MANAGER,
    Manifest,
    checkpoint_problem,
    names,
    ratelimit_problem,
    registry_problem,
    render,
    required_variables,
    secret_hint,
)
from agentdock_plugins.kubernetes.network import (
    DEFAULT_EGRESS,
    DEFAULT_INGRESS,
    EGRESS_ENV,
    INGRESS_ENV,
    terms_from_env,
)

if TYPE_CHECKING:
    from agentdock.deployment.artifacts import Artifact, Progress, StartRequest

__all__ = [
    "CONTEXT_ENV",
    "DEPLOYMENT_ANNOTATION",
    "NAMESPACE_ENV",
    "KubernetesTarget",
    "load_snapshot",
]

CONTEXT_ENV = "AGENTDOCK_KUBE_CONTEXT"
NAMESPACE_ENV = "AGENTDOCK_KUBE_NAMESPACE"
DEPLOYMENT_ANNOTATION = "io.agentdock/deployment-id"
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
_POLL_FIRST = 0.05
_POLL_MAX = 1.0
#: Kind → (client API class, the method suffix of its namespaced calls).
_APIS = {
    "ConfigMap": ("CoreV1Api", "config_map"),
    "Service": ("CoreV1Api", "service"),
    "NetworkPolicy": ("NetworkingV1Api", "network_policy"),
    "Deployment": ("AppsV1Api", "deployment"),
    "HorizontalPodAutoscaler": ("AutoscalingV2Api", "horizontal_pod_autoscaler"),
    "PodDisruptionBudget": ("PolicyV1Api", "pod_disruption_budget"),
}
#: Kinds a version renders only under conditions: a later version without them deletes them.
_OPTIONAL = ("HorizontalPodAutoscaler", "PodDisruptionBudget")
_HINTS = {
    "ImagePullBackOff": "push the image to a registry the cluster pulls from, or load it into "
    "the cluster (kind load docker-image IMAGE)",
    "ErrImageNeverPull": "load the image into the cluster's nodes",
    "InvalidImageName": "the image reference is not valid",
}


def load_snapshot(request: StartRequest) -> str:
    """The spec snapshot of the version being started: ``request.snapshot`` when the request
    carries it, else the version's row in the registry (recorded before any target starts)."""
    given = getattr(request, "snapshot", None)
    if isinstance(given, str) and given:
        return given
    from agentdock.registry import open_store

    store = open_store()
    try:
        record = store.get_version(request.agent, request.version)
    finally:
        store.close()
    if record is None:
        raise DeployFailed(
            f"no recorded snapshot of {request.agent} {request.version} in the registry",
            hint="deploy through agentdock deploy, which records the version first",
        )
    return str(record.snapshot)


class KubernetesTarget:
    """Applies an agent's manifests to a cluster; see the module docstring."""

    builder = "docker"
    #: Every version of an agent updates the same objects: after a failed rollout the deploy
    #: service applies the active version's manifests again.
    replaces_in_place = True

    def __init__(
        self,
        *,
        kubeconfig: str | None = None,
        context: str | None = None,
        namespace: str | None = None,
        snapshot_source: Callable[[StartRequest], str] = load_snapshot,
    ) -> None:
        self._kubeconfig = kubeconfig
        self._context = context
        self._namespace = namespace
        self._snapshot_source = snapshot_source
        self._api: Any = None
        self._api_context: str | None = None
        self._server = ""
        self._default_namespace = "default"
        #: Values given at ``start``, kept in memory only to mask them in log lines.
        self._masked: list[str] = []

    # -- Target protocol ------------------------------------------------------------------

    def preflight(
        self,
        spec: Any,
        *,
        snapshot: str,
        version: str,
        env: Mapping[str, str],
        instance: str | None = None,
    ) -> None:
        """Refuse, before anything is built, what no rollout could serve: manifests that do
        not render (a name that is no DNS label, a GPU on the ``cpu`` profile, autoscaling
        without a CPU request, ...) and an agent that checks API keys while the registry
        here is one its pods cannot share (see ``manifests.registry_problem``), or whose
        replicas would each keep rate limits of their own (``manifests.ratelimit_problem``).

        :raises InvalidDeployInput: with what to change (exit 1).
        """
        ingress, egress = _network_terms()
        render(
            spec,
            snapshot=snapshot,
            image="agentdock/preflight:0",
            version=version,
            instance=instance,
            ingress_from=ingress,
            egress_to=egress,
        )
        problem = registry_problem(snapshot, env, agent=spec.agent.name, instance=instance)
        if problem is not None:
            raise InvalidDeployInput(
                problem,
                hint="or deploy it with --target docker or local, which share this registry",
                path="auth.mode",
            )
        limits = ratelimit_problem(snapshot, agent=spec.agent.name, instance=instance)
        if limits is not None:
            raise InvalidDeployInput(
                limits.reason,
                hint="deploy.secrets: [AGENTDOCK_REDIS_URL], and the URL in the Secret",
                path=limits.path,
            )
        checkpoints = checkpoint_problem(snapshot, agent=spec.agent.name, instance=instance)
        if checkpoints is not None:
            raise InvalidDeployInput(
                checkpoints.reason,
                hint="deploy.secrets: [AGENTDOCK_CHECKPOINT_URL], and the URL in the Secret",
                path=checkpoints.path,
            )

    def start(
        self, artifact: Artifact, request: StartRequest, progress: Progress
    ) -> Mapping[str, Any]:
        """Apply the version's manifests (server-side apply, idempotent); return the handle."""
        self._masked = sorted(
            (
                v
                for k, v in request.env.items()
                if k != SECRET_NAMES_ENV and len(v) >= MIN_SECRET_LENGTH
            ),
            key=len,
            reverse=True,
        )
        snapshot = self._snapshot_source(request)
        spec = _spec_of(snapshot, request.env)
        self.preflight(
            spec,
            snapshot=snapshot,
            version=request.version,
            env=request.env,
            instance=request.instance,
        )
        context = self._context or os.environ.get(CONTEXT_ENV) or None
        self._connect(context)
        namespace = self._namespace or os.environ.get(NAMESPACE_ENV) or self._default_namespace
        ingress, egress = _network_terms()
        image = resolve(artifact)
        if image.note is not None:
            progress("image", image.note, image=image.reference)
        manifests = render(
            spec,
            snapshot=snapshot,
            image=image.reference,
            version=request.version,
            namespace=namespace,
            instance=request.instance,
            image_id=image.image_id,
            ingress_from=ingress,
            egress_to=egress,
        )
        objs = names(spec.agent.name, request.instance)
        for manifest in manifests:
            if manifest["kind"] == "Deployment":
                annotations = manifest["metadata"].setdefault("annotations", {})
                annotations[DEPLOYMENT_ANNOTATION] = str(request.deployment_id)
        live = self._get("Deployment", objs.base, namespace)
        previous = _annotation(live) if live is not None else None
        required, _ = required_variables(snapshot)
        if required:
            progress(
                "secret",
                f"the pods read {', '.join(required)} from the Secret {objs.secret}: "
                + secret_hint(spec.agent.name, request.instance, namespace),
                secret=objs.secret,
            )
        applied = []
        for manifest in manifests:
            kind, name = manifest["kind"], manifest["metadata"]["name"]
            progress("apply", f"applying {kind} {namespace}/{name}", kind=kind, name=name)
            self._apply(manifest, namespace)
            applied.append(kind)
        for kind in _OPTIONAL:
            if kind not in applied:
                self._delete_ours(kind, objs.base, namespace)
        port = int(spec.expose.port)
        handle = {
            "namespace": namespace,
            "name": objs.base,
            "configmap": objs.configmap,
            "kinds": applied,
            "image": image.reference,
            "version": request.version,
            "deployment_id": request.deployment_id,
            "previous": previous,
            "context": self._api_context,
            "port": port,
            "endpoint": f"http://{objs.base}.{namespace}.svc.cluster.local:{port}",
        }
        progress("started", f"applied {len(applied)} objects to {namespace}", name=objs.base)
        return handle

    def wait_ready(self, handle: Mapping[str, Any], timeout: float, progress: Progress) -> None:
        """Poll the Deployment until its rollout is complete (observed generation, every
        replica updated and available, no old one left); a pod stuck in a state that
        waiting cannot fix (a missing Secret, an image that cannot be pulled, a crash loop)
        fails at once, a timeout fails with what was last seen and the pods' last lines."""
        self._connect(handle.get("context"))
        namespace, name = str(handle["namespace"]), str(handle["name"])
        deadline = time.monotonic() + timeout
        delay = _POLL_FIRST
        seen = "no status yet"
        progress("health", f"waiting up to {timeout:g}s for deployment/{name}", name=name)
        while True:
            live = self._get("Deployment", name, namespace)
            if live is None:
                raise HealthGateFailed(f"deployment {namespace}/{name} is gone")
            if _annotation(live) != str(handle["deployment_id"]):
                raise HealthGateFailed(
                    f"deployment {namespace}/{name} was applied again by another deploy",
                    hint="run one deploy of an agent at a time",
                )
            done, seen, fatal = _rollout(live)
            if done:
                progress("ready", f"deployment/{name} rolled out", name=name)
                return
            if fatal is not None:
                raise HealthGateFailed(
                    f"deployment {namespace}/{name} cannot roll out: {fatal}",
                    hint="kubectl describe deployment " + name,
                    log_tail=self._tail(handle),
                )
            problem = self._pod_problem(handle)
            if problem is not None:
                reason, text = problem
                hint = _HINTS.get(reason)
                if reason.startswith("CreateContainerConfig"):
                    hint = "create the Secret the pods read: " + secret_hint(
                        _agent_of(live), _instance_of(live), namespace
                    )
                raise HealthGateFailed(
                    f"a pod of deployment {namespace}/{name} is in {reason}: {text}",
                    hint=hint or "its last log lines say why",
                    log_tail=self._tail(handle),
                )
            if time.monotonic() >= deadline:
                raise HealthGateFailed(
                    f"deployment {namespace}/{name} did not roll out within {timeout:g}s ({seen})",
                    hint="raise the timeout, or read the pods' log lines for what they wait on",
                    log_tail=self._tail(handle),
                )
            time.sleep(min(delay, max(0.0, deadline - time.monotonic())))
            delay = min(delay * 2, _POLL_MAX)

    def stop(self, handle: Mapping[str, Any], timeout: float) -> None:
        """Delete the deployment's objects, unless they now belong to another deployment
        (replaced in place) or hold a rollout that never completed over an earlier live
        version (see the module docstring). Gone is fine."""
        self._connect(handle.get("context"))
        namespace, name = str(handle["namespace"]), str(handle["name"])
        live = self._get("Deployment", name, namespace)
        if live is not None:
            if _annotation(live) != str(handle.get("deployment_id")):
                return
            done, _, _ = _rollout(live)
            if not done and handle.get("previous"):
                return
        kinds = [
            "Deployment",
            "HorizontalPodAutoscaler",
            "PodDisruptionBudget",
            "Service",
            "NetworkPolicy",
        ]
        for kind in kinds:
            self._delete_ours(kind, name, namespace)
        self._delete_ours("ConfigMap", str(handle.get("configmap") or f"{name}-spec"), namespace)

    def status(self, handle: Mapping[str, Any]) -> Mapping[str, Any]:
        """The rollout read live: ``running`` when every replica is available, ``degraded``
        when some are not, ``down`` when none is, ``stopped`` when scaled to zero or
        replaced in place by another deployment, ``missing`` when the Deployment is gone.
        Beyond the protocol's keys: ``replicas``, ``available``, ``updated``, ``image``."""
        self._connect(handle.get("context"))
        namespace, name = str(handle["namespace"]), str(handle["name"])
        live = self._get("Deployment", name, namespace)
        base: dict[str, Any] = {
            "state": "missing",
            "healthy": None,
            "restarts": 0,
            "started_at": None,
            "replicas": 0,
            "available": 0,
            "updated": 0,
            "image": handle.get("image"),
        }
        if live is None:
            return base
        spec = live.get("spec") or {}
        st = live.get("status") or {}
        want = int(spec.get("replicas", 1))
        available = int(st.get("availableReplicas") or 0)
        base.update(
            replicas=want,
            available=available,
            updated=int(st.get("updatedReplicas") or 0),
            started_at=_timestamp((live.get("metadata") or {}).get("creationTimestamp")),
            image=_image_of(live),
        )
        if _annotation(live) != str(handle.get("deployment_id")):
            base.update(state="stopped", healthy=None, replaced_by=_annotation(live))
            return base
        done, _, _ = _rollout(live)
        if want == 0:
            base.update(state="stopped", healthy=None)
        elif done and available >= want:
            base.update(state="running", healthy=True)
        else:
            # Some replicas serve while others do not: no verdict unless none serves.
            if available > 0:
                base.update(state="degraded", healthy=None)
            else:
                base.update(state="down", healthy=False)
        base["restarts"] = sum(
            int(c.get("restartCount") or 0)
            for pod in self._pods(handle)
            for c, _ in _containers(pod)
        )
        return base

    def logs(self, handle: Mapping[str, Any], tail: int | None, follow: bool) -> Iterator[str]:
        """The pods' log lines (the agent container), each pod's prefixed with its name when
        there are several; ``follow`` follows the newest pod."""
        self._connect(handle.get("context"))
        pods = self._pods(handle)
        if not pods:
            raise NotFound(f"no pods of deployment {handle.get('namespace')}/{handle.get('name')}")
        return self._log_lines(handle, pods, tail, follow)

    # -- dry run --------------------------------------------------------------------------

    def dry_run(
        self,
        path: str | os.PathLike[str],
        *,
        fmt: str = "yaml",
        out_dir: str | os.PathLike[str] | None = None,
        image: str | None = None,
        version: str | None = None,
        namespace: str | None = None,
        instance: str | None = None,
        env_files: Sequence[str | os.PathLike[str]] = (),
        ingress_from: Sequence[str] = (),
        egress_to: Sequence[str] = (),
    ) -> dict[str, Any]:
        """``agentdock deploy --target kubernetes --dry-run``: render a Dockfile's manifests
        without a cluster, a build or a registry.

        Returns ``manifests``, ``text`` (the YAML stream or JSON ``List``; None with
        ``out_dir``), ``files`` (the paths written under ``out_dir``), ``secret`` (the
        Secret's name), ``required``/``optional`` (its keys), ``hint`` (the command that
        creates it) and ``notes`` (what a deploy of it would refuse). The namespace
        defaults to ``$AGENTDOCK_KUBE_NAMESPACE``, else ``default``, and the NetworkPolicy's
        terms (``--ingress-from``, ``--egress-to``) to the variables a deploy reads them
        from; no kubeconfig is read.
        """
        from agentdock.deployment.inputs import find_dockfile
        from agentdock.deployment.runenv import value_sources

        from agentdock_plugins.kubernetes.manifests import dump, render_file, write

        ns = namespace or self._namespace or os.environ.get(NAMESPACE_ENV) or "default"
        ingress, egress = _network_terms(ingress_from, egress_to)
        manifests = render_file(
            path,
            image=image,
            version=version,
            namespace=ns,
            instance=instance,
            env_files=env_files,
            ingress_from=ingress,
            egress_to=egress,
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
            "namespace": ns,
            "secret": names(agent, instance).secret,
            "required": required,
            "optional": optional,
            "hint": secret_hint(agent, instance, ns) if required or optional else None,
            # A deploy refuses what the dry run only warns about (it would create keys here;
            # replicas would multiply the rate limits).
            "notes": [f"deploy --target kubernetes refuses this: {p}" for p in refused],
        }

    # -- helpers --------------------------------------------------------------------------

    def _log_lines(
        self,
        handle: Mapping[str, Any],
        pods: Sequence[Mapping[str, Any]],
        tail: int | None,
        follow: bool,
    ) -> Iterator[str]:
        namespace = str(handle["namespace"])
        core = self._client("CoreV1Api")
        prefix = len(pods) > 1
        ordered = sorted(pods, key=_created)
        for index, pod in enumerate(ordered):
            pod_name = str((pod.get("metadata") or {}).get("name"))
            streaming = follow and index == len(ordered) - 1
            response = self._pod_log(core, pod_name, namespace, tail, follow=streaming)
            lines = (
                _stream_lines(response)
                if streaming
                else iter(response.data.decode("utf-8", errors="replace").splitlines())
            )
            for line in lines:
                text = _scrub(line, self._masked)
                yield f"[{pod_name}] {text}" if prefix else text

    def _pod_log(
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
        return self._call(
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

    def _connect(self, context: str | None) -> None:
        """Load the cluster's configuration once (see the module docstring)."""
        if self._api is not None and (context is None or context == self._api_context):
            return
        from kubernetes import client, config
        from kubernetes.config.config_exception import ConfigException

        configuration = client.Configuration()
        path = self._kubeconfig or os.environ.get("KUBECONFIG") or ""
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
                    self._default_namespace = str(namespace)
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
                    self._default_namespace = ns_file.read_text().strip() or "default"
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
                f"cannot use the kubeconfig: {_first_line(exc)}",
                hint="check it with kubectl config view",
            ) from None
        except Exception as exc:  # a malformed file: yaml errors and the like
            raise DeployFailed(
                f"cannot read the kubeconfig: {type(exc).__name__}",
                hint="check it with kubectl config view",
            ) from None
        self._server = str(configuration.host)
        self._api = client.ApiClient(configuration)
        self._api_context = chosen

    def _client(self, name: str) -> Any:
        from kubernetes import client

        return getattr(client, name)(self._api)

    def _call(self, fn: Callable[[], Any], *, missing_ok: bool = False) -> Any:
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
                    f"cannot reach the Kubernetes API at {self._server}: {_first_line(exc.reason)}",
                    hint="check the cluster address in the kubeconfig",
                ) from None
            raise DeployFailed(
                f"the Kubernetes API at {self._server} refused: {exc.status} "
                f"{exc.reason}: {_api_message(exc)}",
                hint={
                    401: "the kubeconfig's credentials are not accepted",
                    403: "the kubeconfig's user lacks the permission named above",
                }.get(int(exc.status or 0)),
            ) from None
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise DeployFailed(
                f"cannot reach the Kubernetes API at {self._server}: {_reason(exc)}",
                hint="check that the cluster is up and the kubeconfig's server address is right",
            ) from None

    def _apply(self, manifest: Manifest, namespace: str) -> None:
        api, suffix = _APIS[manifest["kind"]]
        method = getattr(self._client(api), f"patch_namespaced_{suffix}")
        response = self._call(
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
        _drain(response)

    def _get(self, kind: str, name: str, namespace: str) -> dict[str, Any] | None:
        api, suffix = _APIS[kind]
        method = getattr(self._client(api), f"read_namespaced_{suffix}")
        response = self._call(
            lambda: method(
                name, namespace, _preload_content=False, _request_timeout=REQUEST_TIMEOUT
            ),
            missing_ok=True,
        )
        if response is None:
            return None
        return dict(json.loads(response.data))

    def _delete_ours(self, kind: str, name: str, namespace: str) -> None:
        """Delete an object AgentDock manages; someone else's object of that name stays."""
        live = self._get(kind, name, namespace)
        labels = ((live or {}).get("metadata") or {}).get("labels") or {}
        if live is None or labels.get("app.kubernetes.io/managed-by") != FIELD_MANAGER:
            return
        api, suffix = _APIS[kind]
        method = getattr(self._client(api), f"delete_namespaced_{suffix}")
        response = self._call(
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
            _drain(response)

    def _pods(self, handle: Mapping[str, Any]) -> list[dict[str, Any]]:
        namespace = str(handle["namespace"])
        labels = _selector_of(handle)
        core = self._client("CoreV1Api")
        response = self._call(
            lambda: core.list_namespaced_pod(
                namespace,
                label_selector=",".join(f"{k}={v}" for k, v in sorted(labels.items())),
                _preload_content=False,
                _request_timeout=REQUEST_TIMEOUT,
            )
        )
        items = json.loads(response.data).get("items") or []
        return [dict(p) for p in items]

    def _pod_problem(self, handle: Mapping[str, Any]) -> tuple[str, str] | None:
        for pod in self._pods(handle):
            for status, _ in _containers(pod):
                waiting = (status.get("state") or {}).get("waiting") or {}
                reason = str(waiting.get("reason") or "")
                if reason in FATAL_REASONS:
                    pod_name = (pod.get("metadata") or {}).get("name")
                    message = _scrub(str(waiting.get("message") or reason), self._masked)
                    return reason, f"{pod_name}: {_first_line(message)}"
        return None

    def _tail(self, handle: Mapping[str, Any]) -> list[str]:
        """The last log lines of the version's pods (a crashed container's previous run when
        the current one has none yet); empty when they cannot be read."""
        try:
            pods = self._pods(handle)
        except DeployError:
            return []
        core = self._client("CoreV1Api")
        namespace = str(handle["namespace"])
        lines: list[str] = []
        for pod in pods[:3]:
            pod_name = str((pod.get("metadata") or {}).get("name"))
            for previous in (False, True):
                try:
                    response = self._pod_log(core, pod_name, namespace, LOG_TAIL, previous=previous)
                except DeployError:
                    continue
                text = response.data.decode("utf-8", errors="replace")
                if text.strip():
                    prefix = f"[{pod_name}] " if len(pods) > 1 else ""
                    lines += [prefix + _scrub(line, self._masked) for line in text.splitlines()]
                    break
        return lines[-LOG_TAIL:]


def _network_terms(
    ingress_from: Sequence[str] = (), egress_to: Sequence[str] = ()
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The NetworkPolicy's (ingress, egress) terms: those given, else the variables', else
    the defaults (the pods of the namespace in; anything out)."""
    return (
        tuple(ingress_from) or terms_from_env(INGRESS_ENV) or DEFAULT_INGRESS,
        tuple(egress_to) or terms_from_env(EGRESS_ENV) or DEFAULT_EGRESS,
    )


def _spec_of(snapshot: str, env: Mapping[str, str]) -> Any:
    """The snapshot's spec for its typed fields. Variables the deploying machine lacks (the
    cluster's Secret has them) get a stand-in value: no typed field the manifests read may
    depend on one."""
    import yaml
    from agentdock.spec.loader import load_document
    from agentdock.validation import validate_document

    data = yaml.safe_load(snapshot)
    probe = load_document(data, environ={}, allow_unresolved=True)
    stand_in = {name: "agentdock-stand-in-for-an-unset-variable" for name in probe.unresolved}
    document = load_document(data, environ={**stand_in, **env}, allow_unresolved=True)
    report = validate_document(document, skip_imports=True)
    try:
        spec = report.spec if report.ok else None
    except Exception:
        spec = None
    if spec is None:
        first = report.errors[0] if report.errors else None
        raise InvalidDeployInput(
            "the spec snapshot does not validate"
            + (f": {first.code.value} {first.message}" if first is not None else ""),
            path=".".join(str(p) for p in first.path) if first is not None else None,
        )
    return spec


def _created(pod: Mapping[str, Any]) -> str:
    return str((pod.get("metadata") or {}).get("creationTimestamp") or "")


def _annotation(deployment: Mapping[str, Any]) -> str | None:
    annotations = (deployment.get("metadata") or {}).get("annotations") or {}
    value = annotations.get(DEPLOYMENT_ANNOTATION)
    return str(value) if value is not None else None


def _rollout(deployment: Mapping[str, Any]) -> tuple[bool, str, str | None]:
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


def _containers(pod: Mapping[str, Any]) -> Iterator[tuple[dict[str, Any], str]]:
    status = pod.get("status") or {}
    for item in status.get("containerStatuses") or ():
        yield dict(item), str(item.get("name"))


def _selector_of(handle: Mapping[str, Any]) -> dict[str, str]:
    labels = {"app.kubernetes.io/instance": str(handle["name"])}
    if handle.get("version"):
        labels["io.agentdock/version"] = str(handle["version"]).replace("+", "_")
    return labels


def _agent_of(deployment: Mapping[str, Any]) -> str:
    labels = (deployment.get("metadata") or {}).get("labels") or {}
    return str(labels.get("io.agentdock/agent") or (deployment.get("metadata") or {}).get("name"))


def _instance_of(deployment: Mapping[str, Any]) -> str | None:
    labels = (deployment.get("metadata") or {}).get("labels") or {}
    value = labels.get("io.agentdock/instance")
    return str(value) if value else None


def _image_of(deployment: Mapping[str, Any]) -> str | None:
    pod = ((deployment.get("spec") or {}).get("template") or {}).get("spec") or {}
    for container in pod.get("containers") or ():
        if container.get("name") == CONTAINER:
            return str(container.get("image"))
    return None


def _timestamp(text: str | None) -> float | None:
    if not text:
        return None
    try:
        return datetime.fromisoformat(str(text).replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def _stream_lines(response: Any) -> Iterator[str]:
    buffer = b""
    try:
        for chunk in response.stream(4096):
            buffer += chunk
            *done, buffer = buffer.split(b"\n")
            for line in done:
                yield line.decode("utf-8", errors="replace").rstrip("\r")
        if buffer:
            yield buffer.decode("utf-8", errors="replace").rstrip("\r")
    finally:
        with contextlib.suppress(Exception):
            response.release_conn()


def _drain(response: Any) -> None:
    """Read the rest of a raw response so its connection can serve the next call."""
    with contextlib.suppress(Exception):
        response.drain_conn()
    with contextlib.suppress(Exception):
        response.release_conn()


def _api_message(exc: Any) -> str:
    try:
        return _first_line(str(json.loads(exc.body or b"{}").get("message") or ""))
    except (ValueError, AttributeError):
        return ""


def _reason(exc: BaseException) -> str:
    inner = getattr(exc, "reason", None)
    text = str(inner) if inner is not None else str(exc)
    if "refused" in text.lower():
        return "connection refused"
    return _first_line(f"{type(exc).__name__}: {text}")


def _first_line(value: object) -> str:
    text = str(value).strip()
    return (text.splitlines() or [""])[0][:300]


def _scrub(text: str, secrets: list[str]) -> str:
    return Masker(secrets)(text)
