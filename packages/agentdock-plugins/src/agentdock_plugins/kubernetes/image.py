"""The image a pod runs, by digest when there is one.

A tag can be moved to other content; a digest (``repository@sha256:...``) cannot, so every
pod of a version runs exactly the image that was built and health-gated, and a rollback
runs the old bytes again. The digest a cluster can pull by is the registry's manifest
digest, which the Docker engine knows only for an image it pushed or pulled (its
``RepoDigests``). An image only built here has none: its id (``sha256:`` of its config) is
no reference a registry or a node resolves, so the pods name it by its tag (which the
docker builder makes content-addressed, ``<version>-<digest of the inputs>``), and the id
is recorded beside it, in the pod template's annotation. An image the builder pushed
(``deploy --push``) carries the registry's digest in its details (``pushed``): that one is
used as it is (for several platforms it is the manifest list's).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from agentdock.deployment.artifacts import Artifact

__all__ = ["PinnedImage", "pin", "repository_of", "resolve"]


class PinnedImage:
    """``reference`` for the pod spec, ``image_id`` for the annotation (or None), and
    ``note``: why the reference is not a digest (None when it is)."""

    __slots__ = ("image_id", "note", "reference")

    def __init__(self, reference: str, image_id: str | None, note: str | None) -> None:
        self.reference = reference
        self.image_id = image_id
        self.note = note


def repository_of(ref: str) -> str:
    """``registry.example:5000/team/echo`` of ``registry.example:5000/team/echo:1.0``
    (without tag or digest)."""
    name = ref.partition("@")[0]
    head, colon, tail = name.rpartition(":")
    return head if colon and "/" not in tail else name


def pin(ref: str, attrs: Mapping[str, Any]) -> str | None:
    """``ref`` by digest from the engine's ``attrs`` of it: its ``RepoDigests`` entry of the
    same repository, else its only one; None when it has none (or several elsewhere)."""
    if "@sha256:" in ref:
        return ref
    digests = [str(d) for d in attrs.get("RepoDigests") or ()]
    repository = repository_of(ref)
    same = [d for d in digests if repository_of(d) == repository]
    if same:
        return same[0]
    return digests[0] if len(digests) == 1 else None


def resolve(artifact: Artifact) -> PinnedImage:
    """The pinned reference of a docker-builder artifact, asking the local engine; the tag
    and the recorded image id when the engine has no digest for it or cannot be asked."""
    ref = artifact.ref
    recorded = (artifact.details or {}).get("image_id")
    pushed = str((artifact.details or {}).get("pushed") or "")
    if "@sha256:" in pushed:  # the registry's own digest (of the manifest list, when several)
        return PinnedImage(pushed, str(recorded) if recorded else None, None)
    attrs: Mapping[str, Any] = {}
    try:
        from agentdock_plugins.docker.client import open_client

        client = open_client()
        try:
            attrs = client.images.get(ref).attrs
        finally:
            client.close()
    except Exception as exc:  # no engine here, or it no longer has the image
        return PinnedImage(
            ref,
            str(recorded) if recorded else None,
            f"the Docker engine cannot say {ref}'s digest ({type(exc).__name__}): "
            "the pods name it by tag",
        )
    image_id = str(attrs.get("Id") or recorded or "") or None
    pinned = pin(ref, attrs)
    if pinned is not None:
        return PinnedImage(pinned, image_id, None)
    return PinnedImage(
        ref,
        image_id,
        f"{ref} has no registry digest (it was never pushed): the pods name it by tag, "
        "its id is in the pod template's annotation",
    )
