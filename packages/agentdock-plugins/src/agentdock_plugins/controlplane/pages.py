"""The dashboard: server-rendered pages (Jinja, autoescaped) made live with htmx.

Pages need a signed-in browser session (``/login`` with a platform key); without one they
redirect to the login page. Fragments under ``/ui/`` are what htmx swaps in; the ones that
change something go through the same functions as the JSON API (same checks, same audit
rows) and the same guards (role, and the session's CSRF token, which htmx sends on every
request from ``<body hx-headers>``). Every value shown (agent names, descriptions, log lines,
Dockfile text, findings) goes through Jinja's autoescaping; no page has inline script, and
the Content-Security-Policy forbids any.
"""

from __future__ import annotations

import json
import time
from typing import Annotated, Any

import anyio
import httpx
from agentdock.deployment import DeployError, versions
from agentdock.httperrors import RuntimeHTTPError
from agentdock.plugins import get_plugin_manager
from litestar import Request, Response, Router, get, post
from litestar.params import Parameter, URLEncodedBody
from litestar.response import Redirect, Template

from agentdock_plugins.controlplane.access import (
    check_origin,
    controlplane_of,
    new_session,
    principal_of,
)
from agentdock_plugins.controlplane.actions import (
    make_key,
    revoke,
    revoke_many,
    rotate_key,
    start_deploy,
    start_rollback,
    start_stop,
)
from agentdock_plugins.controlplane.agents import (
    agent_rows,
    agent_status,
    is_agent_name,
    is_key_id,
    running_version,
)
from agentdock_plugins.controlplane.api import ADMIN, DEVELOPER, VIEWER, AgentPath
from agentdock_plugins.controlplane.dockfiletext import validate_text
from agentdock_plugins.controlplane.langfuselink import langfuse_of, trace_link
from agentdock_plugins.controlplane.metrics import (
    TelemetryUnavailable,
    agent_metrics,
    recent_runs,
)
from agentdock_plugins.controlplane.policyview import plugin_policy_rows, policy_rows
from agentdock_plugins.controlplane.principals import (
    PLATFORM,
    ROLES,
    Principal,
    authenticate,
)
from agentdock_plugins.controlplane.sessions import rotate
from agentdock_plugins.controlplane.state import ControlPlane

__all__ = ["pages_router"]

#: The status that tells htmx to stop polling (it still shows the answer).
STOP_POLLING = 286
#: The window the Metrics tab opens with (the tab's menu asks the API for others).
METRICS_WINDOW_S = 3600
#: The most keys one bulk revocation names (as the API's ``key_ids``).
MAX_BULK = 1000
#: How many of an agent's audit entries its Audit tab shows (newest first).
AUDIT_SHOWN = 100
OpPath = Annotated[str, Parameter(pattern=r"^op-[0-9]+-[0-9a-f]{8}$")]


def _plane(request: Request[Any, Any, Any]) -> ControlPlane:
    return controlplane_of(request)


def _page(
    request: Request[Any, Any, Any],
    name: str,
    who: Principal,
    headers: dict[str, str] | None = None,
    **context: Any,
) -> Template:
    session = request.scope.get("session") or {}
    return Template(
        template_name=name,
        headers=headers,
        context={
            "who": who,
            "csrf": session.get("csrf", "") if isinstance(session, dict) else "",
            "insecure": not _plane(request).auth,
            "can_deploy": who.can("developer"),
            "is_admin": who.can("admin"),
            **context,
        },
    )


def _signed_in(request: Request[Any, Any, Any]) -> Principal | None:
    who, _ = principal_of(request)
    return who


def _fragment(
    request: Request[Any, Any, Any],
    name: str,
    headers: dict[str, str] | None = None,
    **context: Any,
) -> Template:
    who = _signed_in(request)
    assert who is not None
    return _page(request, name, who, headers, **context)


# -- sign in ----------------------------------------------------------------------------------


@get("/login", include_in_schema=False)
async def login_page(request: Request[Any, Any, Any]) -> Template:
    return Template(template_name="login.html", context={"error": None})


