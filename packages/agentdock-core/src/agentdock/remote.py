"""A remote control plane: deploy, roll back, stop and read agents through its API.

``agentdock --server URL`` (or ``AGENTDOCK_SERVER``) and :func:`agentdock.control_plane` talk to
an ``agentdock controlplane`` instead of this machine's registry, so a team shares one. The
credentials are a platform key (``AGENTDOCK_SERVER_KEY``, never a command-line argument, so
it stays out of shell history and process lists).

A deploy packs the Dockfile's project directory (:func:`pack_project`) and uploads it; the
control plane unpacks it under its project directory and deploys it as its own. What the
project's ``.env`` files hold is not sent: the control plane's environment gives the
runtime its variables, as for any deploy it runs. Long operations are followed until they
end, their steps handed to ``progress`` as a local deploy reports them; a failure raises
the :class:`~agentdock.deployment.DeployError` the control plane reported, with its exit
code. A followed log (:meth:`RemoteControlPlane.follow_logs`) is read from the control
plane's Server-Sent Events as they come.
"""

from __future__ import annotations

import io
import os
import tarfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NamedTuple, TypedDict

from agentdock.deployment.artifacts import Progress, no_progress
from agentdock.deployment.errors import (
    DeployError,
    DeployFailed,
    InvalidDeployInput,
    NotFound,
)
from agentdock.deployment.inputs import find_dockfile

__all__ = [
    "KEY_ENV",
    "MAX_ARCHIVE_BYTES",
    "MAX_AUDIT_ENTRIES",
    "MAX_LOG_LINES",
    "SERVER_ENV",
    "BuildResult",
    "LogLines",
    "RemoteControlPlane",
    "control_plane",
    "pack_project",
]

SERVER_ENV = "AGENTDOCK_SERVER"
KEY_ENV = "AGENTDOCK_SERVER_KEY"
#: The largest project archive a control plane takes (compressed).
MAX_ARCHIVE_BYTES = 50 * 1024 * 1024
#: What a project archive leaves out: tools' state, caches, and files of secrets.
SKIPPED_DIRS = frozenset(
    {
        ".git",
        ".hg",
        ".venv",
        "venv",
        ".agentdock",
        "__pycache__",
        "node_modules",
        ".mypy_cache",
        ".pytest_cache",
        ".ruff_cache",
        ".tox",
    }
)
#: The most log lines one read of a runtime's log answers with (the API's bound).
MAX_LOG_LINES = 10_000
#: The most audit entries one ``GET /audit`` answers with.
MAX_AUDIT_ENTRIES = 1000
#: Seconds between two readings of an operation's progress.
POLL_S = 0.25
#: Seconds a followed log may stay silent before the connection counts as lost (the
#: control plane sends a comment every 15 s while idle).
FOLLOW_SILENCE_S = 60.0


class BuildResult(TypedDict):
    """What a build through a control plane made (``agentdock build --json``'s result)."""

    agent: str
    version: str
    target: str
    builder: str
    new_version: bool
    cached: bool
    artifact: dict[str, Any]


def _asked(tail: int | None) -> int:
    """The ``tail`` a control plane is asked for: the whole log (up to its bound) for None."""
    return MAX_LOG_LINES if tail is None else min(tail, MAX_LOG_LINES)


class LogLines(NamedTuple):
    """Lines of a runtime's log read through a control plane, and whether the log holds
    older lines than those (it was longer than asked for, or than :data:`MAX_LOG_LINES`)."""

    lines: list[str]
    cut: bool


def _skipped_file(name: str) -> bool:
    """``.env`` and ``.env.*`` (but the ``.env.example`` a project documents its variables
    in), and compiled Python."""
    if name == ".env" or (name.startswith(".env.") and name != ".env.example"):
        return True
    return name.endswith((".pyc", ".pyo"))


def _project_files(root: Path) -> Iterator[Path]:
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if d not in SKIPPED_DIRS)
        for name in sorted(files):
            path = Path(folder) / name
            if not _skipped_file(name) and not path.is_symlink() and path.is_file():
                yield path


