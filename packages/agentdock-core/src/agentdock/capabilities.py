"""The optional parts of a plugin's contract, one small runtime-checkable Protocol each.

:mod:`agentdock.protocols` states what every plugin of a kind must have; what only some
have (a policy that holds stream text back, a sink that renders ``/metrics``, a target with
a dry run) is a capability here. A host sorts what it built by capability once, with
``isinstance``, when the pipeline or the app is compiled (as Litestar's ``PluginRegistry``
does), and keeps the result: nothing is probed per request. A plugin without a capability
is simply left out of what uses it.

``isinstance`` against these protocols checks that the members exist, not their signatures;
``mypy`` checks the signatures where a plugin assigns itself to one (``x: Promoting = T()``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:
    from agentdock.deployment.artifacts import Progress
    from agentdock.run import RunContext
    from agentdock.spec import DockSpec

__all__ = [
    "CLIENT_GONE",
    "WS_HANDSHAKE",
    "AppServer",
    "ClosingAdapter",
    "ClosingAuthProvider",
    "DirectoryServing",
    "EventCheckingPolicy",
    "EventSelectingSink",
    "FinishingPolicy",
    "HandingOverSink",
    "InPlaceTarget",
    "KeySetReporting",
    "KeyViewWriting",
    "LossCountingSink",
    "MetricsRendering",
    "MiddlewareProviding",
    "PipelineBoundSink",
    "Preflighting",
    "Promoting",
    "ReadinessReporting",
    "Retiring",
    "ServerOptions",
    "StoreAtPath",
    "StoreAtUrl",
    "TargetDryRun",
]


# -- adapters --------------------------------------------------------------------------------


@runtime_checkable
class ClosingAdapter(Protocol):
    """An adapter that holds something to release at shutdown (worker threads, a
    checkpointer's file or connection): the pipeline that built it calls ``close()`` once,
    in a worker thread, after its last run and within the shutdown bound."""

    def close(self) -> None: ...


# -- policies --------------------------------------------------------------------------------


@runtime_checkable
class FinishingPolicy(Protocol):
    """A ``post`` policy that holds stream text back and releases it at the end of a stream.

    ``finish(context)`` (a coroutine function or a plain one) returns the ``data`` of one
    last ``token`` item, or ``None`` when it held nothing back; that item then passes
    through the post policies after it.
    """

    def finish(self, context: RunContext) -> Any: ...


@runtime_checkable
class EventCheckingPolicy(Protocol):
    """A ``post`` policy that also inspects the node updates of a stream (``event`` items,
    which carry the agent's state): ``check_event(value, context)`` returns the value to
    send, like ``check``."""

    def check_event(self, value: Any, context: RunContext) -> Any: ...


# -- telemetry sinks -------------------------------------------------------------------------


@runtime_checkable
class EventSelectingSink(Protocol):
    """A sink that names the events it uses: the runtime builds only the events some sink
    wants, and times no step no sink asks for. Without it, a sink wants every event."""

    wants: frozenset[str]


@runtime_checkable
class HandingOverSink(Protocol):
    """A sink with a queue and a thread of its own: ``hand_over(events)`` appends a run's
    events to that queue and returns at once (never blocks nor awaits; past the queue's
    bound it drops them and counts them in ``dropped``). The runtime calls it on the event
    loop where it would queue the events for ``emit``: the sink then has no drain task, and
    the loop no wake-up and no ``emit`` call per batch. ``flush`` is called as for any sink."""

    def hand_over(self, events: Sequence[Mapping[str, Any]]) -> None: ...


@runtime_checkable
class LossCountingSink(Protocol):
    """A sink that can lose events after ``emit`` returned: ``dropped`` is how many since
    start-up, added to what the queue dropped for it in the per-sink drop counts."""

    dropped: int


@runtime_checkable
class PipelineBoundSink(Protocol):
    """A sink that reports on the pipeline itself (queue depth, drops, key fetches):
    ``bind(pipeline)`` is called once, when the pipeline is compiled."""

    def bind(self, pipeline: Any) -> None: ...


@runtime_checkable
class MetricsRendering(Protocol):
    """A sink that answers ``GET /metrics``: ``render_metrics()`` returns the body and its
    content type. It is called in a worker thread (it may read files)."""

    def render_metrics(self) -> tuple[bytes, str]: ...


@runtime_checkable
class MiddlewareProviding(Protocol):
    """A sink that measures requests: ``asgi_middleware(app)`` wraps the server's routes
    and returns the wrapped ASGI app. A request whose client went away before its response
    was sent carries :data:`CLIENT_GONE` in its scope: count it under that status, not as a
    server error. A WebSocket's handshake is told by the route that answers it, through
    :data:`WS_HANDSHAKE`, so its frames pass through the middleware untouched."""

    def asgi_middleware(self, app: Any) -> Any: ...


#: The ASGI scope key a server sets on a request whose client went away before its response
#: was sent: ``499`` (the client closed the connection) or ``408`` (the server cut it off at
#: its body deadline and answered 408 itself). What the application answered afterwards
#: (often a 500 for a body that never came) reached no one, so it is neither counted nor
#: logged as a server error.
CLIENT_GONE = "agentdock.client_gone"

#: The ASGI scope key a middleware that measures requests sets on a ``websocket`` scope: a
#: callable taking the HTTP status the handshake was answered with (``101`` accepted, else
#: the refusal's: the denial response's status, or ``403`` for a close before accepting). A
#: WebSocket route calls it once, when its answer is sent; a middleware counts a handshake
#: no route answered when the application returns. Called from the route, not seen in a
#: wrapped ``send``: the connection's frames then cost the middleware nothing.
WS_HANDSHAKE = "agentdock.ws_handshake"


# -- auth providers --------------------------------------------------------------------------


@runtime_checkable
class ReadinessReporting(Protocol):
    """An auth provider that needs something before it can verify anyone (an issuer's
    keys): ``readiness()`` returns ``None`` when ready, else the reason ``/ready`` answers
    503 with. It must not block; it may start what the provider needs."""

    def readiness(self) -> str | None: ...


@runtime_checkable
class KeySetReporting(Protocol):
    """An auth provider that fetches keys: ``key_set_stats()`` gives the fetches by
    outcome and the age of the key set in use, exported as metrics."""

    def key_set_stats(self) -> Any: ...


@runtime_checkable
class ClosingAuthProvider(Protocol):
    """An auth provider that holds something to release at shutdown (a store connection,
    a background thread): ``close()`` runs in a worker thread, within the shutdown bound."""

    def close(self) -> None: ...


# -- deploy targets --------------------------------------------------------------------------


@runtime_checkable
class Preflighting(Protocol):
    """A target that can tell, before anything is built or started, that it could never
    serve this version: ``preflight`` raises ``InvalidDeployInput`` then."""

    def preflight(
        self,
        spec: DockSpec,
        *,
        snapshot: str,
        version: str,
        env: Mapping[str, str],
        instance: str | None = None,
    ) -> None: ...


@runtime_checkable
class TargetDryRun(Protocol):
    """A target that serves ``agentdock deploy --dry-run``: ``dry_run(path, **options)``
    writes or returns what it would apply (see docs/plugins.md for the options)."""

    def dry_run(self, path: Any, *args: Any, **options: Any) -> Any: ...


@runtime_checkable
class Promoting(Protocol):
    """A target that keeps one address per agent and instance across versions: a runtime it
    starts serves that address only once ``promote(handle, progress)`` is called, after the
    health gate and before the registry activates the deployment. Idempotent; raising
    ``HealthGateFailed`` fails the deploy like the gate."""

    def promote(self, handle: Mapping[str, Any], progress: Progress) -> None: ...


@runtime_checkable
class Retiring(Protocol):
    """A target that can keep something of a superseded deployment for a quick rollback
    (the ``local`` target keeps its warm process on standby): ``retire(handle, timeout)``
    is called instead of ``stop`` once a newer deployment of the same agent and instance
    is active. It stops serving as ``stop`` does; what it keeps, it bounds and ends itself.
    It returns what became of the deployment in a few words (``"stopped"``, ``"stands by
    for a rollback for up to 600s ..."``), which the deploy's ``retire`` step reports, or
    None to let it say ``stopped``."""

    def retire(self, handle: Mapping[str, Any], timeout: float) -> str | None: ...


@runtime_checkable
class InPlaceTarget(Protocol):
    """A target whose new version replaces the running one in place (a Kubernetes
    Deployment): when ``replaces_in_place`` is true, a failed deploy restores the active
    version's state."""

    replaces_in_place: bool


# -- servers ---------------------------------------------------------------------------------


@runtime_checkable
class AppServer(Protocol):
    """A server that can hand out its ASGI application for a pipeline (what
    ``agentdock.app`` and the in-process test clients use)."""

    def app(self, pipeline: Any) -> Any: ...


@runtime_checkable
class DirectoryServing(Protocol):
    """A server that hosts several agents in one process, each under ``/agents/{name}/``
    (the container entrypoint given a directory of agents).

    ``serve_directory(directory, specs, host, port, ...)`` builds every agent of ``specs``
    (each agent's directory, a sub-directory of ``directory``, to its validated spec), then
    serves until SIGINT or SIGTERM. Before serving it raises ``ValueError`` when two agents
    share a name, ``PipelineError`` when a plugin is missing, or the agent's own exception
    when its code does not load.
    """

    def serve_directory(
        self,
        directory: Path,
        specs: Mapping[Path, DockSpec],
        host: str,
        port: int,
        *,
        plugins: Any,
        insecure_no_auth: bool,
        watch: bool,
        drain_timeout: float | None = None,
    ) -> None: ...


@runtime_checkable
class ServerOptions(Protocol):
    """A server with its own bounds for uvicorn (read deadlines, WebSocket message size):
    ``uvicorn_options()`` returns keyword arguments for ``uvicorn.run``."""

    def uvicorn_options(self) -> dict[str, Any]: ...


# -- registry stores -------------------------------------------------------------------------


@runtime_checkable
class KeyViewWriting(Protocol):
    """A store that writes each agent's API keys to a file of its own, which the runtime
    reads instead of the registry (the SQLite store); a deploy refreshes it."""

    def write_key_views(self, agent: str, instance: str = "") -> Path: ...


@runtime_checkable
class StoreAtPath(Protocol):
    """A store kept in a file: messages name the file."""

    path: Path


@runtime_checkable
class StoreAtUrl(Protocol):
    """A store reached by URL: messages name the URL, without its password."""

    url: str
