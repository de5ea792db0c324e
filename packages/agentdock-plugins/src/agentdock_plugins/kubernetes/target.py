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

import os
import time
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from agentdock.deployment.errors import (
    DeployFailed,
    HealthGateFailed,
    InvalidDeployInput,
    NotFound,
)
from agentdock.deployment.followedlog import FollowedLog
from agentdock.masking import MIN_SECRET_LENGTH, SECRET_NAMES_ENV

from agentdock_plugins.kubernetes.cluster import Cluster
from agentdock_plugins.kubernetes.image import resolve
from agentdock_plugins.kubernetes.manifests import (
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
from agentdock_plugins.kubernetes.readings import (
    DEPLOYMENT_ANNOTATION,
    agent_of,
    container_statuses,
    deployment_id_of,
    image_of,
    instance_of,
    parse_timestamp,
    rollout_state,
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
_POLL_FIRST = 0.05
_POLL_MAX = 1.0
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
        #: Values given at ``start``, kept in memory only to mask them in log lines.
        self._masked: list[str] = []
        self._cluster = Cluster(kubeconfig, self._masked)

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
        # In place: the cluster connection masks with the same list.
        self._masked[:] = sorted(
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
        self._cluster.connect(context)
        namespace = (
            self._namespace or os.environ.get(NAMESPACE_ENV) or self._cluster.default_namespace
        )
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
        live = self._cluster.get("Deployment", objs.base, namespace)
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
            self._cluster.apply(manifest, namespace)
            applied.append(kind)
        for kind in _OPTIONAL:
            if kind not in applied:
                self._cluster.delete_ours(kind, objs.base, namespace)
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
            "context": self._cluster.context,
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
        self._cluster.connect(handle.get("context"))
        namespace, name = str(handle["namespace"]), str(handle["name"])
        deadline = time.monotonic() + timeout
        delay = _POLL_FIRST
        seen = "no status yet"
        progress("health", f"waiting up to {timeout:g}s for deployment/{name}", name=name)
        while True:
            live = self._cluster.get("Deployment", name, namespace)
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
                    log_tail=self._cluster.tail(handle),
                )
            problem = self._cluster.pod_problem(handle)
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
                    log_tail=self._cluster.tail(handle),
                )
            if time.monotonic() >= deadline:
                raise HealthGateFailed(
                    f"deployment {namespace}/{name} did not roll out within {timeout:g}s ({seen})",
                    hint="raise the timeout, or read the pods' log lines for what they wait on",
                    log_tail=self._cluster.tail(handle),
                )
            time.sleep(min(delay, max(0.0, deadline - time.monotonic())))
            delay = min(delay * 2, _POLL_MAX)

    def stop(self, handle: Mapping[str, Any], timeout: float) -> None:
        """Delete the deployment's objects, unless they now belong to another deployment
        (replaced in place) or hold a rollout that never completed over an earlier live
        version (see the module docstring). Gone is fine."""
        self._cluster.connect(handle.get("context"))
        namespace, name = str(handle["namespace"]), str(handle["name"])
        live = self._cluster.get("Deployment", name, namespace)
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
            self._cluster.delete_ours(kind, name, namespace)
        self._cluster.delete_ours(
            "ConfigMap", str(handle.get("configmap") or f"{name}-spec"), namespace
        )

    def status(self, handle: Mapping[str, Any]) -> Mapping[str, Any]:
        """The rollout read live: ``running`` when every replica is available, ``degraded``
        when some are not, ``down`` when none is, ``stopped`` when scaled to zero or
        replaced in place by another deployment, ``missing`` when the Deployment is gone.
        Beyond the protocol's keys: ``replicas``, ``available``, ``updated``, ``image``."""
        self._cluster.connect(handle.get("context"))
        namespace, name = str(handle["namespace"]), str(handle["name"])
        live = self._cluster.get("Deployment", name, namespace)
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
            for pod in self._cluster.pods(handle)
            for c, _ in container_statuses(pod)
        )
        return base

    def logs(self, handle: Mapping[str, Any], tail: int | None, follow: bool) -> FollowedLog:
        """The pods' log lines (the agent container), each pod's prefixed with its name when
        there are several; ``follow`` follows the newest pod, until the reader stops it
        (:meth:`FollowedLog.stop` shuts the API server's stream)."""
        self._cluster.connect(handle.get("context"))
        pods = self._cluster.pods(handle)
        if not pods:
            raise NotFound(f"no pods of deployment {handle.get('namespace')}/{handle.get('name')}")
        return FollowedLog(lambda log: self._cluster.log_lines(handle, pods, tail, follow, log))

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
