"""The ``docker`` builder: a hermetic, content-addressed image of one agent version.

Hermetic: the base image is named by id (never pulled during a build), dependencies are
resolved and installed on the host for the image's platform with hashes checked, and every
build runs with ``network_mode="none"``. Content-addressed: the tag
``agentdock/<agent>:<version>-<digest[:12]>`` carries a hash of every input (spec snapshot
and sources, the requirements as written, AgentDock's distributions, the base image id, the
Python version, the platform and the Dockerfiles themselves), so a tag that exists is the
image those inputs make, and a second build returns it with ``cached=True``.

An image is built in three levels (see :mod:`.dockerfile`); the first two are tagged
``agentdock-layers/deps:<key>`` and ``agentdock-layers/runtime:<key>`` by a hash of their
own inputs and shared by every agent with the same requirements, so after the first build
only the agent's files are ever sent to the engine.

The base image is the hardware profile's family image (``build.hardware``: the ``cpu``
profile's is :data:`DEFAULT_BASE_IMAGE`); ``build.base_image`` (Dockfile 1.1) or the
``base_image`` option overrides it. The profile's tuned defaults are baked in as
``/etc/agentdock/machine-profile.json``, which the runtime applies at start-up. The base's
Python must be ``build.python_version`` (default 3.11): the build checks and says so when
it is not. The platform is the first of
``build.platforms``, else the engine's own.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import hashlib
import json
import re
import tempfile
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

import requests
import yaml
from agentdock.deployment.artifacts import Artifact, BuildRequest, Progress
from agentdock.deployment.errors import BuildFailed, InvalidDeployInput, TargetUnavailable

from agentdock_plugins.docker.client import open_client
from agentdock_plugins.docker.context import (
    write_agent_context,
    write_deps_context,
    write_dist_context,
)
from agentdock_plugins.docker.deps import (
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
    valid_image_ref,
)
from agentdock_plugins.docker.naming import image_reference, image_repository, image_tag
from agentdock_plugins.pydeps import agent_requirements, agentdock_dists, uv_platform

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
DEFAULT_PYTHON_VERSION = "3.11"
BUILDER = "docker"
DEPS_REPOSITORY = "agentdock-layers/deps"
RUNTIME_REPOSITORY = "agentdock-layers/runtime"
#: Bump when the meaning of the digest's inputs changes.
_DIGEST_FORMAT = "agentdock-docker-2"
_LOG_TAIL = 20
_ARCH = {"x86_64": "amd64", "aarch64": "arm64"}


@dataclass(frozen=True, slots=True)
class _Plan:
    base_ref: str
    base_id: str
    platform: str
    declared_platform: bool
    native: bool
    python_version: str
    port: int
    #: ``/etc/agentdock/machine-profile.json`` (the hardware profile's tuned defaults).
    machine_profile: str = ""


def agentdock_version() -> str:
    """The installed AgentDock runtime's version (a label: which runtime the image runs)."""
    try:
        return metadata.version("agentdock-runtime")
    except metadata.PackageNotFoundError:
        return "unknown"


def _build_cfg(spec: Any) -> Any:
    return getattr(spec, "build", None)


def _port(spec: Any) -> int:
    expose = getattr(spec, "expose", None)
    return int(getattr(expose, "port", 8080) or 8080)


def _snapshot_fields(snapshot: str) -> dict[str, str]:
    """Label values from the snapshot, which keeps ``${VAR}`` placeholders: a label can
    then never hold a resolved value. A value that is a placeholder is left out."""
    try:
        doc = yaml.safe_load(snapshot)
    except yaml.YAMLError:
        return {}
    agent = doc.get("agent") if isinstance(doc, dict) else None
    out: dict[str, str] = {}
    if isinstance(agent, dict):
        description = agent.get("description")
        if isinstance(description, str) and "${" not in description:
            out["description"] = " ".join(description.split())[:512]
    meta = doc.get("metadata") if isinstance(doc, dict) else None
    if isinstance(meta, dict):
        maintainer = meta.get("maintainer")
        if isinstance(maintainer, str) and "${" not in maintainer:
            out["authors"] = maintainer[:256]
    return out


def _engine_platform(client: docker.DockerClient) -> str:
    info = client.version()
    arch = str(info.get("Arch") or "amd64")
    return f"{info.get('Os') or 'linux'}/{_ARCH.get(arch, arch)}"


