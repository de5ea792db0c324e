"""Exit codes shared by every command (also documented in the README)."""

from __future__ import annotations

OK = 0
INVALID = 1
USAGE = 2
BUILD_FAILED = 3
DEPLOY_FAILED = 4
NOT_FOUND = 5