@post("/login", include_in_schema=False, status_code=303)
async def login(
    request: Request[Any, Any, Any],
    data: URLEncodedBody[dict[str, str]],
) -> Response[Any]:
    """Sign in with a platform key; the session keeps its id, never the key."""
    check_origin(request)  # no signing a browser in from another site
    plane = _plane(request)
    presented = str(data.get("key", "")).strip()[:200]
    who = await anyio.to_thread.run_sync(lambda: authenticate(plane.store, presented))
    if who is None:
        return Template(
            template_name="login.html",
            context={"error": "That key is not a live platform key."},
            status_code=401,
        )
    rotate(request)  # a cookie from before sign-in never names the signed-in session
    request.set_session(new_session(who))
    await anyio.to_thread.run_sync(
        lambda: plane.store.append_audit(
            "controlplane.login", actor=who.name, details={"role": who.role}
        )
    )
    return Redirect("/", status_code=303)


@post("/logout", guards=[VIEWER], include_in_schema=False, status_code=303)
async def logout(request: Request[Any, Any, Any]) -> Response[Any]:
    request.clear_session()
    return Response(content="", status_code=204, headers={"HX-Redirect": "/login"})


# -- pages ------------------------------------------------------------------------------------


def _or_login(request: Request[Any, Any, Any]) -> Principal | Redirect:
    who = _signed_in(request)
    return who if who is not None else Redirect("/login", status_code=303)


@get("/", include_in_schema=False, sync_to_thread=True)
def home(request: Request[Any, Any, Any]) -> Template | Redirect:
    who = _or_login(request)
    if isinstance(who, Redirect):
        return who
    plane = _plane(request)
    rows = agent_rows(plane)
    failed = [op.public() for op in plane.operations.recent(10) if op.status == "failed"]
    return _page(
        request,
        "home.html",
        who,
        agents=rows,
        failed=failed[:3],
        window_s=plane.figures_window_s,
    )


@get("/ui/agents", guards=[VIEWER], include_in_schema=False, sync_to_thread=True)
def agents_fragment(request: Request[Any, Any, Any]) -> Template:
    return _fragment(request, "_agents.html", agents=agent_rows(_plane(request)))


def _schema_of(plane: ControlPlane, agent: str) -> dict[str, Any] | None:
    """The io_schema of the agent's newest version (from its snapshot, placeholders kept)."""
    import yaml

    recorded = plane.store.list_versions(agent)
    if not recorded:
        return None
    try:
        data = yaml.safe_load(recorded[-1].snapshot)
    except yaml.YAMLError:
        return None
    if not isinstance(data, dict):
        return None
    schema = data.get("io_schema")
    agent_block = data.get("agent") if isinstance(data.get("agent"), dict) else {}
    return {
        "io_schema": schema if isinstance(schema, dict) else None,
        "description": agent_block.get("description") if agent_block else None,
        "snapshot": recorded[-1].snapshot,
    }


def _policies_of(plane: ControlPlane, agent: str) -> dict[str, Any] | None:
    """The policies of the version the agent runs (else its newest), from its snapshot."""
    import yaml

    try:
        record = running_version(plane, agent)
    except RuntimeHTTPError:
        return None
    try:
        data = yaml.safe_load(record.snapshot)
    except yaml.YAMLError:
        return None
    if not isinstance(data, dict):
        return None
    plugins = plane.plugins if plane.plugins is not None else get_plugin_manager()
    return {
        "version": record.version,
        "rows": policy_rows(data),
        "plugins": plugin_policy_rows(data, plugins),
    }


@get("/agents/{agent:str}", include_in_schema=False, sync_to_thread=True)
def agent_page(request: Request[Any, Any, Any], agent: AgentPath) -> Template | Redirect:
    who = _or_login(request)
    if isinstance(who, Redirect):
        return who
    plane = _plane(request)
    if agent == PLATFORM or agent not in plane.store.list_agents():
        raise RuntimeHTTPError(404, "NotFound", f"no agent named {agent!r}", path="agent")
    try:
        history = versions(agent, store=plane.store, plugins=plane.plugins)
    except DeployError:
        history = []
    now = time.time()
    keys = [k.public(now) for k in plane.store.list_api_keys(agent)]
    deployments = [d.public() for d in reversed(plane.store.list_deployments(agent))][:50]
    from agentdock.deployment.roles import defined_roles

    try:
        found = defined_roles(plane.store, agent, plugins=plane.plugins)
    except DeployError:
        found = None
    try:
        figures: dict[str, Any] | None = agent_metrics(
            plane.telemetry_path, agent, METRICS_WINDOW_S
        )
        runs = recent_runs(plane.telemetry_path, agent, 50) or []
    except TelemetryUnavailable:
        figures, runs = None, []
    langfuse = langfuse_of(plane, agent)
    for run in runs:
        run["langfuse_url"] = trace_link(langfuse, run.get("trace_id"))
    return _page(
        request,
        "agent.html",
        who,
        agent=agent,
        metrics=figures,
        runs=runs,
        status=agent_status(plane, agent),
        versions=list(reversed(history)),
        deployments=deployments,
        keys=keys,
        roles=sorted(found.roles) if found else [],
        schema=_schema_of(plane, agent),
        policies=_policies_of(plane, agent),
        langfuse=langfuse,
        audit=list(reversed(plane.store.list_audit(agent=agent, limit=AUDIT_SHOWN))),
    )


