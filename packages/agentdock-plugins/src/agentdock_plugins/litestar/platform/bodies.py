"""The request bodies of the LangGraph Platform API, decoded with msgspec once per request.

Fields the SDK sends and AgentDock does not act on (``feedback_keys``, ``durability``,
``stream_resumable``, ``langsmith_tracer``, …) are accepted and ignored, so unchanged client
code keeps working; a field of the wrong type is refused with 422 naming its path. A run's
``webhook`` is refused with 501 instead: AgentDock calls no webhook, and a client waiting
for one would otherwise wait forever.
"""

from __future__ import annotations

from typing import Any, Literal, TypeVar

import msgspec
from agentdock_runtime import InputValidationError, MalformedJSONError, RuntimeHTTPError
from agentdock_runtime.jsonvalues import check_integers, too_deep

from agentdock_plugins.langgraph.platformrun import STREAM_MODES

__all__ = [
    "AssistantSearch",
    "HistoryQuery",
    "ResumeCommand",
    "RunConfig",
    "RunCreate",
    "StateCheckpoint",
    "StateUpdate",
    "ThreadCreate",
    "ThreadSearch",
    "decode_body",
    "run_config",
]

T = TypeVar("T")


class ThreadCreate(msgspec.Struct, kw_only=True):
    thread_id: str | None = None
    metadata: dict[str, Any] | None = None
    if_exists: Literal["raise", "do_nothing"] = "raise"


class ThreadSearch(msgspec.Struct, kw_only=True):
    metadata: dict[str, Any] | None = None
    status: Literal["idle", "busy", "interrupted", "error"] | None = None
    limit: int = 10
    offset: int = 0


class AssistantSearch(msgspec.Struct, kw_only=True):
    metadata: dict[str, Any] | None = None
    graph_id: str | None = None
    name: str | None = None
    limit: int = 10
    offset: int = 0


class StateUpdate(msgspec.Struct, kw_only=True):
    values: dict[str, Any] | list[Any] | None = None
    as_node: str | None = None
    checkpoint_id: str | None = None
    checkpoint: dict[str, Any] | None = None


class StateCheckpoint(msgspec.Struct, kw_only=True):
    checkpoint: dict[str, Any] = msgspec.field(default_factory=dict)
    subgraphs: bool = False


class HistoryQuery(msgspec.Struct, kw_only=True):
    limit: int = 10
    before: dict[str, Any] | None = None
    metadata: dict[str, Any] | None = None
    checkpoint: dict[str, Any] | None = None


class RunConfig(msgspec.Struct, kw_only=True):
    """The parts of a ``RunnableConfig`` a run may set (others are ignored)."""

    recursion_limit: int | None = None
    tags: list[str] | None = None
    metadata: dict[str, Any] | None = None
    configurable: dict[str, Any] | None = None

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in msgspec.structs.asdict(self).items() if v is not None}


class ResumeCommand(msgspec.Struct, kw_only=True):
    """``command``: resume an interrupt, update the state, go to nodes."""

    resume: Any = None
    update: dict[str, Any] | list[Any] | None = None
    goto: str | list[str] | None = None

    def __post_init__(self) -> None:
        # LangGraph fails inside its loop on a command that asks nothing.
        if self.resume is None and self.update is None and not self.goto:
            raise InputValidationError("the command has no resume, update or goto", path="command")

    def as_dict(self) -> dict[str, Any]:
        return msgspec.structs.asdict(self)


class RunCreate(msgspec.Struct, kw_only=True):
    assistant_id: str
    input: dict[str, Any] | None = None
    command: ResumeCommand | None = None
    config: RunConfig | None = None
    context: dict[str, Any] | None = None
    metadata: dict[str, Any] | None = None
    stream_mode: str | list[str] = "values"
    stream_subgraphs: bool = False
    interrupt_before: str | list[str] | None = None
    interrupt_after: str | list[str] | None = None
    checkpoint_id: str | None = None
    checkpoint: dict[str, Any] | None = None
    multitask_strategy: Literal["reject", "interrupt", "rollback", "enqueue"] = "reject"
    if_not_exists: Literal["create", "reject"] = "reject"
    on_disconnect: Literal["cancel", "continue"] = "cancel"
    webhook: str | None = None

    def __post_init__(self) -> None:
        # Refused while the body is decoded, so no route starts a run that asked for one.
        if self.webhook is not None:
            raise RuntimeHTTPError(
                501,
                "NotImplemented",
                "webhooks are not supported by AgentDock's LangGraph Platform API",
                path="webhook",
            )

    def modes(self) -> list[str]:
        """The requested stream modes, each one AgentDock streams (else 422)."""
        modes = [self.stream_mode] if isinstance(self.stream_mode, str) else self.stream_mode
        for mode in modes:
            if mode not in STREAM_MODES:
                raise InputValidationError(
                    f"stream_mode {mode!r} is not supported; use " + ", ".join(STREAM_MODES),
                    path="stream_mode",
                )
        return list(dict.fromkeys(modes)) or ["values"]

    def start_checkpoint(self) -> str | None:
        """The checkpoint to start from, by id or as ``{"checkpoint_id": …}``."""
        if self.checkpoint_id:
            return self.checkpoint_id
        found = (self.checkpoint or {}).get("checkpoint_id")
        return str(found) if found else None


_decoders: dict[type[Any], msgspec.json.Decoder[Any]] = {}


def decode_body(body: bytes, kind: type[T], *, empty_ok: bool = True) -> T:
    """``body`` as a ``kind`` (an empty body is the defaults when ``empty_ok``): 400 for
    bytes that are not JSON or hold an integer wider than 64 bits (naming its path, as
    ``/invoke`` does), 422 naming the path of a field of the wrong type."""
    decoder = _decoders.get(kind)
    if decoder is None:
        decoder = _decoders[kind] = msgspec.json.Decoder(kind)
    if not body.strip():
        if empty_ok:
            body = b"{}"
        else:
            raise MalformedJSONError("the request body is empty")
    check_integers(body)
    try:
        value = decoder.decode(body)
    except msgspec.ValidationError as exc:
        message = str(exc)
        path = message.rpartition("at `$.")[2].rstrip("`") if "at `$." in message else None
        raise InputValidationError(message.partition(" - at")[0], path=path) from None
    except msgspec.DecodeError:
        raise MalformedJSONError("the request body is not valid JSON") from None
    except RecursionError:
        raise MalformedJSONError("the request body is nested too deeply") from None
    if (deep := too_deep(body, value)) is not None:
        raise deep
    return value  # type: ignore[no-any-return]


def run_config(value: Any) -> dict[str, Any]:
    """A ``config`` sent as a plain mapping (LangServe's), checked as :class:`RunConfig`
    (422 naming the field of the wrong type)."""
    if value is None:
        return {}
    try:
        return msgspec.convert(value, RunConfig).as_dict()
    except msgspec.ValidationError as exc:
        raise InputValidationError(f"config: {exc}", path="config") from None


def not_found(what: str, ident: str) -> RuntimeHTTPError:
    """The 404 for an unknown assistant, thread or run (another caller's is unknown too)."""
    return RuntimeHTTPError(404, "NotFound", f"{what} {ident} not found", path=what)
