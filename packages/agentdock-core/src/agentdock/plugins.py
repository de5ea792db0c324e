"""The plugin manager: finds plugins through entry points and collects what they provide.

Built-in plugins (``agentdock-plugins``) and third-party ones load the same way, through the
entry-point group ``agentdock``. A plugin object can also be registered in-process
(notebooks, tests) with :meth:`PluginManager.register`. Loading is lazy and runs once; a
plugin that fails to import, or whose hooks raise, is recorded as a :class:`PluginError`
naming it and never takes the caller down.

``AGENTDOCK_LOAD_PLUGINS`` (comma-separated entry-point names) limits which entry points
load; an empty value loads none; ``-name`` items alone load all but those. A name that no
installed plugin has is an error (a typo must not pass for a plugin left out).

Implementations are called in pluggy's order (:meth:`PluginManager.implementations`):
``tryfirst`` ones first, then the others from the last registered to the first, ``trylast``
ones last; where two give the same name, the first called wins. A built-in's name (one
``agentdock-plugins`` registers) is never taken by another plugin, whatever the order: an
attempt is a :class:`PluginError` of that plugin, unless the replacement is asked for by name
(``AGENTDOCK_PLUGIN_REPLACES=kind:name=plugin``, or ``replaces=`` in process), since a
plugin installed beside AgentDock that quietly replaced ``api_key`` or ``redact_input``
would change every agent's security. Each implementation is called on its own, so that one
raising never stops the others; a hook wrapper, which pluggy runs around the rest of the
chain, has no such chain here and is refused when its plugin registers.

Every error is also handed to the listeners added with
:meth:`PluginManager.add_error_listener` as it is recorded: the CLI prints each on stderr,
the runtime logs it.

What the manager records (registrations, plugins, errors) is :mod:`agentdock.pluginrecords`;
the allowlist, the replacements, the hook API version and the configuration schema checks
are :mod:`agentdock.pluginrules` (public names are re-exported here).
"""

from __future__ import annotations

import contextlib
import threading
import traceback
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import replace
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pluggy

from agentdock import hookspecs
from agentdock.findings import Code, Finding, Severity
from agentdock.pluginrecords import (
    ALLOWLIST_ENV,
    BUILTIN_DISTRIBUTION,
    BUILTIN_PACKAGE,
    ENTRY_POINT_GROUP,
    KINDS,
    REPLACES_ENV,
    PluginError,
    PluginInfo,
    Registration,
    _one_line,
)
from agentdock.pluginrules import (
    _allowlist_from_env,
    _check_config_schema,
    _check_hook_api,
    _chosen,
    _replaces_from_env,
    parse_replaces,
)

if TYPE_CHECKING:
    from agentdock.spec import DockSpec

__all__ = [
    "BUILTIN_DISTRIBUTION",
    "ENTRY_POINT_GROUP",
    "KINDS",
    "REPLACES_ENV",
    "PluginError",
    "PluginInfo",
    "PluginManager",
    "Registration",
    "get_plugin_manager",
    "make_plugin_manager",
    "register_each",
]


