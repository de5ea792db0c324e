"""A stand-in Kubernetes API server for the kubernetes target's tests, and what they deploy
with it: a kubeconfig pointing at it, an image builder that only names images, and the echo
example set to read a shared registry. The fixtures (``cluster``, ``kubeconfig``) are in
``kube_fixtures``: ``pytest_plugins = ("kube_fixtures",)``.

The server answers the calls the target makes (server-side apply PATCHes, GETs of the
Deployment and its status, pod lists and logs, DELETEs) the way the API server does for
these objects; the rollout status it reports is scripted per test (``FakeCluster.rollout``).
A followed pod log (``follow=true``) stays open, as the API server keeps it, until the
client closes it or the server stops; ``FakeCluster.follows_closed`` counts the ones the
client closed.
"""

from __future__ import annotations

import contextlib
import json
import re
import shutil
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import parse_qs, urlsplit

import pytest
import yaml
from agentdock import hookimpl
from agentdock.deployment import Artifact

__all__ = [
    "DB_PASSWORD",
    "ECHO",
    "PLANTED",
    "SHARED",
    "TOKEN",
    "FakeCluster",
    "ImageBuilder",
    "ImagePlugin",
    "echo_project",
    "kubeconfig_file",
    "standin_server",
]

ECHO = Path(__file__).resolve().parents[1] / "examples" / "echo"
PLANTED = "planted-secret-value-5b1e9c0d7a"
TOKEN = "planted-bearer-token-0c4f2e"
DB_PASSWORD = "planted-db-password-7c1d0e"
#: A shared registry: the echo agent checks API keys, which its pods read from there.
SHARED = {"AGENTDOCK_DATABASE_URL": f"postgresql://agentdock:{DB_PASSWORD}@db.example/agentdock"}

_PATH = re.compile(
    r"^/(?:api/v1|apis/(?P<group>[a-z0-9.]+/v[0-9a-z]+))/namespaces/(?P<ns>[^/]+)/"
    r"(?P<plural>[a-z]+)(?:/(?P<name>[^/]+))?(?:/(?P<sub>log|status))?$"
)


class FakeCluster:
    """What the stand-in API server knows: objects by (plural, namespace, name), every request,
    and how the Deployment's rollout goes (``complete``, ``stuck``, ``config-error``)."""

    def __init__(self) -> None:
        self.objects: dict[tuple[str, str, str], dict[str, Any]] = {}
        self.requests: list[dict[str, Any]] = []
        self.rollout = "complete"
        self.reads = 0
        #: Followed pod logs whose client closed them.
        self.follows_closed = 0
        #: Deployments whose new spec the "controller" has not observed yet.
        self.unseen: set[tuple[str, str, str]] = set()
        self.lock = threading.Lock()

    def deployment(self, ns: str = "agents", name: str = "echo") -> dict[str, Any] | None:
        return self.objects.get(("deployments", ns, name))

    def kinds(self) -> set[str]:
        return {obj["kind"] for obj in self.objects.values()}


