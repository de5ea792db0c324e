"""The ``local`` builder: a bundle directory that the ``local`` target runs.

A bundle is ``<home>/bundles/<agent>-<digest16>/`` holding ``app/`` (the agent's files and
``spec.yaml``), ``venv/`` (a virtual environment of the running interpreter with the locked
dependencies installed hash-checked, their versions held to AgentDock's ``uv.lock`` and the
agent's own lock), ``requirements.lock``, ``sbom.cdx.json`` (a CycloneDX SBOM of the installed
distributions, also kept under ``<home>/sbom/``) and ``bundle.json``. The digest
hashes every input without resolving anything, so finding an unchanged bundle costs a few
file reads. A bundle is built in a temporary sibling directory and renamed into place at
the end: an interrupted build never leaves a directory that looks complete.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import platform
import shutil
import sys
import time
from pathlib import Path
from typing import Any

from agentdock.deployment.artifacts import Artifact, BuildRequest, Progress
from agentdock.deployment.errors import BuildFailed
from agentdock.deployment.workspace import pid_alive

from agentdock_plugins import pydeps
from agentdock_plugins.local.diskusage import tree_usage
from agentdock_plugins.pydeps.sbom import SBOM_FILE, sbom_path, write_sbom

__all__ = ["BUNDLE_FORMAT", "LocalBuilder", "bundle_digest"]

#: Bumped when the bundle layout changes, so old bundles are never mistaken for new ones.
BUNDLE_FORMAT = "agentdock-local-bundle/2"
MANIFEST = "bundle.json"
_TMP_MARK = ".tmp-"


def _python() -> tuple[str, str]:
    """The running interpreter (the venv's base) and its full version."""
    version = platform.python_version()
    base = getattr(sys, "_base_executable", None) or sys.executable
    return sys.executable, f"{sys.implementation.name}-{version}-{Path(base).resolve()}"


def bundle_digest(
    request: BuildRequest,
    agent: pydeps.AgentRequirements,
    dists_digest: str,
    python_id: str,
    constraints_digest: str = "",
) -> str:
    """SHA-256 of every input of a bundle (the locks by their hashes); nothing here
    resolves or downloads."""
    digest = hashlib.sha256()
    for part in (
        BUNDLE_FORMAT,
        request.content_hash,
        agent.origin,
        agent.text,
        dists_digest,
        python_id,
        platform.machine(),
        constraints_digest,
    ):
        data = part.encode("utf-8")
        digest.update(b"%d\0" % len(data))
        digest.update(data)
    return digest.hexdigest()


def _locks(constraints: pydeps.Constraints) -> dict[str, str | None]:
    """``KIND:SHA256`` of the locks the build was held to (the manifest says which)."""
    return {
        which: f"{source.kind}:{source.sha256}" if source is not None else None
        for which, source in (("agentdock", constraints.agentdock), ("agent", constraints.agent))
    }


def _store_sbom(bundle: Path, home: Path, digest: str) -> None:
    """A copy of the bundle's SBOM in the registry store, where ``agentdock sbom`` finds
    it after the bundle itself was reclaimed."""
    source = bundle / SBOM_FILE
    stored = sbom_path(home, digest)
    if source.is_file() and not stored.is_file():
        stored.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, stored)


def _remove_stale_temporaries(bundles: Path) -> None:
    """Remove what interrupted builds left: temporaries whose building process is gone."""
    for entry in bundles.glob(f".*{_TMP_MARK}*"):
        pid_text = entry.name.rsplit(_TMP_MARK, 1)[-1]
        if pid_text.isdigit() and pid_alive(int(pid_text)) and int(pid_text) != os.getpid():
            continue
        shutil.rmtree(entry, ignore_errors=True)


def _tree_size(root: Path) -> tuple[int, int]:
    size = count = 0
    for dirpath, _dirs, files in os.walk(root):
        for name in files:
            with contextlib.suppress(OSError):
                size += os.lstat(os.path.join(dirpath, name)).st_size
                count += 1
    return size, count


