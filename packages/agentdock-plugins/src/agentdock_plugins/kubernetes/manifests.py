"""Kubernetes manifests for one agent version: what ``kubectl apply -f`` or a GitOps repo takes.

Every value comes from the spec *snapshot* (the Dockfile with ``${VAR}`` placeholders kept),
loaded without any environment: a spec resolved against the user's environment is never
read, so no variable's value can reach a manifest. Each variable becomes a ``secretKeyRef``
into one Secret, ``<name>-env``, that this module never renders: its values stay where they
are, and :func:`secret_hint` says how to create it from an env file.

An agent that checks API keys (``auth.mode: api_key``, or ``jwt`` with ``api_keys.enabled``)
reads them from the registry ``AGENTDOCK_DATABASE_URL`` names, a key of the same Secret: its
pods cannot share the deploying machine's embedded SQLite file, so keys made with ``agentdock
key create`` work there only through a shared (Postgres) registry. :func:`registry_problem`
says when the deploying machine has none.

An agent with rate limits that may run more than one replica needs the replicas to share
one budget per caller through Redis: :func:`ratelimit_problem` says when the pods would get
no ``AGENTDOCK_REDIS_URL`` (each would keep budgets of its own).

Objects, in apply order, each built by its own function in :mod:`.objects`: ConfigMap (the
snapshot, mounted as ``/etc/agentdock/spec.yaml``), Service, NetworkPolicy (who reaches the
pods, where they go: :mod:`.network`; before the pods exist), Deployment,
HorizontalPodAutoscaler (``deploy.autoscale``), PodDisruptionBudget (more than one replica).
Selectors use only the name and instance labels, which never change between versions, so an
apply of a new version rolls the same Deployment.

Object names and selectors are :mod:`.naming`'s; what the pods need from outside (the
Secret's keys, a shared registry, a shared Redis) is :mod:`.requirements`'; both are
re-exported here.

The pods run ``image`` as given. The target passes the image by digest
(``repository@sha256:...``) when the engine knows one (the image was pushed to, or pulled
from, a registry); a local image has only its tag, and its id (``sha256:...``, which no
registry resolves) goes in the pod template's :data:`IMAGE_ID_ANNOTATION`.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml
from agentdock.deployment.errors import InvalidDeployInput
from agentdock.masking import SECRET_NAMES_ENV

from agentdock_plugins.docker.naming import image_reference
from agentdock_plugins.kubernetes import objects
from agentdock_plugins.kubernetes.naming import (
    DNS_LABEL,
    ObjectNames,
    label_value,
    names,
    selector,
)
from agentdock_plugins.kubernetes.network import DEFAULT_EGRESS, DEFAULT_INGRESS, network_policy
from agentdock_plugins.kubernetes.objects import (
    CONFIG_DIR,
    CONTAINER,
    GID,
    GPU_RESOURCE,
    IMAGE_ID_ANNOTATION,
    SPEC_FILE,
    UID,
    Manifest,
)
from agentdock_plugins.kubernetes.requirements import (
    RESERVED_ENV,
    Problem,
    checkpoint_problem,
    checks_api_keys,
    ratelimit_problem,
    registry_problem,
    required_variables,
    secret_hint,
    secret_keys,
    snapshot_document,
)

if TYPE_CHECKING:
    from agentdock.spec import DockSpec

__all__ = [
    "CONFIG_DIR",
    "CONTAINER",
    "FIELD_MANAGER",
    "GID",
    "IMAGE_ID_ANNOTATION",
    "SPEC_FILE",
    "UID",
    "Manifest",
    "ObjectNames",
    "Problem",
    "checkpoint_problem",
    "checks_api_keys",
    "dump",
    "names",
    "ratelimit_problem",
    "registry_problem",
    "render",
    "render_file",
    "required_variables",
    "secret_hint",
    "selector",
    "write",
]

FIELD_MANAGER = "agentdock"
GPU_NODE_SELECTOR = {"nvidia.com/gpu.present": "true"}
_PLACEHOLDER = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-[^}]*)?\}")


def _resources(spec: DockSpec) -> tuple[dict[str, Any], int]:
    deploy = getattr(spec, "deploy", None)
    res = deploy.resources if deploy is not None else None
    if res is None:
        return {}, 0
    requests: dict[str, str] = {}
    limits: dict[str, Any] = {}
    for name in ("cpu", "memory"):
        if getattr(res, name) is not None:
            requests[name] = str(getattr(res, name))
        limit = res.limit(name)
        if limit is not None:
            limits[name] = str(limit)
    gpus = int(res.gpu or 0)
    if gpus:
        limits[GPU_RESOURCE] = gpus
    out: dict[str, Any] = {}
    if requests:
        out["requests"] = requests
    if limits:
        out["limits"] = limits
    return out, gpus


def _env(
    raw: Mapping[str, Any],
    variables: frozenset[str],
    unresolved: frozenset[str],
    secret: str,
    port: int,
) -> list[dict[str, Any]]:
    env: list[dict[str, Any]] = [
        {"name": "AGENTDOCK_SPEC", "value": SPEC_FILE},
        {"name": "AGENTDOCK_HOST", "value": "0.0.0.0"},
        {"name": "AGENTDOCK_PORT", "value": str(port)},
    ]
    required, optional = secret_keys(raw, variables, unresolved)
    for name in sorted([*required, *optional]):
        ref: dict[str, Any] = {"name": secret, "key": name}
        if name in optional:
            ref["optional"] = True
        env.append({"name": name, "valueFrom": {"secretKeyRef": ref}})
    if required or optional:
        # The runtime masks these variables' values in its logs (names only, never values).
        names = ",".join(sorted([*required, *optional]))
        env.append({"name": SECRET_NAMES_ENV, "value": names})
    # Literal ``deploy.env`` values as the snapshot writes them: a placeholder becomes the
    # Kubernetes reference ``$(NAME)`` to the secret-backed variable defined above.
    literal = (raw.get("deploy") or {}).get("env") or {}
    for name in sorted(literal):
        if name in RESERVED_ENV:
            continue
        value = _PLACEHOLDER.sub(lambda m: f"$({m[1]})", str(literal[name]))
        env.append({"name": str(name), "value": value})
    return env


def _node_selector(raw: Mapping[str, Any]) -> dict[str, str]:
    given = (raw.get("deploy") or {}).get("node_selector") or {}
    out = {}
    for key, value in given.items():
        if "${" in str(key) or "${" in str(value):
            raise InvalidDeployInput(
                "deploy.node_selector cannot use a ${VAR} placeholder in a manifest",
                hint="write the node label literally",
                path=f"deploy.node_selector.{key}",
            )
        out[str(key)] = str(value)
    return out


def _replicas(spec: DockSpec) -> tuple[Any, Any]:
    """``deploy.autoscale`` (or None) and the replicas to start with: the autoscaler's
    minimum, else ``deploy.replicas``, else 1."""
    deploy = getattr(spec, "deploy", None)
    autoscale = deploy.autoscale if deploy is not None else None
    if autoscale is not None:
        return autoscale, autoscale.min_replicas
    return None, deploy.replicas if deploy is not None else 1


def _pod(container: Any, raw: Any, configmap: str, gpus: int) -> Any:
    """The pod spec around ``container``: GPU nodes when it asks for GPUs, plus the
    Dockfile's ``deploy.node_selector`` (read from the snapshot)."""
    return objects.pod_spec(
        container,
        configmap=configmap,
        node_selector={**(GPU_NODE_SELECTOR if gpus else {}), **_node_selector(raw)},
        gpus=gpus,
    )