def _hardware(request: BuildRequest) -> tuple[str, str]:
    """The base image ref (option, ``build.base_image``, else the hardware profile's family
    image) and the machine-profile JSON baked into the image.

    :raises InvalidDeployInput: the Dockfile asks for GPUs its profile cannot give.
    """
    from agentdock_plugins.hardware.defaults import (
        base_image_for,
        hardware_problem,
        machine_profile,
        requested_gpus,
        resolve,
    )
    from agentdock_plugins.hardware.probe import probe

    build_cfg = _build_cfg(request.spec)
    deploy_cfg = getattr(request.spec, "deploy", None)
    resources = getattr(deploy_cfg, "resources", None)
    problem = hardware_problem(build_cfg, resources)
    if problem:
        raise InvalidDeployInput(problem, path="deploy.resources.gpu")
    machine = probe()
    profile = resolve(build_cfg, machine, gpus=int(getattr(resources, "gpu", 0) or 0))
    gpus = requested_gpus(resources, profile)
    document = machine_profile(build_cfg, machine, gpus=gpus)
    base = base_image_for(build_cfg, profile)
    option = request.options.get("base_image")
    ref = str(option or base.ref).strip()
    if not valid_image_ref(ref):
        raise InvalidDeployInput(
            f"build.base_image is not an image reference: {ref!r}",
            hint="write an image reference such as python:3.11-slim-bookworm",
            path="build.base_image",
        )
    if option is None and base.bundles_python is False:
        raise InvalidDeployInput(
            f"the {profile.name} family image {ref} has no Python {base.python_version}, and "
            "the build has no network to install one",
            hint=f"set build.base_image to a CUDA image that carries Python {base.python_version}",
            path="build.base_image",
        )
    return ref, json.dumps(document, sort_keys=True, indent=2) + "\n"


def _find_base(client: docker.DockerClient, ref: str, progress: Progress) -> Image:
    import docker.errors

    try:
        return client.images.get(ref)
    except docker.errors.ImageNotFound:
        pass
    progress("base", f"pulling the base image {ref}")
    try:
        return client.images.pull(ref)
    except docker.errors.APIError as exc:
        reason = " ".join(str(getattr(exc, "explanation", "") or exc).split())[:200]
        raise BuildFailed(
            f"the base image {ref} is not on this Docker engine and cannot be pulled: {reason}",
            hint=f"`docker pull {ref}` (or `docker load` it), or set build.base_image",
            path="build.base_image",
        ) from None


def _platform(request: BuildRequest, engine: str) -> tuple[str, bool]:
    option = request.options.get("platform")
    platforms = getattr(_build_cfg(request.spec), "platforms", None) or []
    chosen = option or (platforms[0] if platforms else None)
    return (str(chosen), True) if chosen else (engine, False)


def _same_arch(a: str, b: str) -> bool:
    def norm(p: str) -> str:
        parts = p.lower().split("/")
        arch = _ARCH.get(parts[1], parts[1]) if len(parts) > 1 else parts[0]
        return f"{parts[0]}/{arch}"

    return norm(a) == norm(b)


def _hash(*parts: str) -> str:
    """SHA-256 over length-prefixed parts (no two part lists hash alike)."""
    digest = hashlib.sha256()
    for part in parts:
        data = part.encode("utf-8")
        digest.update(b"%d\0" % len(data))
        digest.update(data)
    return digest.hexdigest()


