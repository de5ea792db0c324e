"""What a builder is given and what it returns, and what a target is asked to run.

These are plain frozen dataclasses so that a third-party builder or target depends only on
core. ``Artifact.to_json()`` is what the registry stores in a version row (``artifact_json``):
it must never hold a secret value.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from agentdock.spec import DockSpec

__all__ = [
    "REASON_LABEL",
    "Artifact",
    "BuildRequest",
    "Progress",
    "StartRequest",
    "no_progress",
]

#: A builder or target reports what it is doing through this callback:
#: ``progress(step, message, **fields)``. ``step`` is a short machine name
#: (``"resolve"``, ``"venv"``, ``"layer"``, ``"start"``, ``"health"``), ``message`` one line
#: for a person. The CLI shows them with rich, or prints one JSON object per line with
#: ``--json``. Never pass a secret value in either.
Progress = Callable[..., None]


def no_progress(step: str, message: str, **fields: Any) -> None:
    """A :data:`Progress` that drops everything (the Python API's default)."""


@dataclass(frozen=True, slots=True)
class BuildRequest:
    """Everything a builder may read. It must read nothing else of the user's machine.

    ``sources`` are the agent's files (paths relative to ``project_dir``) after the ignore
    rules (``.dockerignore`` and ``.agentdockignore``, plus ``.env*``, ``.agentdock/``,
    ``.git/``, virtual environments and caches, which are never shipped). ``snapshot`` is the
    Dockfile as one YAML document, ``!include`` expanded and every ``${VAR}`` kept verbatim:
    the builder writes it as ``spec.yaml`` next to the agent's code. ``content_hash`` is the
    SHA-256 of the snapshot and the sources (what makes a version).
    """

    agent: str
    version: str
    project_dir: Path
    snapshot: str
    content_hash: str
    sources: tuple[str, ...]
    spec: DockSpec
    home: Path
    options: Mapping[str, Any] = field(default_factory=dict)

    @property
    def dns_name(self) -> str:
        """The agent name as a DNS-1123 label (``_`` becomes ``-``), for images and containers."""
        return self.agent.replace("_", "-")


@dataclass(frozen=True, slots=True)
class Artifact:
    """A built, runnable thing: a local bundle directory or a container image.

    ``ref`` is what a target needs to run it (the bundle path, the image tag). ``digest`` is
    the hash of every build input, so the same inputs give the same artifact (``cached`` is
    True when nothing had to be built). ``details`` holds builder-specific, JSON-compatible
    facts (image id, layer count, size in bytes, Python version).
    """

    builder: str
    ref: str
    digest: str
    cached: bool = False
    details: Mapping[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["details"] = dict(self.details)
        data.pop("cached")
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Artifact:
        return cls(
            builder=str(data["builder"]),
            ref=str(data["ref"]),
            digest=str(data["digest"]),
            details=dict(data.get("details") or {}),
        )


#: The label of a :class:`StartRequest` that says why it starts: ``deploy`` or ``rollback``
#: (a target may start a rollback otherwise, e.g. from what it kept of that version).
REASON_LABEL = "io.agentdock.reason"


@dataclass(frozen=True, slots=True)
class StartRequest:
    """What a target needs to start one deployment of an artifact.

    ``env`` holds the resolved values of the variables the snapshot references (from the
    process environment, ``--env-file`` or ``.env``): a target passes them to the runtime
    at start and must never write them to disk, a label, a log or the registry. ``port`` is
    the Dockfile's ``expose.port``; a target may choose another when it is taken and says
    which in the handle it returns. ``host`` is the address the runtime was asked to listen
    on (``--host``, or ``expose.host`` written in the Dockfile); None means nobody asked and
    the target picks a safe default (the ``local`` target listens on 127.0.0.1, this machine
    only; the ``docker`` target publishes there, its container listening on every interface
    of its own network).
    ``instance`` names a per-tenant instance (None for the
    default one). ``state_dir`` is a directory the target may use for this deployment
    (pid and state files), under ``home`` (the AgentDock home: ``$AGENTDOCK_HOME`` or the
    project's ``.agentdock/``); logs go to ``home / "logs"``.
    """

    agent: str
    version: str
    deployment_id: int
    port: int
    host: str | None
    env: Mapping[str, str] = field(repr=False)
    state_dir: Path
    home: Path
    instance: str | None = None
    resources: Mapping[str, Any] = field(default_factory=dict)
    labels: Mapping[str, str] = field(default_factory=dict)
    #: The version's spec snapshot (placeholders kept), for targets that ship it themselves
    #: (a Kubernetes ConfigMap).
    snapshot: str | None = field(default=None, repr=False)
