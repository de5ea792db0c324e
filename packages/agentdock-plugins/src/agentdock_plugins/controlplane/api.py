"""The control plane's JSON API (PRD 12.4 paths), documented in ``/openapi.json``.

Reads need the ``viewer`` role, deploys, rollbacks, stops and agent keys ``developer``,
platform keys ``admin``. Every change is written to the registry's audit log with the
principal that made it (``key:<id>``). Long operations answer 202 with an operation id;
their progress is in ``GET /controller/events`` (SSE) and ``GET /controller/operations/{id}``.
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import aclosing
from typing import Annotated, Any

import anyio
import msgspec
from agentdock.deployment import DeployError, instances, logs, versions
from agentdock.httperrors import RuntimeHTTPError
from agentdock.loglevels import LEVEL, LevelFilter, at_least
from agentdock.remote import MAX_ARCHIVE_BYTES, MAX_LOG_LINES
from litestar import Request, Response, Router, delete, get, post
from litestar.params import HeaderParameter, JSONBody, Parameter
from litestar.response import ServerSentEvent, ServerSentEventMessage

from agentdock_plugins.controlplane.access import (
    StillAllowed,
    controlplane_of,
    principal_of,
    require,
)
from agentdock_plugins.controlplane.actions import (
    make_key,
    require_agent,
    revoke,
    revoke_many,
    rotate_key,
    start_build,
    start_deploy,
    start_rollback,
    start_stop,
)
from agentdock_plugins.controlplane.agents import (
    AGENT_NAME,
    agent_rows,
    agent_status,
)
from agentdock_plugins.controlplane.dockfiletext import MAX_TEXT_BYTES, validate_text
from agentdock_plugins.controlplane.events import HEARTBEAT_S, Event, Gap, follow
from agentdock_plugins.controlplane.langfuselink import langfuse_of, trace_link
from agentdock_plugins.controlplane.logfollow import END, follow_log
from agentdock_plugins.controlplane.metrics import (
    WINDOW,
    TelemetryUnavailable,
    agent_metrics,
    recent_runs,
    window_seconds,
)
from agentdock_plugins.controlplane.operations import Operation
from agentdock_plugins.controlplane.principals import (
    PLATFORM,
    ROLES,
    Principal,
    describe,
)
from agentdock_plugins.controlplane.state import ControlPlane
from agentdock_plugins.controlplane.tokens import issue_token, verify_token

__all__ = ["AgentPath", "KeyBody", "api_router"]

AgentPath = Annotated[str, Parameter(pattern=AGENT_NAME, description="An agent name.")]
OperationId = Annotated[str, Parameter(pattern=r"^op-[0-9]+-[0-9a-f]{8}$")]
VIEWER, DEVELOPER, ADMIN = (require(role) for role in ROLES)


class DeployBody(msgspec.Struct, forbid_unknown_fields=True):
    """``dockfile``: a path on the server, under the control plane's project directory."""

    dockfile: str


class BuildBody(msgspec.Struct, forbid_unknown_fields=True):
    """``dockfile``: a path on the server, under the project directory; ``target``: whose
    builder builds it (default: the Dockfile's ``deploy.target``, else local)."""

    dockfile: str
    target: Annotated[str, msgspec.Meta(pattern=r"^[a-z][a-z0-9_-]{0,31}$")] | None = None


class RollbackBody(msgspec.Struct, forbid_unknown_fields=True):
    agent: Annotated[str, msgspec.Meta(pattern=AGENT_NAME)]
    version: Annotated[str, msgspec.Meta(max_length=64)] | None = None


class StopBody(msgspec.Struct, forbid_unknown_fields=True):
    agent: Annotated[str, msgspec.Meta(pattern=AGENT_NAME)]


class ValidateBody(msgspec.Struct, forbid_unknown_fields=True):
    """``dockfile``: the Dockfile's text."""

    dockfile: str
    strict: bool = False