@get("/deploy", include_in_schema=False)
async def deploy_page(request: Request[Any, Any, Any]) -> Template | Redirect:
    who = _or_login(request)
    if isinstance(who, Redirect):
        return who
    return _page(request, "deploy.html", who, op=None, projects=str(_plane(request).projects))


@get("/operations/{op_id:str}", include_in_schema=False)
async def operation_page(request: Request[Any, Any, Any], op_id: OpPath) -> Template | Redirect:
    who = _or_login(request)
    if isinstance(who, Redirect):
        return who
    op = _plane(request).operations.get(op_id)
    if op is None:
        raise RuntimeHTTPError(404, "NotFound", "no such operation", path="op_id")
    return _page(request, "operation.html", who, op=op.public())


@get("/ui/operations/{op_id:str}", guards=[VIEWER], include_in_schema=False)
async def operation_fragment(request: Request[Any, Any, Any], op_id: OpPath) -> Template:
    op = _plane(request).operations.get(op_id)
    if op is None:
        raise RuntimeHTTPError(404, "NotFound", "no such operation", path="op_id")
    shown = _fragment(request, "_operation.html", op=op.public())
    if op.status in ("succeeded", "failed"):
        shown.status_code = STOP_POLLING  # the outcome is final: htmx stops asking
    return shown


@post("/ui/operations/{op_id:str}/secret", guards=[DEVELOPER], include_in_schema=False)
async def operation_secret(request: Request[Any, Any, Any], op_id: OpPath) -> Template:
    """The key a first deploy created, shown once to whoever started the deploy."""
    who = _signed_in(request)
    assert who is not None
    plane = _plane(request)
    secret = plane.operations.take_secret(op_id, who.name)
    op = plane.operations.get(op_id)
    if secret is None or op is None:
        raise RuntimeHTTPError(404, "NotFound", "no key waits for you in this operation")
    result = op.result or {}
    made = {"key": secret, "key_id": result.get("key_id"), "role": None}
    return _fragment(request, "_newkey.html", {"Cache-Control": "no-store"}, made=made)


@get("/validator", include_in_schema=False)
async def validator_page(request: Request[Any, Any, Any]) -> Template | Redirect:
    who = _or_login(request)
    if isinstance(who, Redirect):
        return who
    return _page(request, "validator.html", who, report=None)


@get("/audit-log", include_in_schema=False, sync_to_thread=True)
def audit_page(request: Request[Any, Any, Any]) -> Template | Redirect:
    who = _or_login(request)
    if isinstance(who, Redirect):
        return who
    entries = list(reversed(_plane(request).store.list_audit(limit=200)))
    return _page(request, "audit.html", who, entries=entries)


@get("/platform-keys", include_in_schema=False, sync_to_thread=True)
def platform_keys_page(request: Request[Any, Any, Any]) -> Template | Redirect:
    who = _or_login(request)
    if isinstance(who, Redirect):
        return who
    if not who.can("admin"):
        raise RuntimeHTTPError(403, "Forbidden", "only an admin manages platform keys")
    return _page(request, "platform_keys.html", who, keys=_platform_keys(request), roles=ROLES)


def _platform_keys(request: Request[Any, Any, Any]) -> list[dict[str, Any]]:
    now, plane = time.time(), _plane(request)
    plane.flush_key_use()
    return [k.public(now) for k in plane.store.list_api_keys(PLATFORM)]


@get("/ui/platform-keys", guards=[ADMIN], include_in_schema=False, sync_to_thread=True)
def platform_keys_fragment(request: Request[Any, Any, Any]) -> Template:
    return _fragment(request, "_platform_keys.html", keys=_platform_keys(request))


