"""The interfaces each kind of plugin satisfies: one Protocol per kind, its whole contract.

A registration hook records a *factory* under a name; the factory is called once, when the
thing is needed, and returns an object satisfying the matching protocol. Factories are
usually classes. All protocols are ``runtime_checkable`` so a host can check a plugin's
object with ``isinstance`` at start-up (never per request). What only some plugins of a
kind offer is a capability, a Protocol of its own in :mod:`agentdock.capabilities`; the
registry store's contract, split by concern, is in :mod:`agentdock.storecontract` (and
:class:`Store` is re-exported here).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal, Protocol, TypeAlias, runtime_checkable

from agentdock.storecontract import Store

if TYPE_CHECKING:
    from agentdock.deployment.artifacts import Artifact, BuildRequest, Progress, StartRequest
    from agentdock.run import RunContext, RunResult, StreamEvent, ToolCall
    from agentdock.spec import DockSpec

__all__ = [
    "Adapter",
    "AdapterFactory",
    "AnyPolicy",
    "AuthProvider",
    "Builder",
    "HardwareProfile",
    "Policy",
    "PolicyStage",
    "Server",
    "Store",
    "Target",
    "TelemetrySink",
    "ToolOutputPolicy",
]


@runtime_checkable
class Adapter(Protocol):
    """Runs one agent of one framework; built once at start-up by its factory.

    Example::

        from agentdock.run import RunResult, StreamEvent

        class EchoAdapter:
            def __init__(self, entry, spec):
                self.entry = entry

            async def invoke(self, payload, context):
                return RunResult(output=dict(payload))

            async def stream(self, payload, context):
                yield StreamEvent("token", {"text": str(payload)})
    """

    async def invoke(self, payload: Mapping[str, Any], context: RunContext) -> RunResult:
        """Run the agent once; ask ``context.tools`` before every tool call."""
        ...

    def stream(self, payload: Mapping[str, Any], context: RunContext) -> AsyncIterator[StreamEvent]:
        """Run the agent, yielding tokens, node/tool updates, tool calls and usage."""
        ...


class AdapterFactory(Protocol):
    """Builds an :class:`Adapter` once at start-up from the imported entrypoint and spec."""

    def __call__(self, entry: Any, spec: DockSpec) -> Adapter: ...


#: Where a policy runs: on the validated input, on each tool call, on each tool's result,
#: or on the output.
PolicyStage = Literal["pre", "tool", "tool_output", "post"]


@runtime_checkable
class Policy(Protocol):
    """Inspects or rewrites one stage of every run; built once at start-up.

    Factory: ``factory(spec) -> Policy | None``, registered with
    ``agentdock_register_policies``. The runtime calls every registered policy factory once
    with the resolved ``DockSpec``; ``None`` means "not applicable to this spec" (a redaction
    policy for a Dockfile without ``redact_patterns``). Policies of one stage run in
    registration order.

    ``check`` returns the value to go on with (for ``"pre"`` and ``"post"``: the same object
    or a rewritten one); a ``check`` that returns ``None`` there is the policy's error, named
    as such. It may be a coroutine function or a plain function (the runtime tells which once,
    at start-up; keep a plain one cheap, it runs on the event loop). What it receives and
    returns depends on ``stage``:

    - ``"pre"``: the validated input mapping; returns the input to use (the same object or a
      rewritten one).
    - ``"tool"``: an :class:`agentdock.run.ToolCall` the agent is about to make; the return
      value is ignored. Raise :class:`agentdock.run.ToolDenied` to stop the run (403).
    - ``"tool_output"``: ``check(call, output, context)`` with the :class:`agentdock.run.
      ToolCall` and what the tool returned, called synchronously in the thread that made the
      call, before the agent reads the result. Raise :class:`agentdock.run.ToolDenied` to
      stop the run (403) before the agent sees it, or return an
      :class:`agentdock.run.ReplaceToolOutput` to have the agent read its ``content`` in
      place of the result and go on; any other return value is ignored.
    - ``"post"``: the validated output of ``invoke``, or the ``data`` mapping of each
      ``token`` item of a stream; returns the value to send.

    To refuse, raise one of the HTTP errors of :mod:`agentdock.httperrors`
    (``PolicyViolationError`` for 403, ``PayloadTooLarge`` for 413); any other exception
    answers 500 without details.

    Example::

        class MaxInputChars:
            stage = "pre"

            def __init__(self, spec):
                self.limit = spec.arguments.get("max_input_chars", 10_000)

            def check(self, value, context):
                if len(str(value)) > self.limit:
                    raise PolicyViolationError("input too long")
                return value
    """

    @property
    def stage(self) -> str:
        """One of :data:`PolicyStage`, checked once when the pipeline is compiled (an
        unknown stage stops the start). Read-only and typed ``str``, so that ``stage =
        "pre"`` in a class, as the example writes it, and a ``Literal`` both satisfy it."""
        ...

    def check(self, value: Any, context: RunContext) -> Any:
        """Return the value to go on with, or raise to refuse (see the class docstring)."""
        ...


@runtime_checkable
class ToolOutputPolicy(Protocol):
    """A policy of the ``"tool_output"`` stage: ``check(call, output, context)``, plain
    (not a coroutine function), called in the thread that made the tool call before the
    agent reads ``output``; raise :class:`agentdock.run.ToolDenied` to stop the run (403),
    or return an :class:`agentdock.run.ReplaceToolOutput` to put a notice in place of the
    result. Its factory is registered like any policy's (see :class:`Policy`)."""

    @property
    def stage(self) -> str:
        """``"tool_output"``."""
        ...

    def check(self, call: ToolCall, output: Any, context: RunContext) -> Any:
        """Return a :class:`agentdock.run.ReplaceToolOutput` to replace the result, anything
        else to keep it, or raise to refuse."""
        ...


