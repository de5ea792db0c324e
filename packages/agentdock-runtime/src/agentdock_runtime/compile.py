"""Compiling a spec into a :class:`~agentdock_runtime.pipeline.Pipeline`, once, at start-up.

:func:`compile_pipeline` looks every plugin up once (adapter by ``agent.framework``, auth
provider by ``auth.mode``, every policy and telemetry sink factory the agent uses called
with the spec: the built-ins, and an installed plugin's only where the Dockfile's
``plugins`` block names it), records the plugins that failed to load
(:attr:`~agentdock_runtime.pipeline.Pipeline.plugin_errors`), compiles the I/O schemas, the
roles and rate limits and the model pricing, and checks the run ``arguments``. Whatever is
wrong stops the start-up with :class:`~agentdock_runtime.runsettings.PipelineError`; nothing
is looked up per request.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from agentdock.plugins import PluginManager

from agentdock_runtime.access import compile_access
from agentdock_runtime.cost import compile_pricing
from agentdock_runtime.iomodels import input_model, output_model
from agentdock_runtime.pipeline import Pipeline
from agentdock_runtime.runsettings import PipelineError, RunSettings

if TYPE_CHECKING:
    from agentdock.spec import DockSpec

__all__ = ["compile_pipeline"]


def compile_pipeline(
    spec: DockSpec,
    *,
    entry: Any,
    plugins: PluginManager,
    insecure_no_auth: bool = False,
    telemetry_queue_size: int = 1024,
    sink_timeout: float = 5.0,
) -> Pipeline:
    """Resolve every plugin the spec needs, once, into a :class:`Pipeline`.

    :param spec: the resolved ``DockSpec`` (placeholders already filled in).
    :param entry: the imported ``agent.entrypoint`` object, handed to the adapter factory.
    :param plugins: where adapters, auth providers, policies and sinks are registered.
    :param insecure_no_auth: run with no authentication at all (local development only);
        whoever serves the pipeline warns of it, naming where it is served.
    :raises PipelineError: a plugin is missing, a factory failed, or ``arguments`` are wrong.
    """
    framework = spec.agent.framework
    registration = plugins.get("adapters", framework)
    if registration is None:
        raise PipelineError(f"no adapter plugin provides framework {framework!r}")
    adapter = _build("adapter", framework, registration.factory, entry, spec)

    auth: Any | None = None
    mode = spec.auth.mode
    if not insecure_no_auth:
        provider = plugins.get("auth_providers", mode)
        if provider is None:
            raise PipelineError(
                f"no auth provider plugin for auth.mode {mode!r}; refusing to serve the agent "
                "without authentication"
            )
        auth = _build("auth provider", mode, provider.factory, spec)

    policies = _build_each(plugins, "policies", "policy", spec)
    built_sinks = _build_sinks(plugins, spec)
    sinks = [sink for _, sink in built_sinks]
    sink_names = [name for name, _ in built_sinks]

    try:
        inputs = input_model(spec.io_schema)
        outputs = output_model(spec.io_schema)
    except Exception as exc:
        raise PipelineError(f"cannot compile io_schema: {type(exc).__name__}: {exc}") from exc

    access = _compile_access(spec) if auth is not None else None
    pricing = _compile_pricing(spec, plugins) if sinks else None

    arguments = dict(spec.arguments)
    pipeline = Pipeline(
        agent=spec.agent.name,
        adapter=adapter,
        input=inputs,
        output=outputs,
        auth=auth,
        policies=policies,
        sinks=sinks,
        sink_names=sink_names,
        access=access,
        pricing=pricing,
        arguments=arguments,
        settings=RunSettings.from_arguments(arguments),
        model=spec.model.name,
        provider=spec.model.provider,
        auth_mode=mode,
        telemetry_queue_size=telemetry_queue_size,
        sink_timeout=sink_timeout,
        shared_threads=getattr(spec.expose, "threads", "per_caller") == "shared",
    )
    pipeline.plugin_errors = tuple(sorted({err.name for err in plugins.errors()}))
    for sink in pipeline.capabilities.sinks.bound:  # sinks that report on the pipeline
        sink.bind(pipeline)
    return pipeline


def _compile_access(spec: DockSpec) -> Any:
    """Roles, permissions and rate limits (see :mod:`agentdock_runtime.access` for where
    limits are kept: memory, a file the workers share, Redis named by
    :data:`~agentdock_runtime.access.REDIS_URL_ENV`)."""
    try:
        return compile_access(spec)
    except Exception as exc:
        raise PipelineError(f"cannot compile auth roles and rate limits: {exc}") from exc


def _compile_pricing(spec: DockSpec, plugins: PluginManager) -> Any | None:
    try:
        return compile_pricing(spec, plugins)
    except Exception as exc:
        raise PipelineError(f"cannot compile the model pricing: {exc}") from exc


def _enabled(plugins: PluginManager, kind: str, spec: DockSpec) -> dict[str, Any]:
    """The registrations of ``kind`` this agent uses, in registration order: the built-ins
    and those registered in process, and an installed plugin's only where the Dockfile's
    ``plugins`` block names it (:meth:`agentdock.plugins.PluginManager.needs_naming`):
    installing a plugin never changes an agent that does not ask for it."""
    named = getattr(spec, "plugins", None) or {}
    return {
        name: reg
        for name, reg in plugins.registrations(kind).items()
        if name in named or not plugins.needs_naming(reg.plugin)
    }


def _build_each(
    plugins: PluginManager, group: str, kind: str, spec: DockSpec
) -> list[tuple[str, Any]]:
    """Every factory of ``group`` this agent uses (:func:`_enabled`) called with the spec,
    in registration order: what each built, by name (a factory that returns ``None`` is
    left out)."""
    built: list[tuple[str, Any]] = []
    for name, reg in _enabled(plugins, group, spec).items():
        item = _build(kind, name, reg.factory, spec)
        if item is not None:
            built.append((name, item))
    return built


def _build_sinks(plugins: PluginManager, spec: DockSpec) -> list[tuple[str, Any]]:
    """The telemetry sinks this agent uses (:func:`_enabled`), in registration order. A
    factory with a ``built`` parameter is called after every other one, with what they
    built (name → sink): it decides by what is there (the local collector stays away when a
    sink exports the runs), not by importing other plugins."""
    registrations = _enabled(plugins, "telemetry_sinks", spec)
    later = [name for name, reg in registrations.items() if _takes_built(reg.factory)]
    built: dict[str, Any] = {}
    for name, reg in registrations.items():
        if name not in later:
            sink = _build("telemetry sink", name, reg.factory, spec)
            if sink is not None:
                built[name] = sink
    first = MappingProxyType(dict(built))
    for name in later:
        sink = _build("telemetry sink", name, registrations[name].factory, spec, built=first)
        if sink is not None:
            built[name] = sink
    return [(name, built[name]) for name in registrations if name in built]


def _takes_built(factory: Callable[..., Any]) -> bool:
    try:
        return "built" in inspect.signature(factory).parameters
    except (TypeError, ValueError):  # no signature to read: called with the spec alone
        return False


def _build(kind: str, name: str, factory: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    try:
        return factory(*args, **kwargs)
    except Exception as exc:
        raise PipelineError(
            f"{kind} {name!r} could not be built: {type(exc).__name__}: {exc}"
        ) from exc