# -- actions (htmx) -----------------------------------------------------------------------------

Form = URLEncodedBody[dict[str, str]]


def _redirect(to: str) -> Response[Any]:
    return Response(content="", status_code=204, headers={"HX-Redirect": to})


@post("/ui/deploy", guards=[DEVELOPER], include_in_schema=False, sync_to_thread=True)
def deploy_action(request: Request[Any, Any, Any], data: Form) -> Response[Any]:
    who = _signed_in(request)
    assert who is not None
    op = start_deploy(_plane(request), who, str(data.get("dockfile", "")))
    return _redirect(f"/operations/{op.id}")


@post("/ui/rollback", guards=[DEVELOPER], include_in_schema=False, sync_to_thread=True)
def rollback_action(request: Request[Any, Any, Any], data: Form) -> Response[Any]:
    who = _signed_in(request)
    assert who is not None
    agent, version = _form_agent(data), data.get("version") or None
    op = start_rollback(_plane(request), who, agent, version)
    return _redirect(f"/operations/{op.id}")


@post("/ui/stop", guards=[DEVELOPER], include_in_schema=False, sync_to_thread=True)
def stop_action(request: Request[Any, Any, Any], data: Form) -> Response[Any]:
    who = _signed_in(request)
    assert who is not None
    op = start_stop(_plane(request), who, _form_agent(data))
    return _redirect(f"/operations/{op.id}")


def _form_agent(data: dict[str, str]) -> str:
    agent = str(data.get("agent", ""))
    if not is_agent_name(agent):
        raise RuntimeHTTPError(400, "InvalidAgent", "not an agent name", path="agent")
    return agent


@post("/ui/keys/create", guards=[DEVELOPER], include_in_schema=False, sync_to_thread=True)
def create_key_action(request: Request[Any, Any, Any], data: Form) -> Template:
    """Create a key and show it once (the fragment is never cached)."""
    agent = data.get("agent") or None
    if agent is not None:
        agent = _form_agent({"agent": agent})
    who = _signed_in(request)
    assert who is not None
    made = make_key(_plane(request), who, str(data.get("role", ""))[:32], agent)
    changed = {"HX-Trigger": "keys-changed", "Cache-Control": "no-store"}
    return _fragment(request, "_newkey.html", changed, made=made)


@get(
    "/ui/agents/{agent:str}/keys", guards=[DEVELOPER], include_in_schema=False, sync_to_thread=True
)
def keys_fragment(request: Request[Any, Any, Any], agent: AgentPath) -> Template:
    now = time.time()
    keys = [k.public(now) for k in _plane(request).store.list_api_keys(agent)]
    return _fragment(request, "_keys.html", agent=agent, keys=keys)


@post("/ui/keys/revoke", guards=[DEVELOPER], include_in_schema=False, sync_to_thread=True)
def revoke_key_action(request: Request[Any, Any, Any], data: Form) -> Response[Any]:
    agent = data.get("agent") or None
    key_id = str(data.get("key_id", ""))
    if agent is not None:
        agent = _form_agent({"agent": agent})
    if not is_key_id(key_id):
        raise RuntimeHTTPError(400, "InvalidKeyId", "not a key id", path="key_id")
    who = _signed_in(request)
    assert who is not None
    revoke(_plane(request), who, key_id, agent)
    # The page that showed the button shows the key's new state.
    return Response(content="", status_code=204, headers={"HX-Refresh": "true"})


@post("/ui/keys/rotate", guards=[DEVELOPER], include_in_schema=False, sync_to_thread=True)
def rotate_key_action(request: Request[Any, Any, Any], data: Form) -> Template:
    """Rotate a key and show the new one once (never cached)."""
    agent = _form_agent(data) if data.get("agent") else None
    key_id = str(data.get("key_id", ""))
    if not is_key_id(key_id):
        raise RuntimeHTTPError(400, "InvalidKeyId", "not a key id", path="key_id")
    grace = str(data.get("grace_s", "0"))
    if grace not in ("0", "3600", "86400"):
        raise RuntimeHTTPError(400, "InvalidGrace", "grace is 0, 3600 or 86400 s", "grace_s")
    who = _signed_in(request)
    assert who is not None
    made = rotate_key(_plane(request), who, key_id, agent, int(grace))
    changed = {"HX-Trigger": "keys-changed", "Cache-Control": "no-store"}
    return _fragment(request, "_newkey.html", changed, made=made)


