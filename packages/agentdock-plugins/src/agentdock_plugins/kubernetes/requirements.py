"""What the pods of an agent version need from outside: the Secret keys they read, a
registry they can share and, with rate limits over several replicas, a shared Redis.

Every answer comes from the spec *snapshot* (placeholders kept, loaded without any
environment), so no variable's value is read here.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, NamedTuple

import yaml
from agentdock.deployment.errors import InvalidDeployInput
from agentdock.masking import SECRET_NAMES_ENV
from agentdock.registry import DATABASE_URL_ENV, RUNTIME_DATABASE_URL_ENV

from agentdock_plugins.kubernetes.naming import names

__all__ = [
    "CHECKPOINT_URL_ENV",
    "REDIS_URL_ENV",
    "RESERVED_ENV",
    "Problem",
    "checkpoint_problem",
    "checks_api_keys",
    "ratelimit_problem",
    "registry_problem",
    "required_variables",
    "secret_hint",
    "secret_keys",
    "snapshot_document",
]

#: The Redis the runtimes of an agent share their rate limits through.
REDIS_URL_ENV = "AGENTDOCK_REDIS_URL"
#: The server ``checkpointer: postgres`` or ``redis`` keeps conversations on (the name
#: :mod:`agentdock_plugins.langgraph.sharedcheckpoint` reads).
CHECKPOINT_URL_ENV = "AGENTDOCK_CHECKPOINT_URL"
#: Variables the manifests set themselves: never read from the Secret.
RESERVED_ENV = ("AGENTDOCK_SPEC", "AGENTDOCK_HOST", "AGENTDOCK_PORT", SECRET_NAMES_ENV)


class Problem(NamedTuple):
    """What a deploy refuses: the Dockfile path to change and why."""

    path: str
    reason: str


def snapshot_document(snapshot: str) -> tuple[frozenset[str], frozenset[str], dict[str, Any]]:
    """The snapshot's variables, those without a default, and its data (placeholders kept)."""
    from agentdock.spec.loader import load_document

    try:
        data = yaml.safe_load(snapshot)
    except yaml.YAMLError as exc:
        raise InvalidDeployInput(f"the spec snapshot is not YAML: {exc}") from None
    if not isinstance(data, dict):
        raise InvalidDeployInput("the spec snapshot is not a mapping")
    document = load_document(data, environ={}, allow_unresolved=True)
    return document.variables, document.unresolved, data


def required_variables(snapshot: str) -> tuple[list[str], list[str]]:
    """The Secret keys a deployment of ``snapshot`` reads: (required, optional).

    Required: placeholders without a default, ``deploy.secrets`` and, for an agent that
    checks API keys, ``AGENTDOCK_DATABASE_URL``; optional: placeholders with a default (the
    pod starts without them). Names ``deploy.env`` sets literally are neither."""
    variables, unresolved, raw = snapshot_document(snapshot)
    return secret_keys(raw, variables, unresolved)


def checks_api_keys(raw: Mapping[str, Any]) -> bool:
    """Whether the agent's runtime checks API keys (in the registry): ``auth.mode: api_key``,
    or ``jwt`` with ``auth.api_keys.enabled``."""
    auth = raw.get("auth")
    if not isinstance(auth, Mapping):
        return False
    keys = auth.get("api_keys")
    enabled = isinstance(keys, Mapping) and keys.get("enabled") is True
    return auth.get("mode") == "api_key" or (auth.get("mode") == "jwt" and enabled)


def registry_problem(
    snapshot: str, env: Mapping[str, str], *, agent: str, instance: str | None = None
) -> str | None:
    """Why the pods of ``snapshot`` could never accept a key made on this machine, or None.

    An agent that checks API keys needs the registry they are made in to be one its pods
    reach: a shared database, named by ``AGENTDOCK_DATABASE_URL`` in ``env`` (the values a
    deploy reads: environment, ``.env``, env files). Without it the registry is the embedded
    SQLite file of the deploying machine, which no pod can read.
    """
    _, _, raw = snapshot_document(snapshot)
    # A least-privilege role's URL given for the runtimes means a database registry too.
    if not checks_api_keys(raw) or env.get(DATABASE_URL_ENV) or env.get(RUNTIME_DATABASE_URL_ENV):
        return None
    return (
        f"{agent} checks API keys and the registry here is the embedded SQLite file, which "
        "pods on Kubernetes cannot share: a key made with agentdock key create would never "
        f"work there. Set {DATABASE_URL_ENV}=postgresql://... (a registry the cluster can "
        "reach) for the deploy and for agentdock key, and put the same URL in the Secret "
        f"{names(agent, instance).secret}, where the pods read it"
    )