def _read_manifest(bundle: Path) -> dict[str, Any] | None:
    try:
        data = json.loads((bundle / MANIFEST).read_text("utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


class LocalBuilder:
    """Builds bundles for the ``local`` target (see the module doc)."""

    name = "local"

    def __init__(self, wheel_cache: Path | None = None) -> None:
        self._wheel_cache = wheel_cache

    def _artifact(self, bundle: Path, manifest: dict[str, Any], cached: bool) -> Artifact:
        return Artifact(
            builder=self.name,
            ref=str(bundle),
            digest=str(manifest["digest"]),
            cached=cached,
            details={
                "python": manifest.get("python"),
                "sbom": str(bundle / SBOM_FILE) if manifest.get("sbom_sha256") else None,
                "sbom_sha256": manifest.get("sbom_sha256"),
                "size_bytes": manifest.get("size_bytes"),
                "files": manifest.get("files"),
            },
        )

    def build(self, request: BuildRequest, progress: Progress) -> Artifact:
        """Find the bundle of these inputs, or build it (see the module doc)."""
        python, python_id = _python()
        agent = pydeps.agent_requirements(request.project_dir, request.spec)
        cache = self._wheel_cache or request.options.get("wheel_cache")
        dists = pydeps.agentdock_dists(Path(cache) if cache else None, progress)
        constraints = pydeps.constraints_for(request.project_dir, agent)
        digest = bundle_digest(request, agent, dists.digest, python_id, constraints.digest)
        bundles = request.home / "bundles"
        bundle = bundles / f"{request.dns_name}-{digest[:16]}"
        manifest = _read_manifest(bundle)
        if manifest is not None and manifest.get("digest") == digest:
            progress("cache", f"bundle {bundle.name} is up to date", cached=True)
            _store_sbom(bundle, request.home, digest)
            return self._artifact(bundle, manifest, cached=True)
        bundles.mkdir(parents=True, exist_ok=True)
        _remove_stale_temporaries(bundles)
        tmp = bundles / f".{bundle.name}{_TMP_MARK}{os.getpid()}"
        shutil.rmtree(tmp, ignore_errors=True)
        try:
            manifest = self._build_into(
                tmp, request, agent, dists, constraints, python, digest, progress
            )
            if bundle.exists():  # a stale, incomplete or foreign directory under our name
                shutil.rmtree(bundle)
            tmp.rename(bundle)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        _store_sbom(bundle, request.home, digest)
        progress("bundle", f"bundle ready: {bundle}")
        return self._artifact(bundle, manifest, cached=False)

    def _build_into(
        self,
        tmp: Path,
        request: BuildRequest,
        agent: pydeps.AgentRequirements,
        dists: pydeps.AgentDockDists,
        constraints: pydeps.Constraints,
        python: str,
        digest: str,
        progress: Progress,
    ) -> dict[str, Any]:
        app = tmp / "app"
        app.mkdir(parents=True)
        progress("sources", f"copying {len(request.sources)} file(s)")
        root = Path(request.project_dir)
        for rel in request.sources:
            dest = app / rel
            dest.parent.mkdir(parents=True, exist_ok=True)
            try:
                shutil.copyfile(root / rel, dest)
            except OSError as exc:
                raise BuildFailed(f"cannot copy {rel}: {exc.strerror}") from None
        (app / "spec.yaml").write_text(request.snapshot, encoding="utf-8")
        lock = tmp / "requirements.lock"
        pydeps.lock_for(
            agent,
            dists,
            lock,
            python=python,
            constraints=constraints,
            progress=progress,
            cwd=root,
        )
        venv_python = pydeps.create_venv(tmp / "venv", python, progress=progress)
        # Byte-compiled now, once: a runtime started with PYTHONDONTWRITEBYTECODE (or from a
        # read-only bundle) would otherwise compile every module it imports at each start.
        pydeps.install_lock(lock, python=venv_python, compile_bytecode=True, progress=progress)
        pydeps.install_agentdock(
            dists, python=venv_python, compile_bytecode=True, progress=progress
        )
        site = next((tmp / "venv" / "lib").glob("python3*/site-packages"))
        sbom_sha = write_sbom(
            tmp / SBOM_FILE,
            [site],
            name=request.agent,
            version=request.version,
            digest=digest,
            kind="bundle",
            properties={k: v for k, v in _locks(constraints).items() if v},
        )
        size, _count = _tree_size(tmp)
        manifest = {
            "format": BUNDLE_FORMAT,
            "digest": digest,
            "agent": request.agent,
            "version": request.version,
            "content_hash": request.content_hash,
            "python": platform.python_version(),
            "requirements": agent.origin,
            "agentdock": dists.digest,
            "constraints": _locks(constraints),
            "sbom_sha256": sbom_sha,
            "created_at": time.time(),
            "files": len(request.sources),
            "size_bytes": size,
        }
        (tmp / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
        return manifest

    def exists(self, artifact: Artifact) -> bool:
        """Whether the bundle directory is there, complete and of this digest."""
        manifest = _read_manifest(Path(artifact.ref))
        return manifest is not None and manifest.get("digest") == artifact.digest

    def remove(self, artifact: Artifact) -> int | None:
        """Delete the bundle; absent is fine. Only a directory holding a bundle manifest is
        ever deleted, and it is first renamed aside so a half-deleted one never looks whole.
        Returns the bytes the file system got back (files shared with uv's cache by hard
        links free nothing), 0 when it was not there."""
        bundle = Path(artifact.ref)
        if not (bundle / MANIFEST).is_file():
            return 0
        aside = bundle.with_name(f".{bundle.name}{_TMP_MARK}{os.getpid()}")
        shutil.rmtree(aside, ignore_errors=True)
        try:
            bundle.rename(aside)
        except FileNotFoundError:
            return 0
        freed = tree_usage(aside).freed
        shutil.rmtree(aside, ignore_errors=True)
        return freed