@post("/ui/keys/revoke-all", guards=[DEVELOPER], include_in_schema=False, sync_to_thread=True)
def revoke_all_action(request: Request[Any, Any, Any], data: Form) -> Response[Any]:
    """Revoke every live key of an agent, or without ``agent`` every platform key but the
    caller's own (admin)."""
    who = _signed_in(request)
    assert who is not None
    agent = _form_agent(data) if data.get("agent") else None
    revoke_many(_plane(request), who, [], agent, every=True)
    return Response(content="", status_code=204, headers={"HX-Refresh": "true"})


@post("/ui/keys/revoke-bulk", guards=[DEVELOPER], include_in_schema=False)
async def revoke_bulk_action(request: Request[Any, Any, Any]) -> Response[Any]:
    """Revoke the keys ticked in a table (``key_ids``, repeated), of ``agent`` or platform
    keys (admin); as ``POST /auth/key/revoke-bulk``."""
    form = await request.form()
    key_ids = [str(k) for k in form.getall("key_ids")] if "key_ids" in form else []
    if not key_ids:
        raise RuntimeHTTPError(400, "NothingToRevoke", "select the keys to revoke", "key_ids")
    if len(key_ids) > MAX_BULK or not all(is_key_id(k) for k in key_ids):
        raise RuntimeHTTPError(400, "InvalidKeyId", "not a list of key ids", path="key_ids")
    agent = _form_agent({"agent": str(form["agent"])}) if form.get("agent") else None
    who = _signed_in(request)
    assert who is not None
    plane = _plane(request)
    await anyio.to_thread.run_sync(lambda: revoke_many(plane, who, key_ids, agent, every=False))
    return Response(content="", status_code=204, headers={"HX-Refresh": "true"})


@post("/ui/validate", guards=[VIEWER], include_in_schema=False)
async def validate_action(request: Request[Any, Any, Any], data: Form) -> Template:
    plane = _plane(request)
    text = str(data.get("dockfile", ""))
    report = await anyio.to_thread.run_sync(lambda: validate_text(text, plugins=plane.plugins))
    return _fragment(request, "_findings.html", report=report, lines=text.splitlines())


@post("/ui/agents/{agent:str}/invoke", guards=[VIEWER], include_in_schema=False)
async def playground_invoke(
    request: Request[Any, Any, Any], agent: AgentPath, data: Form
) -> Template:
    """Call the agent's ``/invoke`` with the key the user typed (never stored or logged)."""
    plane = _plane(request)
    state = await anyio.to_thread.run_sync(lambda: agent_status(plane, agent))
    endpoint = state.get("endpoint")
    if not isinstance(endpoint, str) or not endpoint.startswith(("http://", "https://")):
        return _fragment(request, "_invoke.html", status=None, body="the agent is not running")
    headers = {"content-type": "application/json"}
    key = str(data.get("key", "")).strip()
    if key:
        headers["authorization"] = f"Bearer {key}"
    try:
        payload = json.dumps(json.loads(str(data.get("input", ""))))
    except ValueError as exc:
        return _fragment(request, "_invoke.html", status=None, body=f"input is not JSON: {exc}")
    try:
        async with httpx.AsyncClient(timeout=60) as client:
            answer = await client.post(
                endpoint.rstrip("/") + "/invoke", content=payload.encode(), headers=headers
            )
    except httpx.HTTPError as exc:
        return _fragment(request, "_invoke.html", status=None, body=type(exc).__name__)
    return _fragment(request, "_invoke.html", status=answer.status_code, body=answer.text[:20000])


pages_router = Router(
    path="/",
    route_handlers=[
        login_page,
        login,
        logout,
        home,
        agents_fragment,
        agent_page,
        keys_fragment,
        deploy_page,
        operation_page,
        operation_fragment,
        operation_secret,
        validator_page,
        audit_page,
        platform_keys_page,
        deploy_action,
        rollback_action,
        stop_action,
        create_key_action,
        revoke_key_action,
        rotate_key_action,
        revoke_all_action,
        revoke_bulk_action,
        platform_keys_fragment,
        validate_action,
        playground_invoke,
    ],
    include_in_schema=False,
)
