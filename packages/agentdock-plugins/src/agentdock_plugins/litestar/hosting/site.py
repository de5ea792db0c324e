"""The host's own routes, beside its agents': ``/health``, ``/ready``, ``/metrics``, ``/agents``.

Each answer is made of the agents' own answers, asked in-process through the host (so the
agent's auth decides for ``/metrics``, and a request counts as in flight like any other):

* ``GET /health``: ``{"status", "agents": {name: <its /health>, ...}}``; ``status`` is
  ``degraded`` while a Dockfile or an agent's code fails to (re)load. It is public, so
  anyone sees only that, each agent's own public ``/health``, ``reload_failed: true`` on an
  agent still serving its previous version and ``failed_directories`` (how many load
  nothing). Directories and reload errors (the finding's code and path, the cause being in
  the log) name files, so they go, as ``/agents`` gives them, to a caller whose credential
  holds ``view_metrics``: ``directory``, ``loaded_at`` and ``reload_error`` of each agent
  that admits it, and ``failed`` (by directory) once one does. A request without a
  credential (a probe) is answered without asking any agent's auth.
* ``GET /ready``: 200 when every hosted agent's ``/ready`` is, else 503 naming those that
  are not (``details``).
* ``GET /metrics``: the exposition of every agent that lets the caller see it (its
  ``view_metrics`` permission, or ``public: true``), each series labelled ``agent``;
  a caller some agent knows is asked of those and of the public ones only (the others
  would count it as an auth failure), one none knows of every agent;
* ``GET /agents``: the hosted agents, their paths and reload errors (with one agent hosted,
  the root's ``/health`` is that agent's own: this is where its reload errors show). It
  names directories, so it is authorised as ``/metrics`` is: the agents whose
  ``view_metrics`` the caller's credential holds are listed (and the directories that load
  nothing, once one is); a caller no agent admits gets the refusal of an agent that knew
  it (403) before a 401 (:func:`.hosted.outranks`), as ``/metrics`` does.
* ``/store/…``: each agent's store is its own; a 404 pointing at ``/agents/{name}/store/…``.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import TYPE_CHECKING, Annotated, Any, cast

import httpx
from agentdock.auth.permissions import VIEW_METRICS
from agentdock_runtime import RuntimeHTTPError, ServiceUnavailable
from litestar import HttpMethod, Litestar, Request, Response, get, route
from litestar.params import PathParameter

from agentdock_plugins.litestar.encoding import encode_json
from agentdock_plugins.litestar.errors import EXCEPTION_HANDLERS, JSON
from agentdock_plugins.litestar.hosting.hosted import outranks
from agentdock_plugins.litestar.hosting.metrics import merge_expositions
from agentdock_plugins.litestar.invoke import request_headers

if TYPE_CHECKING:
    from agentdock_plugins.litestar.hosting.host import AgentHost
    from agentdock_plugins.litestar.hosting.hosted import HostedAgent

__all__ = ["site_app"]

#: Request headers passed on to an agent asked in-process (its credentials).
_FORWARDED = ("authorization", "x-api-key")


def site_app(host: AgentHost) -> Litestar:
    """The Litestar application of ``host``'s own routes."""
    client = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=host), base_url="http://agentdock.host"
    )

    async def ask(name: str, path: str, headers: dict[str, str] | None = None) -> httpx.Response:
        return await client.get(f"/agents/{name}{path}", headers=headers)

    async def ask_all(
        path: str, headers: dict[str, str] | None = None, names: list[str] | None = None
    ) -> dict[str, Any]:
        names = sorted(host.agents) if names is None else names
        answers = await asyncio.gather(*(ask(name, path, headers) for name in names))
        return dict(zip(names, answers, strict=True))

    def failures() -> tuple[dict[str, Any], dict[str, Any]]:
        """The reload errors of agents still serving, and of directories serving nothing."""
        kept: dict[str, Any] = {}
        failed: dict[str, Any] = {}
        for directory, failure in host.failures.items():
            name = host.names.get(directory)
            if name is not None:
                kept[name] = failure
            else:
                failed[directory.name] = failure
        return kept, failed

    @get("/health")
    async def health(request: Request[Any, Any, Any]) -> Response[bytes]:
        answers = await ask_all("/health")
        headers = request_headers(cast("Any", request.scope))
        shown: dict[str, HostedAgent] = {}
        # A probe sends no credential: it is not authenticated (nor reported as refused).
        if any(name in headers for name in _FORWARDED):
            with contextlib.suppress(RuntimeHTTPError):  # no agent admits it: public
                shown = dict(await viewable(headers))
        kept, failed = failures()
        agents: dict[str, Any] = {}
        for name, answer in answers.items():
            body = answer.json()
            agent = shown.get(name)
            if agent is not None:
                body["directory"] = agent.directory.name
                body["loaded_at"] = _iso(agent.loaded_at)
                if name in kept:
                    body["reload_error"] = kept[name]
            elif name in kept:
                body["reload_failed"] = True
            agents[name] = body
        status = "stopping" if host.stopping else "degraded" if host.failures else "healthy"
        reply: dict[str, Any] = {"status": status, "agents": agents}
        if failed and shown:
            reply["failed"] = failed
        elif failed:
            reply["failed_directories"] = len(failed)
        return Response(content=encode_json(reply), media_type=JSON)

    @get("/ready")
    async def ready() -> Response[bytes]:
        if host.stopping:
            raise ServiceUnavailable("the runtime is shutting down")
        answers = await ask_all("/ready")
        if not answers:
            raise ServiceUnavailable("no agent is loaded")
        waiting = [
            {"path": name, "message": str(answer.json().get("detail", "not ready"))}
            for name, answer in answers.items()
            if answer.status_code != 200
        ]
        if waiting:
            names = ", ".join(item["path"] for item in waiting)
            raise RuntimeHTTPError(
                503, "ServiceUnavailable", f"not ready: {names}", details=waiting
            )
        body = {"status": "ready", "agents": dict.fromkeys(answers, "ready")}
        return Response(content=encode_json(body), media_type=JSON)

    @get("/metrics")
    async def metrics(request: Request[Any, Any, Any]) -> Response[bytes]:
        headers = {k: v for k in _FORWARDED if (v := request.headers.get(k)) is not None}
        # A caller some agent knows is asked of those (and of the agents whose metrics are
        # public): the others would count it as an auth failure. One none knows: of all.
        known = await host.known(headers) if headers else []
        asked = None
        if known:
            asked = sorted({*known, *(n for n, a in host.agents.items() if a.metrics_public)})
        answers = await ask_all("/metrics", headers, asked)
        shown = {n: a.text for n, a in answers.items() if a.status_code == 200}
        if not shown:
            refusal: httpx.Response | None = None
            for answer in answers.values():  # name order
                if answer.status_code != 404 and outranks(
                    answer.status_code, None if refusal is None else refusal.status_code
                ):
                    refusal = answer
            if refusal is None:
                raise RuntimeHTTPError(404, "NotFound", "no hosted agent exports metrics")
            return Response(
                content=refusal.content,
                status_code=refusal.status_code,
                media_type=JSON,
                headers={
                    k: v for k, v in refusal.headers.items() if k.lower() == "www-authenticate"
                },
            )
        body, content_type = await asyncio.to_thread(merge_expositions, shown)
        return Response(content=body, media_type=content_type)

    async def viewable(headers: dict[str, str]) -> list[tuple[str, HostedAgent]]:
        """The agents whose ``view_metrics`` the caller holds; none: the refusal, chosen by
        :func:`.hosted.outranks`. Only the agents that know the caller are asked,
        when one does (the others would count it as an auth failure); else all are."""
        names = await host.known(headers) or sorted(host.agents)
        shown, refusal = await host.admitting(headers, VIEW_METRICS, names)
        if not shown and refusal is not None:
            raise refusal
        return shown

    @get("/agents")
    async def agents(request: Request[Any, Any, Any]) -> Response[bytes]:
        # Served with one agent too (whose /health is then the root's): reload errors here.
        shown = await viewable(request_headers(cast("Any", request.scope)))
        kept, failed = failures()
        listed = []
        for name, agent in shown:
            entry = {"name": name, "path": f"/agents/{name}", "directory": agent.directory.name}
            if name in kept:
                entry["reload_error"] = kept[name]
            listed.append(entry)
        body: dict[str, Any] = {"agents": listed}
        if failed and shown:
            body["failed"] = failed
        return Response(content=encode_json(body), media_type=JSON)

    @route("/agents/{name:str}/{rest:path}", http_method=list(HttpMethod))
    async def no_agent(name: Annotated[str, PathParameter()]) -> None:
        raise RuntimeHTTPError(404, "NotFound", "no agent of that name is hosted", path=name)

    @route("/store/{rest:path}", http_method=list(HttpMethod))
    async def no_root_store(request: Request[Any, Any, Any]) -> None:
        raise RuntimeHTTPError(
            404,
            "NotFound",
            f"the store is each agent's own: use /agents/{{name}}{request.url.path}",
            path="store",
        )

    async def close() -> None:
        await host.shutdown()
        await client.aclose()
        await host.routes.aclose()

    return Litestar(
        route_handlers=[health, ready, metrics, agents, no_agent, no_root_store],
        exception_handlers=EXCEPTION_HANDLERS,
        on_startup=[host.startup],
        on_shutdown=[close],
        openapi_config=None,
        logging_config=None,
    )


def _iso(epoch: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))
