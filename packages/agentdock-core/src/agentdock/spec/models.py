"""Frozen pydantic models of the Dockfile (versions 1.0 and 1.1).

They mirror ``schemas/dockfile-1.*.json`` exactly: a contract test feeds both the same
documents and requires the same verdict. The models are strict (no coercion of ``"1"``
to ``1``). Schema patterns are ECMA-262 regular expressions, as the schema validator runs
them; the models rewrite them for Python's ``re`` (``ecma_to_python``) so that both sides
match text the same way. Semantic rules (auth consistency, exposure, regex compilation,
imports) are not here: they live in :mod:`agentdock.spec.semantic` and carry their own codes.
The base models and the pattern-checked string types are :mod:`.modeltypes`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, Literal

from pydantic import (
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
    model_validator,
)

from agentdock.spec.modeltypes import (
    AgentName,
    DottedPath,
    Entrypoint,
    EnvName,
    Int,
    Number,
    Permission,
    PluginName,
    RateLimit,
    RoleName,
    ToolName,
    _Frozen,
    _NoNull,
    _pattern,
    ecma_to_python,
)

__all__ = [
    "AgentCfg",
    "ApiKeysCfg",
    "ApiKeysCfg10",
    "AuthCfg",
    "AuthJwtCfg",
    "AuthJwtCfg10",
    "AuthOAuth2Cfg",
    "BuildCfg",
    "DeployCfg",
    "DockSpec",
    "DockSpec10",
    "DockSpec11",
    "ExposeCfg",
    "ExposeCfg11",
    "ExposeCors",
    "IOSchemaCfg",
    "IOSchemaInline",
    "IOSchemaProperty",
    "InjectionCfg",
    "InjectionDetectorCfg",
    "LangfuseCfg",
    "MetadataCfg",
    "MetricsCfg",
    "MetricsCfg11",
    "ModelCfg",
    "ObservabilityCfg",
    "PiiName",
    "PoliciesCfg",
    "PoliciesCfg10",
    "ResourcesCfg",
    "RoleCfg",
    "SafetyPolicy",
    "SafetyPolicy10",
    "ToolPolicy",
    "ecma_to_python",
]


class AgentCfg(_Frozen):
    name: AgentName
    description: str | None = None
    entrypoint: Entrypoint
    framework: PluginName


class ModelCfg(_Frozen):
    provider: Literal["openai", "azure", "anthropic", "google", "ollama", "custom"]
    name: Annotated[str, StringConstraints(min_length=1)]
    temperature: Annotated[Number, Field(ge=0, le=2)] | None = None
    max_tokens: Annotated[Int, Field(ge=1)] | None = None
    endpoint: str | None = None
    extra: dict[str, Any] = Field(default_factory=dict)


class IOSchemaProperty(_NoNull):
    """One property of an inline I/O schema; any further JSON Schema keywords are kept."""

    model_config = ConfigDict(frozen=True, extra="allow", strict=True)

    type: Literal["string", "number", "integer", "boolean", "array", "object", "null"]
    description: str | None = None
    items: dict[str, Any] | None = None
    enum: list[Any] | None = None


class IOSchemaInline(_Frozen):
    type: Literal["object"]
    description: str | None = None
    required: list[str] = Field(default_factory=list)
    properties: dict[str, IOSchemaProperty]

    def json_schema(self) -> dict[str, Any]:
        """The inline schema as a plain JSON Schema document."""
        return self.model_dump(mode="json", exclude_none=True)


class IOSchemaCfg(_Frozen):
    input: IOSchemaInline | None = None
    output: IOSchemaInline | None = None
    input_class: DottedPath | None = None
    output_class: DottedPath | None = None

    @property
    def mode(self) -> Literal["inline", "class"]:
        return "class" if self.input_class is not None else "inline"

    @model_validator(mode="after")
    def _one_form(self) -> IOSchemaCfg:
        uses_class = self.input_class is not None or self.output_class is not None
        if uses_class:
            if self.input_class is None or self.output_class is None:
                raise ValueError("input_class and output_class must be given together")
            if self.input is not None or self.output is not None:
                raise ValueError(
                    "inline input/output cannot be mixed with input_class/output_class"
                )
        elif self.input is None or self.output is None:
            raise ValueError("give inline input and output, or input_class and output_class")
        return self


class ToolPolicy(_Frozen):
    allowed: list[ToolName] = Field(default_factory=list)
    deny_by_default: bool = True


class SafetyPolicy10(_Frozen):
    """The safety block of Dockfile 1.0."""

    redact_patterns: list[Annotated[str, StringConstraints(min_length=1)]] = Field(
        default_factory=list
    )
    max_output_chars: Annotated[Int, Field(ge=1)] | None = None
    block_prompt_injection: bool = True
    halt_on_violation: bool = False


#: Built-in PII recognisers (``policies.safety.pii``).
PiiName = Literal["credit_card", "us_ssn", "email", "phone", "iban", "ipv4", "api_key"]


#: Languages of the prompt-injection rule families (``policies.safety.injection.languages``).
InjectionLanguage = Literal["en", "fr", "de", "es", "pt", "it", "ru", "zh", "ja", "ko"]


class InjectionDetectorCfg(_Frozen):
    """``policies.safety.injection.detector``: tier 3, a model the user names by path."""

    kind: Literal["onnx"] = "onnx"
    path: Annotated[str, StringConstraints(min_length=1)]
    threshold: Annotated[Number, Field(gt=0, lt=1)] = 0.5
    label: Annotated[Int, Field(ge=0)] = 1


class InjectionCfg(_Frozen):
    """``policies.safety.injection`` (1.1): which detectors run, what a detection does, and
    which tools' results are checked too."""

    # A pydantic model copies a mutable default for each instance.
    tiers: Annotated[list[Literal[1, 2, 3]], Field(min_length=1)] = [1, 2]  # noqa: RUF012
    classifier_threshold: Annotated[Number, Field(gt=0, lt=1)] | None = None
    languages: Annotated[list[InjectionLanguage], Field(min_length=1)] | None = None
    action: Literal["block", "flag", "log"] = "block"
    detector: InjectionDetectorCfg | None = None
    tool_output: (
        Annotated[list[Annotated[str, StringConstraints(min_length=1)]], Field(min_length=1)] | None
    ) = None
    #: What a detection in a listed tool's result does (``None``: as ``action``); ``replace``
    #: puts a notice in place of the result and lets the agent go on.
    tool_output_action: Literal["block", "replace", "flag", "log"] | None = None

    @model_validator(mode="after")
    def _unique(self) -> InjectionCfg:
        for name in ("tiers", "languages", "tool_output"):
            items = getattr(self, name) or []
            if len(set(items)) != len(items):
                raise ValueError(f"{name} must not repeat an item")
        return self


