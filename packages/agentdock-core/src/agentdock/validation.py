"""The validation pipeline of PRD 8.6: parse, schema, semantics, adapters, freeze.

One call reports every finding of a file. The pipeline runs the same way from the CLI,
from a notebook and before every build, so the verdicts never drift apart.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path as FsPath
from typing import Any

from agentdock import plugins as plugin_registry
from agentdock.entrypoints import marked
from agentdock.findings import Code, Finding, Severity, ValidationReport
from agentdock.plugins import PluginManager
from agentdock.spec import semantic
from agentdock.spec.imports import ImportTarget, check_imports
from agentdock.spec.interpolate import Variables
from agentdock.spec.loader import LoadedDocument, load_document
from agentdock.spec.patterns import DottedPathPattern, EntrypointPattern
from agentdock.spec.regexlint import check_patterns
from agentdock.spec.schema import check_schema

__all__ = ["DockfileError", "load", "validate", "validate_document"]

DEFAULT_DOCKFILE = "Dockfile.yaml"


class DockfileError(Exception):
    """Raised by :func:`load` when a Dockfile is invalid; carries the full report."""

    def __init__(self, report: ValidationReport) -> None:
        self.report = report
        first = report.errors[0].one_line() if report.errors else "invalid Dockfile"
        more = len(report.errors) - 1
        suffix = f" (and {more} more)" if more > 0 else ""
        super().__init__(f"{report.file or '<mapping>'}: {first}{suffix}")


def validate(
    source: str | os.PathLike[str] | Mapping[str, Any] = DEFAULT_DOCKFILE,
    strict: bool = False,
    *,
    env: Mapping[str, str] | None = None,
    allow_unresolved: bool = False,
    skip_imports: bool = False,
    build: bool = True,
    plugins: PluginManager | None = None,
    audit: bool = True,
) -> ValidationReport:
    """Validate a Dockfile (a path, or an already-parsed mapping) and report every finding.

    :param strict: turn warnings into errors (``agentdock validate --strict``).
    :param env: ``${VAR}`` values that take precedence over the process environment.
    :param allow_unresolved: keep unresolved placeholders (warning instead of 4001).
    :param skip_imports: do not import the entrypoint or I/O classes.
    :param build: when the entrypoint is a builder (not already a graph) of a framework that
        builds (``langgraph``, ``langchain``), call it in the import probe as the runtime
        will, once everything else is valid; one that raises is 4003 with its exception
        (``agentdock validate --no-build``: False).
    :param plugins: the plugin manager to consult (default: the process-wide one).
    :param audit: add the readiness audit of the Dockfile's directory (warnings only, so
        it never decides whether the spec is valid): a runtime that starts leaves it out,
        it reads every source file of the agent.
    :returns: the report; ``report.spec`` holds the frozen ``DockSpec`` when valid.
    """
    if not isinstance(source, Mapping):
        source = _resolve_dockfile(source)
    document = load_document(source, env=env, allow_unresolved=allow_unresolved)
    return validate_document(
        document,
        strict=strict,
        skip_imports=skip_imports,
        build=build,
        plugins=plugins,
        audit=audit,
    )


def validate_document(
    document: LoadedDocument,
    *,
    strict: bool = False,
    skip_imports: bool = False,
    build: bool = True,
    plugins: PluginManager | None = None,
    audit: bool = True,
    with_installed: bool = False,
) -> ValidationReport:
    """Validate an already loaded document (see :func:`validate`).

    :param with_installed: the frameworks and ``plugins`` entries of the installed plugins
        (the process-wide manager) are accepted too, besides those of ``plugins``: a deploy
        given a program's own manager accepts what that manager adds to the installed ones.
    """
    manager = plugins if plugins is not None else plugin_registry.get_plugin_manager()
    known: tuple[PluginManager, ...] = (manager,)
    if with_installed and plugins is not None:
        default = plugin_registry.get_plugin_manager()
        known = (manager, default) if default is not manager else known
    file = str(document.path) if document.path is not None else None
    findings: list[Finding] = list(document.findings)
    spec: Any = None  # the frozen DockSpec, or a partial that builds it
    summary: dict[str, str] = {}
    data = document.data
    if data is not None:
        version, schema_findings = check_schema(
            data, interpolated=document.interpolated, unresolved_ok=bool(document.unresolved)
        )
        findings.extend(schema_findings)
        findings.extend(_semantic_findings(data, version, document, known))
        if not skip_imports:
            # A builder is called only for a document valid so far: it gets the spec.
            valid = not any(f.severity is Severity.ERROR for f in findings)
            findings.extend(_import_findings(data, version, document, known, build and valid))
        if not any(f.severity is Severity.ERROR for f in findings):
            summary = _summary(data, version)
            spec = functools.partial(_freeze, data, version)
            if manager.implements("agentdock_validate_spec"):
                # Plugins check the frozen spec, so build it now.
                try:
                    spec = spec()
                except DockfileError as exc:
                    findings.extend(exc.report.errors)
                else:
                    findings.extend(manager.validate_spec(spec, document.project_dir))
    if audit and document.path is not None:
        from agentdock.readiness.validation import audit_findings

        findings.extend(audit_findings(document.project_dir, manager))
    located = [_locate(f, document) for f in findings]
    # Document order reads best; findings with no line (mapping input) keep their order.
    located.sort(key=lambda f: (f.file != file, f.line is None, f.line or 0))
    return ValidationReport.from_findings(file, located, strict=strict, spec=spec, summary=summary)


def load(
    path: str | os.PathLike[str] = DEFAULT_DOCKFILE,
    env: Mapping[str, str] | None = None,
    *,
    skip_imports: bool = True,
    plugins: PluginManager | None = None,
) -> Any:
    """Load and validate a Dockfile, returning its frozen ``DockSpec``.

    :raises DockfileError: with the full report when the file is invalid.
    """
    # Its warnings are not returned, so the readiness audit (warnings only) is not run.
    report = validate(path, env=env, skip_imports=skip_imports, plugins=plugins, audit=False)
    if not report.ok:
        raise DockfileError(report)
    return report.spec


def _semantic_findings(
    data: Mapping[str, Any],
    version: str,
    document: LoadedDocument,
    known: Sequence[PluginManager],
) -> Iterable[Finding]:
    """The semantic checks; frameworks and ``plugins`` entries are those ``known``'s
    managers register."""
    yield from semantic.check_auth(data, version, document.interpolated)
    yield from semantic.check_exposure(data)
    yield from semantic.check_injection(data)
    yield from semantic.check_deploy(data)
    yield from semantic.check_arguments(data)
    adapters = {name for m in known for name in m.registrations("adapters")}
    yield from semantic.check_framework(data, adapters)
    if data.get("plugins"):
        yield from _plugin_block_findings(data, known)
    yield from semantic.check_telemetry(data)
    yield from semantic.check_inline_io(data)
    patterns = semantic.block(data, "policies", "safety").get("redact_patterns")
    if isinstance(patterns, list):
        yield from check_patterns(patterns)
    yield from semantic.check_lint(data)


def _plugin_block_findings(
    data: Mapping[str, Any], known: Sequence[PluginManager]
) -> Iterable[Finding]:
    from agentdock.spec.pluginblock import PLUGIN_KINDS, check_plugins

    registered: dict[str, Any] = {}
    builtin: dict[str, bool] = {}
    for manager in known:  # the first manager registering a name wins
        for kind in PLUGIN_KINDS:
            for name, registration in manager.registrations(kind).items():
                if name not in registered:
                    registered[name] = registration
                    builtin[name] = manager.is_builtin(registration.plugin)
    errors = list(
        dict.fromkeys(
            f"{e.name}{f' ({e.distribution})' if e.distribution else ''}: {e.error}"
            for manager in known
            for e in manager.errors()
        )
    )
    return check_plugins(data, registered, builtin, errors)


def _import_findings(
    data: Mapping[str, Any],
    version: str,
    document: LoadedDocument,
    known: Sequence[PluginManager],
    build: bool,
) -> list[Finding]:
    """Import the entrypoint and I/O classes in a probe process; with ``build``, call a
    builder entrypoint of a framework whose adapter builds (:mod:`agentdock.entrypoints`).

    The probe's environment gets the values of the Dockfile's variables (from ``--env``,
    the environment or ``.env``) and of ``deploy.secrets``, as a deployed runtime would,
    and whatever it reports has those values masked."""
    framework = semantic.block(data, "agent").get("framework")
    registration = None
    if isinstance(framework, str):
        registration = next(
            (r for m in known if (r := m.get("adapters", framework)) is not None), None
        )
    builds = build and registration is not None and marked(registration.factory)
    targets = _import_targets(data, {"version": version, "data": dict(data)} if builds else None)
    if not targets:
        return []
    env = dict(document.values)
    secret_names = semantic.block(data, "deploy").get("secrets")
    if builds and isinstance(secret_names, list):
        lookup = Variables(None, os.environ, document.project_dir / ".env")
        for name in secret_names:
            value = lookup(str(name)) if isinstance(name, str) else None
            if value is not None:
                env.setdefault(name, value)
    return check_imports(document.project_dir, targets, env=env, secrets=env.values())


def _import_targets(
    data: Mapping[str, Any], build: Mapping[str, Any] | None = None
) -> list[ImportTarget]:
    targets: list[ImportTarget] = []
    entrypoint = semantic.block(data, "agent").get("entrypoint")
    if isinstance(entrypoint, str) and EntrypointPattern.fullmatch(entrypoint):
        targets.append(ImportTarget(("agent", "entrypoint"), entrypoint, "entrypoint", build))
    io_schema = semantic.block(data, "io_schema")
    for key in ("input_class", "output_class"):
        ref = io_schema.get(key)
        if isinstance(ref, str) and DottedPathPattern.fullmatch(ref):
            targets.append(ImportTarget(("io_schema", key), ref, "model_class"))
    return targets


def _freeze(data: Mapping[str, Any], version: str) -> Any:
    """The frozen ``DockSpec`` of a schema-valid document."""
    from pydantic import ValidationError as PydanticValidationError

    from agentdock.spec.models import MODELS

    try:
        return MODELS[version].model_validate(dict(data))
    except PydanticValidationError as exc:
        # The schema accepted what the models refuse: report it without quoting values.
        findings = [
            Finding(Code.InvalidSchemaError, tuple(err["loc"]), err["msg"].split(",")[0][:200])
            for err in exc.errors(include_input=False, include_url=False)
        ]
        raise DockfileError(ValidationReport.from_findings(None, findings)) from None


def _summary(data: Mapping[str, Any], version: str) -> dict[str, str]:
    """What ``agentdock validate`` prints about a valid Dockfile (defaults applied)."""
    agent = semantic.block(data, "agent")
    model = semantic.block(data, "model")
    auth = semantic.block(data, "auth")
    expose = semantic.block(data, "expose")
    mode = str(auth.get("mode"))
    if mode != "api_key" and semantic.block(auth, "api_keys").get("enabled") is True:
        mode += " + api keys"
    streaming = expose.get("streaming", "sse")
    channels = [
        name
        for name, on in (("rest", expose.get("rest", True)), (streaming, streaming != "none"))
        if on
    ]
    host, port = expose.get("host", "0.0.0.0"), expose.get("port", 8080)
    return {
        "agent": f"{agent.get('name')} (Dockfile {version})",
        "framework": str(agent.get("framework")),
        "model": f"{model.get('provider')}/{model.get('name')}",
        "auth": mode,
        "exposure": f"{', '.join(channels)} on {host}:{port}",
    }


def _locate(finding: Finding, document: LoadedDocument) -> Finding:
    if finding.line is not None:
        return finding
    where = document.location(finding.path)
    if where is None:
        if finding.file is None and document.path is not None:
            return replace(finding, file=str(document.path))
        return finding
    return replace(finding, file=finding.file or where.file, line=where.line)


def _resolve_dockfile(path: str | os.PathLike[str]) -> FsPath:
    candidate = FsPath(path)
    return candidate / DEFAULT_DOCKFILE if candidate.is_dir() else candidate
