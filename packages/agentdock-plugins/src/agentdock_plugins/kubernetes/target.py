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

import functools
import json
import os
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from agentdock.deployment.errors import (
    DeployError,
    DeployFailed,
    HealthGateFailed,
    InvalidDeployInput,
    NotFound,
)
from agentdock.masking import MIN_SECRET_LENGTH, SECRET_NAMES_ENV

from agentdock_plugins.kubernetes.apiresponses import (
    api_message,
    drain,
    first_line,
    scrub,
    short_reason,
    stream_lines,
)
from agentdock_plugins.kubernetes.image import resolve
from agentdock_plugins.kubernetes.kubeconfig import connect
from agentdock_plugins.kubernetes.manifests import (
    CONTAINER,
    FIELD_MANAGER,
    Manifest,
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
from agentdock_plugins.kubernetes.readings import (
    DEPLOYMENT_ANNOTATION,
    agent_of,
    container_statuses,
    deployment_id_of,
    image_of,
    instance_of,
    parse_timestamp,
    pod_created,
    rollout_state,
    selector_of,
)

if TYPE_CHECKING:
    from agentdock.deployment.artifacts import Artifact, Progress, StartRequest
    from agentdock.spec import DockSpec

__all__ = [
    "CONTEXT_ENV",
    "DEPLOYMENT_ANNOTATION",
    "NAMESPACE_ENV",
    "KubernetesTarget",
    "load_snapshot",
]

CONTEXT_ENV = "AGENTDOCK_KUBE_CONTEXT"
NAMESPACE_ENV = "AGENTDOCK_KUBE_NAMESPACE"
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
        spec: DockSpec,
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
        previous = deployment_id_of(live) if live is not None else None
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
            if deployment_id_of(live) != str(handle["deployment_id"]):
                raise HealthGateFailed(
                    f"deployment {namespace}/{name} was applied again by another deploy",
                    hint="run one deploy of an agent at a time",
                )
            done, seen, fatal = rollout_state(live)
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
                        agent_of(live), instance_of(live), namespace
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
            if deployment_id_of(live) != str(handle.get("deployment_id")):
                return
            done, _, _ = rollout_state(live)
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
            started_at=parse_timestamp((live.get("metadata") or {}).get("creationTimestamp")),
            image=image_of(live),
        )
        if deployment_id_of(live) != str(handle.get("deployment_id")):
            base.update(state="stopped", healthy=None, replaced_by=deployment_id_of(live))
            return base
        done, _, _ = rollout_state(live)
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
            for c, _ in container_statuses(pod)
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
        from agentdock_plugins.kubernetes.dryrun import dry_run

        ns = namespace or self._namespace or os.environ.get(NAMESPACE_ENV) or "default"
        ingress, egress = _network_terms(ingress_from, egress_to)
        return dry_run(
            path,
            namespace=ns,
            fmt=fmt,
            out_dir=out_dir,
            image=image,
            version=version,
            instance=instance,
            env_files=env_files,
            ingress_from=ingress,
            egress_to=egress,
        )

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
        ordered = sorted(pods, key=pod_created)
        for index, pod in enumerate(ordered):
            pod_name = str((pod.get("metadata") or {}).get("name"))
            streaming = follow and index == len(ordered) - 1
            response = self._pod_log(core, pod_name, namespace, tail, follow=streaming)
            lines = (
                stream_lines(response)
                if streaming
                else iter(response.data.decode("utf-8", errors="replace").splitlines())
            )
            for line in lines:
                text = scrub(line, self._masked)
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
        """Load the cluster's configuration once (see :mod:`.kubeconfig`)."""
        if self._api is not None and (context is None or context == self._api_context):
            return
        connection = connect(self._kubeconfig, context)
        if connection.namespace:
            self._default_namespace = connection.namespace
        self._server = connection.server
        self._api = connection.api
        self._api_context = connection.context

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
                    f"cannot reach the Kubernetes API at {self._server}: {first_line(exc.reason)}",
                    hint="check the cluster address in the kubeconfig",
                ) from None
            raise DeployFailed(
                f"the Kubernetes API at {self._server} refused: {exc.status} "
                f"{exc.reason}: {api_message(exc)}",
                hint={
                    401: "the kubeconfig's credentials are not accepted",
                    403: "the kubeconfig's user lacks the permission named above",
                }.get(int(exc.status or 0)),
            ) from None
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise DeployFailed(
                f"cannot reach the Kubernetes API at {self._server}: {short_reason(exc)}",
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
        drain(response)

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
            drain(response)

    def _pods(self, handle: Mapping[str, Any]) -> list[dict[str, Any]]:
        namespace = str(handle["namespace"])
        labels = selector_of(handle)
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
            for status, _ in container_statuses(pod):
                waiting = (status.get("state") or {}).get("waiting") or {}
                reason = str(waiting.get("reason") or "")
                if reason in FATAL_REASONS:
                    pod_name = (pod.get("metadata") or {}).get("name")
                    message = scrub(str(waiting.get("message") or reason), self._masked)
                    return reason, f"{pod_name}: {first_line(message)}"
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
                    lines += [prefix + scrub(line, self._masked) for line in text.splitlines()]
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