def render(
    spec: DockSpec,
    *,
    snapshot: str,
    image: str,
    version: str,
    namespace: str = "default",
    instance: str | None = None,
    image_id: str | None = None,
    ingress_from: Sequence[str] = DEFAULT_INGRESS,
    egress_to: Sequence[str] = DEFAULT_EGRESS,
) -> list[Manifest]:
    """The manifests of one version of an agent, in apply order.

    ``image_id`` goes in the pod template's :data:`IMAGE_ID_ANNOTATION` (when ``image`` is a
    tag); ``ingress_from`` and ``egress_to`` are the NetworkPolicy's terms (:mod:`.network`).

    ``spec`` is the validated ``DockSpec`` of ``snapshot``; it may have been resolved
    against the user's environment, so only its typed fields are read (name, port,
    replicas, autoscale, resources, hardware, secret names). Free-form strings (the
    ``deploy.env`` values, ``deploy.node_selector``) and the variables come from
    ``snapshot``, whose placeholders are kept: no variable's value reaches a manifest.
    Each object is built by its own function in :mod:`.objects`.

    :raises InvalidDeployInput: a derived name is not a DNS-1123 label, the version cannot
        be a label value, a GPU is asked of the ``cpu`` hardware profile, autoscaling has
        no CPU request to measure against, a node selector holds a placeholder, or a
        NetworkPolicy term is malformed.
    """
    variables, unresolved, raw = snapshot_document(snapshot)
    agent = str(spec.agent.name)
    objs = _check_inputs(raw, agent=agent, instance=instance, image=image, namespace=namespace)
    version_label = label_value(version, "metadata.version")
    resources, gpus = _resources(spec)
    _check_scaling(spec, resources, gpus)
    autoscale, replicas = _replicas(spec)
    port = int(spec.expose.port)
    metrics = getattr(getattr(spec, "observability", None), "metrics", None)
    version_of = objects.AgentVersion(
        names=objs,
        namespace=namespace,
        match=selector(agent, instance),
        labels=_labels(agent, instance, version_label),
        port=port,
    )
    container = objects.container(
        image=image,
        port=port,
        env=_env(raw, variables, unresolved, objs.secret, port),
        resources=resources,
    )
    pod = _pod(container, raw, objs.configmap, gpus)
    out = [
        objects.configmap(version_of, snapshot),
        objects.service(version_of),
        network_policy(version_of.meta(objs.base), version_of.match, port, ingress_from, egress_to),
        objects.deployment(
            version_of,
            pod,
            replicas=replicas,
            annotations=objects.pod_annotations(
                snapshot,
                port=port,
                public_metrics=bool(getattr(metrics, "public", False)),
                image_id=image_id if image_id and "@" not in image else None,
            ),
        ),
    ]
    if autoscale is not None:
        out.append(objects.autoscaler(version_of, autoscale))
    if replicas > 1:
        out.append(objects.disruption_budget(version_of))
    return out


