"""An ``api_key`` agent's pod, run the way Kubernetes would run it, accepts the keys of its
registry.

No cluster is reachable where AgentDock is tested, so the rendered Deployment's container is
run with ``docker run`` instead, everything taken from the manifest: the image (built by the
docker builder from the test base image), its environment with each ``secretKeyRef``
resolved from a stand-in for the ``<agent>-env`` Secret (the registry URL: a throwaway
Postgres), the securityContext (user, read-only root, capabilities, privilege escalation),
the ConfigMap's snapshot mounted read-only where the manifest says, and an empty directory
(mode 0777, as the kubelet makes one) for each ``emptyDir``. The container shares the
host's network, standing in for the pod's own, to reach Postgres on 127.0.0.1, so it listens
on 127.0.0.1 and a free port instead of the manifest's ``0.0.0.0:8080``. A key made with
``agentdock key create`` against that Postgres then gets 200, any other key 401.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from agentdock_plugins.docker.builder import DockerBuilder
from agentdock_plugins.kubernetes.image import resolve
from agentdock_plugins.kubernetes.manifests import IMAGE_ID_ANNOTATION, render
from build_requests import build_request
from dockerbase import docker_client, ensure_base_image

pytest_plugins = ("pgserver",)
pytestmark = pytest.mark.slow

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "echo"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _as_docker_run(
    manifests: list[dict[str, Any]], secret: Mapping[str, str], files: Path
) -> dict[str, Any]:
    """``containers.run`` keyword arguments for the Deployment's one container, as the
    kubelet would start it (see the module docstring)."""
    objs = {m["kind"]: m for m in manifests}
    pod = objs["Deployment"]["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    env: dict[str, str] = {}
    for item in container["env"]:
        if "value" in item:
            assert "$(" not in item["value"]  # no dependent variable in this agent
            env[item["name"]] = item["value"]
            continue
        ref = item["valueFrom"]["secretKeyRef"]
        assert ref["name"] == "echo-env"
        if ref["key"] in secret:
            env[item["name"]] = secret[ref["key"]]
        else:  # the kubelet refuses to start it: CreateContainerConfigError
            assert ref.get("optional"), f"the Secret lacks {ref['key']}"
    security = container["securityContext"]
    assert security["runAsNonRoot"] and security["runAsUser"] != 0
    assert security["seccompProfile"] == {"type": "RuntimeDefault"}  # Docker's default one
    volumes = {v["name"]: v for v in pod["volumes"]}
    binds: dict[str, dict[str, str]] = {}
    for mount in container["volumeMounts"]:
        volume = volumes[mount["name"]]
        if "emptyDir" in volume:
            # A kubelet's emptyDir is an empty 0777 directory of the node. (A tmpfs would take
            # the image directory's mode, 0750, but not its owner: unlike a pod.)
            empty = files / f"emptydir-{mount['name']}"
            empty.mkdir()
            empty.chmod(0o777)
            binds[str(empty)] = {"bind": mount["mountPath"], "mode": "rw"}
        else:
            data = objs["ConfigMap"]["data"]
            assert volume["configMap"]["name"] == objs["ConfigMap"]["metadata"]["name"]
            file = files / mount["subPath"]
            file.write_text(data[mount["subPath"]], encoding="utf-8")
            file.chmod(0o644)
            binds[str(file)] = {"bind": mount["mountPath"], "mode": "ro"}
    return {
        "image": container["image"],
        "environment": env,
        "user": f"{security['runAsUser']}:{security['runAsGroup']}",
        "group_add": [str(pod["securityContext"]["fsGroup"])],
        "read_only": security["readOnlyRootFilesystem"],
        "cap_drop": security["capabilities"]["drop"],
        "security_opt": [] if security["allowPrivilegeEscalation"] else ["no-new-privileges"],
        "privileged": security["privileged"],
        "volumes": binds,
    }


@pytest.fixture(scope="module")
def image(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """The echo example's image, built as a deploy builds it."""
    client = docker_client()
    base = ensure_base_image(client)
    project = tmp_path_factory.mktemp("pod") / "echo"
    shutil.copytree(EXAMPLE, project, ignore=shutil.ignore_patterns("__pycache__"))
    request = build_request(project, project / ".agentdock", options={"base_image": base})
    yield request, DockerBuilder().build(request, lambda *a, **k: None)
    client.close()