def _now() -> str:
    return datetime.now(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def _handler(cluster: FakeCluster) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: Any) -> None:
            pass

        def _send(self, code: int, body: Any, content_type: str = "application/json") -> None:
            data = body if isinstance(body, bytes) else json.dumps(body).encode()
            self.send_response(code)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _missing(self, what: str) -> None:
            self._send(
                404,
                {
                    "kind": "Status",
                    "apiVersion": "v1",
                    "status": "Failure",
                    "reason": "NotFound",
                    "code": 404,
                    "message": f"{what} not found",
                },
            )

        def _route(self) -> tuple[Any, dict[str, list[str]], bytes]:
            url = urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            query = parse_qs(url.query)
            with cluster.lock:
                cluster.requests.append(
                    {
                        "method": self.command,
                        "path": url.path,
                        "query": query,
                        "content_type": self.headers.get("Content-Type"),
                        "authorization": self.headers.get("Authorization"),
                        "body": body.decode("utf-8", errors="replace"),
                    }
                )
            return _PATH.match(url.path), query, body

        def do_PATCH(self) -> None:
            match, _, body = self._route()
            if match is None or match["name"] is None:
                return self._missing(self.path)
            if self.headers.get("Content-Type") != "application/apply-patch+yaml":
                return self._send(415, {"kind": "Status", "code": 415, "message": "apply only"})
            obj = yaml.safe_load(body)
            key = (match["plural"], match["ns"], match["name"])
            with cluster.lock:
                old = cluster.objects.get(key)
                meta = obj.setdefault("metadata", {})
                meta.setdefault("namespace", match["ns"])
                meta["creationTimestamp"] = (
                    (old or {}).get("metadata", {}).get("creationTimestamp", _now())
                )
                generation = int((old or {}).get("metadata", {}).get("generation", 0))
                if old is None or old.get("spec") != obj.get("spec"):
                    generation += 1
                    cluster.unseen.add(key)
                meta["generation"] = generation
                obj["status"] = (old or {}).get("status", {})
                cluster.objects[key] = obj
            self._send(201 if old is None else 200, obj)

        def do_GET(self) -> None:
            match, query, _ = self._route()
            if match is None:
                return self._missing(self.path)
            plural, ns, name = match["plural"], match["ns"], match["name"]
            if plural == "pods" and name is None:
                return self._send(200, {"kind": "PodList", "items": self._pods(ns, query)})
            if plural == "pods" and match["sub"] == "log":
                text = (
                    "starting the runtime\n"
                    f"[FATAL] the runtime printed {PLANTED} by mistake\n"
                    "waiting for /ready\n"
                )
                if query.get("follow") == ["true"]:
                    return self._follow(text.encode())
                return self._send(200, text.encode(), "text/plain")
            with cluster.lock:
                obj = cluster.objects.get((plural, ns, name or ""))
                if obj is not None and plural == "deployments":
                    cluster.reads += 1
                    obj["status"] = self._status(obj, (plural, ns, name or ""))
            if obj is None:
                return self._missing(f"{plural} {name}")
            self._send(200, obj)

        def _follow(self, data: bytes) -> None:
            """A followed log: the lines so far, then nothing more until the client closes
            the connection (it sends nothing: a read returns once it is closed)."""
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
            self.wfile.flush()
            with contextlib.suppress(OSError):
                while self.connection.recv(4096):
                    pass
            with cluster.lock:
                cluster.follows_closed += 1
            self.close_connection = True

        def do_DELETE(self) -> None:
            match, _, _ = self._route()
            key = (match["plural"], match["ns"], match["name"]) if match else None
            with cluster.lock:
                obj = cluster.objects.pop(key, None) if key else None
            if obj is None:
                return self._missing(self.path)
            self._send(200, {"kind": "Status", "apiVersion": "v1", "status": "Success"})

        def _status(self, obj: dict[str, Any], key: tuple[str, str, str]) -> dict[str, Any]:
            generation = obj["metadata"]["generation"]
            want = int(obj["spec"].get("replicas", 1))
            if cluster.rollout == "complete":
                if key in cluster.unseen:  # the controller sees the new spec on the next read
                    cluster.unseen.discard(key)
                    return {"observedGeneration": generation - 1, "replicas": want}
                return {
                    "observedGeneration": generation,
                    "replicas": want,
                    "updatedReplicas": want,
                    "readyReplicas": want,
                    "availableReplicas": want,
                }
            return {
                "observedGeneration": generation,
                "replicas": want + 1,
                "updatedReplicas": 1,
                "availableReplicas": want,
            }

        def _pods(self, ns: str, query: dict[str, list[str]]) -> list[dict[str, Any]]:
            wanted = dict(
                item.split("=", 1) for item in (query.get("labelSelector") or [""])[0].split(",")
            )
            pods = []
            with cluster.lock:
                deployments = [
                    o for (p, n, _), o in cluster.objects.items() if p == "deployments" and n == ns
                ]
            for dep in deployments:
                labels = dep["spec"]["template"]["metadata"]["labels"]
                if any(labels.get(k) != v for k, v in wanted.items()):
                    continue
                state: dict[str, Any] = {"running": {"startedAt": _now()}}
                if cluster.rollout == "config-error":
                    state = {
                        "waiting": {
                            "reason": "CreateContainerConfigError",
                            "message": f'secret "{dep["metadata"]["name"]}-env" not found',
                        }
                    }
                pods.append(
                    {
                        "metadata": {
                            "name": f"{dep['metadata']['name']}-7d9f-x1",
                            "labels": labels,
                            "creationTimestamp": _now(),
                        },
                        "status": {
                            "containerStatuses": [
                                {
                                    "name": "agent",
                                    "ready": cluster.rollout == "complete",
                                    "restartCount": 1 if cluster.rollout == "stuck" else 0,
                                    "state": state,
                                }
                            ]
                        },
                    }
                )
            return pods

    return Handler


@contextlib.contextmanager
def standin_server() -> Iterator[tuple[FakeCluster, str]]:
    """The stand-in API server until the block ends: its state and its address."""
    state = FakeCluster()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    server.block_on_close = False  # a followed log left open must not hold the teardown
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def kubeconfig_file(path: Path, server: str, namespace: str = "agents") -> Path:
    path.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "stand-in", "cluster": {"server": server}}],
                "users": [{"name": "deployer", "user": {"token": TOKEN}}],
                "contexts": [
                    {
                        "name": "stand-in",
                        "context": {
                            "cluster": "stand-in",
                            "user": "deployer",
                            "namespace": namespace,
                        },
                    }
                ],
                "current-context": "stand-in",
            }
        )
    )
    return path


class ImageBuilder:
    """Stands in for the docker builder: the kubernetes target only needs an image ref."""

    built: ClassVar[list[str]] = []

    def build(self, request: Any, progress: Any) -> Artifact:
        self.built.append(request.version)
        return Artifact("docker", f"registry.example/{request.dns_name}:{request.version}", "d")

    def exists(self, artifact: Artifact) -> bool:
        return True

    def remove(self, artifact: Artifact) -> None:
        pass


class ImagePlugin:
    @hookimpl
    def agentdock_register_builders(self, register: Any) -> None:
        register("docker", ImageBuilder)


def echo_project(dest: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The echo agent copied to ``dest``, with the shared registry's URL in the .env its
    Secret is made from (this process's own registry stays the embedded one of the home
    ``AGENTDOCK_HOME`` names, under ``dest``'s parent)."""
    monkeypatch.setenv("AGENTDOCK_HOME", str(dest.parent / "home"))
    monkeypatch.delenv("AGENTDOCK_DATABASE_URL", raising=False)
    shutil.copytree(ECHO, dest, ignore=shutil.ignore_patterns("__pycache__"))
    (dest / ".env").write_text("".join(f"{k}={v}\n" for k, v in SHARED.items()))
    return dest