def ratelimit_problem(snapshot: str, *, agent: str, instance: str | None = None) -> Problem | None:
    """Why the replicas of ``snapshot`` would multiply its rate limits, or None.

    Limits are kept per runtime unless the runtimes share a Redis (``AGENTDOCK_REDIS_URL``).
    Pods get only the variables their manifest names, never the deploying shell's, so the
    Dockfile itself must give them the URL: in ``deploy.secrets`` (read from the Secret),
    as a ``${AGENTDOCK_REDIS_URL}`` placeholder, or in ``deploy.env``.

    :returns: (the Dockfile path to change, why) when the agent has rate limits, may run more
        than one replica, and its pods get no Redis URL.
    """
    variables, unresolved, raw = snapshot_document(snapshot)
    auth = raw.get("auth")
    if not isinstance(auth, Mapping) or not auth.get("rate_limits"):
        return None
    deploy = raw.get("deploy")
    if not isinstance(deploy, Mapping):
        deploy = {}
    autoscale = deploy.get("autoscale")
    if isinstance(autoscale, Mapping):
        path, most = "deploy.autoscale", _count(autoscale.get("max_replicas"))
    else:
        path, most = "deploy.replicas", _count(deploy.get("replicas"))
    if most <= 1:
        return None
    required, optional = secret_keys(raw, variables, unresolved)
    given = {*required, *optional, *(str(k) for k in deploy.get("env") or {})}
    if REDIS_URL_ENV in given:
        return None
    secret = names(agent, instance).secret
    return Problem(
        path,
        f"{agent} limits each caller (auth.rate_limits) and may run {most} replicas, and its "
        f"pods get no {REDIS_URL_ENV}: each replica would keep budgets of its own, so a "
        f"caller could make up to {most} times its limit. Add {REDIS_URL_ENV} to "
        f"deploy.secrets (its value in the Secret {secret}) so the replicas share one "
        "budget in Redis, or run one replica",
    )


def checkpoint_problem(snapshot: str, *, agent: str, instance: str | None = None) -> Problem | None:
    """Why the pods of ``snapshot`` could not open their checkpointer, or None.

    ``checkpointer: postgres`` and ``redis`` read the server's URL (with its password) from
    ``AGENTDOCK_CHECKPOINT_URL`` alone; pods get it from the Secret when the Dockfile lists
    it in ``deploy.secrets`` (or as a placeholder, or in ``deploy.env``).
    """
    variables, unresolved, raw = snapshot_document(snapshot)
    arguments = raw.get("arguments")
    kind = arguments.get("checkpointer") if isinstance(arguments, Mapping) else None
    if str(kind).lower() not in ("postgres", "redis"):
        return None
    deploy = raw.get("deploy")
    env = deploy.get("env") if isinstance(deploy, Mapping) else None
    required, optional = secret_keys(raw, variables, unresolved)
    if CHECKPOINT_URL_ENV in {*required, *optional, *(str(k) for k in env or {})}:
        return None
    return Problem(
        "arguments.checkpointer",
        f"{agent} keeps its conversations in {str(kind).lower()} (arguments.checkpointer), "
        f"and its pods get no {CHECKPOINT_URL_ENV}: add it to deploy.secrets (its value, the "
        f"server's URL, in the Secret {names(agent, instance).secret})",
    )


def _count(value: Any) -> int:
    try:
        return int(value) if value is not None else 1
    except (TypeError, ValueError):
        return 1


def secret_keys(
    raw: Mapping[str, Any], variables: Iterable[str], unresolved: Iterable[str]
) -> tuple[list[str], list[str]]:
    deploy = raw.get("deploy") or {}
    literal = {str(k) for k in deploy.get("env") or {}}
    required = set(unresolved) | {str(n) for n in deploy.get("secrets") or ()}
    if checks_api_keys(raw):
        # The registry the runtime checks keys in: never the pod's own (empty) state dir.
        required.add(DATABASE_URL_ENV)
    optional = set(variables) - required
    skip = literal | set(RESERVED_ENV)
    return sorted(required - skip), sorted(optional - skip)


def secret_hint(agent: str, instance: str | None = None, namespace: str = "default") -> str:
    """The command that creates the Secret the pods read their variables from."""
    secret = names(agent, instance).secret
    return f"kubectl create secret generic {secret} --from-env-file=.env --namespace {namespace}"