def _check_inputs(
    raw: Mapping[str, Any], *, agent: str, instance: str | None, image: str, namespace: str
) -> ObjectNames:
    """The agent's object names; refuses a snapshot of another agent, a name that is no DNS
    label, an image reference with spaces and a namespace that is no DNS label."""
    raw_name = (raw.get("agent") or {}).get("name")
    if isinstance(raw_name, str) and "${" not in raw_name and raw_name != agent:
        raise InvalidDeployInput(
            f"the spec ({agent}) and the snapshot ({raw_name}) are different agents"
        )
    objs = names(agent, instance)
    if not image or any(c.isspace() for c in image):
        raise InvalidDeployInput(f"invalid image reference {image!r}", path="image")
    if not DNS_LABEL.match(namespace) or len(namespace) > 63:
        raise InvalidDeployInput(
            f"namespace {namespace!r} is not a DNS-1123 label", path="--namespace"
        )
    return objs


def _check_scaling(spec: DockSpec, resources: Mapping[str, Any], gpus: int) -> None:
    """Refuse a GPU on the ``cpu`` hardware profile, and autoscaling with no CPU request."""
    deploy = getattr(spec, "deploy", None)
    build = getattr(spec, "build", None)
    if gpus and build is not None and build.hardware == "cpu":
        raise InvalidDeployInput(
            f"deploy.resources.gpu asks for {gpus} GPU(s) but build.hardware is cpu",
            hint="set build.hardware to cuda (or auto), or drop deploy.resources.gpu",
            path="deploy.resources.gpu",
        )
    autoscale = deploy.autoscale if deploy is not None else None
    if autoscale is not None and "cpu" not in resources.get("requests", {}):
        raise InvalidDeployInput(
            "deploy.autoscale scales on CPU utilization, which Kubernetes measures against "
            "the CPU request, and deploy.resources.cpu is not set",
            hint="add deploy.resources.cpu (for example 250m)",
            path="deploy.autoscale",
        )