class KeyBody(msgspec.Struct, forbid_unknown_fields=True):
    """``agent`` omitted: a platform key (admin only). ``expires_in_s``: lifetime."""

    role: Annotated[str, msgspec.Meta(pattern=r"^[a-z_]{2,32}$")]
    agent: Annotated[str, msgspec.Meta(pattern=AGENT_NAME)] | None = None
    expires_in_s: Annotated[int, msgspec.Meta(gt=0, le=10 * 365 * 86400)] | None = None


class TokenBody(msgspec.Struct, forbid_unknown_fields=True):
    """``ttl_s`` omitted: the Dockfile's ``auth.jwt.expiry_minutes``."""

    agent: Annotated[str, msgspec.Meta(pattern=AGENT_NAME)]
    role: Annotated[str, msgspec.Meta(pattern=r"^[a-z_]{2,32}$")]
    sub: Annotated[str, msgspec.Meta(min_length=1, max_length=256)]
    ttl_s: Annotated[int, msgspec.Meta(gt=0, le=366 * 86400)] | None = None


KeyId = Annotated[str, msgspec.Meta(pattern=r"^[0-9a-f]{12}$")]


class RotateBody(msgspec.Struct, forbid_unknown_fields=True):
    """``agent`` omitted: a platform key (admin). ``grace_s``: how long the old key keeps
    working (default 0: it stops at once)."""

    key_id: KeyId
    agent: Annotated[str, msgspec.Meta(pattern=AGENT_NAME)] | None = None
    grace_s: Annotated[int, msgspec.Meta(ge=0, le=30 * 86400)] = 0


class BulkRevokeBody(msgspec.Struct, forbid_unknown_fields=True):
    """``key_ids`` to revoke, or ``all`` live keys; ``agent`` omitted: platform keys (admin)."""

    agent: Annotated[str, msgspec.Meta(pattern=AGENT_NAME)] | None = None
    key_ids: Annotated[list[KeyId], msgspec.Meta(max_length=1000)] = msgspec.field(
        default_factory=list
    )
    all: bool = False


class VerifyBody(msgspec.Struct, forbid_unknown_fields=True):
    agent: Annotated[str, msgspec.Meta(pattern=AGENT_NAME)]
    token: Annotated[str, msgspec.Meta(min_length=1, max_length=8192)]


def _plane(request: Request[Any, Any, Any]) -> ControlPlane:
    return controlplane_of(request)


def _who(request: Request[Any, Any, Any]) -> Principal:
    who, _ = principal_of(request)
    assert who is not None  # the route's guard let it through
    return who


def _http_error(exc: DeployError) -> RuntimeHTTPError:
    """A deploy error as an HTTP error: invalid input 400, not found 404, the rest 409."""
    status = {1: 400, 5: 404}.get(exc.exit_code, 409)
    return RuntimeHTTPError(status, exc.name, exc.cause, path=exc.path)


def _started(op: Operation) -> dict[str, Any]:
    return {"operation_id": op.id, "status": op.status, "events": "/controller/events"}


# -- controller ---------------------------------------------------------------------------


@get("/controller/agents", guards=[VIEWER], sync_to_thread=True)
def list_agents(request: Request[Any, Any, Any]) -> list[dict[str, Any]]:
    """Every agent with its state (active, degraded, down), version and uptime."""
    return agent_rows(_plane(request))


@get("/controller/status/{agent:str}", guards=[VIEWER], sync_to_thread=True)
def agent_status_route(request: Request[Any, Any, Any], agent: AgentPath) -> dict[str, Any]:
    """Version, target, endpoint, health, uptime and restarts of one agent, read live."""
    plane = _plane(request)
    require_agent(plane, agent)
    return agent_status(plane, agent)


@get("/controller/versions/{agent:str}", guards=[VIEWER], sync_to_thread=True)
def agent_versions(request: Request[Any, Any, Any], agent: AgentPath) -> list[dict[str, Any]]:
    """Every version of an agent, oldest first, with its artifacts and whether it is active."""
    plane = _plane(request)
    require_agent(plane, agent)
    try:
        return versions(agent, store=plane.store, plugins=plane.plugins)
    except DeployError as exc:
        raise _http_error(exc) from None