class SafetyPolicy(SafetyPolicy10):
    """The safety block of Dockfile 1.1: 1.0 plus PII recognisers, the injection threshold
    and compliance keywords."""

    pii: list[PiiName] = Field(default_factory=list)
    injection_threshold: Annotated[Number, Field(gt=0)] = 1.0
    injection: InjectionCfg = Field(default_factory=InjectionCfg)
    compliance_keywords: list[Annotated[str, StringConstraints(min_length=1)]] = Field(
        default_factory=list
    )


class PoliciesCfg10(_Frozen):
    tools: ToolPolicy = Field(default_factory=ToolPolicy)
    safety: SafetyPolicy10 = Field(default_factory=SafetyPolicy10)


class PoliciesCfg(_Frozen):
    tools: ToolPolicy = Field(default_factory=ToolPolicy)
    safety: SafetyPolicy = Field(default_factory=SafetyPolicy)


class RoleCfg(_Frozen):
    name: RoleName
    permissions: list[Permission]


class AuthJwtCfg10(_Frozen):
    secret_key: Annotated[str, StringConstraints(min_length=16)] | None = None
    expiry_minutes: Annotated[Int, Field(ge=5)] = 60


#: Signature algorithms verified with a public key (JWT and OAuth2 bearer tokens).
PublicKeyAlgorithm = Literal[
    "RS256",
    "RS384",
    "RS512",
    "ES256",
    "ES384",
    "ES512",
    "PS256",
    "PS384",
    "PS512",
    "EdDSA",
]
JwtAlgorithm = Literal["HS256", "HS384", "HS512", PublicKeyAlgorithm]


class AuthJwtCfg(AuthJwtCfg10):
    """JWT settings of Dockfile 1.1: 1.0 plus pinned algorithms, a public key, iss/aud."""

    algorithms: Annotated[list[JwtAlgorithm], Field(min_length=1)] | None = None
    public_key: Annotated[str, StringConstraints(min_length=1)] | None = None
    issuer: Annotated[str, StringConstraints(min_length=1)] | None = None
    audience: Annotated[str, StringConstraints(min_length=1)] | None = None