#: What a policy factory builds: a policy of the value stages, or a tool-output one.
AnyPolicy: TypeAlias = Policy | ToolOutputPolicy


@runtime_checkable
class TelemetrySink(Protocol):
    """Receives telemetry events off the request path; built once at start-up.

    Factory: ``factory(spec) -> TelemetrySink | None``, registered with
    ``agentdock_register_telemetry_sinks``; ``None`` means the sink is not configured for
    this spec. Events reach ``emit`` in batches from a bounded queue drained by one
    background task; a request never awaits a sink. A sink that raises or runs past the
    runtime's sink timeout loses that batch and is counted, nothing else.

    An event is a JSON-compatible mapping in the envelope of ``contracts/events/``
    (``{"event": "run_end", "version": "1.0", "timestamp": ..., "agent": ..., "run_id": ...,
    "trace_id": ..., "span_id": ..., "data": {...}}``); it never holds the input, the
    output or a credential.

    Optional capabilities (:mod:`agentdock.capabilities`), sorted once when the pipeline
    is built: ``wants: frozenset[str]``, the event names it uses
    (:class:`~agentdock.capabilities.EventSelectingSink`: the runtime builds only the events
    some sink wants, so a sink may still see events it did not ask for; without it a sink
    wants every event); ``dropped: int``, the events it lost after ``emit`` returned
    (:class:`~agentdock.capabilities.LossCountingSink`: added to what the queue dropped for
    it, reported per sink as ``agentdock_telemetry_events_dropped_total{sink=...}``);
    ``hand_over(events)``, a call that appends to the sink's own bounded queue and never
    blocks (:class:`~agentdock.capabilities.HandingOverSink`: the runtime calls it in place
    of queueing the events for ``emit``);
    ``bind(pipeline)`` (:class:`~agentdock.capabilities.PipelineBoundSink`);
    ``render_metrics()`` for ``GET /metrics``
    (:class:`~agentdock.capabilities.MetricsRendering`); ``asgi_middleware(app)``
    (:class:`~agentdock.capabilities.MiddlewareProviding`).
    """

    async def emit(self, events: Sequence[Mapping[str, Any]]) -> None:
        """Deliver a batch of events; may raise, the caller counts and drops."""
        ...

    async def flush(self) -> None:
        """Deliver anything buffered; called at shutdown within a bound."""
        ...


