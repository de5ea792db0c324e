"""The ``docker`` builder: a hermetic, content-addressed image of one agent version.

Hermetic: the base image is named by id (never pulled during a build), dependencies are
resolved and installed on the host for the image's platform with hashes checked, and every
build runs with ``network_mode="none"``. Content-addressed: the tag
``agentdock/<agent>:<version>-<digest[:12]>`` carries a hash of every input (spec snapshot
and sources, the requirements as written, AgentDock's distributions, the base image id, the
Python version, the platform and the Dockerfiles themselves), so a tag that exists is the
image those inputs make, and a second build returns it with ``cached=True``. The
dependencies' versions are held to AgentDock's ``uv.lock`` and the agent's own lock (their
hashes are inputs too and labels of the image), and each build writes a CycloneDX SBOM of
the installed trees into the registry store, which the ``io.agentdock.sbom`` label names.

An image is built in three levels (see :mod:`.dockerfile`); the first two are tagged
``agentdock-layers/deps:<key>`` and ``agentdock-layers/runtime:<key>`` by a hash of their
own inputs and shared by every agent with the same requirements, so after the first build
only the agent's files are ever sent to the engine.

The base image is the hardware profile's family image (``build.hardware``: the ``cpu``
profile's is :data:`DEFAULT_BASE_IMAGE`); ``build.base_image`` (Dockfile 1.1) or the
``base_image`` option overrides it. The profile's tuned defaults are baked in as
``/etc/agentdock/machine-profile.json``, which the runtime applies at start-up. The base's
Python must be ``build.python_version`` (default 3.11): the build checks and says so when
it is not. The platform is ``build.platforms``' one entry, else the engine's; several
platforms make one image per platform under a manifest list (:mod:`.multiplatform`).
"""

from __future__ import annotations

import contextlib
import hashlib
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from agentdock.deployment.artifacts import Artifact, BuildRequest, Progress
from agentdock.deployment.errors import BuildFailed

from agentdock_plugins.docker.buildplan import DEFAULT_PYTHON_VERSION, Plan, make_plan
from agentdock_plugins.docker.client import open_client
from agentdock_plugins.docker.context import (
    write_agent_context,
    write_deps_context,
    write_dist_context,
)
from agentdock_plugins.docker.deps import (
    ImageDeps,
    default_cache_dir,
    dists_key,
    ensure_deps,
    ensure_dists,
    requirements_key,
)
from agentdock_plugins.docker.dockerfile import (
    DockerfileFacts,
    render_agent,
    render_deps,
    render_dist,
)
from agentdock_plugins.docker.enginebuild import run_build
from agentdock_plugins.docker.labels import agentdock_version, image_labels
from agentdock_plugins.docker.multiplatform import build_platforms, requested_platforms
from agentdock_plugins.docker.naming import image_reference, image_repository, image_tag
from agentdock_plugins.docker.push import push_image
from agentdock_plugins.pydeps import (
    AgentDockDists,
    AgentRequirements,
    Constraints,
    agent_requirements,
    agentdock_dists,
    constraints_for,
    uv_platform,
)
from agentdock_plugins.pydeps.lean import leave_out
from agentdock_plugins.pydeps.sbom import sbom_path, write_sbom

if TYPE_CHECKING:
    import docker
    from docker.models.images import Image

__all__ = [
    "DEFAULT_BASE_IMAGE",
    "DEFAULT_PYTHON_VERSION",
    "DEPS_REPOSITORY",
    "RUNTIME_REPOSITORY",
    "DockerBuilder",
    "agentdock_version",
    "image_repository",
    "image_tag",
]

DEFAULT_BASE_IMAGE = "python:3.11-slim-bookworm"
BUILDER = "docker"
DEPS_REPOSITORY = "agentdock-layers/deps"
RUNTIME_REPOSITORY = "agentdock-layers/runtime"
#: Bump when the meaning of the digest's inputs changes.
_DIGEST_FORMAT = "agentdock-docker-2"
_SBOM_LABEL = "io.agentdock.sbom"


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _hash(*parts: str) -> str:
    """SHA-256 over length-prefixed parts (no two part lists hash alike)."""
    digest = hashlib.sha256()
    for part in parts:
        data = part.encode("utf-8")
        digest.update(b"%d\0" % len(data))
        digest.update(data)
    return digest.hexdigest()