@get("/controller/instances/{agent:str}", guards=[VIEWER], sync_to_thread=True)
def agent_instances(request: Request[Any, Any, Any], agent: AgentPath) -> list[dict[str, Any]]:
    """The named (per-tenant) instances of an agent, each with its live status (what
    ``agentdock instances --json`` lists)."""
    plane = _plane(request)
    require_agent(plane, agent)
    try:
        return instances(agent, store=plane.store, plugins=plane.plugins)
    except DeployError as exc:
        raise _http_error(exc) from None


@get("/controller/deployments/{agent:str}", guards=[VIEWER], sync_to_thread=True)
def agent_deployments(request: Request[Any, Any, Any], agent: AgentPath) -> list[dict[str, Any]]:
    """Every deployment of an agent, newest first (who, when, which version, outcome)."""
    plane = _plane(request)
    require_agent(plane, agent)
    return [d.public() for d in reversed(plane.store.list_deployments(agent))]


@get("/controller/logs/{agent:str}", guards=[VIEWER], sync_to_thread=True)
def agent_logs(
    request: Request[Any, Any, Any],
    agent: AgentPath,
    tail: Annotated[int, Parameter(ge=0, le=MAX_LOG_LINES)] = 200,
    level: Annotated[str | None, Parameter(pattern=LEVEL)] = None,
) -> dict[str, Any]:
    """The last ``tail`` lines of the runtime's log; with ``level`` (debug, info, warn,
    error, critical), the lines at that level or above among them. ``cut`` says whether the
    log holds older lines than those (one more line is read to know)."""
    plane = _plane(request)
    require_agent(plane, agent)
    try:
        lines = list(logs(agent, tail=tail + 1, store=plane.store, plugins=plane.plugins))
    except DeployError as exc:
        raise _http_error(exc) from None
    shown = lines[-tail:] if tail else []
    return {
        "agent": agent,
        "lines": at_least(shown, level) if level else shown,
        "cut": len(lines) > tail,
    }


@get("/controller/logs/{agent:str}/follow", guards=[VIEWER])
async def follow_agent_logs(
    request: Request[Any, Any, Any],
    agent: AgentPath,
    tail: Annotated[int, Parameter(ge=0, le=MAX_LOG_LINES)] = 200,
    level: Annotated[str | None, Parameter(pattern=LEVEL)] = None,
) -> ServerSentEvent:
    """The last ``tail`` lines of the runtime's log, then each new line as it is written,
    as Server-Sent Events: ``line`` (``{"line": TEXT}``), ``end`` when the runtime stopped
    and its log ends, ``log_error`` (``{"error": TYPE}``) if reading it fails; a comment
    every 15 s while idle. With ``level``, the lines at that level or above. 503
    ``TooManyFollowers`` when the control plane already follows its limit of logs."""
    plane = _plane(request)
    if plane.followers.full():
        raise RuntimeHTTPError(
            503, "TooManyFollowers", "the control plane follows as many logs as it may; retry"
        )

    def open_log() -> Iterator[str]:
        require_agent(plane, agent)
        return logs(agent, tail=tail, follow=True, store=plane.store, plugins=plane.plugins)

    try:
        lines = await anyio.to_thread.run_sync(open_log)
    except DeployError as exc:
        raise _http_error(exc) from None
    keep = LevelFilter(level).keep if level else None

    allowed = StillAllowed(request, "viewer")

    async def stream() -> AsyncIterator[ServerSentEventMessage]:
        # Closed on leaving (aclosing), so a stream that ends early frees its follower now.
        async with aclosing(follow_log(lines, keep, plane.followers, HEARTBEAT_S)) as items:
            async for item in items:
                if not allowed():
                    return
                if item is None:
                    yield ServerSentEventMessage(comment="heartbeat")
                elif isinstance(item, str):
                    yield ServerSentEventMessage(data=json.dumps({"line": item}), event="line")
                elif item is END:
                    yield ServerSentEventMessage(data="{}", event="end")
                else:
                    # The cause's type only: a target's message may name paths or hosts.
                    error = {"error": type(item).__name__}
                    yield ServerSentEventMessage(data=json.dumps(error), event="log_error")

    return ServerSentEvent(stream(), headers={"Cache-Control": "no-store"})