class ApiKeysCfg10(_Frozen):
    enabled: bool = False
    rotation_days: Annotated[Int, Field(ge=1)] | None = None


class ApiKeysCfg(ApiKeysCfg10):
    """API-key settings of Dockfile 1.1: 1.0 plus the rotation grace period."""

    grace_hours: Annotated[Int, Field(ge=0, le=8760)] = 24


class AuthOAuth2Cfg(_Frozen):
    issuer: Annotated[str, StringConstraints(min_length=1)] | None = None
    jwks_url: Annotated[str, _pattern(r"^https?://")] | None = None
    audience: Annotated[str, StringConstraints(min_length=1)] | None = None
    algorithms: Annotated[list[PublicKeyAlgorithm], Field(min_length=1)] | None = None


class _AuthBase(_Frozen):
    mode: Literal["jwt", "api_key", "oauth2"]
    roles: list[RoleCfg] = Field(default_factory=list)
    rate_limits: dict[str, RateLimit] = Field(default_factory=dict)


class AuthCfg10(_AuthBase):
    jwt: AuthJwtCfg10 | None = None
    api_keys: ApiKeysCfg10 | None = None


class AuthCfg(_AuthBase):
    """Auth block of Dockfile 1.1 (1.0 plus ``oauth2`` and the extended jwt/api_keys)."""

    jwt: AuthJwtCfg | None = None
    api_keys: ApiKeysCfg | None = None
    oauth2: AuthOAuth2Cfg | None = None


class LangfuseCfg10(_Frozen):
    project: str | None = None
    public_key: str | None = None
    secret_key: str | None = None


class LangfuseCfg(LangfuseCfg10):
    """LangFuse block of Dockfile 1.1 (1.0 plus ``host``)."""

    host: Annotated[str, _pattern(r"^https?://")] | None = None


class MetricsCfg(_Frozen):
    latency: bool = True
    tokens: bool = True
    cost: bool = True


class ObservabilityCfg10(_Frozen):
    langfuse: LangfuseCfg10 | None = None
    tracing: bool = True
    log_level: Literal["debug", "info", "warn", "error"] = "info"
    metrics: MetricsCfg = Field(default_factory=MetricsCfg)


class MetricsCfg11(MetricsCfg):
    """Metrics block of Dockfile 1.1: 1.0 plus ``public`` (``/metrics`` without credentials)."""

    public: bool = False


class ObservabilityCfg(ObservabilityCfg10):
    """Observability block of Dockfile 1.1 (1.0 plus ``otlp_endpoint``, ``langfuse.host`` and
    ``metrics.public``)."""

    langfuse: LangfuseCfg | None = None
    metrics: MetricsCfg11 = Field(default_factory=MetricsCfg11)
    otlp_endpoint: Annotated[str, _pattern(r"^https?://")] | None = None


class ExposeCors(_Frozen):
    origins: list[str] = Field(default_factory=list)
    methods: list[str] = Field(default_factory=list)


class ExposeCfg(_Frozen):
    rest: bool = True
    streaming: Literal["sse", "websocket", "none"] = "sse"
    port: Annotated[Int, Field(ge=1, le=65535)] = 8080
    host: Annotated[str, StringConstraints(min_length=1)] = "0.0.0.0"
    cors: ExposeCors | None = None


#: The client protocols an agent may speak beside its own routes (``expose.protocols``).
ExposedProtocol = Literal["langgraph", "langserve", "mcp", "a2a"]


class ExposeCfg11(ExposeCfg):
    """Exposure of Dockfile 1.1: 1.0 plus ``docs`` (the Swagger UI at ``/docs``),
    ``protocols`` (``None``: all when served with auth, none without; the server decides,
    since only it knows whether requests are authenticated) and ``threads`` (whose
    conversation a thread id names: the caller's own by default, so that a thread id
    learnt or guessed reaches no one else's)."""

    docs: bool = True
    protocols: list[ExposedProtocol] | None = None
    threads: Literal["per_caller", "shared"] = "per_caller"

    @field_validator("protocols")
    @classmethod
    def _unique(cls, value: list[ExposedProtocol] | None) -> list[ExposedProtocol] | None:
        if value is not None and len(set(value)) != len(value):
            raise ValueError("expose.protocols names a protocol twice")
        return value


class MetadataCfg(_NoNull):
    model_config = ConfigDict(frozen=True, extra="allow", strict=True)

    maintainer: str | None = None
    version: str | None = None
    tags: list[str] = Field(default_factory=list)


