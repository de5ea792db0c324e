"""Semantic checks: what a schema cannot say about a Dockfile.

Each check reads the loaded document defensively (it may be schema-invalid) so that one run
reports every problem of a file. Secrets are judged by length only and never quoted.
"""

from __future__ import annotations

import difflib
from collections.abc import Collection, Iterator, Mapping
from typing import Any
from urllib.parse import urlsplit

import jsonschema_rs

from agentdock.findings import Code, Finding, Path, Severity, quote
from agentdock.spec.quantities import cpu_millis, memory_bytes
from agentdock.spec.runarguments import argument_problems

__all__ = [
    "DEFAULT_ROLES",
    "IO_SCHEMA_KEYWORDS",
    "MIN_SECRET_BYTES",
    "RESERVED_PERMISSIONS",
    "block",
    "check_arguments",
    "check_auth",
    "check_exposure",
    "check_framework",
    "check_inline_io",
    "check_lint",
    "check_telemetry",
]

#: HS256 secrets written into the Dockfile must be at least this long (RFC 7518 3.2).
MIN_SECRET_BYTES = 32
#: Roles that exist when a Dockfile declares none (PRD 5.3.4).
DEFAULT_ROLES: Mapping[str, tuple[str, ...]] = {
    "admin": ("deploy", "rollback", "view_metrics", "key_manage", "invoke"),
    "developer": ("invoke", "view_metrics", "read_logs"),
    "viewer": ("view_metrics", "read_docs"),
}
RESERVED_PERMISSIONS = frozenset(
    {"deploy", "rollback", "invoke", "view_metrics", "key_manage", "read_logs", "read_docs"}
)
#: JSON Schema keywords an inline I/O schema may use, at any depth; the runtime turns exactly
#: these into its decoder types, so any other keyword would be silently ignored and is refused.
IO_SCHEMA_KEYWORDS: tuple[str, ...] = (
    "type",
    "properties",
    "required",
    "enum",
    "const",
    "items",
    "additionalProperties",
    "minLength",
    "maxLength",
    "pattern",
    "minimum",
    "maximum",
    "minItems",
    "maxItems",
    "description",
    "title",
    "default",
    "examples",
)
_IO_KEYWORD_SET = frozenset(IO_SCHEMA_KEYWORDS)
_LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})
_PERMISSIVE_TEMPERATURE = 1.2


def block(data: Mapping[str, Any], *keys: str) -> Mapping[str, Any]:
    """``data[k1][k2]...`` when every step is a mapping, else an empty mapping."""
    node: Any = data
    for key in keys:
        node = node.get(key) if isinstance(node, Mapping) else None
    return node if isinstance(node, Mapping) else {}


def _has_placeholder(value: object) -> bool:
    return isinstance(value, str) and "${" in value


def check_auth(
    data: Mapping[str, Any], version: str, interpolated: frozenset[Path]
) -> Iterator[Finding]:
    """Auth-mode consistency (4005) and the literal-secret lint."""
    auth = block(data, "auth")
    mode = auth.get("mode")
    if mode == "jwt":
        jwt = block(auth, "jwt")
        algorithms = jwt.get("algorithms")
        if isinstance(algorithms, list) and algorithms:
            hmac_algs = [a for a in algorithms if isinstance(a, str) and a.startswith("HS")]
            if hmac_algs and len(hmac_algs) != len(algorithms):
                yield Finding(
                    Code.AuthConfigError,
                    ("auth", "jwt", "algorithms"),
                    "HMAC (HS*) and public-key algorithms cannot be mixed",
                    hint="pin one family: [HS256] with secret_key, or [RS256] with public_key",
                )
                return
            if not hmac_algs:
                if not jwt.get("public_key"):
                    yield Finding(
                        Code.AuthConfigError,
                        ("auth", "jwt", "public_key"),
                        f"algorithm {algorithms[0]} needs auth.jwt.public_key",
                        hint='public_key: "${JWT_PUBLIC_KEY}" (PEM)',
                    )
                yield from _check_roles(auth)
                return
        if jwt.get("public_key"):
            yield Finding(
                Code.AuthConfigError,
                ("auth", "jwt", "public_key"),
                "public_key is only used with RS*, ES*, PS* or EdDSA algorithms",
                hint="add algorithms: [RS256] (or remove public_key)",
            )
        yield from _check_jwt(jwt, "jwt" in auth, interpolated)
    elif mode == "api_key":
        if block(auth, "api_keys").get("enabled") is not True:
            yield Finding(
                Code.AuthConfigError,
                ("auth", "api_keys", "enabled"),
                "mode api_key needs API keys enabled",
                hint="set auth.api_keys.enabled: true",
            )
    elif mode == "oauth2":
        if version == "1.0":
            yield Finding(
                Code.AuthConfigError,
                ("auth", "mode"),
                "mode oauth2 needs auth.oauth2 (issuer, jwks_url), which Dockfile 1.0 lacks",
                hint='declare version: "1.1" and add auth.oauth2',
            )
        else:
            oauth2 = block(auth, "oauth2")
            for key in ("issuer", "jwks_url"):
                if not oauth2.get(key):
                    yield Finding(
                        Code.AuthConfigError,
                        ("auth", "oauth2", key),
                        f"mode oauth2 needs auth.oauth2.{key}",
                    )
            yield from _check_jwks_url(oauth2.get("jwks_url"))
    yield from _check_roles(auth)