@get("/controller/metrics/{agent:str}", guards=[VIEWER], sync_to_thread=True)
def agent_metrics_route(
    request: Request[Any, Any, Any],
    agent: AgentPath,
    window: Annotated[str, Parameter(pattern=WINDOW, description="e.g. 15m, 1h, 7d")] = "1h",
) -> dict[str, Any]:
    """Requests, error rate, p50/p95 latency, tokens, cost and policy violations of an
    agent over the last ``window`` (at most 31 days), in total and in 60 equal slices,
    read from the local telemetry store (``store`` false: nothing recorded yet)."""
    plane = _plane(request)
    require_agent(plane, agent)
    try:
        seconds = window_seconds(window)
    except ValueError as exc:
        raise RuntimeHTTPError(400, "InvalidWindow", str(exc), path="window") from None
    try:
        return agent_metrics(plane.telemetry_path, agent, seconds)
    except TelemetryUnavailable as exc:
        raise RuntimeHTTPError(
            503, "TelemetryUnavailable", f"the telemetry store cannot be read ({exc})"
        ) from None


@get("/controller/traces/{agent:str}", guards=[VIEWER], sync_to_thread=True)
def agent_traces(
    request: Request[Any, Any, Any],
    agent: AgentPath,
    limit: Annotated[int, Parameter(ge=1, le=1000)] = 50,
) -> dict[str, Any]:
    """The agent's newest runs from the local telemetry store, newest first: run and trace
    ids, mode, status, error type, latency, tokens, cost, role; with ``langfuse_url``, the
    run's trace in LangFuse when the agent's Dockfile configures it (``langfuse``: its
    address)."""
    plane = _plane(request)
    require_agent(plane, agent)
    try:
        runs = recent_runs(plane.telemetry_path, agent, limit)
    except TelemetryUnavailable as exc:
        raise RuntimeHTTPError(
            503, "TelemetryUnavailable", f"the telemetry store cannot be read ({exc})"
        ) from None
    langfuse = langfuse_of(plane, agent)
    shown = [{**run, "langfuse_url": trace_link(langfuse, run["trace_id"])} for run in runs or []]
    return {"agent": agent, "store": runs is not None, "langfuse": langfuse, "runs": shown}


@post("/controller/deploy", guards=[DEVELOPER], status_code=202, sync_to_thread=True)
def deploy_route(request: Request[Any, Any, Any], data: JSONBody[DeployBody]) -> dict[str, Any]:
    """Start a deploy of a Dockfile on the server; answers at once with an operation id."""
    return _started(start_deploy(_plane(request), _who(request), data.dockfile))


#: The Dockfile's path inside an uploaded project.
ArchiveDockfile = Annotated[
    str, Parameter(pattern=r"^[A-Za-z0-9_.-]{1,128}(/[A-Za-z0-9_.-]{1,128}){0,15}$")
]
BuildTarget = Annotated[str | None, Parameter(pattern=r"^[a-z][a-z0-9_-]{0,31}$")]
_ARCHIVE_BODY: dict[str, Any] = {"requestBody": {"content": {"application/gzip": {}}}}


async def _from_upload(request: Request[Any, Any, Any], dockfile: str, start: Any) -> Operation:
    """Unpack the uploaded project (refused whole when hostile), prune the uploads no
    deployment was made from, and ``start(plane, who, path)`` on the Dockfile inside it."""
    if ".." in dockfile.split("/"):
        raise RuntimeHTTPError(400, "InvalidPath", "the Dockfile's path climbs out", "dockfile")
    plane, who, archive = _plane(request), _who(request), await request.body()

    def unpack_and_start() -> Operation:
        folder = plane.receive_upload(archive)
        started: Operation = start(plane, who, str(folder / dockfile))
        return started

    return await anyio.to_thread.run_sync(unpack_and_start)


