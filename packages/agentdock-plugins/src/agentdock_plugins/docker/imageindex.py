"""One name for an image built for several platforms: a manifest list in the registry.

Docker 20.10 without buildx builds one platform at a time and keeps one platform per tag,
so a multi-platform image is assembled where it lives: each platform's image is pushed
(:mod:`.push`), then a manifest list (``application/vnd.docker.distribution.manifest.list.v2+json``,
the Docker form of an OCI image index) naming each by digest, size and platform is put
under the version's tag through the registry's HTTP API. A node pulls the tag (or the
list's digest) and gets the image of its own platform.

The registry speaks HTTPS, except a registry on the loopback (``localhost``,
``127.0.0.0/8``, ``::1``), which Docker reaches over HTTP too. Credentials are those of the
push (basic auth, or a bearer token the registry's realm issues for them).
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

import httpx
from agentdock.deployment.errors import BuildFailed, TargetUnavailable

__all__ = ["MANIFEST_LIST", "push_manifest_list", "registry_base_url"]

MANIFEST_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
_ACCEPT = ", ".join(
    (
        "application/vnd.docker.distribution.manifest.v2+json",
        "application/vnd.oci.image.manifest.v1+json",
    )
)
_CHALLENGE = re.compile(r'(\w+)="([^"]*)"')


def registry_base_url(registry: str) -> str:
    """``http(s)://host[:port]`` of ``registry`` (``host[:port][/path]``)."""
    host = registry.split("/", 1)[0]
    name = host.rsplit(":", 1)[0].strip("[]") if host.count(":") <= 1 else host.strip("[]")
    loopback = name == "localhost"
    if not loopback:
        try:
            loopback = ipaddress.ip_address(name).is_loopback
        except ValueError:
            loopback = False
    return f"{'http' if loopback else 'https'}://{host}"


class _Session:
    """Registry requests with the auth challenge answered once (basic or bearer)."""

    def __init__(self, registry: str, repository: str, auth: Mapping[str, str] | None) -> None:
        self.base = registry_base_url(registry)
        self.repository = repository
        self.auth = auth
        self.header: dict[str, str] = {}
        self.client = httpx.Client(timeout=30)

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        url = f"{self.base}/v2/{self.repository}/{path}"
        headers = {**kwargs.pop("headers", {}), **self.header}
        answer = self.client.request(method, url, headers=headers, **kwargs)
        if answer.status_code == 401 and not self.header:
            self.header = self._authorize(answer.headers.get("www-authenticate", ""))
            if self.header:
                headers.update(self.header)
                answer = self.client.request(method, url, headers=headers, **kwargs)
        return answer

    def _authorize(self, challenge: str) -> dict[str, str]:
        basic = (
            httpx.BasicAuth(self.auth["username"], self.auth["password"])
            if self.auth and self.auth.get("username")
            else None
        )
        scheme = challenge.split(" ", 1)[0].lower()
        if scheme == "basic" and basic is not None:
            request = self.client.build_request("GET", self.base)
            return {"Authorization": next(basic.auth_flow(request)).headers["Authorization"]}
        if scheme == "bearer":
            fields = dict(_CHALLENGE.findall(challenge))
            params = {"service": fields.get("service", "")}
            params["scope"] = f"repository:{self.repository}:pull,push"
            answer = self.client.get(fields.get("realm", ""), params=params, auth=basic)
            if answer.status_code == 200:
                body = answer.json()
                token = body.get("token") or body.get("access_token")
                if token:
                    return {"Authorization": f"Bearer {token}"}
        return {}


def push_manifest_list(
    registry: str,
    repository: str,
    tag: str,
    images: Sequence[tuple[str, str]],
    *,
    auth: Mapping[str, str] | None = None,
) -> str:
    """Put a manifest list of ``images`` (``(platform, digest)``, each already pushed to
    ``registry/repository``) under ``tag``; returns the list's digest.

    :raises BuildFailed: the registry refused (the reason, never a credential).
    :raises TargetUnavailable: the registry does not answer.
    """
    session = _Session(registry, repository, auth)
    try:
        entries = []
        for platform, digest in images:
            answer = session.request("GET", f"manifests/{digest}", headers={"Accept": _ACCEPT})
            _check(answer, registry, f"reading {repository}@{digest}")
            os_name, _, rest = platform.partition("/")
            arch, _, variant = rest.partition("/")
            entry: dict[str, Any] = {
                "mediaType": answer.headers.get("content-type", "").split(";")[0],
                "size": len(answer.content),
                "digest": digest,
                "platform": {"architecture": arch, "os": os_name},
            }
            if variant:
                entry["platform"]["variant"] = variant
            entries.append(entry)
        body = json.dumps(
            {"schemaVersion": 2, "mediaType": MANIFEST_LIST, "manifests": entries}
        ).encode()
        answer = session.request(
            "PUT", f"manifests/{tag}", content=body, headers={"Content-Type": MANIFEST_LIST}
        )
        _check(answer, registry, f"putting the manifest list {repository}:{tag}")
    except httpx.TransportError as exc:
        raise TargetUnavailable(
            f"the registry {registry} does not answer: {type(exc).__name__}",
            hint=f"check that {registry} is up and reachable",
        ) from None
    finally:
        session.client.close()
    return str(answer.headers.get("docker-content-digest") or "")


def _check(answer: httpx.Response, registry: str, what: str) -> None:
    if answer.status_code < 300:
        return
    try:
        errors = answer.json().get("errors") or []
        reason = "; ".join(str(e.get("message") or e.get("code")) for e in errors)
    except ValueError:
        reason = ""
    raise BuildFailed(
        f"the registry {registry} refused {what}: {answer.status_code} {reason}".rstrip(),
        hint="check the registry's credentials (AGENTDOCK_REGISTRY_* or docker login)",
    )