def _details(
    image: Image, base: Image, plan: Plan, tag: str, layers_tags: tuple[str, str]
) -> dict[str, Any]:
    """What ``status``, ``cleanup`` and people want to know about an image."""
    attrs = image.attrs
    layers = list((attrs.get("RootFS") or {}).get("Layers") or [])
    base_layers = list((base.attrs.get("RootFS") or {}).get("Layers") or [])
    size = int(attrs.get("Size") or 0)
    base_size = int(base.attrs.get("Size") or 0)
    return {
        "image_id": image.id,
        "tag": tag,
        "size_bytes": size,
        "layers": len(layers),
        "added_bytes": max(size - base_size, 0),
        "added_layers": max(len(layers) - len(base_layers), 0),
        "base_image": plan.base_ref,
        "base_image_id": plan.base_id,
        "platform": plan.platform,
        "python_version": plan.python_version,
        "deps_image": layers_tags[0],
        "runtime_image": layers_tags[1],
    }


@dataclass(frozen=True, slots=True)
class _Keys:
    """The keys of the three levels and the image's digest and tag, from inputs alone:
    a cache hit resolves nothing."""

    facts: DockerfileFacts
    requirements: str
    dists: str
    deps_tag: str
    runtime_tag: str
    digest: str
    tag: str


def _keys(
    request: BuildRequest,
    plan: Plan,
    agent: AgentRequirements,
    dists: AgentDockDists,
    constraints: Constraints,
    leave: frozenset[str],
) -> _Keys:
    req_key = requirements_key(agent, dists, plan.python_version, plan.platform, constraints, leave)
    facts = DockerfileFacts(plan.base_id, plan.python_version, plan.native)
    deps_key = _hash(_DIGEST_FORMAT, "deps", req_key, plan.base_id, render_deps(facts))
    deps_tag = f"{DEPS_REPOSITORY}:{deps_key[:16]}"
    d_key = dists_key(dists, plan.python_version, plan.platform)
    runtime_key = _hash(
        _DIGEST_FORMAT, "runtime", deps_key, d_key, render_dist(deps_tag, native=plan.native)
    )
    runtime_tag = f"{RUNTIME_REPOSITORY}:{runtime_key[:16]}"
    digest = _hash(
        _DIGEST_FORMAT,
        f"content={request.content_hash}",
        runtime_key,
        render_agent(runtime_tag, plan.port),
        plan.machine_profile,
    )
    tag = image_reference(request.agent, request.version, digest)
    return _Keys(facts, req_key, d_key, deps_tag, runtime_tag, digest, tag)


def _lock_labels(constraints: Constraints) -> dict[str, str]:
    """``agentdock``/``agent`` → ``KIND:SHA256`` of the locks the dependencies were held to."""
    return {
        which: f"{source.kind}:{source.sha256}"
        for which, source in (("agentdock", constraints.agentdock), ("agent", constraints.agent))
        if source is not None
    }


def _trees(
    cache_dir: Path,
    keys: _Keys,
    request: BuildRequest,
    plan: Plan,
    agent: AgentRequirements,
    dists: AgentDockDists,
    constraints: Constraints,
    leave: frozenset[str],
    progress: Progress,
) -> tuple[ImageDeps, Path]:
    """The third-party tree and AgentDock's, installed on the host for the image's
    platform (cached by their keys)."""
    deps = ensure_deps(
        cache_dir,
        keys.requirements,
        agent=agent,
        dists=dists,
        constraints=constraints,
        leave=leave,
        python_version=plan.python_version,
        uv_platform=uv_platform(plan.platform),
        progress=progress,
        cwd=request.project_dir,
    )
    progress("deps", "dependencies " + ("cached" if deps.cached else "installed"))
    dist_tree, dist_cached = ensure_dists(
        cache_dir,
        keys.dists,
        dists=dists,
        python_version=plan.python_version,
        uv_platform=uv_platform(plan.platform),
        progress=progress,
    )
    progress("dist", "AgentDock's distributions " + ("cached" if dist_cached else "installed"))
    return deps, dist_tree


