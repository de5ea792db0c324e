"""Authentication primitives with no web dependency: keys, digests, tokens, roles.

The runtime's auth providers (``agentdock_plugins.auth``) and the ``agentdock key`` /
``agentdock token`` commands share these, so a key minted by the CLI verifies in the
runtime by construction.
"""

from __future__ import annotations

from agentdock.auth.durations import DurationError, parse_duration
from agentdock.auth.keys import (
    HMAC_SHA256,
    KEY_PREFIX,
    PEPPER_ENV,
    SHA256,
    GeneratedKey,
    MalformedKey,
    algorithm_in_use,
    digest_key,
    generate_key,
    key_id_of,
    pepper_id,
    verify_key,
)
from agentdock.auth.permissions import DEFAULT_ROLES, RESERVED_PERMISSIONS, roles_from_spec
from agentdock.auth.tokens import TokenError, mint_token

__all__ = [
    "DEFAULT_ROLES",
    "HMAC_SHA256",
    "KEY_PREFIX",
    "PEPPER_ENV",
    "RESERVED_PERMISSIONS",
    "SHA256",
    "DurationError",
    "GeneratedKey",
    "MalformedKey",
    "TokenError",
    "algorithm_in_use",
    "digest_key",
    "generate_key",
    "key_id_of",
    "mint_token",
    "parse_duration",
    "pepper_id",
    "roles_from_spec",
    "verify_key",
]