class BuildCfg(_Frozen):
    base_image: Annotated[str, StringConstraints(min_length=1)] | None = None
    hardware: Literal["auto", "cpu", "cuda"] = "auto"
    cuda_version: Annotated[str, _pattern(r"^[0-9]+\.[0-9]+$")] | None = None
    python_version: Annotated[str, _pattern(r"^3\.[0-9]{2}$")] | None = None
    platforms: (
        Annotated[
            list[Annotated[str, _pattern(r"^[a-z0-9]+/[a-z0-9_]+(/[a-z0-9]+)?$")]],
            Field(min_length=1),
        ]
        | None
    ) = None
    requirements: Annotated[str, StringConstraints(min_length=1)] | None = None


_CpuQuantity = Annotated[str, _pattern(r"^([0-9]+(\.[0-9]+)?|[0-9]+m)$")]
_MemoryQuantity = Annotated[str, _pattern(r"^[0-9]+(Ki|Mi|Gi|Ti|K|M|G|T)?$")]


class LimitsCfg(_Frozen):
    cpu: _CpuQuantity | None = None
    memory: _MemoryQuantity | None = None


class ResourcesCfg(_Frozen):
    """Requests per instance (``cpu``, ``memory``); ``limits`` only when they differ."""

    cpu: _CpuQuantity | None = None
    memory: _MemoryQuantity | None = None
    gpu: Annotated[Int, Field(ge=0)] | None = None
    limits: LimitsCfg | None = None

    def limit(self, name: str) -> str | None:
        """The limit of ``cpu`` or ``memory``: ``limits`` when given, else the request."""
        given = getattr(self.limits, name, None) if self.limits is not None else None
        value: str | None = given or getattr(self, name)
        return value


class AutoscaleCfg(_Frozen):
    min_replicas: Annotated[Int, Field(ge=1, le=1000)] = 1
    max_replicas: Annotated[Int, Field(ge=1, le=1000)]
    cpu_percent: Annotated[Int, Field(ge=1, le=100)] = 80


class DeployCfg(_Frozen):
    target: PluginName | None = None
    replicas: Annotated[Int, Field(ge=1, le=1000)] = 1
    autoscale: AutoscaleCfg | None = None
    resources: ResourcesCfg | None = None
    env: dict[EnvName, str] = Field(default_factory=dict)
    secrets: list[EnvName] = Field(default_factory=list)
    node_selector: dict[str, str] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _unique_secrets(self) -> DeployCfg:
        if len(set(self.secrets)) != len(self.secrets):
            raise ValueError("deploy.secrets has duplicate names")
        return self


class _DockSpecBase(_Frozen):
    agent: AgentCfg
    model: ModelCfg
    io_schema: IOSchemaCfg
    arguments: dict[str, Any] = Field(default_factory=dict)
    expose: ExposeCfg
    metadata: MetadataCfg = Field(default_factory=MetadataCfg)


class DockSpec10(_DockSpecBase):
    """A Dockfile of version 1.0 (PRD section 8)."""

    version: Literal["1.0"]
    auth: AuthCfg10
    policies: PoliciesCfg10 = Field(default_factory=PoliciesCfg10)
    observability: ObservabilityCfg10 = Field(default_factory=ObservabilityCfg10)


class DockSpec11(_DockSpecBase):
    """A Dockfile of version 1.1: 1.0 plus ``build``, ``deploy`` and ``auth.oauth2``."""

    version: Literal["1.1"]
    auth: AuthCfg
    policies: PoliciesCfg = Field(default_factory=PoliciesCfg)
    observability: ObservabilityCfg = Field(default_factory=ObservabilityCfg)
    expose: ExposeCfg11
    build: BuildCfg | None = None
    deploy: DeployCfg | None = None
    #: Plugins' policies and sinks this agent uses, by registered name, with their
    #: configuration (``null`` in the file: none): a factory reads its own entry.
    plugins: dict[PluginName, dict[str, Any]] = Field(default_factory=dict)

    @field_validator("plugins", mode="before")
    @classmethod
    def _no_config_is_empty(cls, value: Any) -> Any:
        if isinstance(value, Mapping):
            return {k: {} if v is None else v for k, v in value.items()}
        return value


#: Any supported Dockfile version.
DockSpec = DockSpec10 | DockSpec11

MODELS: dict[str, type[DockSpec10] | type[DockSpec11]] = {"1.0": DockSpec10, "1.1": DockSpec11}
