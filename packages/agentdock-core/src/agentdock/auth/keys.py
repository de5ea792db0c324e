"""API keys: generation, parsing, hashing and the constant-time comparison.

A key reads ``adk_<key id>_<secret>``: the ``adk_`` prefix makes a leaked key recognisable
to secret scanners, the key id (12 lower-case hex characters, public, stored in clear)
finds the row without scanning the table, and the secret (43 URL-safe base64 characters
from :func:`secrets.token_urlsafe`, 256 bits) is what proves possession. Only a digest of
the whole key is stored: HMAC-SHA-256 with a server-side pepper when
``AGENTDOCK_KEY_PEPPER`` is set (a stolen database alone then cannot test guesses),
otherwise SHA-256; the row records which (``hmac-sha256`` / ``sha256``) so that a store
keeps working when a pepper is introduced later. Digests are compared with
:func:`hmac.compare_digest` so the time taken does not reveal how many bytes matched.

A row made with a pepper also records :func:`pepper_id`, 32 bits of an HMAC of a fixed
text under the pepper: enough to tell that a process has another pepper (or none) than the
one a key was made with, too short to be worth much to whoever guesses peppers (and the keys
themselves are 256-bit random, which no pepper guess brings closer).
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import secrets
from dataclasses import dataclass

__all__ = [
    "HMAC_SHA256",
    "KEY_PREFIX",
    "PEPPER_ENV",
    "SECRET_BYTES",
    "SHA256",
    "GeneratedKey",
    "MalformedKey",
    "algorithm_in_use",
    "digest_key",
    "generate_key",
    "key_id_of",
    "pepper_id",
    "verify_key",
]

KEY_PREFIX = "adk_"
PEPPER_ENV = "AGENTDOCK_KEY_PEPPER"
#: Bytes of randomness in a key's secret part (256 bits).
SECRET_BYTES = 32
_KEY_ID_HEX = 12
_KEY = re.compile(r"^adk_([0-9a-f]{12})_([A-Za-z0-9_-]{43})$")
SHA256 = "sha256"
HMAC_SHA256 = "hmac-sha256"


class MalformedKey(ValueError):
    """Text that is not an AgentDock API key (never quotes the text)."""


@dataclass(frozen=True, slots=True)
class GeneratedKey:
    """A new key: ``key`` is shown once and never stored; the rest is what a row keeps."""

    key: str
    key_id: str
    digest: str
    algorithm: str
    #: :func:`pepper_id` of the pepper the digest was made with (None: no pepper).
    pepper_id: str | None = None

    def __repr__(self) -> str:  # the key must not end up in a log through repr()
        return f"GeneratedKey(key_id={self.key_id!r}, algorithm={self.algorithm!r})"


def _pepper(pepper: str | bytes | None) -> bytes | None:
    if pepper is None:
        pepper = os.environ.get(PEPPER_ENV) or None
    if pepper is None:
        return None
    return pepper.encode("utf-8") if isinstance(pepper, str) else pepper


def digest_key(key: str, algorithm: str | None = None, pepper: str | bytes | None = None) -> str:
    """The hex digest a store keeps for ``key``.

    :param algorithm: ``"hmac-sha256"`` or ``"sha256"``; ``None`` picks HMAC when a pepper is
        configured (argument, else ``AGENTDOCK_KEY_PEPPER``) and SHA-256 otherwise.
    :raises ValueError: ``hmac-sha256`` asked for with no pepper configured.
    """
    secret = _pepper(pepper)
    if algorithm is None:
        algorithm = HMAC_SHA256 if secret is not None else SHA256
    data = key.encode("utf-8")
    if algorithm == SHA256:
        return hashlib.sha256(data).hexdigest()
    if algorithm == HMAC_SHA256:
        if secret is None:
            raise ValueError(f"key digests use a pepper but {PEPPER_ENV} is not set")
        return hmac.new(secret, data, hashlib.sha256).hexdigest()
    raise ValueError(f"unknown key digest algorithm {algorithm!r}")


def pepper_id(pepper: str | bytes | None = None) -> str | None:
    """A short fingerprint of the pepper (argument, else ``AGENTDOCK_KEY_PEPPER``), or None
    without one: the first 8 hex characters of HMAC-SHA-256(pepper, a fixed text)."""
    secret = _pepper(pepper)
    if secret is None:
        return None
    return hmac.new(secret, b"agentdock key pepper id", hashlib.sha256).hexdigest()[:8]


def algorithm_in_use(pepper: str | bytes | None = None) -> str:
    """The digest algorithm new keys get (``hmac-sha256`` when a pepper is configured)."""
    return HMAC_SHA256 if _pepper(pepper) is not None else SHA256


def generate_key(pepper: str | bytes | None = None) -> GeneratedKey:
    """A fresh key with a 48-bit random id and a 256-bit secret from :mod:`secrets`."""
    key_id = secrets.token_hex(_KEY_ID_HEX // 2)
    secret = secrets.token_urlsafe(SECRET_BYTES)
    key = f"{KEY_PREFIX}{key_id}_{secret}"
    algorithm = algorithm_in_use(pepper)
    fingerprint = pepper_id(pepper) if algorithm == HMAC_SHA256 else None
    return GeneratedKey(key, key_id, digest_key(key, algorithm, pepper), algorithm, fingerprint)


def key_id_of(key: str) -> str:
    """The public key id of a presented key; raises :class:`MalformedKey` otherwise."""
    if len(key) > 128:
        raise MalformedKey("the API key is too long")
    match = _KEY.match(key)
    if match is None:
        raise MalformedKey("the API key is not in the adk_<id>_<secret> form")
    return match.group(1)


def verify_key(
    key: str, stored_digest: str, algorithm: str, pepper: str | bytes | None = None
) -> bool:
    """Whether ``key`` hashes to ``stored_digest``, compared in constant time.

    The comparison is :func:`hmac.compare_digest`, looked up at call time so that a test
    can observe that it is the one used.
    """
    try:
        presented = digest_key(key, algorithm, pepper)
    except ValueError:
        return False
    return hmac.compare_digest(presented.encode("ascii"), stored_digest.encode("ascii"))