class PluginManager:
    """AgentDock's view of pluggy: lazy entry-point loading and typed collections."""

    def __init__(
        self,
        *,
        load_entry_points: bool = True,
        allowlist: Collection[str] | None = None,
        replaces: Iterable[str] | None = None,
    ) -> None:
        """:param replaces: ``kind:name=plugin`` items: built-in names those plugins may
            take (default: ``AGENTDOCK_PLUGIN_REPLACES``).
        :raises ValueError: a ``replaces`` item of another form.
        """
        self._pm = pluggy.PluginManager("agentdock")
        self._pm.add_hookspecs(hookspecs)
        self._load_entry_points = load_entry_points
        self._allowlist = frozenset(allowlist) if allowlist is not None else None
        self._loaded = False
        self._lock = threading.RLock()
        self._errors: list[PluginError] = []
        self._origins: dict[str, tuple[str | None, str | None]] = {}
        self._collected: dict[str, dict[str, Registration]] = {}
        self._conflicts: list[str] = []
        self._listeners: list[Callable[[PluginError], None]] = []
        if replaces is not None:
            self._replaces = parse_replaces(replaces)
        else:
            try:
                self._replaces = _replaces_from_env()
            except ValueError as exc:  # a bad setting replaces nothing, and is said
                self._replaces = frozenset()
                self._errors.append(PluginError(REPLACES_ENV, None, str(exc)))

    # -- registration ------------------------------------------------------------------------

    def register(self, plugin: object, name: str | None = None) -> str:
        """Register a plugin object (a module or any object with ``@hookimpl`` methods).

        :returns: the name it was registered under.
        :raises ValueError: if the name is taken or the plugin's hooks do not match the specs.
        """
        with self._lock:
            try:
                registered = self._register_checked(plugin, name)
            except pluggy.PluginValidationError as exc:
                raise ValueError(f"plugin {name or plugin!r} is invalid: {exc}") from exc
            if registered is None:
                raise ValueError(f"a plugin named {name!r} is already registered")
            self._collected.clear()
            return registered

    def _register_checked(self, plugin: object, name: str | None) -> str | None:
        """Register, then refuse ``agentdock_*`` implementations of hooks that do not exist,
        and hook wrappers."""
        registered = self._pm.register(plugin, name=name)
        if registered is None:
            return None
        try:
            self._pm.check_pending()
            self._refuse_wrappers(plugin)
            _check_hook_api(plugin)
        except pluggy.PluginValidationError:
            self._pm.unregister(plugin, name=registered)
            raise
        return registered

    def _refuse_wrappers(self, plugin: object) -> None:
        wrappers = sorted(
            caller.name
            for caller in self._pm.get_hookcallers(plugin) or ()
            for impl in caller.get_hookimpls()
            if impl.plugin is plugin and (impl.hookwrapper or impl.wrapper)
        )
        if wrappers:
            raise pluggy.PluginValidationError(
                plugin,
                f"{', '.join(wrappers)} is a hook wrapper (wrapper=True or hookwrapper=True); "
                "AgentDock calls each implementation on its own and takes no wrappers",
            )

    def add_error_listener(self, listener: Callable[[PluginError], None]) -> None:
        """Call ``listener`` with every error recorded so far and each one recorded later
        (a listener that raises is ignored: reporting never takes the host down)."""
        with self._lock:
            self._listeners.append(listener)
            for err in self._errors:
                self._tell(listener, err)

    def _record(self, err: PluginError) -> None:
        if err in self._errors:  # the same refusal, met again when collections are redone
            return
        self._errors.append(err)
        for listener in list(self._listeners):
            self._tell(listener, err)

    @staticmethod
    def _tell(listener: Callable[[PluginError], None], err: PluginError) -> None:
        with contextlib.suppress(Exception):  # a reporter's failure is not the plugin's
            listener(err)

    def is_builtin(self, plugin_name: str) -> bool:
        """Whether ``plugin_name`` is one of AgentDock's own plugins: loaded from
        ``agentdock-plugins``, or a module of ``agentdock_plugins`` registered in process."""
        dist, _ = self._origins.get(plugin_name, (None, None))
        if dist is not None:
            return dist == BUILTIN_DISTRIBUTION
        plugin = self._pm.get_plugin(plugin_name)
        module = getattr(plugin, "__name__", None) or type(plugin).__module__
        return module == BUILTIN_PACKAGE or module.startswith(BUILTIN_PACKAGE + ".")

    def needs_naming(self, plugin_name: str) -> bool:
        """Whether what ``plugin_name`` provides is used only where a Dockfile names it: a
        plugin installed beside AgentDock (an entry point of another distribution). The
        built-ins, and plugins a program registers in process, are its own choice."""
        if plugin_name not in self._origins:
            return False
        return not self.is_builtin(plugin_name)

    def unregister(self, name: str) -> None:
        """Remove a plugin registered under ``name`` (no error if absent)."""
        with self._lock:
            plugin = self._pm.get_plugin(name)
            if plugin is not None:
                self._pm.unregister(plugin, name=name)
            self._origins.pop(name, None)
            self._collected.clear()

    def load(self) -> None:
        """Load entry-point plugins once; later calls do nothing."""
        with self._lock:
            if self._loaded:
                return
            self._loaded = True
            if not self._load_entry_points:
                return
            allow = self._allowlist if self._allowlist is not None else _allowlist_from_env()
            found = list(metadata.entry_points(group=ENTRY_POINT_GROUP))
            chosen = _chosen(found, allow)
            for ep in found:
                if ep.name in chosen:
                    self._load_entry_point(ep)
            known = {ep.name for ep in found}
            for name in sorted({n.lstrip("-") for n in allow or ()} - known):
                self._record(
                    PluginError(
                        name,
                        None,
                        f"{ALLOWLIST_ENV} names {name!r}, which no installed plugin is; "
                        f"installed: {', '.join(sorted(known)) or 'none'}",
                    )
                )

    def _load_entry_point(self, ep: metadata.EntryPoint) -> None:
        dist_name = ep.dist.name if ep.dist is not None else None
        dist_version = ep.dist.version if ep.dist is not None else None
        if self._pm.get_plugin(ep.name) is not None or ep.name in self._origins:
            self._record(
                PluginError(ep.name, dist_name, f"another plugin is already named {ep.name!r}")
            )
            return
        try:
            plugin = ep.load()
        except BaseException as exc:  # a broken plugin must not take the host down
            if isinstance(exc, KeyboardInterrupt):
                raise
            self._record(PluginError(ep.name, dist_name, _one_line(exc), traceback.format_exc()))
            return
        try:
            self._register_checked(plugin, ep.name)
        except (pluggy.PluginValidationError, ValueError) as exc:
            self._record(PluginError(ep.name, dist_name, _one_line(exc)))
            return
        self._origins[ep.name] = (dist_name, dist_version)

    # -- inspection --------------------------------------------------------------------------

    @property
    def hook(self) -> Any:
        """Direct access to pluggy's hook caller (after loading)."""
        self.load()
        return self._pm.hook

    def errors(self) -> list[PluginError]:
        """Plugins that failed to load or whose hooks raised."""
        self.load()
        return list(self._errors)

    def conflicts(self) -> list[str]:
        """Names registered by more than one plugin (the first implementation called wins)."""
        self._collect_all()
        return list(self._conflicts)

    def plugins(self) -> list[PluginInfo]:
        """Every registered plugin, with its distribution, version and implemented hooks."""
        self.load()
        out: list[PluginInfo] = []
        for name, plugin in self._pm.list_name_plugin():
            if plugin is None:
                continue
            dist, version = self._origins.get(name, (None, None))
            hooks = tuple(sorted(caller.name for caller in self._pm.get_hookcallers(plugin) or ()))
            module = getattr(plugin, "__name__", None) or type(plugin).__module__
            out.append(
                PluginInfo(
                    name=name,
                    module=module,
                    distribution=dist,
                    version=version,
                    builtin=dist == BUILTIN_DISTRIBUTION,
                    hooks=hooks,
                )
            )
        return sorted(out, key=lambda p: (not p.builtin, p.name))

    # -- collections -------------------------------------------------------------------------

    def registrations(self, kind: str) -> Mapping[str, Registration]:
        """Everything registered for ``kind`` (one of :data:`KINDS`), by name."""
        if kind not in KINDS:
            raise ValueError(f"unknown plugin kind {kind!r}; known: {', '.join(KINDS)}")
        self.load()
        with self._lock:
            if kind not in self._collected:
                self._collected[kind] = self._collect(kind)
            return dict(self._collected[kind])

    def get(self, kind: str, name: str) -> Registration | None:
        """The registration for ``name`` of ``kind``, or ``None``."""
        return self.registrations(kind).get(name)

    def _collect_all(self) -> None:
        for kind in KINDS:
            self.registrations(kind)

    def _collect(self, kind: str) -> dict[str, Registration]:
        found: dict[str, Registration] = {}
        builtin: set[str] = set()
        # Built-ins first, so that their names are theirs whatever the order; then the
        # others, where the first implementation called keeps a name (tryfirst wins,
        # trylast yields).
        impls = self.implementations(f"agentdock_register_{kind}")
        ours = [impl for impl in impls if self.is_builtin(impl.plugin_name)]
        for impl in ours + [impl for impl in impls if impl not in ours]:
            plugin_name = impl.plugin_name
            is_ours = impl in ours

            def register(
                name: str,
                factory: Any,
                description: str = "",
                config_schema: Mapping[str, Any] | None = None,
                _plugin: str = plugin_name,
                _ours: bool = is_ours,
            ) -> None:
                if not isinstance(name, str) or not name:
                    raise ValueError(f"{kind} names must be non-empty strings, got {name!r}")
                if config_schema is not None:
                    _check_config_schema(kind, name, config_schema)
                held = found.get(name)
                if held is not None and name in builtin and not _ours:
                    if (kind, name, _plugin) not in self._replaces:
                        dist, _ = self._origins.get(_plugin, (None, None))
                        self._record(
                            PluginError(
                                _plugin,
                                dist,
                                f"{kind} {name!r} is built in and was not replaced: register "
                                f"it under another name, or allow it with "
                                f"{REPLACES_ENV}={kind}:{name}={_plugin}",
                            )
                        )
                        return
                    self._conflict(
                        f"{kind} {name!r}: the built-in one replaced by {_plugin}, as "
                        f"{REPLACES_ENV} asks"
                    )
                    builtin.discard(name)
                elif held is not None:
                    self._conflict(
                        f"{kind} {name!r} from {_plugin} ignored: already registered by "
                        f"{held.plugin}"
                    )
                    return
                found[name] = Registration(kind, name, factory, description, _plugin, config_schema)
                if _ours:
                    builtin.add(name)

            self._call_impl(impl, {"register": register})
        return found

    def _conflict(self, text: str) -> None:
        if text not in self._conflicts:
            self._conflicts.append(text)

    def _call_impl(self, impl: Any, kwargs: Mapping[str, Any]) -> Any:
        args = {k: kwargs[k] for k in impl.argnames if k in kwargs}
        try:
            return impl.function(**args)
        except Exception as exc:
            dist, _ = self._origins.get(impl.plugin_name, (None, None))
            self._record(
                PluginError(
                    impl.plugin_name,
                    dist,
                    f"{impl.function.__name__} raised {_one_line(exc)}",
                    traceback.format_exc(),
                )
            )
            return None

    def call_each(self, hook_name: str, **kwargs: Any) -> list[tuple[str, Any]]:
        """Call every implementation of ``hook_name`` separately, in pluggy's order,
        isolating failures.

        :returns: ``(plugin_name, result)`` for each implementation that did not raise.
        """
        results: list[tuple[str, Any]] = []
        for impl in self.implementations(hook_name):
            before = len(self._errors)
            result = self._call_impl(impl, kwargs)
            if len(self._errors) == before:
                results.append((impl.plugin_name, result))
        return results

    def implementations(self, hook_name: str) -> list[Any]:
        """The implementations of ``hook_name`` in the order pluggy calls them.

        pluggy keeps them ``trylast`` first and ``tryfirst`` last, each group in registration
        order, and calls the list from its end.
        """
        self.load()
        return list(reversed(getattr(self._pm.hook, hook_name).get_hookimpls()))

    def implements(self, hook_name: str) -> bool:
        """Whether any registered plugin implements ``hook_name``."""
        self.load()
        return bool(getattr(self._pm.hook, hook_name).get_hookimpls())

    def validate_spec(self, spec: DockSpec, project_dir: Path) -> list[Finding]:
        """Run every ``agentdock_validate_spec`` hook; a raising hook becomes a warning."""
        findings: list[Finding] = []
        before = len(self.errors())
        for plugin_name, result in self.call_each(
            "agentdock_validate_spec", spec=spec, project_dir=project_dir
        ):
            # One Finding, or any iterable of them; a dotted string path is split.
            items = [result] if isinstance(result, Finding) else list(result or ())
            for item in items:
                if isinstance(item, Finding):
                    findings.append(_from_plugin(item, plugin_name))
                else:
                    findings.append(
                        Finding(
                            Code.PluginWarning,
                            (),
                            f"plugin {plugin_name} returned {type(item).__name__}, not a Finding",
                            severity=Severity.WARNING,
                        )
                    )
        for err in self._errors[before:]:
            findings.append(
                Finding(
                    Code.PluginWarning,
                    (),
                    f"plugin {err.name} could not check the spec: {err.error}",
                    severity=Severity.WARNING,
                    detail=err.detail or None,
                )
            )
        return findings

    def register_commands(self, cli: Any) -> None:
        """Let plugins add commands to the CLI group ``cli``."""
        self.call_each("agentdock_register_commands", cli=cli)


