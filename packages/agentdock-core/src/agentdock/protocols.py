"""The small interfaces each kind of plugin satisfies.

A registration hook records a *factory* under a name; the factory is called once, when the
thing is needed, and returns an object satisfying the matching protocol. Factories are
usually classes. All protocols are ``runtime_checkable`` so a host can check a plugin's
object with ``isinstance`` at start-up (never per request).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:
    from pathlib import Path

    from agentdock.run import RunContext, RunResult, StreamEvent

__all__ = [
    "Adapter",
    "AdapterFactory",
    "AuthProvider",
    "Builder",
    "HardwareProfile",
    "Policy",
    "Server",
    "SpecParser",
    "Store",
    "Target",
    "TelemetrySink",
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
        """Run the agent once; await ``context.before_tool`` before every tool call."""
        ...

    def stream(self, payload: Mapping[str, Any], context: RunContext) -> AsyncIterator[StreamEvent]:
        """Run the agent, yielding tokens, node/tool updates, tool calls and usage."""
        ...


class AdapterFactory(Protocol):
    """Builds an :class:`Adapter` once at start-up from the imported entrypoint and spec."""

    def __call__(self, entry: Any, spec: Any) -> Adapter: ...


@runtime_checkable
class Policy(Protocol):
    """Inspects or rewrites a run at one stage (``pre``, ``tool`` or ``post``)."""

    stage: str

    def check(self, value: Any, context: Mapping[str, Any]) -> Any:
        """Return the (possibly rewritten) value, or raise the policy's violation error."""
        ...


@runtime_checkable
class TelemetrySink(Protocol):
    """Receives telemetry events off the request path."""

    async def emit(self, events: list[Mapping[str, Any]]) -> None:
        """Deliver a batch of events; may raise, the caller counts and drops."""
        ...

    async def flush(self) -> None:
        """Deliver anything buffered; called at shutdown within a bound."""
        ...


@runtime_checkable
class AuthProvider(Protocol):
    """Turns request credentials into an identity (subject and role)."""

    def authenticate(self, headers: Mapping[str, str]) -> Mapping[str, Any]:
        """Return ``{"sub": ..., "role": ...}`` or raise the provider's auth error."""
        ...


@runtime_checkable
class Builder(Protocol):
    """Turns a validated spec and its project into a deployable artifact."""

    def build(self, spec: Any, project_dir: Path, options: Mapping[str, Any]) -> Mapping[str, Any]:
        """Build and return the artifact description (at least ``{"ref": ...}``)."""
        ...


@runtime_checkable
class Target(Protocol):
    """Runs an artifact somewhere and reports on it."""

    def deploy(self, artifact: Mapping[str, Any], spec: Any) -> Mapping[str, Any]:
        """Start the artifact and return where it runs."""
        ...

    def status(self, agent: str) -> Mapping[str, Any]:
        """Report the agent's state on this target."""
        ...


@runtime_checkable
class HardwareProfile(Protocol):
    """Chooses base images and tuned defaults for a family of machines."""

    def detect(self) -> bool:
        """Whether this machine belongs to the profile's family."""
        ...

    def defaults(self) -> Mapping[str, Any]:
        """Tuned defaults (base image, worker count, environment)."""
        ...


@runtime_checkable
class Server(Protocol):
    """Serves a compiled pipeline over HTTP."""

    def serve(self, pipeline: Any, host: str, port: int) -> None:
        """Run until stopped."""
        ...


@runtime_checkable
class Store(Protocol):
    """Persists agents, versions, deployments, keys and the audit log."""

    def migrate(self) -> None:
        """Bring the schema up to date."""
        ...


@runtime_checkable
class SpecParser(Protocol):
    """Reads a Dockfile in another format into a plain mapping."""

    def parse(self, text: str, path: Path) -> Mapping[str, Any]:
        """Return the document as a JSON-compatible mapping."""
        ...
