"""The ``docker`` target: one detached container per deployment on the local Docker engine.

Docker is the supervisor here: the restart policy (``on-failure``, at most
:data:`MAX_RESTARTS` times) brings a crashed runtime back, and the container outlives the CLI.
Everything a later process needs is in the handle (container id and name, the published host
port, the endpoint and the image), and the container's ``io.agentdock.*`` labels tie it back
to the agent, version and deployment, so ``docker ps --filter label=io.agentdock.agent=NAME``
finds an agent's containers without the registry.

The run-time environment (``StartRequest.env``, secrets included) reaches the container in
a file only its runtime reads (:mod:`.envfile`; in its environment for an image built before
that), never a label, the handle, an error or a progress event, nor ``docker inspect``.

The container runs as locked down as the Kubernetes pods (:mod:`.hardening`): no
capabilities, no privilege escalation, a read-only root writable only where the runtime
writes, memory and process limits (:mod:`.resources`). Its port is published on the address the
deploy reports: ``--host`` or ``expose.host`` when given, else 127.0.0.1 (this machine only),
as the ``local`` target listens.

Of the AgentDock home a container sees two directories (:func:`home_mounts`): its own key
view, read-only, and its own state directory; never the registry, the bundles, another
agent's keys or the audit chain key, and its user joins no group of the host.
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, TypeVar

import httpx
from agentdock.deployment.errors import (
    DeployFailed,
    HealthGateFailed,
    InvalidDeployInput,
    NotFound,
    TargetUnavailable,
)
from agentdock.deployment.followedlog import FollowedLog
from agentdock.deployment.inputs import reach_of
from agentdock.masking import MIN_SECRET_LENGTH, SECRET_NAMES_ENV

from agentdock_plugins.docker.client import engine_address, open_client
from agentdock_plugins.docker.containerstate import (
    container_state,
    discard,
    docker_time,
    is_api_error,
    is_not_found,
    scrub,
    stream_lines,
)
from agentdock_plugins.docker.envfile import (
    ENV_DIR,
    ENV_FILE,
    ENV_FILE_ENV,
    reads_env_file,
    written_values,
)
from agentdock_plugins.docker.homemounts import home_mounts
from agentdock_plugins.docker.posture import container_posture
from agentdock_plugins.docker.publishing import bind_address, free_port, port_free
from agentdock_plugins.docker.resources import container_limits

if TYPE_CHECKING:
    import docker
    from agentdock.deployment.artifacts import Artifact, Progress, StartRequest
    from docker.models.containers import Container

__all__ = ["LABEL_PREFIX", "LOG_TAIL", "MAX_RESTARTS", "DockerTarget", "container_name"]

#: How many times Docker restarts a runtime that exits non-zero before it gives up.
MAX_RESTARTS = 3
#: How many of the runtime's last log lines a failed health gate carries.
LOG_TAIL = 20
LABEL_PREFIX = "io.agentdock."
#: The runtime's overrides of ``expose.host`` and ``expose.port`` (agentdock_runtime.entrypoint).
HOST_ENV = "AGENTDOCK_HOST"
PORT_ENV = "AGENTDOCK_PORT"

_T = TypeVar("_T")
_POLL_FIRST = 0.05
_POLL_MAX = 0.25
_NANO_PER_S = 1_000_000_000
_PORT_TRIES = 5
_PORT_TAKEN = ("port is already allocated", "address already in use")
_NAME_UNSAFE = re.compile(r"[^a-z0-9-]+")
# Rotated json-file logs: a chatty runtime cannot fill the disk, and ``logs`` can read them.
_LOG_CONFIG = {"type": "json-file", "config": {"max-size": "10m", "max-file": "3"}}


def container_name(agent: str, deployment_id: int, instance: str | None = None) -> str:
    """``agentdock-<agent dns name>[-<instance>]-<deployment id>``, a valid container name."""
    parts = [_dns(agent)]
    if instance:
        parts.append(_dns(instance))
    return "-".join(["agentdock", *parts, str(deployment_id)])


def _dns(text: str) -> str:
    return _NAME_UNSAFE.sub("-", text.lower()).strip("-") or "x"


class DockerTarget:
    """Runs docker-builder images as containers; see the module docstring."""

    builder = "docker"

    def __init__(self) -> None:
        self._client: docker.DockerClient | None = None

    # -- Target protocol ------------------------------------------------------------------

    def start(
        self, artifact: Artifact, request: StartRequest, progress: Progress
    ) -> Mapping[str, Any]:
        """Create and start the container; return its handle (the host port may differ from
        ``request.port`` when that one is taken)."""
        image = artifact.ref
        secrets = [
            v
            for k, v in request.env.items()
            if k != SECRET_NAMES_ENV and len(v) >= MIN_SECRET_LENGTH
        ]
        for key, value in request.labels.items():
            if any(secret in str(value) for secret in secrets):
                raise InvalidDeployInput(
                    f"label {key} would carry the value of a run-time variable",
                    hint="labels are readable by anyone with docker access; pass it as env",
                )
        client = self._engine()
        found = self._call(
            lambda: client.images.get(image), missing=f"image {image}", secrets=secrets
        )
        name = container_name(request.agent, request.deployment_id, request.instance)
        self._remove_leftover(client, name, request)
        bind = bind_address(request.host)
        labels = {
            **{str(k): str(v) for k, v in request.labels.items()},
            LABEL_PREFIX + "agent": request.agent,
            LABEL_PREFIX + "version": request.version,
            LABEL_PREFIX + "deployment": str(request.deployment_id),
            LABEL_PREFIX + "instance": request.instance or "",
        }
        limits = container_limits(request.resources)
        registry = home_mounts(request)
        settings = {
            # Its key view and state directory (checkpoints), mounted.
            **registry["environment"],
            # The runtime listens on every interface of the container's own network; who
            # can reach it is the publish address's business.
            HOST_ENV: "0.0.0.0",
            PORT_ENV: str(request.port),
        }
        config = found.attrs.get("Config") or {}
        posture = container_posture(config, request.env, settings, registry, labels)
        hand_over = posture.pop("hand_over")
        if not reads_env_file(config) and request.env:
            progress(
                "env",
                f"{image} predates env files: its variables go in the container's "
                "environment, which docker inspect shows",
            )
        create = {
            **{k: v for k, v in registry.items() if k != "environment"},
            "labels": labels,
            "restart_policy": {"Name": "on-failure", "MaximumRetryCount": MAX_RESTARTS},
            "log_config": _LOG_CONFIG,
            **limits,
            **posture,
        }
        container, host_port = self._create_and_start(
            client, image, name, bind, request.port, create, hand_over, secrets, progress
        )
        endpoint_host = "127.0.0.1" if bind in ("0.0.0.0", "127.0.0.1") else bind
        endpoint_host = f"[{endpoint_host}]" if ":" in endpoint_host else endpoint_host
        handle = {
            "container_id": container.id,
            "name": name,
            "port": host_port,
            "host": bind,
            "endpoint": f"http://{endpoint_host}:{host_port}",
            "image": image,
        }
        progress(
            "started",
            f"container {name} is up, published on {bind}:{host_port} ({reach_of(bind)}), "
            "waiting for it",
            **handle,
        )
        return handle

    def _create_and_start(
        self,
        client: docker.DockerClient,
        image: str,
        name: str,
        bind: str,
        port: int,
        create: dict[str, Any],
        hand_over: bytes | None,
        secrets: list[str],
        progress: Progress,
    ) -> tuple[Container, int]:
        """Create the container publishing ``port`` on ``bind`` (another free port when it
        is taken, also when someone takes it between the check and the start), hand it its
        env file, start it; returns it and the host port."""
        container_port = f"{port}/tcp"
        wanted: int | None = port
        for _ in range(_PORT_TRIES):
            host_port = wanted if wanted is not None and port_free(bind, wanted) else None
            if host_port is None:
                host_port = free_port(bind)
            if host_port != port:
                progress(
                    "port",
                    f"port {port} is taken on {bind}; publishing on {host_port}",
                    port=host_port,
                )
            progress("start", f"starting container {name} from {image}", name=name)
            container = self._call(
                lambda host_port=host_port: client.containers.create(  # type: ignore[misc]
                    image,
                    name=name,
                    detach=True,
                    ports={container_port: (bind, host_port)},
                    **create,
                ),
                secrets=secrets,
            )
            try:
                if hand_over is not None:
                    container.put_archive(ENV_DIR, hand_over)
                container.start()
            except Exception as exc:
                discard(container)
                text = str(exc).lower()
                if is_api_error(exc) and any(s in text for s in _PORT_TAKEN):
                    wanted = None  # someone took it between the check and the start
                    continue
                raise self._translate(exc, secrets=secrets) from None
            return container, host_port
        raise DeployFailed(
            f"no free host port to publish {container_port} of {name} on {bind}",
            hint="free a port or stop other deployments",
        )

    def wait_ready(self, handle: Mapping[str, Any], timeout: float, progress: Progress) -> None:
        """Poll the container's state, its health (when the image has a HEALTHCHECK) and
        ``GET /ready`` until all say ready; a runtime that exits or is restarted fails at
        once, a timeout fails with what was last seen.

        Docker runs an image's first health check only one ``--interval`` after the start
        (engines before 25 have no ``--start-interval``), so waiting for its ``healthy``
        would make every deploy last at least that long. Once ``/ready`` answers 200 while
        Docker still says ``starting``, the gate runs the image's own health command in the
        container, as Docker would, and accepts its success; ``unhealthy`` never passes.
        """
        client = self._engine()
        name = str(handle.get("name") or handle["container_id"])
        ready_url = f"{handle['endpoint']}/ready"
        deadline = time.monotonic() + timeout
        delay = _POLL_FIRST
        seen = "not started"
        checked = ""  # the last verdict of the image's health command, run by the gate
        progress("health", f"waiting up to {timeout:g}s for {name} to be ready", name=name)
        with httpx.Client(timeout=1.0) as http:
            while True:
                container = self._get(client, handle)
                if container is None:
                    raise HealthGateFailed(
                        f"container {name} is gone", hint="it was removed while starting"
                    )
                state = container.attrs.get("State") or {}
                status = state.get("Status", "unknown")
                if status in ("exited", "dead", "restarting") or container.attrs.get(
                    "RestartCount", 0
                ):
                    code = state.get("ExitCode")
                    raise HealthGateFailed(
                        f"container {name} exited with code {code} while starting",
                        hint="its last log lines say why (a missing variable, a crash)",
                        log_tail=self._tail(container),
                    )
                health = (state.get("Health") or {}).get("Status")
                ready = False
                if status == "running":
                    try:
                        answer = http.get(ready_url)
                        ready = answer.status_code == 200
                        seen = f"/ready answered {answer.status_code}"
                    except httpx.HTTPError as exc:
                        seen = f"/ready unreachable ({type(exc).__name__})"
                if ready and health == "starting":
                    probe = self._probe(client, container, deadline)
                    if probe == "":
                        health = "healthy"
                    elif probe is not None:
                        checked = f"; the health check {probe}"
                    seen += checked
                if ready and health in (None, "healthy"):
                    progress(
                        "ready", f"{name} is ready", name=name, health_checked=health is not None
                    )
                    return
                if time.monotonic() >= deadline:
                    raise HealthGateFailed(
                        f"container {name} was not ready within {timeout:g}s "
                        f"(state {status}, health {health or 'none'}, {seen})",
                        hint="raise the timeout, or read its log lines for what it waits on",
                        log_tail=self._tail(container),
                    )
                time.sleep(min(delay, max(0.0, deadline - time.monotonic())))
                delay = min(delay * 2, _POLL_MAX)

    def stop(self, handle: Mapping[str, Any], timeout: float) -> None:
        """SIGTERM (the image's stop signal), SIGKILL after ``timeout``, then remove the
        container; a container that is already gone is fine."""
        client = self._engine()
        container = self._get(client, handle)
        if container is None:
            return
        seconds = max(0, math.ceil(timeout))
        try:
            container.stop(timeout=seconds)
            container.remove(force=True, v=True)  # and its volumes: env file, state
        except Exception as exc:
            if is_not_found(exc) or "removal of container" in str(exc):
                return
            raise self._translate(exc) from None

    def status(self, handle: Mapping[str, Any]) -> Mapping[str, Any]:
        """The live state read from Docker; ``"missing"`` when the container is gone.

        Beyond the protocol's keys: ``health`` (Docker's own word, or None without a
        HEALTHCHECK), ``exit_code`` and ``container`` (Docker's state name)."""
        container = self._get(self._engine(), handle)
        if container is None:
            return {
                "state": "missing",
                "healthy": None,
                "restarts": 0,
                "started_at": None,
                "health": None,
                "exit_code": None,
                "container": "missing",
            }
        attrs = container.attrs
        state = attrs.get("State") or {}
        health = (state.get("Health") or {}).get("Status")
        return {
            "state": container_state(state, health),
            # Docker's "starting" is no verdict yet: unknown, like an image without a check.
            "healthy": {"healthy": True, "unhealthy": False}.get(health or ""),
            "health": health,
            "restarts": int(attrs.get("RestartCount") or 0),
            "started_at": docker_time(state.get("StartedAt")),
            "exit_code": state.get("ExitCode"),
            "container": str(state.get("Status", "unknown")),
        }

    def logs(self, handle: Mapping[str, Any], tail: int | None, follow: bool) -> FollowedLog:
        """The container's output (stdout and stderr), one line at a time; stopping it
        (:meth:`FollowedLog.stop`) closes the engine's stream, which ends a read waiting
        for the next line."""
        container = self._get(self._engine(), handle)
        if container is None:
            raise NotFound(f"container {handle.get('name') or handle.get('container_id')} is gone")
        stream = self._call(
            lambda: container.logs(stream=True, follow=follow, tail="all" if tail is None else tail)
        )
        lines = FollowedLog(lambda _: stream_lines(stream))
        lines.on_stop(stream.close)
        return lines

    # -- helpers --------------------------------------------------------------------------

    def _engine(self) -> docker.DockerClient:
        if self._client is None:
            self._client = open_client()
        return self._client

    def _get(self, client: docker.DockerClient, handle: Mapping[str, Any]) -> Container | None:
        ref = handle.get("container_id") or handle.get("name")
        if not ref and handle.get("deployment_id"):  # a start interrupted before its handle
            ref = container_name(
                str(handle["agent"]), int(handle["deployment_id"]), handle.get("instance")
            )
        if not ref:
            return None
        try:
            return client.containers.get(str(ref))
        except Exception as exc:
            if is_not_found(exc):
                return None
            raise self._translate(exc) from None

    def _remove_leftover(
        self, client: docker.DockerClient, name: str, request: StartRequest
    ) -> None:
        """Remove a container of this very deployment left by an earlier, interrupted start
        (the registry may hand out the same deployment id again); refuse any other one."""
        try:
            found = client.containers.get(name)
        except Exception as exc:
            if is_not_found(exc):
                return
            raise self._translate(exc) from None
        labels = (found.attrs.get("Config") or {}).get("Labels") or {}
        ours = labels.get(LABEL_PREFIX + "agent") == request.agent and labels.get(
            LABEL_PREFIX + "deployment"
        ) == str(request.deployment_id)
        if not ours:
            raise DeployFailed(
                f"a container named {name} exists and is not this deployment's",
                hint=f"remove it (docker rm -f {name}) or use another AgentDock home",
            )
        try:
            found.remove(force=True, v=True)
        except Exception as exc:
            if not is_not_found(exc):
                raise self._translate(exc) from None

    def _probe(
        self, client: docker.DockerClient, container: Container, deadline: float
    ) -> str | None:
        """Run the container's HEALTHCHECK command once: ``""`` when it passed, why not when
        it failed, None when the gate's deadline cut it short (no verdict).

        The exec runs detached and is polled, so a hanging check cannot hold the gate past
        its own timeout or the gate's deadline."""
        check = (container.attrs.get("Config") or {}).get("Healthcheck") or {}
        test = list(check.get("Test") or ())
        if not test or test[0] == "NONE":
            return ""
        cmd = test[1:] if test[0] == "CMD" else ["/bin/sh", "-c", " ".join(test[1:])]
        limit = time.monotonic() + (check.get("Timeout") or 30 * _NANO_PER_S) / _NANO_PER_S
        try:
            exec_id = client.api.exec_create(container.id, cmd, stdout=False, stderr=False)
            client.api.exec_start(exec_id, detach=True)
            while True:
                info = client.api.exec_inspect(exec_id)
                if not info.get("Running"):
                    code = info.get("ExitCode")
                    return "" if code == 0 else f"exited with {code}"
                now = time.monotonic()
                if now >= limit:
                    return "timed out"
                if now >= deadline:
                    return None
                time.sleep(_POLL_FIRST)
        except Exception as exc:
            if is_api_error(exc):
                return f"could not run ({type(exc).__name__})"
            raise self._translate(exc) from None

    def _tail(self, container: Container) -> list[str]:
        """The last log lines, with every run-time variable's value masked: a runtime that
        prints a secret must not carry it into an error, the registry or a terminal."""
        try:
            raw: bytes = container.logs(tail=LOG_TAIL)
        except Exception:
            return []
        text = scrub(raw.decode("utf-8", errors="replace"), self._run_time_values(container))
        return text.splitlines()[-LOG_TAIL:]

    def _run_time_values(self, container: Container) -> list[str]:
        """Values of the variables given at ``start`` (its env file's, and the container's
        environment less the image's own, such as ``PATH``), longest first so a value inside
        another is masked."""
        given = set(((container.attrs.get("Config") or {}).get("Env")) or ())
        try:
            image_env = (container.image.attrs.get("Config") or {}).get("Env") or ()
        except Exception:
            image_env = ()
        values = {
            value
            for name, _, value in (item.partition("=") for item in given.difference(image_env))
            if name != SECRET_NAMES_ENV  # names, not values
        }
        if f"{ENV_FILE_ENV}={ENV_FILE}" in given:
            values.update(written_values(container))
        return sorted((v for v in values if len(v) >= MIN_SECRET_LENGTH), key=len, reverse=True)

    def _call(
        self,
        fn: Callable[[], _T],
        *,
        missing: str | None = None,
        secrets: list[str] | None = None,
    ) -> _T:
        try:
            return fn()
        except Exception as exc:
            if missing is not None and is_not_found(exc):
                raise DeployFailed(
                    f"{missing} is not on the Docker engine at {engine_address()}",
                    hint="build it again (agentdock deploy --target docker)",
                ) from None
            raise self._translate(exc, secrets=secrets) from None

    def _translate(self, exc: Exception, *, secrets: list[str] | None = None) -> Exception:
        """An engine exception as a deployment error value; secrets never pass through."""
        import docker.errors
        import requests

        if isinstance(exc, requests.exceptions.ConnectionError):
            self._client = None
            return TargetUnavailable(
                f"lost the Docker engine at {engine_address()}",
                hint="start the Docker engine (`dockerd &`) and run the command again",
            )
        if isinstance(exc, docker.errors.APIError):
            text = exc.explanation or str(exc)
            if isinstance(text, bytes):
                text = text.decode("utf-8", errors="replace")
            return DeployFailed(f"the Docker engine refused: {scrub(str(text), secrets)}")
        if isinstance(exc, docker.errors.DockerException | requests.exceptions.RequestException):
            return DeployFailed(f"the Docker engine failed: {scrub(str(exc), secrets)}")
        return exc