@post(
    "/controller/deploy/archive",
    guards=[DEVELOPER],
    status_code=202,
    request_max_body_size=MAX_ARCHIVE_BYTES,
    openapi_extra=_ARCHIVE_BODY,
)
async def deploy_archive_route(
    request: Request[Any, Any, Any], dockfile: ArchiveDockfile = "Dockfile.yaml"
) -> dict[str, Any]:
    """Deploy an uploaded project: the body is a gzipped tar of the Dockfile's directory (as
    ``agentdock deploy --server`` sends it), unpacked under the project directory's
    ``.uploads/`` and deployed from there; ``dockfile`` is the Dockfile's path inside it."""
    return _started(await _from_upload(request, dockfile, start_deploy))


@post(
    "/build/start/archive",
    guards=[DEVELOPER],
    status_code=202,
    request_max_body_size=MAX_ARCHIVE_BYTES,
    openapi_extra=_ARCHIVE_BODY,
)
async def build_archive_route(
    request: Request[Any, Any, Any],
    dockfile: ArchiveDockfile = "Dockfile.yaml",
    target: BuildTarget = None,
) -> dict[str, Any]:
    """Build an uploaded project (as ``agentdock build --server`` sends it, unpacked as for
    a deploy) and record its version, starting nothing; ``GET /build/status/{id}`` follows
    it."""
    op = await _from_upload(
        request, dockfile, lambda plane, who, path: start_build(plane, who, path, target)
    )
    return {**_started(op), "status_url": f"/build/status/{op.id}"}


@post("/controller/rollback", guards=[DEVELOPER], status_code=202, sync_to_thread=True)
def rollback_route(request: Request[Any, Any, Any], data: JSONBody[RollbackBody]) -> dict[str, Any]:
    """Start a rollback (default: the version active before the current one)."""
    return _started(start_rollback(_plane(request), _who(request), data.agent, data.version))


@post("/controller/stop", guards=[DEVELOPER], status_code=202, sync_to_thread=True)
def stop_route(request: Request[Any, Any, Any], data: JSONBody[StopBody]) -> dict[str, Any]:
    """Start stopping an agent's active deployment."""
    return _started(start_stop(_plane(request), _who(request), data.agent))


@post("/build/start", guards=[DEVELOPER], status_code=202, sync_to_thread=True)
def build_start(request: Request[Any, Any, Any], data: JSONBody[BuildBody]) -> dict[str, Any]:
    """Start building a Dockfile on the server and recording its version, starting nothing;
    answers at once with an operation id (``GET /build/status/{id}``)."""
    op = start_build(_plane(request), _who(request), data.dockfile, data.target)
    return {**_started(op), "status_url": f"/build/status/{op.id}"}


@get("/build/status/{op_id:str}", guards=[VIEWER])
async def build_status(request: Request[Any, Any, Any], op_id: OperationId) -> dict[str, Any]:
    """One build: status, the steps so far (the builder's log), the version and artifact
    once built, or the error."""
    op = _plane(request).operations.get(op_id)
    if op is None or op.kind != "build":
        raise RuntimeHTTPError(404, "NotFound", "no such build", path="op_id")
    return op.public()


@get("/controller/operations", guards=[VIEWER])
async def list_operations(request: Request[Any, Any, Any]) -> list[dict[str, Any]]:
    """This process's recent operations, newest first."""
    return [op.public() for op in _plane(request).operations.recent()]


@get("/controller/operations/{op_id:str}", guards=[VIEWER])
async def get_operation(
    request: Request[Any, Any, Any],
    op_id: OperationId,
) -> dict[str, Any]:
    """One operation: status, steps so far, result or error."""
    op = _plane(request).operations.get(op_id)
    if op is None:
        raise RuntimeHTTPError(404, "NotFound", "no such operation", path="op_id")
    return op.public()


