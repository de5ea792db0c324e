"""Hook specifications: every way a plugin can extend AgentDock.

Hooks run at start-up and at command time, never per request: the runtime resolves every
plugin it needs once into a compiled pipeline. Registration hooks receive a ``register``
callable owned by the core; a plugin calls it once per thing it provides::

    @hookimpl
    def agentdock_register_adapters(register):
        register("echo", EchoAdapter, description="Echoes its input")

``register(name, factory, description="")`` records ``factory`` under ``name`` for that
kind. ``factory`` is called later, only when something is used, so a plugin module stays
cheap to import (import heavy libraries inside the factory, not at module level). An
implementation may accept any subset of a hook's parameters.

Implementations are called one by one in pluggy's order: ``@hookimpl(tryfirst=True)`` ones
first, then the others from the last registered to the first, ``trylast=True`` ones last.
Where two register the same name, the first called keeps it. Hook wrappers (``wrapper=True``,
``hookwrapper=True``) are refused: each implementation runs on its own, so that one raising
never stops the others, and there is no chain for a wrapper to wrap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

import pluggy

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence
    from pathlib import Path

    # For the annotation only: the CLI brings click; core itself never imports it.
    import click

    from agentdock.findings import Finding
    from agentdock.spec.models import DockSpec

__all__ = ["HOOK_API_VERSION", "REQUIRES_ATTRIBUTE", "Register", "hookimpl", "hookspec"]

#: The version of this set of hooks and the protocols they return, ``major.minor``: a minor
#: release adds (a hook, a parameter a plugin may ignore, an optional capability); a major
#: one changes or removes. 1.1 added ``config_schema`` and the Dockfile's ``plugins`` block;
#: 1.2 added ``agentdock_register_audit_rules``.
HOOK_API_VERSION = "1.2"
#: A plugin states the hook API it was written for as a module (or object) attribute,
#: ``agentdock_hook_api = "1.1"``: it loads where the major version is the same and the
#: minor one at least as high, and is refused, with both versions named, elsewhere.
REQUIRES_ATTRIBUTE = "agentdock_hook_api"

hookspec = pluggy.HookspecMarker("agentdock")
hookimpl = pluggy.HookimplMarker("agentdock")


class Register(Protocol):
    """The callable passed to every ``agentdock_register_*`` hook."""

    def __call__(
        self,
        name: str,
        factory: Any,
        description: str = "",
        config_schema: Mapping[str, Any] | None = None,
    ) -> None: ...


# -------------------------------------------------------------------------------------------
# Registration: what a plugin provides
# -------------------------------------------------------------------------------------------


@hookspec
def agentdock_register_adapters(register: Register) -> None:
    """Register framework adapters, looked up by the Dockfile's ``agent.framework``.

    Called once when the plugin manager first collects adapters (``agentdock validate``
    checks the framework against them; the runtime builds the chosen one at start-up).

    :param register: ``register(name, factory, description="")``; ``factory(...)`` returns an
        :class:`agentdock.protocols.Adapter`.
    """


@hookspec
def agentdock_register_policies(register: Register) -> None:
    """Register policies (redaction, injection scoring, tool gating, ...) by name.

    Called once when the runtime compiles its pipeline; then each built-in factory, and each
    other plugin's factory whose name the Dockfile's ``plugins`` block holds, is called once
    with the resolved spec. A policy a plugin adds is active only where a Dockfile names it.

    :param register: ``register(name, factory, description="", config_schema=None)``;
        ``factory(spec)`` returns an :data:`agentdock.protocols.AnyPolicy`, or ``None`` when it
        does not apply to this spec. Its configuration is ``spec.plugins[name]`` (a dict,
        empty when none is given), checked at validate time against ``config_schema``, a JSON
        Schema (draft 2020-12), when the plugin gives one.
    """


@hookspec
def agentdock_register_telemetry_sinks(register: Register) -> None:
    """Register telemetry sinks (Prometheus, OpenTelemetry, LangFuse, local buffer, ...).

    Called once when the runtime starts; then each built-in factory, and each other
    plugin's factory whose name the Dockfile's ``plugins`` block holds, is called once with
    the resolved spec. Sinks receive events from a bounded queue drained off the request path.

    :param register: ``register(name, factory, description="", config_schema=None)``;
        ``factory(spec)`` returns a :class:`agentdock.protocols.TelemetrySink`, or ``None``
        when this spec does not configure it. Its configuration is ``spec.plugins[name]``,
        checked against ``config_schema`` as for policies. A factory with a ``built``
        parameter is called after the others as ``factory(spec, built=...)``, ``built``
        mapping each sink they built to its name.
    """


@hookspec
def agentdock_register_auth_providers(register: Register) -> None:
    """Register authentication providers, looked up by the Dockfile's ``auth.mode``.

    Called once when the runtime starts; it refuses to start without a provider for the
    configured mode (unless started with ``insecure_no_auth``).

    :param register: ``register(mode, factory, description="")``; ``factory(spec)`` returns an
        :class:`agentdock.protocols.AuthProvider`.
    """


@hookspec
def agentdock_register_builders(register: Register) -> None:
    """Register artifact builders (a local bundle, a container image, ...).

    Called when ``agentdock build`` or ``agentdock deploy`` needs a builder.

    :param register: ``register(name, factory, description="")``; ``factory(...)`` returns an
        :class:`agentdock.protocols.Builder`.
    """


@hookspec
def agentdock_register_targets(register: Register) -> None:
    """Register deploy targets (local process, Docker, Kubernetes, ...).

    Called when ``agentdock deploy``, ``status``, ``logs`` or ``rollback`` needs a target.

    :param register: ``register(name, factory, description="")``; ``factory(...)`` returns an
        :class:`agentdock.protocols.Target`.
    """


@hookspec
def agentdock_register_hardware_profiles(register: Register) -> None:
    """Register hardware profiles (``cpu``, ``cuda``, ...) chosen by ``build.hardware``.

    Called at build time and at runtime start-up.

    :param register: ``register(name, factory, description="")``; ``factory(...)`` returns an
        :class:`agentdock.protocols.HardwareProfile`.
    """


@hookspec
def agentdock_register_servers(register: Register) -> None:
    """Register HTTP servers that expose a compiled pipeline.

    Called once when ``agentdock serve`` or the container entrypoint starts.

    :param register: ``register(name, factory, description="")``; ``factory(...)`` returns an
        :class:`agentdock.protocols.Server`.
    """


@hookspec
def agentdock_register_stores(register: Register) -> None:
    """Register registry stores (SQLite, Postgres, ...).

    Called when a command first opens the registry.

    :param register: ``register(name, factory, description="")``; ``factory(...)`` returns an
        :class:`agentdock.protocols.Store`.
    """


@hookspec
def agentdock_register_audit_rules(register: Register) -> None:
    """Register deployment-readiness rules for ``agentdock audit`` (and the audit warnings of
    ``agentdock validate`` and ``deploy``).

    Called once per process, the first time an audit collects its rules; each factory is
    then called once per audit, never per file. Rules read code as text and syntax trees
    and must never import or run it.

    :param register: ``register(rule_id, factory, description="")``; ``factory()`` returns an
        :class:`agentdock.readiness.AuditRule` (a class with ``id``, ``level``, ``category``,
        ``kinds``, ``fix`` and ``check(source)`` is its own factory).
    """


# -------------------------------------------------------------------------------------------
# Validation
# -------------------------------------------------------------------------------------------


@hookspec
def agentdock_validate_spec(spec: DockSpec, project_dir: Path) -> Sequence[Finding] | None:
    """Check a Dockfile that passed the core checks; return findings or ``None``.

    Called by ``agentdock validate`` (and before every build and deploy) once the document
    is schema-valid and a frozen ``DockSpec`` exists. Findings with severity ``warning``
    become errors under ``--strict``. A hook that raises is reported as a warning naming
    the plugin, never as a crash.

    :param spec: the frozen ``agentdock.spec.DockSpec``.
    :param project_dir: the Dockfile's directory.
    :returns: a sequence of :class:`agentdock.findings.Finding`, or ``None``.
    """


# -------------------------------------------------------------------------------------------
# CLI and pricing
# -------------------------------------------------------------------------------------------


@hookspec
def agentdock_register_commands(cli: click.Group) -> None:
    """Add commands to the ``agentdock`` CLI.

    Called once per process, the first time the CLI meets a command name that is not built
    in or lists every command (help, shell completion); the built-in commands load no plugin.
    Define the command in a module of its own and import it inside the hook, so that loading
    the plugin without the CLI imports neither click nor the CLI.

    :param cli: the root ``click.Group``; call ``cli.add_command(...)`` or use
        ``@cli.command()``.
    """


@hookspec
def agentdock_model_pricing() -> Mapping[str, Mapping[str, float]] | None:
    """Contribute token prices used to compute cost.

    Called once when the runtime builds its cost table, on top of the table shipped with the
    runtime; where two plugins price the same model the first one called wins (pluggy's
    order: ``tryfirst``, then the last registered first), and the Dockfile's
    ``model.extra.pricing`` overrides them all. A ``"provider/*"`` key prices every model of
    that provider. A malformed entry stops the runtime at start-up.

    :returns: ``{"provider/model": {"input_per_1m": USD, "output_per_1m": USD}}`` (USD per
        1,000,000 tokens; ``input_per_1k``/``output_per_1k`` are accepted too) or ``None``.
    """


# -------------------------------------------------------------------------------------------
# Registry changes
# -------------------------------------------------------------------------------------------


@hookspec
def agentdock_api_keys_changed(agent: str, key_ids: Sequence[str], action: str) -> None:
    """Tell running runtimes that API keys changed, so that they stop trusting the rows
    they hold in memory.

    Called in the process that changed the registry (``agentdock key revoke`` and ``key
    rotate``, or anything else using the store), right after the change is committed. The
    built-in auth plugin publishes it on Redis when ``AGENTDOCK_REDIS_URL`` is set; a plugin
    may carry it over another bus. Runtimes on the registry's own host (SQLite) or reading
    a Postgres registry learn of it without any hook. A hook that raises is recorded as a
    plugin error; the change stands.

    :param agent: the agent whose keys changed.
    :param key_ids: the public ids of the changed keys (never a key or a digest).
    :param action: ``revoke`` or ``rotate``.
    """
