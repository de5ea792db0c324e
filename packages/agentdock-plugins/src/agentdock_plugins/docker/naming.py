"""How an agent version's image is named: one reference for every target that runs images.

The ``docker`` builder tags what it builds with :func:`image_reference`
(``agentdock/<agent>:<version>-<digest[:12]>``), and a Kubernetes dry run of a version that
has no image yet names it with the same function, without the digest only a build can
compute. No docker SDK here: importing this module costs nothing.
"""

from __future__ import annotations

import re

__all__ = ["image_reference", "image_repository", "image_tag"]


def image_repository(dns_name: str) -> str:
    """``agentdock/<name>``: a repository component must end with a letter or digit."""
    name = re.sub(r"[^a-z0-9-]+", "-", dns_name.lower()).strip("-") or "agent"
    return f"agentdock/{name}"


def image_tag(version: str, digest: str | None = None) -> str:
    """``<version>-<digest[:12]>`` (``<version>`` without a digest), with what a tag may not
    hold replaced by ``_``."""
    safe = re.sub(r"[^A-Za-z0-9_.-]", "_", version).lstrip(".-") or "0"
    return f"{safe[:100]}-{digest[:12]}" if digest else safe[:128]


def image_reference(agent: str, version: str, digest: str | None = None) -> str:
    """The image of ``agent`` at ``version``: ``agentdock/<agent dns name>:<tag>``."""
    return f"{image_repository(agent.replace('_', '-'))}:{image_tag(version, digest)}"
