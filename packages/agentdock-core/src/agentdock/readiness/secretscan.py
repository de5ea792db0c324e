"""Recognising a secret value: detect-secrets' detectors of known key formats (AWS, GitHub,
OpenAI, Slack, Stripe, private keys, JWTs, ...) and its base64 entropy measure.

The rules of ``agentdock audit`` use it to report secrets, and the engine uses it to keep
secret defaults out of ``env.template`` and every report: one notion of "a secret" for both.
"""

from __future__ import annotations

import re
import string
from typing import Any

__all__ = ["Detectors", "known_formats", "shaped_like_a_key"]


def known_formats() -> list[Any]:
    """detect-secrets' detectors of known key formats (regex-based, no network)."""
    from detect_secrets.plugins.artifactory import ArtifactoryDetector
    from detect_secrets.plugins.aws import AWSKeyDetector
    from detect_secrets.plugins.azure_storage_key import AzureStorageKeyDetector
    from detect_secrets.plugins.discord import DiscordBotTokenDetector
    from detect_secrets.plugins.github_token import GitHubTokenDetector
    from detect_secrets.plugins.gitlab_token import GitLabTokenDetector
    from detect_secrets.plugins.jwt import JwtTokenDetector
    from detect_secrets.plugins.mailchimp import MailchimpDetector
    from detect_secrets.plugins.npm import NpmDetector
    from detect_secrets.plugins.openai import OpenAIDetector
    from detect_secrets.plugins.private_key import PrivateKeyDetector
    from detect_secrets.plugins.pypi_token import PypiTokenDetector
    from detect_secrets.plugins.sendgrid import SendGridDetector
    from detect_secrets.plugins.slack import SlackDetector
    from detect_secrets.plugins.stripe import StripeDetector
    from detect_secrets.plugins.telegram_token import TelegramBotTokenDetector
    from detect_secrets.plugins.twilio import TwilioKeyDetector

    classes = (
        ArtifactoryDetector,
        AWSKeyDetector,
        AzureStorageKeyDetector,
        DiscordBotTokenDetector,
        GitHubTokenDetector,
        GitLabTokenDetector,
        JwtTokenDetector,
        MailchimpDetector,
        NpmDetector,
        OpenAIDetector,
        PrivateKeyDetector,
        PypiTokenDetector,
        SendGridDetector,
        SlackDetector,
        StripeDetector,
        TelegramBotTokenDetector,
        TwilioKeyDetector,
    )
    return [cls() for cls in classes]


class Detectors:
    """detect-secrets' detectors and its entropy measure, imported on first need: importing
    detect-secrets costs about half a second (it brings requests), which a tree with no
    secret-shaped string, and every ``agentdock validate`` of one, never pays."""

    def __init__(self) -> None:
        self._formats: list[Any] | None = None
        self._entropy: Any = None

    def kind_of(self, value: str) -> str | None:
        """The secret type recognised in ``value``, or ``None``. A short phrase is read word
        by word, so that ``"Bearer <JWT>"`` is a JWT."""
        if not shaped_like_a_key(value):
            if len(value) > _MAX_PHRASE:
                return None
            for word in _LONG_WORD.findall(value):
                kind = self.kind_of(word) if shaped_like_a_key(word) else None
                if kind:
                    return kind
            return None
        for pattern, kind in _NEWER_FORMATS:
            if pattern.search(value):
                return kind
        if self._formats is None:
            self._formats = known_formats()
        for detector in self._formats:
            for _ in detector.analyze_string(value):
                return str(detector.secret_type)
        return None

    def recognises(self, value: str) -> bool:
        """A known key format or a high-entropy string: a value never to be printed."""
        return self.kind_of(value) is not None or self.random(value)

    def random(self, value: str) -> bool:
        """A long base64-looking string with detect-secrets' high-entropy score (> 4.5)."""
        if len(value) < 20 or not _BASE64.issuperset(value) or not shaped_like_a_key(value):
            return False
        if self._entropy is None:
            from detect_secrets.plugins.high_entropy_strings import Base64HighEntropyString

            self._entropy = Base64HighEntropyString()
        return bool(self._entropy.calculate_shannon_entropy(value) > self._entropy.entropy_limit)


#: Key formats detect-secrets 1.5 does not know yet: OpenAI project/service-account keys,
#: Anthropic keys and Hugging Face tokens.
_NEWER_FORMATS = (
    (re.compile(r"\bsk-(?:proj|svcacct|admin)-[A-Za-z0-9_-]{20,}"), "OpenAI Project Key"),
    (re.compile(r"\bsk-ant-[A-Za-z0-9_-]{20,}"), "Anthropic API Key"),
    (re.compile(r"\bhf_[A-Za-z0-9]{30,}"), "Hugging Face Token"),
)
#: The longest string read word by word for a key (a header, a command line), and the
#: words worth reading: as long as the shortest key and made of key characters.
_MAX_PHRASE = 512
_LONG_WORD = re.compile(r"[A-Za-z0-9+/_.:=-]{16,}")
_BASE64 = frozenset(string.ascii_letters + string.digits + "+/-_=")
#: Every character of the key formats detect-secrets knows (JWTs and SendGrid keys hold
#: dots, Telegram tokens a colon, Azure keys base64).
_KEY_CHARS = _BASE64 | frozenset(".:")


def shaped_like_a_key(value: str) -> bool:
    """Long enough, one word, letters and digits (or a PEM header): every format
    detect-secrets knows has that shape, so nothing else is handed to it."""
    if len(value) < 16:
        return False
    if "-----BEGIN" in value:
        return True
    if not _KEY_CHARS.issuperset(value):
        return False  # spaces, backslashes, brackets: prose, paths, patterns
    return any(ch.isdigit() for ch in value) and any(ch.isalpha() for ch in value)