def _check_jwks_url(url: object) -> Iterator[Finding]:
    """Warn of a JWKS fetched over plain HTTP from another host: whoever sits on the path
    can substitute their own keys and sign any token. Loopback (a sidecar) is exempt."""
    if not isinstance(url, str) or _has_placeholder(url):
        return
    try:
        parts = urlsplit(url.strip())
        host = parts.hostname
    except ValueError:
        return  # not a URL: the schema reports it
    if parts.scheme.lower() != "http" or host is None or host in _LOOPBACK:
        return
    yield Finding(
        Code.InsecureJwksWarning,
        ("auth", "oauth2", "jwks_url"),
        f"the issuer's signing keys are fetched over plain HTTP from {quote(host)}; anyone on "
        "the network path can replace them and sign any token",
        severity=Severity.WARNING,
        hint="use an https:// jwks_url",
    )


def _check_jwt(
    jwt: Mapping[str, Any], present: bool, interpolated: frozenset[Path]
) -> Iterator[Finding]:
    path: Path = ("auth", "jwt", "secret_key")
    secret = jwt.get("secret_key")
    if not isinstance(secret, str) or not secret:
        if present and "secret_key" in jwt and not isinstance(secret, str):
            return  # a type error, reported by the schema
        yield Finding(
            Code.AuthConfigError,
            path,
            "mode jwt needs auth.jwt.secret_key",
            hint='secret_key: "${JWT_SECRET}"',
        )
        return
    if _has_placeholder(secret):
        return  # unresolved and allowed: its length is unknown
    size = len(secret.encode("utf-8"))
    if path in interpolated:
        if size < MIN_SECRET_BYTES:
            yield Finding(
                Code.AuthConfigError,
                path,
                f"the JWT secret resolves to fewer than {MIN_SECRET_BYTES} bytes",
                hint="use a random secret of 32 bytes or more (openssl rand -hex 32)",
            )
        return
    if size < MIN_SECRET_BYTES:
        yield Finding(
            Code.AuthConfigError,
            path,
            f"a literal JWT secret must be at least {MIN_SECRET_BYTES} bytes",
            hint='reference it instead: secret_key: "${JWT_SECRET}"',
        )
    yield Finding(
        Code.LiteralSecretWarning,
        path,
        "the JWT secret is written into the Dockfile",
        severity=Severity.WARNING,
        hint='reference an environment variable: secret_key: "${JWT_SECRET}"',
    )


def _check_roles(auth: Mapping[str, Any]) -> Iterator[Finding]:
    roles = auth.get("roles")
    names: list[str] = []
    if isinstance(roles, list):
        for index, role in enumerate(roles):
            name = role.get("name") if isinstance(role, Mapping) else None
            if not isinstance(name, str):
                continue
            if name in names:
                yield Finding(
                    Code.AuthConfigError,
                    ("auth", "roles", index, "name"),
                    f"role {quote(name)} is declared twice",
                )
            names.append(name)
    known = names if isinstance(roles, list) and roles else list(DEFAULT_ROLES)
    limits = auth.get("rate_limits")
    if isinstance(limits, Mapping):
        for role in limits:
            if role in known:
                continue
            close = difflib.get_close_matches(str(role), known, n=1)
            hint = f"did you mean '{close[0]}'?" if close else "known roles: " + ", ".join(known)
            yield Finding(
                Code.AuthConfigError,
                ("auth", "rate_limits", role),
                f"rate limit for undeclared role {quote(role)}",
                hint=hint,
            )