def _labels(agent: str, instance: str | None, version_label: str) -> dict[str, str]:
    labels = {
        **selector(agent, instance),
        "app.kubernetes.io/version": version_label,
        "app.kubernetes.io/component": "agent",
        "app.kubernetes.io/managed-by": "agentdock",
        "io.agentdock/agent": agent,
        "io.agentdock/version": version_label,
    }
    if instance:
        labels["io.agentdock/instance"] = instance
    return labels


def render_file(
    path: str | os.PathLike[str],
    *,
    image: str | None = None,
    version: str | None = None,
    namespace: str = "default",
    instance: str | None = None,
    env_files: Sequence[str | os.PathLike[str]] = (),
    ingress_from: Sequence[str] = DEFAULT_INGRESS,
    egress_to: Sequence[str] = DEFAULT_EGRESS,
) -> list[Manifest]:
    """The manifests of a Dockfile (``agentdock deploy --target kubernetes --dry-run``).

    Nothing is built. ``version`` defaults as a deploy picks it without a registry
    (``metadata.version``, else ``0.1.0``: ``agentdock.deployment.dry_run`` passes the one
    the registry gives); ``image`` to :func:`~agentdock_plugins.docker.naming.image_reference`
    of that version. Variables are read (environment, ``.env`` beside the Dockfile,
    ``env_files``) to check that every required one has a value and that the spec validates,
    as ``deploy`` does; the manifests hold none of their values.

    :raises MissingVariables: a variable without a value or default (exit 1, 4001 each).
    """
    from agentdock.deployment.inputs import find_dockfile, pick_version, require_variables
    from agentdock.deployment.runenv import value_sources
    from agentdock.spec.loader import load_document
    from agentdock.validation import validate_document

    file = find_dockfile(path)
    values = value_sources(file.resolve().parent, env_files)
    document = load_document(file, env=values, environ={}, allow_unresolved=True)
    require_variables(document, instance)
    report = validate_document(document, skip_imports=True)
    try:
        spec = report.spec if report.ok else None
    except Exception:  # a placeholder left verbatim breaks a field's constraint
        spec = None
    if spec is None or document.raw is None:
        first = report.errors[0] if report.errors else None
        raise InvalidDeployInput(
            f"{file} does not validate"
            + (f": {first.code.value} {first.code.name}: {first.message}" if first else ""),
            path=".".join(str(p) for p in first.path) if first is not None else None,
            hint=f"agentdock validate {file}",
        )
    snapshot = yaml.safe_dump(document.raw, sort_keys=False, allow_unicode=True)
    chosen, _ = pick_version(None, spec.agent.name, version, spec.metadata.version, "")
    return render(
        spec,
        snapshot=snapshot,
        image=image or image_reference(spec.agent.name, chosen),
        version=chosen,
        namespace=namespace,
        instance=instance,
        ingress_from=ingress_from,
        egress_to=egress_to,
    )


def dump(manifests: Sequence[Manifest], fmt: str = "yaml") -> str:
    """The manifests as one multi-document YAML stream, or one JSON ``List``."""
    if fmt == "yaml":
        return "".join(
            "---\n" + yaml.safe_dump(m, sort_keys=False, allow_unicode=True) for m in manifests
        )
    if fmt == "json":
        return (
            json.dumps({"apiVersion": "v1", "kind": "List", "items": list(manifests)}, indent=2)
            + "\n"
        )
    raise ValueError(f"unknown format {fmt!r} (yaml or json)")


def write(
    manifests: Sequence[Manifest], out_dir: str | os.PathLike[str], fmt: str = "yaml"
) -> list[Path]:
    """One file per object, numbered in apply order (``00-configmap-chat-spec.yaml``)."""
    if fmt not in ("yaml", "json"):
        raise ValueError(f"unknown format {fmt!r} (yaml or json)")
    folder = Path(out_dir)
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for index, manifest in enumerate(manifests):
        name = f"{index:02d}-{manifest['kind'].lower()}-{manifest['metadata']['name']}.{fmt}"
        file = folder / name
        if fmt == "yaml":
            text = yaml.safe_dump(manifest, sort_keys=False, allow_unicode=True)
        else:
            text = json.dumps(manifest, indent=2) + "\n"
        file.write_text(text, encoding="utf-8")
        written.append(file)
    return written