def _from_plugin(finding: Finding, plugin_name: str) -> Finding:
    """``finding`` as a plugin returned it, its path a tuple (a plugin may give the dotted
    string, ``"arguments.timeout"``) and its message naming the plugin."""
    path: Any = finding.path
    if isinstance(path, str):
        path = tuple(part for part in path.split(".") if part)
    return replace(finding, path=tuple(path), message=f"{finding.message} (plugin {plugin_name})")


def make_plugin_manager(
    *,
    entry_points: bool = False,
    plugins: Iterable[object | tuple[str, object]] = (),
    replaces: Iterable[str] = (),
) -> PluginManager:
    """A fresh manager (entry points off by default): the way tests and notebooks start.

    :param plugins: plugin objects, or ``(name, plugin)`` pairs, to register right away.
    :param replaces: ``kind:name=plugin`` items: built-in names those plugins may take.
    """
    manager = PluginManager(load_entry_points=entry_points, replaces=replaces)
    register_each(manager, plugins)
    return manager


def register_each(manager: PluginManager, plugins: Iterable[object | tuple[str, object]]) -> None:
    """Register ``plugins`` (objects, or ``(name, plugin)`` pairs) with ``manager``."""
    for item in plugins:
        if isinstance(item, tuple):
            manager.register(item[1], name=item[0])
        else:
            manager.register(item)


_default: PluginManager | None = None
_default_lock = threading.Lock()


def get_plugin_manager() -> PluginManager:
    """The process-wide manager, with entry points on, created on first use."""
    global _default
    with _default_lock:
        if _default is None:
            _default = PluginManager(load_entry_points=True)
        return _default