@runtime_checkable
class AuthProvider(Protocol):
    """Turns request credentials into an identity; built once at start-up.

    Factory: ``factory(spec) -> AuthProvider``, registered with
    ``agentdock_register_auth_providers`` under the ``auth.mode`` it serves (``jwt``,
    ``api_key``, ``oauth2``). The runtime refuses to compile a pipeline when no provider is
    registered for the spec's mode, unless it is started with ``insecure_no_auth``.

    ``authenticate`` may be a coroutine function (a key store or JWKS lookup) or a plain
    function (an HS256 check); the runtime tells which once, at start-up. ``headers`` has
    lower-case names. It returns at least ``{"sub": ..., "role": ...}`` (never the credential
    itself), or raises one of the runtime's HTTP errors (``Unauthorized`` 401,
    ``Forbidden`` 403, ``TokenExpired`` 498, ``KeyRevoked`` 499, ``ServiceUnavailable`` 503
    when what it needs to decide cannot be had); any other exception answers 401 without
    details.

    Optional capabilities (:mod:`agentdock.capabilities`), sorted once when the pipeline
    is built: ``readiness() -> str | None``, the reason the provider cannot verify anyone
    yet (:class:`~agentdock.capabilities.ReadinessReporting`: ``/ready`` answers 503 with
    it; it must not block); ``key_set_stats()`` for a provider that fetches keys
    (:class:`~agentdock.capabilities.KeySetReporting`: ``fetches`` by outcome and
    ``age_seconds``, exported as metrics); ``close()`` at shutdown
    (:class:`~agentdock.capabilities.ClosingAuthProvider`).
    """

    def authenticate(
        self, headers: Mapping[str, str]
    ) -> Mapping[str, Any] | Awaitable[Mapping[str, Any]]:
        """Return the caller's identity or raise (see the class docstring); a coroutine
        function returns it when awaited."""
        ...


@runtime_checkable
class Builder(Protocol):
    """Turns a validated spec and its project into a runnable artifact.

    Factory: ``factory() -> Builder``, registered with ``agentdock_register_builders``
    under the name users pick (``local``, ``docker``). Builds are content-addressed: the
    same :class:`~agentdock.deployment.artifacts.BuildRequest` inputs give the same
    artifact, and a second build of them returns it with ``cached=True`` without building.
    Errors are :class:`~agentdock.deployment.errors.BuildFailed` (exit 3) with a one-line
    cause naming what failed (the dependency that cannot be resolved, the missing daemon).
    """

    def build(self, request: BuildRequest, progress: Progress) -> Artifact:
        """Build (or find) the artifact; report each step through ``progress``."""
        ...

    def exists(self, artifact: Artifact) -> bool:
        """Whether the artifact is still there (a bundle directory, an image)."""
        ...

    def remove(self, artifact: Artifact) -> int | None:
        """Delete the artifact (``agentdock cleanup``, ``agentdock rm``); absent is not an
        error. Returns the bytes the machine got back, or None when not measured."""
        ...


@runtime_checkable
class Target(Protocol):
    """Runs artifacts somewhere and reports on them.

    Factory: ``factory() -> Target``, registered with ``agentdock_register_targets``.
    ``builder`` names the builder whose artifacts it runs. A *handle* is the JSON-compatible
    mapping ``start`` returns (pid, container id, port, ``endpoint``); the registry keeps it
    in the deployment row and passes it back to the other methods, from any later process.
    A handle never holds a secret value.

    Optional capabilities (:mod:`agentdock.capabilities`, checked with ``isinstance``):
    ``preflight(spec, *, snapshot, version, env, instance)``
    (:class:`~agentdock.capabilities.Preflighting`), called before anything is built or
    started, raises ``InvalidDeployInput`` for what the target could never serve;
    ``dry_run(path, **options)`` (:class:`~agentdock.capabilities.TargetDryRun`) serves
    ``agentdock deploy --dry-run`` (see docs/plugins.md); ``replaces_in_place``
    (:class:`~agentdock.capabilities.InPlaceTarget`): a failed deploy restores the active
    version's state.

    Optional: ``promote(handle, progress)`` (:class:`~agentdock.capabilities.Promoting`),
    for a target that keeps one address per agent and instance across versions (the
    ``local`` target). A runtime it starts serves that address only once promoted; a deploy
    or rollback calls it after ``wait_ready`` passed and before the registry activates the
    new deployment (then the previous one is stopped and drains). It must be idempotent; raising
    :class:`~agentdock.deployment.errors.HealthGateFailed` fails the deploy like the gate:
    the new runtime is stopped and the previous one keeps serving, untouched. Without it,
    each runtime serves its own endpoint from the start.
    """

    builder: str

    def start(
        self, artifact: Artifact, request: StartRequest, progress: Progress
    ) -> Mapping[str, Any]:
        """Start the runtime in the background and return its handle (with ``endpoint``)."""
        ...

    def wait_ready(self, handle: Mapping[str, Any], timeout: float, progress: Progress) -> None:
        """Return once ``/ready`` answers 200 (and the container reports healthy); raise
        :class:`~agentdock.deployment.errors.HealthGateFailed` with the runtime's last log
        lines when it exits or the timeout passes."""
        ...

    def stop(self, handle: Mapping[str, Any], timeout: float) -> None:
        """Stop it cleanly (SIGTERM, drain, then kill after ``timeout``); stopped is fine."""
        ...

    def status(self, handle: Mapping[str, Any]) -> Mapping[str, Any]:
        """``{"state": "running"|"degraded"|"down"|"stopped", "healthy": bool|None,
        "restarts": int, "started_at": float|None}``, read live. ``degraded``: it serves,
        impaired (unhealthy, restarting, some replicas missing); ``down``: it should serve
        and nothing does (a crash loop it gave up on, a runtime that died)."""
        ...

    def logs(self, handle: Mapping[str, Any], tail: int | None, follow: bool) -> Iterator[str]:
        """The runtime's log lines, oldest first; with ``follow``, keep yielding new ones.
        A :class:`~agentdock.deployment.followedlog.FollowedLog` lets a reader in another
        thread stop a follow that waits for a next line; a plain iterator cannot be."""
        ...