@post("/controller/operations/{op_id:str}/secret", guards=[DEVELOPER], status_code=200)
async def take_operation_secret(
    request: Request[Any, Any, Any],
    op_id: OperationId,
) -> dict[str, Any]:
    """The API key a first deploy created, once, to whoever started the deploy."""
    secret = _plane(request).operations.take_secret(op_id, _who(request).name)
    if secret is None:
        raise RuntimeHTTPError(404, "NotFound", "no key waits for you in this operation")
    return {"operation_id": op_id, "key": secret}


@get("/controller/events", guards=[VIEWER])
async def events(
    request: Request[Any, Any, Any],
    cursor: Annotated[int | None, Parameter(ge=0)] = None,
    last_event_id: Annotated[
        str | None, HeaderParameter(name="last-event-id", pattern=r"^[0-9]{1,18}$")
    ] = None,
) -> ServerSentEvent:
    """``build_event``, ``deploy_status`` and ``health_event`` as SSE. Resume after an id
    with ``Last-Event-ID`` (what EventSource sends on reconnect) or ``?cursor=``; without
    either, only new events. A cursor older than the kept events gets a ``gap`` event."""
    log = _plane(request).events
    start = int(last_event_id) if last_event_id is not None else cursor
    position = log.last_id if start is None else start

    allowed = StillAllowed(request, "viewer")

    async def stream() -> AsyncIterator[ServerSentEventMessage]:
        async for item in follow(log, position, HEARTBEAT_S):
            if not allowed():
                return
            if isinstance(item, Event):
                yield ServerSentEventMessage(
                    data=json.dumps(item.to_json()), event=item.kind, id=str(item.id)
                )
            elif isinstance(item, Gap):
                yield ServerSentEventMessage(data=json.dumps({"after": item.after}), event="gap")
            else:
                yield ServerSentEventMessage(comment="heartbeat")

    return ServerSentEvent(stream())


# -- validate -------------------------------------------------------------------------------


@post("/validate", guards=[VIEWER], status_code=200, request_max_body_size=MAX_TEXT_BYTES * 2)
async def validate_route(
    request: Request[Any, Any, Any], data: JSONBody[ValidateBody]
) -> dict[str, Any]:
    """A Dockfile's text → the findings of ``agentdock validate --json`` (imports not run;
    ``${VAR}`` placeholders kept, never filled from the server's environment)."""
    plane = _plane(request)
    return await anyio.to_thread.run_sync(
        lambda: validate_text(data.dockfile, strict=data.strict, plugins=plane.plugins)
    )


# -- keys -----------------------------------------------------------------------------------


@get("/auth/keys", guards=[VIEWER], sync_to_thread=True)
def list_keys(
    request: Request[Any, Any, Any],
    agent: Annotated[str | None, Parameter(pattern=AGENT_NAME)] = None,
) -> list[dict[str, Any]]:
    """Keys of one agent, or platform keys without ``agent`` (ids, roles, states; never a
    key or its digest). Viewers see agent keys only."""
    plane = _plane(request)
    now = time.time()
    if agent is None:
        if not _who(request).can("admin"):
            raise RuntimeHTTPError(403, "Forbidden", "only an admin lists platform keys")
        plane.flush_key_use()
        return [describe(r, now) for r in plane.store.list_api_keys(PLATFORM)]
    require_agent(plane, agent)
    return [r.public(now) for r in plane.store.list_api_keys(agent)]


@post("/auth/key/create", guards=[DEVELOPER], status_code=201, sync_to_thread=True)
def create_key(request: Request[Any, Any, Any], data: JSONBody[KeyBody]) -> dict[str, Any]:
    """A new key, shown once in ``key``: of ``agent`` with one of its roles, or a platform
    key (``agent`` omitted; admin only; roles viewer, developer, admin)."""
    return make_key(_plane(request), _who(request), data.role, data.agent, data.expires_in_s)