def _image_sbom(
    request: BuildRequest,
    keys: _Keys,
    trees: list[Path],
    constraints: Constraints,
    progress: Progress,
) -> tuple[Path, str]:
    """Write the SBOM of the image's installed ``trees`` into the registry store; returns
    its path and SHA-256 (the ``io.agentdock.sbom`` label)."""
    sbom = sbom_path(request.home, keys.digest)
    sha = write_sbom(
        sbom,
        trees,
        name=request.agent,
        version=request.version,
        digest=keys.digest,
        kind="image",
        properties={"image": keys.tag, **_lock_labels(constraints)},
    )
    progress("sbom", f"bill of materials written to {sbom}")
    return sbom, sha


def _stored_sbom(image: Image, request: BuildRequest, digest: str) -> dict[str, str]:
    """The ``sbom`` details of an image built before: its SBOM in this registry store,
    when it is there and is the one the image's label names."""
    sbom = sbom_path(request.home, digest)
    label = str((image.attrs.get("Config") or {}).get("Labels", {}).get(_SBOM_LABEL, ""))
    if sbom.is_file() and label == f"sha256:{_sha256(sbom)}":
        return {"sbom": str(sbom), "sbom_sha256": label.removeprefix("sha256:")}
    return {}


class DockerBuilder:
    """Builds agent images with the Docker engine (see the module docstring)."""

    name = BUILDER

    def build(self, request: BuildRequest, progress: Progress) -> Artifact:
        """Build (or find) the image of ``request``.

        :raises TargetUnavailable: no Docker engine answers (the hint says how to start one).
        :raises BuildFailed: a dependency cannot be resolved (named), the base image is
            missing, a build step failed (the last build lines are in ``log_tail``), or the
            registry of the ``push`` option refused the image (:mod:`.push`).
        """
        client = open_client()
        try:
            platforms = requested_platforms(request)
            if len(platforms) > 1:
                return build_platforms(
                    client,
                    request,
                    platforms,
                    lambda one: self._build(client, one, progress),
                    progress,
                )
            artifact = self._build(client, request, progress)
            registry = request.options.get("push")
            if registry:
                artifact = push_image(client, artifact, str(registry), progress)
            return artifact
        finally:
            client.close()

    def _build(
        self, client: docker.DockerClient, request: BuildRequest, progress: Progress
    ) -> Artifact:
        import docker.errors

        plan, base = make_plan(client, request, progress)
        uv_platform(plan.platform)  # a platform without wheels fails before anything else
        cache_dir = Path(request.options.get("cache_dir") or default_cache_dir())
        progress("resolve", "reading the agent's requirements, the locks and AgentDock's wheels")
        agent = agent_requirements(request.project_dir, request.spec)
        dists = agentdock_dists(progress=progress)
        constraints = constraints_for(request.project_dir, agent)
        leave = leave_out(request.spec)
        keys = _keys(request, plan, agent, dists, constraints, leave)
        layers = (keys.deps_tag, keys.runtime_tag)

        with contextlib.suppress(docker.errors.ImageNotFound):
            image = client.images.get(keys.tag)
            progress("cached", f"{keys.tag} is already built (same inputs)", ref=keys.tag)
            details = _details(image, base, plan, keys.tag, layers)
            details.update(_stored_sbom(image, request, keys.digest))
            return Artifact(BUILDER, keys.tag, keys.digest, True, details)

        deps, dist_tree = _trees(
            cache_dir, keys, request, plan, agent, dists, constraints, leave, progress
        )
        sbom, sbom_sha = _image_sbom(request, keys, [deps.tree, dist_tree], constraints, progress)

        def deps_context(context: Path) -> None:
            write_deps_context(
                context, dockerfile=render_deps(keys.facts), deps=deps.tree, lock=deps.lock
            )

        deps_image = self._level(
            client, keys.deps_tag, "dependencies", deps_context, plan, progress
        )

        def dist_context(context: Path) -> None:
            dockerfile = render_dist(str(deps_image.id), native=plan.native)
            write_dist_context(context, dockerfile=dockerfile, dists=dist_tree)

        runtime_image = self._level(
            client, keys.runtime_tag, "AgentDock runtime", dist_context, plan, progress
        )
        labels = image_labels(
            request, plan, keys.digest, keys.tag, _lock_labels(constraints), sbom_sha
        )

        def agent_context(context: Path) -> None:
            count = write_agent_context(
                context,
                dockerfile=render_agent(str(runtime_image.id), plan.port, labels),
                project_dir=request.project_dir,
                sources=request.sources,
                snapshot=request.snapshot,
                machine_profile=plan.machine_profile,
            )
            progress("context", f"build context ready: {count} agent file(s)")

        image = self._level(client, keys.tag, "agent", agent_context, plan, progress, always=True)
        details = _details(image, base, plan, keys.tag, layers)
        details.update(sbom=str(sbom), sbom_sha256=sbom_sha)
        progress(
            "done",
            f"built {keys.tag} ({details['size_bytes'] / 1e6:.1f} MB, {details['layers']} layers)",
            ref=keys.tag,
        )
        return Artifact(BUILDER, keys.tag, keys.digest, False, details)

    def _level(
        self,
        client: docker.DockerClient,
        tag: str,
        what: str,
        fill: Callable[[Path], None],
        plan: Plan,
        progress: Progress,
        *,
        always: bool = False,
    ) -> Image:
        """The image tagged ``tag``: found, or built from a context ``fill`` writes."""
        import docker.errors

        if not always:
            with contextlib.suppress(docker.errors.ImageNotFound):
                found = client.images.get(tag)
                progress("layers", f"{what} layers cached ({tag})", ref=tag)
                return found
        with tempfile.TemporaryDirectory(prefix="agentdock-build-") as tmp:
            fill(Path(tmp))
            progress("build", f"building the {what} layers as {tag} (no network)")
            image_id = run_build(client, Path(tmp), tag, plan, progress)
        return client.images.get(image_id)

    def exists(self, artifact: Artifact) -> bool:
        """Whether the image is still on the engine."""
        import docker.errors

        client = open_client()
        try:
            client.images.get(artifact.ref)
            return True
        except docker.errors.ImageNotFound:
            return False
        finally:
            client.close()

    def remove(self, artifact: Artifact) -> int | None:
        """Remove the image's tag (and its layers no other image uses); absent is fine.

        Returns the bytes of the layers the engine deleted (the agent's own layers: the
        dependency and runtime layer images other agents share stay), or None when the
        engine does not say which (an image store without layer ids in its history).

        :raises BuildFailed: a container still uses the image (stop it first).
        """
        import docker.errors

        client = open_client()
        try:
            try:
                history = client.images.get(artifact.ref).history()
            except docker.errors.ImageNotFound:
                return 0
            sizes = {
                h["Id"]: int(h.get("Size") or 0)
                for h in history
                if h.get("Id", "")[:7] == "sha256:"
            }
            answer = client.api.remove_image(artifact.ref, noprune=False)
            deleted = [d["Deleted"] for d in answer or [] if isinstance(d, dict) and "Deleted" in d]
            return sum(sizes.get(layer, 0) for layer in deleted) if sizes else None
        except docker.errors.ImageNotFound:
            return 0
        except docker.errors.APIError as exc:
            reason = " ".join(str(getattr(exc, "explanation", "") or exc).split())[:200]
            raise BuildFailed(
                f"cannot remove the image {artifact.ref}: {reason}",
                hint="stop and remove the containers that use it (agentdock stop), then retry",
            ) from None
        finally:
            client.close()