def pack_project(dockfile: Path) -> tuple[bytes, str]:
    """The gzipped tar of ``dockfile``'s directory, and the Dockfile's name in it.

    Files are added in a fixed order with fixed owners and times, so the same project packs
    to the same bytes. Symbolic links are left out (the control plane refuses them).

    :raises InvalidDeployInput: the archive would exceed :data:`MAX_ARCHIVE_BYTES`.
    """
    root = dockfile.resolve().parent
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz", compresslevel=6) as tar:
        for path in _project_files(root):
            info = tar.gettarinfo(str(path), arcname=path.relative_to(root).as_posix())
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            info.mtime = 0
            info.mode = 0o755 if os.access(path, os.X_OK) else 0o644
            with path.open("rb") as handle:
                tar.addfile(info, handle)
            if buffer.tell() > MAX_ARCHIVE_BYTES:
                raise InvalidDeployInput(
                    f"the project {root} packs to more than {MAX_ARCHIVE_BYTES // 2**20} MiB",
                    hint="leave data and build outputs out of the agent's directory",
                )
    return buffer.getvalue(), dockfile.name


def _error(status: int, body: Any) -> DeployError:
    """The error of a refused call, named as the control plane named it: 404 NotFound
    (exit 5), 400/401/403/409/422 InvalidDeployInput (exit 1), other statuses DeployFailed
    (exit 4)."""
    found = body if isinstance(body, dict) else {}
    name, detail, path = found.get("error"), found.get("detail"), found.get("path")
    cause = f"the control plane refused: {name or status}: {detail or 'no detail'}"
    error: DeployError
    if status == 404:
        error = NotFound(cause, path=path)
    elif status in (400, 401, 403, 409, 422):
        hint = f"check {KEY_ENV} (a platform key)" if status in (401, 403) else None
        error = InvalidDeployInput(cause, hint=hint, path=path)
    else:
        error = DeployFailed(cause)
    if isinstance(name, str) and name.isidentifier():
        error.name = name
    return error


def _operation_error(error: dict[str, Any] | None) -> DeployError:
    """A failed operation's error as the DeployError it was on the control plane."""
    error = error or {}
    code = error.get("code")
    failure = DeployError(
        str(error.get("detail") or "the operation failed"),
        hint=error.get("hint"),
        path=error.get("path"),
        log_tail=error.get("log_tail"),
    )
    failure.name = str(error.get("error") or "DeployFailed")
    if isinstance(code, int) and 1 <= code <= 5:
        failure.exit_code = code
    return failure