@delete("/auth/key/revoke", guards=[DEVELOPER], status_code=200, sync_to_thread=True)
def revoke_key(
    request: Request[Any, Any, Any],
    key_id: Annotated[str, Parameter(pattern=r"^[0-9a-f]{12}$")],
    agent: Annotated[str | None, Parameter(pattern=AGENT_NAME)] = None,
) -> dict[str, Any]:
    """Revoke a key at once: of ``agent``, or a platform key (admin only) without it."""
    plane = _plane(request)
    if agent is not None:
        require_agent(plane, agent)
    return revoke(plane, _who(request), key_id, agent)


@post("/auth/token", guards=[DEVELOPER], status_code=201, sync_to_thread=True)
def token_route(request: Request[Any, Any, Any], data: JSONBody[TokenBody]) -> Response[Any]:
    """A JWT for an agent in mode jwt, signed with its ``auth.jwt.secret_key`` as the
    control plane's environment sets it (HMAC algorithms only); shown once, never stored."""
    made = issue_token(_plane(request), _who(request), data.agent, data.role, data.sub, data.ttl_s)
    return Response(made, status_code=201, headers={"Cache-Control": "no-store"})


@post("/auth/verify", guards=[VIEWER], status_code=200, sync_to_thread=True)
def verify_route(request: Request[Any, Any, Any], data: JSONBody[VerifyBody]) -> dict[str, Any]:
    """Whether the agent's runtime would accept a token (the runtime's own verifier):
    ``valid`` with ``sub`` and ``role``, or not with its ``error`` and ``detail``."""
    return verify_token(_plane(request), data.agent, data.token)


@post("/auth/key/rotate", guards=[DEVELOPER], status_code=201, sync_to_thread=True)
def rotate_key_route(request: Request[Any, Any, Any], data: JSONBody[RotateBody]) -> Response[Any]:
    """Replace a live key by a new one with the same role and expiry (``key``, shown once);
    the old one works ``grace_s`` more seconds, then is refused."""
    made = rotate_key(_plane(request), _who(request), data.key_id, data.agent, data.grace_s)
    return Response(made, status_code=201, headers={"Cache-Control": "no-store"})


@post("/auth/key/revoke-bulk", guards=[DEVELOPER], status_code=200, sync_to_thread=True)
def revoke_bulk_route(
    request: Request[Any, Any, Any], data: JSONBody[BulkRevokeBody]
) -> dict[str, Any]:
    """Revoke ``key_ids``, or with ``all`` every live key, of an agent (or platform keys,
    admin; never the caller's own) at once; each is audited as a revocation."""
    if not data.key_ids and not data.all:
        raise RuntimeHTTPError(400, "NothingToRevoke", "name key_ids or set all", "key_ids")
    return revoke_many(_plane(request), _who(request), data.key_ids, data.agent, data.all)


# -- audit ----------------------------------------------------------------------------------


@get("/audit", guards=[VIEWER], sync_to_thread=True)
def audit_log(
    request: Request[Any, Any, Any],
    agent: Annotated[str | None, Parameter(pattern=AGENT_NAME)] = None,
    limit: Annotated[int, Parameter(ge=1, le=1000)] = 100,
) -> list[dict[str, Any]]:
    """The newest audit entries (of one agent), newest first."""
    entries = _plane(request).store.list_audit(agent=agent, limit=limit)
    return [dataclasses.asdict(e) for e in reversed(entries)]


api_router = Router(
    path="/",
    route_handlers=[
        list_agents,
        agent_status_route,
        agent_versions,
        agent_instances,
        agent_deployments,
        agent_logs,
        follow_agent_logs,
        agent_metrics_route,
        agent_traces,
        deploy_route,
        deploy_archive_route,
        rollback_route,
        stop_route,
        build_start,
        build_archive_route,
        build_status,
        list_operations,
        get_operation,
        take_operation_secret,
        events,
        validate_route,
        list_keys,
        create_key,
        revoke_key,
        rotate_key_route,
        revoke_bulk_route,
        token_route,
        verify_route,
        audit_log,
    ],
    tags=["control plane"],
)
