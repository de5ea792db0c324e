"""What goes into the image: Dockerfile rules (hadolint-like; no Python-installable hadolint
exists, so these read the file themselves: root user, unpinned base images, single-stage
builds, no HEALTHCHECK, ``ADD`` of URLs) and unpinned requirements."""

from __future__ import annotations

import re
from collections.abc import Iterator

from agentdock.readiness import Hit, Level, SourceFile

__all__ = [
    "DockerAddUrl",
    "DockerNoHealthcheck",
    "DockerRoot",
    "DockerSingleStage",
    "DockerUnpinnedBase",
    "UnpinnedRequirements",
    "instructions",
]

DOCKERFILE = frozenset({"dockerfile"})
_FROM = re.compile(r"^(?:--platform=\S+\s+)?(?P<image>\S+)(?:\s+AS\s+(?P<name>\S+))?", re.I)


def instructions(source: SourceFile) -> list[tuple[int, str, str]]:
    """``(line, INSTRUCTION, arguments)`` with continuations joined and comments dropped."""
    out: list[tuple[int, str, str]] = []
    pending: list[str] = []
    start = 0
    for number, raw in enumerate(source.lines, 1):
        text = raw.strip()
        if not pending and (not text or text.startswith("#")):
            continue
        if not pending:
            start = number
        if text.endswith("\\"):
            pending.append(text[:-1])
            continue
        pending.append(text)
        joined = " ".join(p.strip() for p in pending if not p.strip().startswith("#"))
        pending = []
        word, _, rest = joined.partition(" ")
        out.append((start, word.upper(), rest.strip()))
    return out


def _stages(source: SourceFile) -> list[tuple[int, str, str | None]]:
    stages = []
    for line, word, args in instructions(source):
        if word == "FROM":
            match = _FROM.match(args)
            if match:
                stages.append((line, match.group("image"), match.group("name")))
    return stages


class _DockerfileRule:
    """What every rule here shares: the ``dockerfile`` category, and Dockerfiles to read
    (a rule on other files that go into the image names its own ``kinds``)."""

    category = "dockerfile"
    kinds = DOCKERFILE


class DockerRoot(_DockerfileRule):
    """The image's final stage sets no ``USER`` (or sets root): the agent runs as root."""

    id = "docker-root"
    level = Level.HIGH
    fix = "create an unprivileged user and end with USER app (AgentDock's images run as 10001)"

    def check(self, source: SourceFile) -> Iterator[Hit]:
        user: tuple[int, str] | None = None
        last_from = 1
        for line, word, args in instructions(source):
            if word == "FROM":
                user, last_from = None, line
            elif word == "USER":
                user = (line, args.split(":", 1)[0].strip())
        if user is None:
            yield Hit(last_from, "no USER in the final stage: the container runs as root")
        elif user[1] in ("root", "0"):
            yield Hit(user[0], "USER root in the final stage")


class DockerUnpinnedBase(_DockerfileRule):
    """A base image is not pinned: ``:latest`` or no tag (medium), or a tag without an
    ``@sha256:`` digest (low): builds change under you."""

    id = "docker-unpinned-base"
    level = Level.MEDIUM
    fix = "pin a version tag and its digest: FROM python:3.11-slim@sha256:…"

    def check(self, source: SourceFile) -> Iterator[Hit]:
        names: set[str] = set()
        for line, image, name in _stages(source):
            if image.lower() in names or image == "scratch" or "$" in image or "@sha256:" in image:
                pass
            else:
                tail = image.rsplit("/", 1)[-1]
                if ":" not in tail or tail.endswith(":latest"):
                    yield Hit(line, f"base image {image} has no version tag")
                else:
                    yield Hit(line, f"base image {image} has no digest", level=Level.LOW)
            if name:
                names.add(name.lower())


class DockerSingleStage(_DockerfileRule):
    """One ``FROM`` only: compilers and build caches ship in the runtime image."""

    id = "docker-single-stage"
    level = Level.LOW
    fix = "build in a first stage, copy only the result into a slim runtime stage"

    def check(self, source: SourceFile) -> Iterator[Hit]:
        stages = _stages(source)
        if len(stages) == 1:
            yield Hit(stages[0][0], "single-stage build")


class DockerNoHealthcheck(_DockerfileRule):
    """No ``HEALTHCHECK``: Docker cannot tell a hung agent from a healthy one."""

    id = "docker-no-healthcheck"
    level = Level.MEDIUM
    fix = "HEALTHCHECK CMD curl -fs http://localhost:8080/health || exit 1"

    def check(self, source: SourceFile) -> Iterator[Hit]:
        found = instructions(source)
        if found and not any(word == "HEALTHCHECK" for _, word, _ in found):
            yield Hit(found[0][0], "no HEALTHCHECK instruction")


class DockerAddUrl(_DockerfileRule):
    """``ADD https://…`` fetches at build time with no checksum and no cache control."""

    id = "docker-add-url"
    level = Level.MEDIUM
    fix = "download with a pinned checksum (ADD --checksum=sha256:…) or COPY a vendored file"

    def check(self, source: SourceFile) -> Iterator[Hit]:
        for line, word, args in instructions(source):
            if word == "ADD" and "://" in args and "--checksum" not in args:
                yield Hit(line, "ADD of a URL without --checksum")


class UnpinnedRequirements(_DockerfileRule):
    """A ``requirements*.txt`` line names a package without an exact version (``==``), a
    hash or a direct reference: the image gets whatever is newest on the day it is built."""

    id = "unpinned-requirements"
    level = Level.LOW
    kinds = frozenset({"requirements"})
    fix = "pin exact versions (pip-compile, uv pip compile or uv export) and build from them"

    def check(self, source: SourceFile) -> Iterator[Hit]:
        for number, raw in enumerate(source.lines, 1):
            line = raw.split(" #", 1)[0].strip()
            if not line or line.startswith(("#", "-", "http://", "https://", "git+", ".", "/")):
                continue
            if "==" in line or "===" in line or " @ " in line or "--hash" in line:
                continue
            name = _REQUIREMENT_NAME.match(line)
            yield Hit(number, f"{name.group(0) if name else 'a requirement'} is not pinned")


_REQUIREMENT_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
