"""Patterns of importable references, shared by the models and the import checks."""

from __future__ import annotations

import re

__all__ = ["DOTTED_PATH_PATTERN", "ENTRYPOINT_PATTERN", "DottedPathPattern", "EntrypointPattern"]

#: ``module.path:callable``
ENTRYPOINT_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*:[A-Za-z_][A-Za-z0-9_]*$"
#: ``module.path:Class`` or ``module.path.Class``
DOTTED_PATH_PATTERN = (
    r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*[.:][A-Za-z_][A-Za-z0-9_]*$"
)
EntrypointPattern = re.compile(ENTRYPOINT_PATTERN)
DottedPathPattern = re.compile(DOTTED_PATH_PATTERN)