class RemoteControlPlane:
    """A control plane's API with a platform key (``with`` closes its connections)."""

    def __init__(self, server: str, key: str, *, timeout: float = 30.0) -> None:
        import httpx

        self.server = server.rstrip("/")
        self._http = httpx.Client(
            base_url=self.server,
            headers={"authorization": f"Bearer {key}"},
            timeout=timeout,
            follow_redirects=False,
        )

    def __enter__(self) -> RemoteControlPlane:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        import httpx

        try:
            answer = self._http.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise self._unreachable(type(exc).__name__) from None
        try:
            body = answer.json()
        except ValueError:
            body = None
        if answer.status_code >= 400:
            raise _error(answer.status_code, body)
        return body

    # -- operations ---------------------------------------------------------------------------

    def wait(
        self,
        operation_id: str,
        progress: Progress = no_progress,
        *,
        status_path: str = "/controller/operations/{}",
    ) -> dict[str, Any]:
        """Follow an operation until it ends (reading ``status_path`` with its id): each
        new step to ``progress``; the result (with ``api_key`` when the operation made one
        for this caller), or its error."""
        seen = 0
        while True:
            op = self._call("GET", status_path.format(operation_id))
            steps = op.get("steps") or []
            for step in steps[seen:]:
                progress(str(step.get("step")), str(step.get("message")))
            seen = len(steps)
            if op["status"] == "failed":
                raise _operation_error(op.get("error"))
            if op["status"] == "succeeded":
                result: dict[str, Any] = dict(op.get("result") or {})
                if op.get("secret_waiting"):
                    secret = self._call("POST", f"/controller/operations/{operation_id}/secret")
                    result["api_key"] = secret["key"]
                return result
            time.sleep(POLL_S)

    def deploy(
        self, path: str | os.PathLike[str] = "Dockfile.yaml", *, progress: Progress = no_progress
    ) -> dict[str, Any]:
        """Upload the Dockfile's project and deploy it there; the deployment's JSON."""
        archive, name = self._upload(path, progress)
        started = self._call(
            "POST",
            "/controller/deploy/archive",
            params={"dockfile": name},
            content=archive,
            headers={"content-type": "application/gzip"},
        )
        return self.wait(started["operation_id"], progress)

    def _upload(self, path: str | os.PathLike[str], progress: Progress) -> tuple[bytes, str]:
        archive, name = pack_project(find_dockfile(path))
        progress("upload", f"uploading {len(archive):,} bytes to {self.server}")
        return archive, name

    def build(
        self,
        path: str | os.PathLike[str] = "Dockfile.yaml",
        *,
        target: str | None = None,
        progress: Progress = no_progress,
    ) -> BuildResult:
        """Upload the Dockfile's project, build it there with ``target``'s builder and
        record the version, starting nothing (``POST /build/start/archive``, followed with
        ``GET /build/status/{id}``)."""
        archive, name = self._upload(path, progress)
        params = {"dockfile": name} | ({"target": target} if target else {})
        started = self._call(
            "POST",
            "/build/start/archive",
            params=params,
            content=archive,
            headers={"content-type": "application/gzip"},
        )
        done = self.wait(started["operation_id"], progress, status_path="/build/status/{}")
        return BuildResult(
            agent=str(done["agent"]),
            version=str(done["version"]),
            target=str(done["target"]),
            builder=str(done["builder"]),
            new_version=bool(done["new_version"]),
            cached=bool(done["cached"]),
            artifact=dict(done.get("artifact") or {}),
        )

    def rollback(
        self, agent: str, version: str | None = None, *, progress: Progress = no_progress
    ) -> dict[str, Any]:
        body = {"agent": agent} | ({"version": version} if version else {})
        started = self._call("POST", "/controller/rollback", json=body)
        return self.wait(started["operation_id"], progress)

    def stop(self, agent: str, *, progress: Progress = no_progress) -> dict[str, Any]:
        started = self._call("POST", "/controller/stop", json={"agent": agent})
        return self.wait(started["operation_id"], progress)

    # -- reads --------------------------------------------------------------------------------

    def agents(self) -> list[dict[str, Any]]:
        """Every agent the control plane knows, with its state and version."""
        found: list[dict[str, Any]] = self._call("GET", "/controller/agents")
        return found

    def status(self, agent: str) -> dict[str, Any]:
        found: dict[str, Any] = self._call("GET", f"/controller/status/{agent}")
        return found

    def versions(self, agent: str) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = self._call("GET", f"/controller/versions/{agent}")
        return found

    def instances(self, agent: str) -> list[dict[str, Any]]:
        """The named (per-tenant) instances of an agent, each with its live status."""
        found: list[dict[str, Any]] = self._call("GET", f"/controller/instances/{agent}")
        return found

    def logs(self, agent: str, tail: int | None = None, level: str | None = None) -> list[str]:
        """The last ``tail`` lines of the runtime's log (default: the whole log, up to
        :data:`MAX_LOG_LINES`); with ``level``, those at that level or above among them."""
        return self.read_logs(agent, tail, level).lines

    def read_logs(self, agent: str, tail: int | None = None, level: str | None = None) -> LogLines:
        """:meth:`logs`, and whether older lines were left out (a ``tail`` above
        :data:`MAX_LOG_LINES` is read as that bound)."""
        params: dict[str, Any] = {"tail": _asked(tail)}
        if level:
            params["level"] = level
        found = self._call("GET", f"/controller/logs/{agent}", params=params)
        lines = [str(line) for line in found.get("lines", [])]
        return LogLines(lines, bool(found.get("cut")))

    def follow_logs(
        self, agent: str, tail: int | None = None, level: str | None = None
    ) -> Iterator[str]:
        """The last ``tail`` lines of the runtime's log (default: the whole log, up to
        :data:`MAX_LOG_LINES`), then each new line as it is written, until the runtime
        stops.

        :raises DeployFailed: the connection was lost, the control plane stopped or went
            silent for :data:`FOLLOW_SILENCE_S`, or it could not read the log.
        """
        import httpx
        from httpx_sse import EventSource, SSEError

        params: dict[str, Any] = {"tail": _asked(tail)}
        if level:
            params["level"] = level
        lost = DeployFailed(
            f"the connection to the control plane at {self.server} was lost while following "
            f"{agent}'s log",
            hint=f"agentdock logs {agent} --follow again once it answers",
        )
        timeout = httpx.Timeout(30.0, read=FOLLOW_SILENCE_S)
        try:
            with self._http.stream(
                "GET",
                f"/controller/logs/{agent}/follow",
                params=params,
                headers={"accept": "text/event-stream"},
                timeout=timeout,
            ) as answer:
                if answer.status_code >= 400:
                    answer.read()
                    try:
                        body = answer.json()
                    except ValueError:
                        body = None
                    raise _error(answer.status_code, body)
                for event in EventSource(answer).iter_sse():
                    if event.event == "line":
                        yield str(event.json().get("line", ""))
                    elif event.event == "end":
                        return
                    elif event.event == "log_error":
                        cause = event.json().get("error") or "an error"
                        raise DeployFailed(
                            f"the control plane could not read {agent}'s log ({cause})"
                        )
        except httpx.ConnectError:
            raise self._unreachable("ConnectError") from None
        except (httpx.HTTPError, SSEError, ValueError):
            raise lost from None
        raise lost  # the stream ended without the end of the log

    def _unreachable(self, why: str) -> DeployFailed:
        return DeployFailed(
            f"the control plane at {self.server} cannot be reached ({why})",
            hint=f"check {SERVER_ENV} and that `agentdock controlplane` runs there",
        )

    # -- keys ---------------------------------------------------------------------------------

    def create_key(self, agent: str, role: str, expires_in_s: int | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {"agent": agent, "role": role}
        if expires_in_s:
            body["expires_in_s"] = expires_in_s
        made: dict[str, Any] = self._call("POST", "/auth/key/create", json=body)
        return made

    def list_keys(self, agent: str) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = self._call("GET", "/auth/keys", params={"agent": agent})
        return found

    def rotate_key(self, agent: str, key_id: str, grace_s: int = 0) -> dict[str, Any]:
        """Replace a live key by a new one (in ``key``, shown once); the old one keeps
        working ``grace_s`` seconds."""
        body = {"agent": agent, "key_id": key_id, "grace_s": grace_s}
        made: dict[str, Any] = self._call("POST", "/auth/key/rotate", json=body)
        return made

    def revoke_key(self, agent: str, key_id: str) -> dict[str, Any]:
        done: dict[str, Any] = self._call(
            "DELETE", "/auth/key/revoke", params={"agent": agent, "key_id": key_id}
        )
        return done

    def issue_token(
        self, agent: str, role: str, sub: str, ttl_s: int | None = None
    ) -> dict[str, Any]:
        """A JWT for an agent in mode jwt, signed by the control plane with the agent's
        secret from its own environment (``token``, shown once; ``expires_at``)."""
        body: dict[str, Any] = {"agent": agent, "role": role, "sub": sub}
        if ttl_s is not None:
            body["ttl_s"] = ttl_s
        made: dict[str, Any] = self._call("POST", "/auth/token", json=body)
        return made

    # -- audit --------------------------------------------------------------------------------

    def audit(self, agent: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
        """The newest ``limit`` audit entries (of ``agent``), newest first (at most
        :data:`MAX_AUDIT_ENTRIES`). The control plane does not check the hash chain for the
        caller: that needs its registry and chain key."""
        params: dict[str, Any] = {"limit": limit} | ({"agent": agent} if agent else {})
        found: list[dict[str, Any]] = self._call("GET", "/audit", params=params)
        return found


def control_plane(server: str | None = None, key: str | None = None) -> RemoteControlPlane:
    """The control plane at ``server`` (default ``AGENTDOCK_SERVER``) with a platform key
    (default ``AGENTDOCK_SERVER_KEY``).

    :raises InvalidDeployInput: no server, no key, or a server that is not an http(s) URL.
    """
    server = server or os.environ.get(SERVER_ENV)
    key = key or os.environ.get(KEY_ENV)
    if not server:
        raise InvalidDeployInput(f"no control plane named (--server or {SERVER_ENV})")
    if not server.startswith(("http://", "https://")):
        raise InvalidDeployInput(
            f"the control plane's address must be an http(s) URL, not {server!r}",
            path="server",
        )
    if not key:
        raise InvalidDeployInput(
            f"no platform key for {server}: set {KEY_ENV}",
            hint="an admin makes one with `agentdock controlplane key create --role developer`",
        )
    return RemoteControlPlane(server, key)
