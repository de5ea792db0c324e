"""Secret rules: keys in code and committed ``.env`` files. Known key formats come from
detect-secrets' detectors (AWS, GitHub, OpenAI, Slack, Stripe, private keys, JWTs, ...),
built once per audit; a literal assigned to a secret-named variable or argument counts too.
No finding ever holds the value: messages name the kind of secret and where it is.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator

from agentdock.findings import quote
from agentdock.readiness import Hit, Level, SourceFile
from agentdock.readiness.astutil import (
    SECRET_NAME,
    calls,
    const_str,
    env_reads,
    string_constants,
)
from agentdock.readiness.secretscan import Detectors

__all__ = ["CommittedEnvFile", "HardcodedApiKey", "SecretLiteral"]

#: Placeholders that are not secrets.
_PLACEHOLDERS = frozenset(
    {"", "changeme", "change-me", "xxx", "todo", "none", "null", "secret", "password", "dummy"}
)


def _is_placeholder(value: str) -> bool:
    text = value.strip().strip("<>{}$").lower()
    return text in _PLACEHOLDERS or text.startswith(("your", "replace", "change")) or len(text) < 4


_NOT_SECRET_NAME = re.compile(
    r"(_ENV|_VAR|_FILE|_PATH|_NAMES?|_HEADER|_PREFIX|_TYPE|_KIND|_FIELD|_KEYS|TOKENS|_URL)$",
    re.IGNORECASE,
)


def _looks_secret(name: str, value: str) -> bool:
    """A literal worth reporting under a secret-looking name: not a placeholder, not a
    word or identifier (``"TokenExpired"``, ``"AGENTDOCK_SECRET"``), long enough."""
    if _NOT_SECRET_NAME.search(name) or _is_placeholder(value):
        return False
    if len(value) < 8 or any(ch.isspace() for ch in value):
        return False
    has_digit = any(ch.isdigit() for ch in value)
    has_alpha = any(ch.isalpha() for ch in value)
    return (has_digit and has_alpha) or not value.replace("_", "").replace(".", "").isalpha()


def _named_values(source: SourceFile) -> dict[int, str]:
    """Ids of constants assigned to a name, attribute, keyword or dict key, with that name:
    gathered from the assignments, so that no string needs its parent looked up."""
    out: dict[int, str] = {}
    for assign in source.nodes(ast.Assign):
        target = assign.targets[0]
        label = target.id if isinstance(target, ast.Name) else getattr(target, "attr", None)
        if label:
            out[id(assign.value)] = label
    for annotated in source.nodes(ast.AnnAssign):
        if isinstance(annotated.target, ast.Name) and annotated.value is not None:
            out[id(annotated.value)] = annotated.target.id
    for keyword in source.nodes(ast.keyword):
        if keyword.arg:
            out[id(keyword.value)] = keyword.arg
    for mapping in source.nodes(ast.Dict):
        for key, value in zip(mapping.keys, mapping.values, strict=False):
            label = const_str(key)
            if label:
                out[id(value)] = label
    return out


class SecretLiteral:
    """A secret is written in the code: a known key format (detect-secrets, plus OpenAI
    project, Anthropic and Hugging Face keys) anywhere in a string, a word of a phrase
    (``"Bearer <JWT>"``) or an environment read's default, a literal assigned to a
    secret-named variable (``API_KEY = "..."``), or a random-looking string (detect-secrets'
    base64 entropy above 4.5) assigned to any name. In a Dockerfile (``ENV``/``ARG``) or a
    compose ``environment:`` (mapping or list), a value given to a secret-named variable
    is baked into the image or the stack and counts too."""

    id = "secret-literal"
    level = Level.HIGH
    category = "secrets"
    kinds = frozenset({"python", "dockerfile", "compose"})
    fix = "remove it (and rotate it); read it from the environment or a secret store"

    def __init__(self) -> None:
        self._detectors = Detectors()

    def check(self, source: SourceFile) -> Iterator[Hit]:
        if source.kind != "python":
            for number, text in enumerate(source.lines, 1):
                hit = self._line_hit(source.kind, text)
                if hit:
                    yield Hit(number, hit)
            return
        names = _named_values(source)
        for read in env_reads(source):
            if read.default is not None:
                names[id(read.default)] = read.name
        for node in string_constants(source):
            value = node.value
            assert isinstance(value, str)
            name = names.get(id(node))
            if name and name.endswith("api_key"):
                continue  # hardcoded-api-key reports it
            kind = self._detectors.kind_of(value)
            if kind:
                yield Hit(node.lineno, f"{kind} in a string literal")
                continue
            if name and SECRET_NAME.search(name) and _looks_secret(name, value):
                yield Hit(node.lineno, f"literal value assigned to {quote(name)}")
            elif name and self._detectors.random(value):
                yield Hit(node.lineno, f"high-entropy string assigned to {quote(name)}")

    def _line_hit(self, kind: str, text: str) -> str | None:
        """A Dockerfile or compose line: a known key format in any word, or a value given
        to a secret-named variable (``ENV API_TOKEN=...``, ``ARG HF_TOKEN=...``, compose's
        ``PASSWORD: ...`` and ``- PASSWORD=...``) that is not a ``$VAR`` reference."""
        for word in text.replace("=", " ").replace('"', " ").replace("'", " ").split():
            found = self._detectors.kind_of(word)
            if found:
                return f"{found} in {kind}"
        assigned = _LINE_ASSIGNMENT.match(text)
        if assigned is None:
            return None
        name, value = assigned.group(1), assigned.group(2).strip().strip("\"'")
        if value.startswith("$") or not SECRET_NAME.search(name):
            return None
        if _looks_secret(name, value) or self._detectors.random(value):
            return f"value given to {quote(name)} in {kind}"
        return None


#: ``ENV NAME=value``, ``ARG NAME=value`` (Dockerfile), ``NAME: value`` and ``- NAME=value``
#: (compose ``environment:``), with ``NAME`` optionally quoted.
_LINE_ASSIGNMENT = re.compile(
    r"^\s*(?:(?:ENV|ARG)\s+|-\s*)?[\"']?([A-Za-z_][A-Za-z0-9_]*)[\"']?\s*(?:=|:\s)\s*(\S.*)$",
    re.IGNORECASE,
)


class HardcodedApiKey:
    """A model client gets its API key as a literal (``ChatOpenAI(api_key="sk-...")``)."""

    id = "hardcoded-api-key"
    level = Level.HIGH
    category = "secrets"
    kinds = frozenset({"python"})
    fix = "leave api_key out (clients read OPENAI_API_KEY etc.) or pass os.environ[...]"

    def check(self, source: SourceFile) -> Iterator[Hit]:
        for called, call in calls(source):
            for keyword in call.keywords:
                if not (keyword.arg and keyword.arg.endswith("api_key")):
                    continue
                value = const_str(keyword.value)
                if value is not None and not _is_placeholder(value):
                    yield Hit(call.lineno, f"{called}({keyword.arg}=<literal>)")


class CommittedEnvFile:
    """A ``.env`` file in the tree gives a secret-named variable a value (or holds a known
    key format): it is one ``git add`` away from the repository and the image. A ``.env``
    that the project's ``.gitignore`` ignores (as ``agentdock init`` sets up) is where a
    local secret belongs and is not reported."""

    id = "committed-env-file"
    level = Level.HIGH
    category = "secrets"
    kinds = frozenset({"env"})
    fix = "keep .env out of the repository (.gitignore, .dockerignore); commit .env.example"

    def __init__(self) -> None:
        self._detectors = Detectors()

    def check(self, source: SourceFile) -> Iterator[Hit]:
        if source.git_ignored:
            return
        for number, text in enumerate(source.lines, 1):
            line = text.strip()
            if not line or line.startswith("#") or "=" not in line:
                continue
            name, _, value = line.removeprefix("export ").partition("=")
            value = value.strip().strip("\"'")
            kind = self._detectors.kind_of(value)
            if kind or (SECRET_NAME.search(name) and not _is_placeholder(value)):
                yield Hit(number, f"{quote(name.strip())} has a value in {source.rel}")
