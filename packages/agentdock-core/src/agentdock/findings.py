"""Findings: what validation says about a Dockfile, as values with codes.

Every finding carries a numeric code, a stable name, a dotted path into the document
(``policies.safety.redact_patterns[1]``), a one-line message and, where known, the file
and line it came from. Errors and warnings share one shape so that ``--strict`` can turn
the latter into the former without losing anything.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from agentdock.spec import DockSpec

__all__ = [
    "Code",
    "Finding",
    "Path",
    "Severity",
    "ValidationReport",
    "format_path",
    "quote",
]

#: A location inside a document: mapping keys and sequence indexes, outermost first.
Path = tuple[str | int, ...]


class Code(enum.IntEnum):
    """Finding codes. 4000-4011 are errors (PRD 8.8 plus 4000, 4011); 41xx are lint warnings;
    42xx are deployment-readiness audit findings."""

    DockfileSyntaxError = 4000
    EnvInterpolationError = 4001
    InvalidSchemaError = 4002
    EntrypointNotFoundError = 4003
    InvalidIOSchemaError = 4004
    AuthConfigError = 4005
    PolicyValidationError = 4006
    UnsupportedFrameworkError = 4007
    TelemetryConfigError = 4008
    IncludeCycleError = 4009
    ExposureError = 4010
    PluginValidationError = 4011

    CatastrophicRegexWarning = 4101
    OverlappingRegexWarning = 4102
    PermissiveModelWarning = 4103
    MissingRolesWarning = 4104
    UnboundedOutputWarning = 4105
    LiteralSecretWarning = 4106
    UnresolvedVariableWarning = 4107
    PluginWarning = 4108
    InsecureJwksWarning = 4109

    # 4200-4299: deployment-readiness audit findings (agentdock.readiness), one per category;
    # the rule id is in the finding's path (``audit.<rule-id>``).
    AuditWarning = 4200
    AuditBindWarning = 4201
    AuditConfigWarning = 4202
    AuditPathWarning = 4203
    AuditHealthWarning = 4204
    AuditShutdownWarning = 4205
    AuditSecretWarning = 4206
    AuditDebugWarning = 4207
    AuditDockerfileWarning = 4208
    AuditAgentCodeWarning = 4209


class Severity(enum.StrEnum):
    ERROR = "error"
    WARNING = "warning"


def format_path(path: Sequence[str | int]) -> str:
    """Render a path tuple the way users write it.

    ``("policies", "safety", "redact_patterns", 1)`` → ``policies.safety.redact_patterns[1]``.
    """
    out: list[str] = []
    for part in path:
        if isinstance(part, int):
            out.append(f"[{part}]")
        else:
            out.append(f".{part}" if out else part)
    return "".join(out)


def quote(value: object, limit: int = 64) -> str:
    """User text for a one-line message: single-quoted, control characters escaped, truncated.

    Keys and names come from the user's document and may hold newlines or other line breaks;
    a finding's message must stay on one line.
    """
    text = str(value)
    short = text if len(text) <= limit else text[: limit - 1] + "…"
    return "'" + "".join(_escape(ch) for ch in short) + "'"


def _escape(ch: str) -> str:
    if ch in "'\\":
        return "\\" + ch
    if ch.isprintable():
        return ch
    return ch.encode("unicode_escape").decode("ascii")


@dataclass(frozen=True, slots=True)
class Finding:
    """One thing wrong (or worth a look) in a Dockfile."""

    code: Code
    path: Path
    message: str
    severity: Severity = Severity.ERROR
    hint: str | None = None
    file: str | None = None
    line: int | None = None
    #: Longer text (a traceback) shown only on request; never part of ``--json`` output.
    detail: str | None = field(default=None, compare=False)

    @property
    def name(self) -> str:
        return self.code.name

    @property
    def dotted_path(self) -> str:
        return format_path(self.path)

    def as_error(self) -> Finding:
        return replace(self, severity=Severity.ERROR)

    def to_dict(self) -> dict[str, Any]:
        return {
            "code": int(self.code),
            "name": self.name,
            "path": self.dotted_path,
            "message": self.message,
            "hint": self.hint,
            "line": self.line,
        }

    def one_line(self) -> str:
        where = f"{self.file}:{self.line}: " if self.file and self.line else ""
        hint = f" (hint: {self.hint})" if self.hint else ""
        path = self.dotted_path or "<root>"
        return f"{where}{int(self.code)} {self.name} at {path}: {self.message}{hint}"


@dataclass(frozen=True)
class ValidationReport:
    """The verdict on one Dockfile: every error and warning found in one run.

    The frozen ``DockSpec`` of a valid document is built on first access to :attr:`spec`,
    so a command that only needs the verdict never pays for building the models.
    """

    file: str | None
    errors: tuple[Finding, ...] = ()
    warnings: tuple[Finding, ...] = ()
    #: A few facts about a valid Dockfile (agent, framework, model, auth, exposure).
    summary: Mapping[str, str] = field(default_factory=dict)
    _spec: Any = field(default=None, repr=False, compare=False)

    @property
    def ok(self) -> bool:
        return not self.errors

    @property
    def spec(self) -> Any:
        """The frozen ``agentdock.spec.DockSpec`` when the document is valid, else ``None``."""
        if self.errors:
            return None
        if callable(self._spec):
            object.__setattr__(self, "_spec", self._spec())
        return self._spec

    @classmethod
    def from_findings(
        cls,
        file: str | None,
        findings: Iterable[Finding],
        *,
        strict: bool = False,
        spec: DockSpec | None = None,
        summary: Mapping[str, str] | None = None,
    ) -> ValidationReport:
        """Sort findings into errors and warnings, dropping exact duplicates.

        :param spec: the frozen spec, or a zero-argument callable that builds it.
        """
        errors: list[Finding] = []
        warnings: list[Finding] = []
        seen: set[tuple[Code, Path, str]] = set()
        for f in findings:
            key = (f.code, f.path, f.message)
            if key in seen:
                continue
            seen.add(key)
            if f.severity is Severity.ERROR:
                errors.append(f)
            elif strict:
                errors.append(f.as_error())
            else:
                warnings.append(f)
        return cls(
            file=file,
            errors=tuple(errors),
            warnings=() if strict else tuple(warnings),
            summary=dict(summary or {}) if not errors else {},
            _spec=spec if not errors else None,
        )

    def codes(self) -> list[int]:
        return [int(f.code) for f in self.errors]

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "file": self.file,
            "errors": [f.to_dict() for f in self.errors],
            "warnings": [f.to_dict() for f in self.warnings],
        }