@runtime_checkable
class HardwareProfile(Protocol):
    """A family of machines: its base images, platforms, tuned defaults and GPU requests.

    Factory: ``factory() -> HardwareProfile``, registered with
    ``agentdock_register_hardware_profiles`` under the name ``build.hardware`` picks
    (``cpu``, ``cuda``). ``build.hardware: auto`` asks every profile but ``cpu`` whether
    the machine belongs to it (``detect``) and falls back to ``cpu``.

    ``probe`` is what was detected about a machine (the built-in probe returns an
    ``agentdock_plugins.hardware.probe.Probe``: ``gpus``, ``cpus``, ``memory_bytes``,
    ``driver_version``, ``cuda_version``, ``problems``). Every method is called at build or
    start-up time, never per request, and none may raise for an unusual machine: a machine
    without what the profile needs is a ``False`` from ``detect``, not an error.

    Example::

        class CpuProfile:
            name = "cpu"
            bundles_python = True

            def detect(self, probe):
                return True

            def base_image(self, python_version, cuda_version=None):
                return f"python:{python_version}-slim-bookworm"

            def platforms(self):
                return ["linux/amd64", "linux/arm64"]

            def tuned(self, machine):
                return {"env": {"OMP_NUM_THREADS": str(machine.cpus)}}

            def gpu_request(self, count):
                return {}
    """

    #: The name ``build.hardware`` uses.
    name: str
    #: Whether :meth:`base_image` names an image that already carries the requested Python
    #: (``False``: the builder must bring the interpreter, or the user names a base that has
    #: it in ``build.base_image``).
    bundles_python: bool

    def detect(self, probe: Any) -> bool:
        """Whether the probed machine belongs to this family."""
        ...

    def base_image(self, python_version: str, cuda_version: str | None = None) -> str:
        """The family's default base image (``build.base_image`` overrides it)."""
        ...

    def platforms(self) -> list[str]:
        """The OCI platforms the family's base images exist for, the usual one first."""
        ...

    def tuned(self, machine: Any) -> dict[str, Any]:
        """The machine profile for ``machine`` (a probe): the JSON document written to
        ``/etc/agentdock/machine-profile.json``, with its ``env`` defaults."""
        ...

    def gpu_request(self, count: int) -> dict[str, Any]:
        """How targets ask for ``count`` GPUs: ``{}`` for none, else a mapping with
        ``count``, ``docker`` (device request fields) and ``kubernetes`` (limits, node
        selector, tolerations). Raise ``ValueError`` for a count the family cannot serve."""
        ...


@runtime_checkable
class Server(Protocol):
    """Serves a compiled pipeline over HTTP.

    Factory: ``factory(spec) -> Server``, registered with ``agentdock_register_servers``.
    Optional capabilities (:mod:`agentdock.capabilities`): ``app(pipeline)``, the ASGI
    application (:class:`~agentdock.capabilities.AppServer`: what ``agentdock.app`` and the
    test clients need), and ``uvicorn_options()`` (:class:`~agentdock.capabilities.
    ServerOptions`: its bounds for ``agentdock serve``).
    """

    def serve(self, pipeline: Any, host: str, port: int) -> None:
        """Run until stopped. When ``AGENTDOCK_LISTEN_FD`` names a listening socket (the
        entrypoints bind it first), serve that socket instead of binding ``host:port``."""
        ...