def _details(
    image: Image, base: Image, plan: _Plan, tag: str, layers_tags: tuple[str, str]
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


# The engine colours what a step wrote to stderr.
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
_FROM_STEP = re.compile(r"^Step \d+/\d+ : FROM ")
_MADE = re.compile(r"^ ---> ([0-9a-f]{12,64})$")


def _last_output(lines: Iterable[str]) -> str | None:
    """The last line a build step printed itself (not the engine's step bookkeeping): what
    a failing ``RUN`` said, such as the base image's wrong Python version."""
    said = None
    for line in lines:
        if line.startswith("Step "):
            said = None  # only what the failing step printed
        elif not line.startswith((" ---> ", "Removing intermediate")):
            said = " ".join(line.split())[:300]
    return said


def _drop_stage_images(client: docker.DockerClient, images: list[str | None]) -> None:
    """Remove what the compile stages left behind (their layers are already copied into
    the tagged image, and its tag is what a later build looks for). Removal without force
    never touches an image that is tagged or that another image builds on."""
    import docker.errors

    for image in images:
        if image:
            with contextlib.suppress(docker.errors.DockerException, requests.RequestException):
                client.images.remove(image, noprune=False)


class DockerBuilder:
    """Builds agent images with the Docker engine (see the module docstring)."""

    name = BUILDER

    def build(self, request: BuildRequest, progress: Progress) -> Artifact:
        """Build (or find) the image of ``request``.

        :raises TargetUnavailable: no Docker engine answers (the hint says how to start one).
        :raises BuildFailed: a dependency cannot be resolved (named), the base image is
            missing, or a build step failed (the last build lines are in ``log_tail``).
        """
        client = open_client()
        try:
            return self._build(client, request, progress)
        finally:
            client.close()

    def _plan(
        self, client: docker.DockerClient, request: BuildRequest, progress: Progress
    ) -> tuple[_Plan, Image]:
        ref, machine_profile = _hardware(request)
        base = _find_base(client, ref, progress)
        engine = _engine_platform(client)
        platform, declared = _platform(request, engine)
        python_version = str(
            request.options.get("python_version")
            or getattr(_build_cfg(request.spec), "python_version", None)
            or DEFAULT_PYTHON_VERSION
        )
        plan = _Plan(
            base_ref=ref,
            base_id=str(base.id),
            platform=platform,
            declared_platform=declared,
            native=_same_arch(platform, engine),
            python_version=python_version,
            port=_port(request.spec),
            machine_profile=machine_profile,
        )
        return plan, base

    def _build(
        self, client: docker.DockerClient, request: BuildRequest, progress: Progress
    ) -> Artifact:
        import docker.errors

        plan, base = self._plan(client, request, progress)
        uv_plat = uv_platform(plan.platform)
        cache_dir = Path(request.options.get("cache_dir") or default_cache_dir())
        progress("resolve", "reading the agent's requirements and AgentDock's distributions")
        agent = agent_requirements(request.project_dir, request.spec)
        dists = agentdock_dists(progress=progress)

        # Keys of the three levels, from inputs alone: a cache hit resolves nothing.
        req_key = requirements_key(agent, dists, plan.python_version, plan.platform)
        facts = DockerfileFacts(plan.base_id, plan.python_version, plan.native)
        deps_key = _hash(_DIGEST_FORMAT, "deps", req_key, plan.base_id, render_deps(facts))
        deps_tag = f"{DEPS_REPOSITORY}:{deps_key[:16]}"
        runtime_key = _hash(
            _DIGEST_FORMAT,
            "runtime",
            deps_key,
            dists_key(dists, plan.python_version, plan.platform),
            render_dist(deps_tag, native=plan.native),
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
        layers = (deps_tag, runtime_tag)

        with contextlib.suppress(docker.errors.ImageNotFound):
            image = client.images.get(tag)
            progress("cached", f"{tag} is already built (same inputs)", ref=tag)
            return Artifact(BUILDER, tag, digest, True, _details(image, base, plan, tag, layers))

        def deps_context(context: Path) -> None:
            deps = ensure_deps(
                cache_dir,
                req_key,
                agent=agent,
                dists=dists,
                python_version=plan.python_version,
                uv_platform=uv_plat,
                progress=progress,
                cwd=request.project_dir,
            )
            progress("deps", "dependencies " + ("cached" if deps.cached else "installed"))
            write_deps_context(
                context, dockerfile=render_deps(facts), deps=deps.tree, lock=deps.lock
            )

        deps_image = self._level(client, deps_tag, "dependencies", deps_context, plan, progress)

        def dist_context(context: Path) -> None:
            tree, cached = ensure_dists(
                cache_dir,
                dists_key(dists, plan.python_version, plan.platform),
                dists=dists,
                python_version=plan.python_version,
                uv_platform=uv_plat,
                progress=progress,
            )
            progress("dist", "AgentDock's distributions " + ("cached" if cached else "installed"))
            dockerfile = render_dist(str(deps_image.id), native=plan.native)
            write_dist_context(context, dockerfile=dockerfile, dists=tree)

        runtime_image = self._level(
            client, runtime_tag, "AgentDock runtime", dist_context, plan, progress
        )
        labels = self._labels(request, plan, digest, tag)

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

        image = self._level(client, tag, "agent", agent_context, plan, progress, always=True)
        details = _details(image, base, plan, tag, layers)
        progress(
            "done",
            f"built {tag} ({details['size_bytes'] / 1e6:.1f} MB, {details['layers']} layers)",
            ref=tag,
        )
        return Artifact(BUILDER, tag, digest, False, details)

    def _level(
        self,
        client: docker.DockerClient,
        tag: str,
        what: str,
        fill: Callable[[Path], None],
        plan: _Plan,
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
            image_id = self._run_build(client, Path(tmp), tag, plan, progress)
        return client.images.get(image_id)

    def _labels(self, request: BuildRequest, plan: _Plan, digest: str, tag: str) -> dict[str, str]:
        fields = _snapshot_fields(request.snapshot)
        labels = {
            "org.opencontainers.image.title": request.agent,
            "org.opencontainers.image.version": request.version,
            "org.opencontainers.image.created": _dt.datetime.now(_dt.UTC)
            .replace(microsecond=0)
            .isoformat()
            .replace("+00:00", "Z"),
            "org.opencontainers.image.ref.name": tag,
            "org.opencontainers.image.base.name": plan.base_ref,
            "org.opencontainers.image.base.digest": plan.base_id,
            "org.opencontainers.image.vendor": "AgentDock",
            "io.agentdock.agent": request.agent,
            "io.agentdock.version": request.version,
            "io.agentdock.spec-hash": request.content_hash,
            "io.agentdock.digest": digest,
            "io.agentdock.agentdock-version": agentdock_version(),
            "io.agentdock.python-version": plan.python_version,
        }
        if "description" in fields:
            labels["org.opencontainers.image.description"] = fields["description"]
        if "authors" in fields:
            labels["org.opencontainers.image.authors"] = fields["authors"]
        return labels

    def _run_build(
        self,
        client: docker.DockerClient,
        context: Path,
        tag: str,
        plan: _Plan,
        progress: Progress,
    ) -> str:
        """Run the engine's build, streaming each output line; returns the image id."""
        import docker.errors

        tail: deque[str] = deque(maxlen=_LOG_TAIL)
        image_id: str | None = None
        # The last image each stage made (None: the stage only named its FROM image).
        stages: list[str | None] = []
        after_from = False
        kwargs: dict[str, Any] = {
            "path": str(context),
            "tag": tag,
            "rm": True,
            "forcerm": True,
            "pull": False,
            "network_mode": "none",
            "decode": True,
        }
        if plan.declared_platform:
            kwargs["platform"] = plan.platform
        stream = None
        try:
            stream = client.api.build(**kwargs)
            for chunk in stream:
                if "error" in chunk:
                    message = " ".join(_ANSI.sub("", str(chunk["error"])).split())[:300]
                    said = _last_output(tail)
                    _drop_stage_images(client, stages[:-1])
                    raise BuildFailed(
                        f"the image build failed: {said or message}",
                        hint="see the build output above; fix the step that failed",
                        log_tail=[*tail, message],
                    )
                aux = chunk.get("aux")
                if isinstance(aux, dict) and aux.get("ID"):
                    image_id = str(aux["ID"])
                text = chunk.get("stream") or chunk.get("status")
                if not text:
                    continue
                for raw in str(text).splitlines():
                    line = _ANSI.sub("", raw).rstrip()
                    if line:
                        tail.append(line)
                        progress("build", line)
                        if _FROM_STEP.match(line):
                            stages.append(None)
                            after_from = True
                        elif (made := _MADE.match(line)) and stages:
                            if not after_from:
                                stages[-1] = made.group(1)
                            after_from = False
                        match = re.match(r"^Successfully built ([0-9a-f]{12,64})$", line)
                        if match and image_id is None:
                            image_id = match.group(1)
        except docker.errors.APIError as exc:
            reason = " ".join(str(getattr(exc, "explanation", "") or exc).split())[:300]
            raise BuildFailed(
                f"the Docker engine refused the build: {reason}", log_tail=list(tail)
            ) from None
        except (docker.errors.DockerException, requests.RequestException) as exc:
            raise TargetUnavailable(
                f"the Docker engine stopped answering during the build ({type(exc).__name__})",
                hint="check that dockerd is still running (`docker info`), then build again",
                log_tail=list(tail),
            ) from None
        finally:
            close = getattr(stream, "close", None)
            if close is not None:
                close()
        if image_id is None:
            raise BuildFailed("the image build ended without an image", log_tail=list(tail))
        _drop_stage_images(client, stages[:-1])
        return image_id

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