def _cli(*args: str, env: Mapping[str, str]) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-m", "agentdock_cli", *args, "--json"],
        capture_output=True,
        text=True,
        timeout=120,
        env=dict(env),
    )
    assert done.returncode == 0, done.stderr
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def test_an_api_key_pod_serves_the_keys_of_its_registry(
    image: Any, pg_url: str, tmp_path: Path
) -> None:
    request, artifact = image
    # The image by digest when the engine has one; a local build has none: its tag and id.
    pinned = resolve(artifact)
    assert pinned.reference == artifact.ref and pinned.image_id == artifact.details["image_id"]
    manifests = render(
        request.spec,
        snapshot=request.snapshot,
        image=pinned.reference,
        version=request.version,
        image_id=pinned.image_id,
    )
    template = next(m for m in manifests if m["kind"] == "Deployment")["spec"]["template"]
    assert template["metadata"]["annotations"][IMAGE_ID_ANNOTATION] == artifact.details["image_id"]
    assert yaml.safe_load(manifests[0]["data"]["spec.yaml"])["auth"]["mode"] == "api_key"

    secret = {"AGENTDOCK_DATABASE_URL": pg_url}
    run = _as_docker_run(manifests, secret, tmp_path)
    port = _free_port()
    run["environment"].update(AGENTDOCK_HOST="127.0.0.1", AGENTDOCK_PORT=str(port))
    client = docker_client()
    container = client.containers.run(detach=True, network_mode="host", **run)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        ready = None
        while time.monotonic() < deadline:
            container.reload()
            assert container.status in ("created", "running"), container.logs().decode()[-2000:]
            with contextlib.suppress(httpx.TransportError):
                ready = httpx.get(f"{base}/ready", timeout=2)
                if ready.status_code == 200:
                    break
            time.sleep(0.3)
        assert ready is not None and ready.status_code == 200, container.logs().decode()[-2000:]

        # The key is made where the deploy and `agentdock key` make it: the shared registry.
        cli_env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("AGENTDOCK_")},
            "AGENTDOCK_DATABASE_URL": pg_url,
        }
        created = _cli(
            "key",
            "create",
            "--agent",
            "echo",
            "--role",
            "developer",
            "--not-deployed",
            env=cli_env,
        )
        key = created["key"]
        invoke = httpx.post(
            f"{base}/invoke", json={"text": "pod"}, headers={"x-api-key": key}, timeout=30
        )
        assert invoke.status_code == 200, invoke.text
        assert invoke.json() == {"text": "POD"}
        wrong = httpx.post(
            f"{base}/invoke",
            json={"text": "pod"},
            headers={"x-api-key": key[:-4] + ("aaaa" if not key.endswith("aaaa") else "bbbb")},
            timeout=30,
        )
        assert wrong.status_code == 401, wrong.text
        # Its local telemetry store is in the emptyDir, where the runtime may write.
        listed = container.exec_run(["ls", "/var/lib/agentdock/telemetry"])
        assert listed.exit_code == 0 and b"telemetry.db" in listed.output, listed.output
        # The registry's password never reaches the pod's log lines.
        password = pg_url.split(":")[2].split("@")[0]
        assert password not in container.logs().decode()
    finally:
        container.remove(force=True, v=True)
        client.close()


def test_resolve_without_an_engine_names_the_image_by_tag(
    image: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """A deploy from a machine whose engine is gone still renders: the tag and the id the
    build recorded, with a note saying why."""
    _, artifact = image
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/none.sock")
    pinned = resolve(artifact)
    assert (pinned.reference, pinned.image_id) == (artifact.ref, artifact.details["image_id"])
    assert pinned.note is not None and "by tag" in pinned.note