def check_exposure(data: Mapping[str, Any]) -> Iterator[Finding]:
    """At least one of REST or streaming must be on (4010)."""
    if "expose" not in data or not isinstance(data.get("expose"), Mapping):
        return
    expose = block(data, "expose")
    if expose.get("rest", True) is False and expose.get("streaming", "sse") == "none":
        yield Finding(
            Code.ExposureError,
            ("expose",),
            "rest is false and streaming is none: the agent would not be reachable",
            hint="set expose.rest: true or expose.streaming: sse",
        )


def check_injection(data: Mapping[str, Any]) -> Iterator[Finding]:
    """Tier 3 of the injection detector needs the model it runs (4006)."""
    injection = block(data, "policies", "safety", "injection")
    tiers = injection.get("tiers")
    if (
        isinstance(tiers, list)
        and 3 in tiers
        and not isinstance(injection.get("detector"), Mapping)
    ):
        yield Finding(
            Code.PolicyValidationError,
            ("policies", "safety", "injection", "tiers"),
            "tier 3 is listed but no detector names its model",
            hint="add policies.safety.injection.detector.path, or drop 3 from tiers",
        )


def check_deploy(data: Mapping[str, Any]) -> Iterator[Finding]:
    """Resources a scheduler could never grant: requests above limits, an autoscale range
    whose minimum is above its maximum (4002)."""
    resources = block(data, "deploy", "resources")
    limits = block(data, "deploy", "resources", "limits")
    for name, parse in (("cpu", cpu_millis), ("memory", memory_bytes)):
        request, limit = resources.get(name), limits.get(name)
        if request is None or limit is None:
            continue
        try:
            above = parse(request) > parse(limit)
        except ValueError:  # the schema reports malformed quantities
            continue
        if above:
            yield Finding(
                Code.InvalidSchemaError,
                ("deploy", "resources", name),
                f"the {name} request {request} is above its limit {limit}",
                hint=f"raise deploy.resources.limits.{name} or lower deploy.resources.{name}",
            )
    autoscale = block(data, "deploy", "autoscale")
    low, high = autoscale.get("min_replicas", 1), autoscale.get("max_replicas")
    if isinstance(low, int) and isinstance(high, int) and low > high:
        yield Finding(
            Code.InvalidSchemaError,
            ("deploy", "autoscale", "min_replicas"),
            f"min_replicas {low} is above max_replicas {high}",
            hint="make deploy.autoscale.min_replicas at most max_replicas",
        )


def check_arguments(data: Mapping[str, Any]) -> Iterator[Finding]:
    """Run knobs the runtime would refuse at start-up (4002): a ``timeout_sec`` that is not
    a positive number, a ``max_retries`` that is not an integer of 0 or more."""
    for key, cause in argument_problems(block(data, "arguments"), unresolved_ok=True):
        yield Finding(
            Code.InvalidSchemaError,
            ("arguments", key),
            f"arguments.{key} {cause}",
            hint="timeout_sec: seconds, a positive number (or null: no bound); "
            "max_retries: a whole number, 0 or more",
        )


def check_framework(data: Mapping[str, Any], adapters: Collection[str]) -> Iterator[Finding]:
    """The framework must be provided by an installed adapter plugin (4007)."""
    framework = block(data, "agent").get("framework")
    if not isinstance(framework, str) or framework in adapters:
        return
    available = ", ".join(sorted(adapters)) or "none"
    close = difflib.get_close_matches(framework, list(adapters), n=1)
    hint = f"did you mean '{close[0]}'? " if close else ""
    yield Finding(
        Code.UnsupportedFrameworkError,
        ("agent", "framework"),
        f"no adapter plugin provides framework {quote(framework)}",
        hint=f"{hint}installed adapters: {available} (see `agentdock plugins`)",
    )


def check_telemetry(data: Mapping[str, Any]) -> Iterator[Finding]:
    """LangFuse needs both keys once its block is present (4008)."""
    observability = block(data, "observability")
    if "langfuse" not in observability:
        return
    langfuse = block(observability, "langfuse")
    for key in ("public_key", "secret_key"):
        value = langfuse.get(key)
        if value is None or (isinstance(value, str) and not value.strip()):
            yield Finding(
                Code.TelemetryConfigError,
                ("observability", "langfuse", key),
                f"LangFuse is configured but {key} is missing or empty",
                hint=f'{key}: "${{LANGFUSE_{key.split("_")[0].upper()}_KEY}}"',
            )


