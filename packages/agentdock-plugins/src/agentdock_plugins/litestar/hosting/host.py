"""The dispatching ASGI application in front of the hosted agents.

``/agents/{name}/rest`` goes to agent ``name``'s application as ``/rest`` (``root_path``
gains ``/agents/{name}``); with exactly one agent hosted, every other path but ``/agents``
goes to it too; otherwise to the client protocols' routes across agents
(:mod:`.clientroutes`) or the host's own (:mod:`.site`). The table of agents is replaced, never
edited, so one request reads one consistent table; an agent's in-flight count lets a
replaced application finish what it serves before it shuts down (:mod:`.hosted`).
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Awaitable, Callable, Iterable, Mapping, MutableMapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from agentdock.agentdirs import (
    DOCKFILE,
    HostingError,
    agent_directories,
    duplicate_message,
)
from agentdock.capabilities import CLIENT_GONE
from agentdock.findings import Finding
from agentdock_runtime import RuntimeHTTPError

from agentdock_plugins.litestar.hosting.hosted import HostedAgent, build_hosted, outranks

if TYPE_CHECKING:
    from agentdock.plugins import PluginManager
    from agentdock.spec import DockSpec

__all__ = ["AgentHost", "InvalidAgents"]

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]

_PREFIX = "/agents/"
_PREFIX_LEN = len(_PREFIX)
#: The host's list of agents, served whatever the number of agents.
_LISTING = "/agents"

log = logging.getLogger("agentdock.serve")


class InvalidAgents(HostingError):
    """Dockfiles of the directory failed validation: ``findings`` holds every one."""

    def __init__(self, findings: list[Finding]) -> None:
        super().__init__(f"{len(findings)} finding(s) in the Dockfiles of the directory")
        self.findings = findings


class _ChildScope(dict[str, Any]):
    """The scope an agent's application gets under ``/agents/{name}``: a copy of the
    connection's (its paths rewritten) that still answers :data:`CLIENT_GONE` from it.
    The server marks the connection's own scope when the client goes away or its body
    comes too late, possibly while the agent serves the request; the agent's metrics and
    error handler read the mark here, so they count that status, not a server failure."""

    __slots__ = ("parent",)
    parent: Scope

    def get(self, key: str, default: Any = None) -> Any:
        if key == CLIENT_GONE and not dict.__contains__(self, key):
            return self.parent.get(key, default)
        return dict.get(self, key, default)

    def __contains__(self, key: object) -> bool:
        return dict.__contains__(self, key) or (key == CLIENT_GONE and key in self.parent)

    def __missing__(self, key: str) -> Any:
        if key == CLIENT_GONE:
            return self.parent[key]
        raise KeyError(key)


class AgentHost:
    """Serves every agent of ``directory``; see :mod:`agentdock_plugins.litestar.hosting`.

    :param watch: reload agents when their files change (:mod:`.watch`), from start-up on.
    """

    def __init__(
        self,
        directory: Path,
        *,
        plugins: PluginManager,
        insecure_no_auth: bool = False,
        watch: bool = False,
    ) -> None:
        from agentdock_plugins.litestar.hosting.clientroutes import ClientRoutes
        from agentdock_plugins.litestar.hosting.site import site_app
        from agentdock_plugins.litestar.limits import ServerLimits

        self.directory = directory.resolve()
        self.plugins = plugins
        self.insecure_no_auth = insecure_no_auth
        self.watch = watch
        #: The client protocols' root routes, across agents (:mod:`.clientroutes`).
        self.routes = ClientRoutes(
            self, max_body_bytes=ServerLimits.from_env(os.environ).max_body_bytes
        )
        #: The host's own routes (plain ASGI to the dispatcher).
        self.site: Any = site_app(self)
        #: name -> agent; replaced as a whole on every change.
        self.agents: dict[str, HostedAgent] = {}
        #: The one agent, while exactly one is hosted (it answers the root paths).
        self.sole: HostedAgent | None = None
        #: agent directory -> the name of the agent loaded from it.
        self.names: dict[Path, str] = {}
        #: agent directory -> why its latest Dockfile or code could not be loaded.
        self.failures: dict[Path, dict[str, Any]] = {}
        self.stopping = False
        #: Replaced or unloaded agents still finishing their requests.
        self.retiring: set[asyncio.Task[None]] = set()
        self._watcher: Any = None

    # -- start-up ---------------------------------------------------------------------------

    def load_all(self, specs: Mapping[Path, DockSpec] | None = None) -> list[DockSpec]:
        """Validate and build every agent (blocking, before serving): all or nothing.

        :param specs: each agent directory's spec, validated already (the container
            entrypoint resolves placeholders its own way); default: validated here.
        :raises HostingError: the directory is missing or empty, two agents share a name.
        :raises InvalidAgents: a Dockfile is invalid (every finding of every file).
        :raises Exception: an agent fails to load (the pipeline's or its code's error).
        """
        if specs is None:
            specs = self._validate_all()
        seen: dict[str, Path] = {}
        for directory, spec in specs.items():
            first = seen.setdefault(spec.agent.name, directory)
            if first != directory:
                raise HostingError(
                    duplicate_message(spec.agent.name, first / DOCKFILE, directory / DOCKFILE)
                )
        for directory, spec in specs.items():
            self._install(directory.resolve(), self._build(spec, directory), replaced=None)
        return list(specs.values())

    def _validate_all(self) -> dict[Path, DockSpec]:
        specs: dict[Path, DockSpec] = {}
        findings: list[Finding] = []
        for directory in agent_directories(self.directory):
            report = self._validate(directory / DOCKFILE)
            if report.ok:
                specs[directory] = report.spec
            findings += report.errors
        if findings:
            raise InvalidAgents(findings)
        return specs

    def _validate(self, dockfile: Path) -> Any:
        from agentdock.validation import validate

        return validate(dockfile, plugins=self.plugins, skip_imports=True)

    def _build(self, spec: DockSpec, directory: Path) -> HostedAgent:
        return build_hosted(
            spec,
            directory,
            self.directory,
            plugins=self.plugins,
            insecure_no_auth=self.insecure_no_auth,
        )

    async def startup(self) -> None:
        """Start every agent's application, then the watcher."""
        for agent in list(self.agents.values()):
            await agent.start()
        if self.watch:
            from agentdock_plugins.litestar.hosting.watch import Watcher

            self._watcher = Watcher(self)
            self._watcher.start()

    async def shutdown(self) -> None:
        """Stop the watcher, then every agent (after the requests they serve)."""
        self.stopping = True
        if self._watcher is not None:
            await self._watcher.stop()
        for agent in list(self.agents.values()):
            await agent.stop()
        if self.retiring:
            await asyncio.gather(*self.retiring, return_exceptions=True)

    # -- requests ---------------------------------------------------------------------------

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "lifespan":
            path: str = scope["path"]
            if path.startswith(_PREFIX):
                name, _, rest = path[_PREFIX_LEN:].partition("/")
                agent = self.agents.get(name)
                if agent is not None:
                    child = _ChildScope(scope)
                    child.parent = scope
                    child["path"] = "/" + rest
                    raw = scope.get("raw_path")
                    if raw is not None:  # as sent: kept when it spells the prefix plainly
                        child["raw_path"] = (
                            raw[len(agent.raw_prefix) :] or b"/"
                            if raw.startswith(agent.raw_prefix)
                            else child["path"].encode()
                        )
                    child["root_path"] = scope.get("root_path", "") + agent.prefix
                    return await self.enter(agent, child, receive, send)
            else:
                sole = self.sole
                if sole is not None and path != _LISTING:
                    return await self.enter(sole, scope, receive, send)
                if await self.routes(scope, receive, send):
                    return
        await self.site(scope, receive, send)

    async def known(self, headers: Mapping[str, str]) -> list[str]:
        """The names (sorted) of the agents whose auth provider knows the caller from
        ``headers`` (or takes anyone), asked without a refusal reported: the host asks
        only those with the caller's credentials, so a caller one agent knows is no auth
        failure of the others. Empty for a caller none knows, whom every agent then
        refuses and reports, as its own routes would."""
        known, _ = await self._each(sorted(self.agents), lambda p: p.authenticate(headers))
        return [name for name, _agent in known]

    async def admitting(
        self,
        headers: Mapping[str, str],
        permission: str,
        names: Iterable[str] | None = None,
        *,
        first: bool = False,
    ) -> tuple[list[tuple[str, HostedAgent]], RuntimeHTTPError | None]:
        """The agents of ``names`` (default: every one, in name order) that admit the caller
        to ``permission``, each refusal reported by its agent as its routes report one, and
        the refusal to answer were none to admit it (:func:`.hosted.outranks`); ``first``:
        stop at the first that admits."""
        names = sorted(self.agents) if names is None else names
        return await self._each(names, lambda p: p.authorize(headers, permission), first=first)

    async def _each(
        self,
        names: Iterable[str],
        check: Callable[[Any], Awaitable[Any]],
        *,
        first: bool = False,
    ) -> tuple[list[tuple[str, HostedAgent]], RuntimeHTTPError | None]:
        """``check(pipeline)`` of each agent of ``names`` still hosted, its pipeline held
        open (in flight) meanwhile: those it passed, and the refusal that outranks the
        others (``first``: up to the first it passes)."""
        agents = self.agents
        passed: list[tuple[str, HostedAgent]] = []
        refusal: RuntimeHTTPError | None = None
        for name in names:
            agent = agents.get(name)
            if agent is None:
                continue
            agent.inflight += 1
            try:
                await check(agent.pipeline)
            except RuntimeHTTPError as exc:
                if outranks(exc.status, None if refusal is None else refusal.status):
                    refusal = exc
                continue
            finally:
                agent.left()
            passed.append((name, agent))
            if first:
                break
        return passed, refusal

    @staticmethod
    async def enter(agent: HostedAgent, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve one request with ``agent``'s application, counted as in flight."""
        agent.inflight += 1
        try:
            await agent.app(scope, receive, send)
        finally:
            agent.left()

    # -- changes ----------------------------------------------------------------------------

    def _install(self, directory: Path, agent: HostedAgent, *, replaced: str | None) -> None:
        """Make ``agent`` the one served under its name, in one assignment of the table;
        ``replaced``: the name the directory's agent had before (when it changed)."""
        agents = dict(self.agents)
        old = [agents.pop(replaced)] if replaced is not None and replaced in agents else []
        previous = agents.get(agent.name)
        if previous is not None and previous not in old:
            old.append(previous)
        agents[agent.name] = agent
        self._publish(agents)
        self.names[directory] = agent.name
        self.failures.pop(directory, None)
        for stale in old:
            self._retire(stale)

    def _publish(self, agents: dict[str, HostedAgent]) -> None:
        self.agents = agents
        self.sole = next(iter(agents.values())) if len(agents) == 1 else None

    def _retire(self, agent: HostedAgent) -> None:
        task = asyncio.get_running_loop().create_task(agent.retire())
        self.retiring.add(task)
        task.add_done_callback(self._retired)

    def _retired(self, task: asyncio.Task[None]) -> None:
        self.retiring.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("shutting down a replaced agent failed", exc_info=task.exception())

    async def refresh(self, directory: Path) -> None:
        """Load, reload or unload the agent of ``directory`` after its files changed; a
        Dockfile or code that fails keeps the previous version serving, and is reported."""
        dockfile = directory / DOCKFILE
        loaded = self.names.get(directory)
        if not dockfile.is_file():
            self.failures.pop(directory, None)
            if loaded is not None:
                del self.names[directory]
                agents = dict(self.agents)
                gone = agents.pop(loaded, None)
                self._publish(agents)
                if gone is not None:
                    self._retire(gone)
                log.info("unloaded agent %s (%s removed)", loaded, dockfile)
            return
        report = await asyncio.to_thread(self._validate, dockfile)
        if not report.ok:
            self._failed(directory, [_finding(f) for f in report.errors], report.errors)
            return
        spec: DockSpec = report.spec
        name = spec.agent.name
        owner = next((d for d, n in self.names.items() if n == name and d != directory), None)
        if owner is not None:
            cause = duplicate_message(name, owner / DOCKFILE, dockfile)
            self._failed(directory, [{"cause": "DuplicateAgentName", "path": "agent.name"}], cause)
            return
        try:
            agent = await asyncio.to_thread(self._build, spec, directory)
            await agent.start()
        except Exception as exc:
            cause = f"cannot load {spec.agent.entrypoint}: {type(exc).__name__}: {exc}"
            self._failed(
                directory, [{"cause": type(exc).__name__, "path": "agent.entrypoint"}], cause
            )
            return
        if self.stopping:
            await agent.stop()
            return
        self._install(directory, agent, replaced=loaded)
        log.info("%s agent %s from %s", "reloaded" if loaded else "loaded", name, dockfile)

    def _failed(self, directory: Path, errors: list[dict[str, Any]], cause: Any) -> None:
        """Record (for ``/health``) and log why ``directory``'s agent was not (re)loaded.

        ``/health`` and ``/agents`` give a caller that may view metrics the code and path of
        each finding, never a message (which may quote a value); the log line carries the
        whole cause."""
        dockfile = directory / DOCKFILE
        self.failures[directory] = {
            "dockfile": str(dockfile.relative_to(self.directory)),
            "errors": errors,
        }
        kept = self.names.get(directory)
        keeping = f"; still serving the previous version of {kept}" if kept else ""
        if isinstance(cause, str):
            log.error("%s not loaded: %s%s", dockfile, cause, keeping)
            return
        for finding in cause:
            where = "" if finding.line else f"{dockfile}: "
            log.error("not loaded: %s%s%s", where, finding.one_line(), keeping)


def _finding(finding: Finding) -> dict[str, Any]:
    return {"code": int(finding.code), "name": finding.name, "path": finding.dotted_path}
