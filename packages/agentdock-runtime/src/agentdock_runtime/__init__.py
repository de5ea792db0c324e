"""AgentDock runtime: the pipeline that serves one agent.

A server plugin gets a compiled :class:`Pipeline` and calls :meth:`Pipeline.invoke` or
iterates :meth:`Pipeline.stream`; every failure is a :class:`RuntimeHTTPError` whose
:meth:`~RuntimeHTTPError.envelope` is the response body::

    from agentdock_runtime import compile_pipeline

    pipeline = compile_pipeline(spec, entry=graph, plugins=manager)
    result = await pipeline.invoke(b'{"text": "hi"}', headers={"authorization": "Bearer ..."})
"""

from __future__ import annotations

from agentdock_runtime.compile import compile_pipeline
from agentdock_runtime.errors import (
    AgentError,
    AgentTimeoutError,
    BadRequest,
    Forbidden,
    InputValidationError,
    InternalError,
    KeyRevoked,
    MalformedJSONError,
    PayloadTooLarge,
    PolicyViolationError,
    RateLimited,
    RuntimeHTTPError,
    SchemaMismatchError,
    ServiceUnavailable,
    StateStoreUnavailable,
    TokenExpired,
    ToolDeniedError,
    Unauthorized,
)
from agentdock_runtime.iomodels import (
    InlineSchema,
    InputModel,
    OutputModel,
    PydanticSchema,
    compile_inline,
    decode_json,
    input_model,
    output_model,
)
from agentdock_runtime.pipeline import (
    DEFAULT_TIMEOUT_SEC,
    AdmittedHeaders,
    InvokeResult,
    Pipeline,
    PipelineError,
    RunSettings,
    StreamItem,
    StreamItemKind,
    TelemetryStats,
)

__all__ = [
    "DEFAULT_TIMEOUT_SEC",
    "AdmittedHeaders",
    "AgentError",
    "AgentTimeoutError",
    "BadRequest",
    "Forbidden",
    "InlineSchema",
    "InputModel",
    "InputValidationError",
    "InternalError",
    "InvokeResult",
    "KeyRevoked",
    "MalformedJSONError",
    "OutputModel",
    "PayloadTooLarge",
    "Pipeline",
    "PipelineError",
    "PolicyViolationError",
    "PydanticSchema",
    "RateLimited",
    "RunSettings",
    "RuntimeHTTPError",
    "SchemaMismatchError",
    "ServiceUnavailable",
    "StateStoreUnavailable",
    "StreamItem",
    "StreamItemKind",
    "TelemetryStats",
    "TokenExpired",
    "ToolDeniedError",
    "Unauthorized",
    "compile_inline",
    "compile_pipeline",
    "decode_json",
    "input_model",
    "output_model",
]