def check_inline_io(data: Mapping[str, Any]) -> Iterator[Finding]:
    """Inline I/O schemas must be well-formed JSON Schema built only from the supported
    keywords (:data:`IO_SCHEMA_KEYWORDS`), and ``required`` must be declared."""
    io_schema = block(data, "io_schema")
    for side in ("input", "output"):
        schema = io_schema.get(side)
        if not isinstance(schema, Mapping):
            continue
        base: Path = ("io_schema", side)
        try:
            jsonschema_rs.meta.validate(dict(schema))
        except jsonschema_rs.ValidationError as exc:
            yield Finding(
                Code.InvalidIOSchemaError,
                (*base, *exc.instance_path),
                f"not a valid JSON Schema: {exc.message.splitlines()[0][:200]}",
            )
        yield from _unsupported_io_keywords(schema, base, root=True)
        yield from _undeclared_required(schema, base)


def _undeclared_required(schema: Mapping[str, Any], base: Path) -> Iterator[Finding]:
    properties = schema.get("properties")
    required = schema.get("required")
    if isinstance(properties, Mapping) and isinstance(required, list):
        for index, name in enumerate(required):
            if isinstance(name, str) and name not in properties:
                close = difflib.get_close_matches(name, list(properties), n=1)
                yield Finding(
                    Code.InvalidIOSchemaError,
                    (*base, "required", index),
                    f"{quote(name)} is required but not declared in properties",
                    hint=f"did you mean '{close[0]}'?" if close else None,
                )


def _unsupported_io_keywords(
    schema: Mapping[str, Any], path: Path, *, root: bool = False
) -> Iterator[Finding]:
    """4004 for every keyword outside :data:`IO_SCHEMA_KEYWORDS`, at any depth.

    The top level is already closed by the Dockfile schema (which reports its own errors
    there), so only the keywords below it are judged here.
    """
    if not root:
        for key in schema:
            if key not in _IO_KEYWORD_SET:
                yield Finding(
                    Code.InvalidIOSchemaError,
                    (*path, key),
                    f"JSON Schema keyword {quote(key)} is not supported in inline I/O schemas",
                    hint="supported keywords: " + ", ".join(IO_SCHEMA_KEYWORDS),
                )
    properties = schema.get("properties")
    if isinstance(properties, Mapping):
        for name, sub in properties.items():
            if isinstance(sub, Mapping):
                yield from _unsupported_io_keywords(sub, (*path, "properties", name))
    for key in ("items", "additionalProperties"):
        sub = schema.get(key)
        if isinstance(sub, Mapping):
            yield from _unsupported_io_keywords(sub, (*path, key))
        elif key == "items" and isinstance(sub, list):
            yield Finding(
                Code.InvalidIOSchemaError,
                (*path, key),
                "items must be one schema for every element (tuple form is not supported)",
                hint="items: {type: string}",
            )


def check_lint(data: Mapping[str, Any]) -> Iterator[Finding]:
    """Non-fatal warnings of PRD 8.9 (regex lint lives with the regex checks)."""
    safety = block(data, "policies", "safety")
    temperature = block(data, "model").get("temperature")
    if (
        isinstance(temperature, int | float)
        and not isinstance(temperature, bool)
        and temperature > _PERMISSIVE_TEMPERATURE
        and safety.get("block_prompt_injection", True) is False
    ):
        yield Finding(
            Code.PermissiveModelWarning,
            ("model", "temperature"),
            f"temperature above {_PERMISSIVE_TEMPERATURE} with prompt-injection blocking off",
            severity=Severity.WARNING,
            hint="lower the temperature or set policies.safety.block_prompt_injection: true",
        )
    auth = block(data, "auth")
    if auth.get("mode") in ("jwt", "oauth2") and not auth.get("roles"):
        yield Finding(
            Code.MissingRolesWarning,
            ("auth", "roles"),
            "no roles declared; the defaults admin, developer and viewer apply",
            severity=Severity.WARNING,
            hint="declare auth.roles to state who may invoke the agent",
        )
    host = block(data, "expose").get("host", "0.0.0.0")
    if isinstance(host, str) and host not in _LOOPBACK and "max_output_chars" not in safety:
        yield Finding(
            Code.UnboundedOutputWarning,
            ("policies", "safety", "max_output_chars"),
            f"the agent listens on {quote(host)} with no bound on output size",
            severity=Severity.WARNING,
            hint="set policies.safety.max_output_chars",
        )
