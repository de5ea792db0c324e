"""Build contexts: temporary directories holding exactly what each image level gets.

Nothing of the project is sent to the engine but the files of ``BuildRequest.sources``
(ignore rules already applied, ``.env`` never among them), so a large file that
``.dockerignore`` excludes is never read, and a secret beside the code never reaches a
layer. The layouts match :mod:`~agentdock_plugins.docker.dockerfile`::

    level 1 (deps)      Dockerfile, requirements.lock, deps/   third-party dependencies
    level 2 (runtime)   Dockerfile, dist/                      AgentDock's distributions
    level 3 (agent)     Dockerfile, app/, spec.yaml            the agent and its snapshot

Dependency trees are hard-linked from the host cache when it is on the same file system
(copied otherwise).
"""

from __future__ import annotations

import os
import shutil
import stat
from collections.abc import Iterable
from pathlib import Path

from agentdock.deployment.errors import BuildFailed

__all__ = [
    "link_tree",
    "normalize_modes",
    "write_agent_context",
    "write_deps_context",
    "write_dist_context",
]


def _mode(current: int) -> int:
    """World-readable (the runtime user is not the files' owner, root is), executable
    where the owner could execute, never writable by others."""
    executable = bool(current & stat.S_IXUSR)
    return 0o755 if executable else 0o644


def normalize_modes(root: Path) -> None:
    """Make a tree readable by the image's runtime user, whatever the host's umask was."""
    for dirpath, _dirnames, filenames in os.walk(root):
        os.chmod(dirpath, 0o755)  # noqa: S103 - read by the image's non-root user
        for name in filenames:
            path = Path(dirpath) / name
            if path.is_symlink():
                continue
            current = path.stat().st_mode
            wanted = _mode(current)
            if stat.S_IMODE(current) != wanted:
                os.chmod(path, wanted)


def _link_or_copy(src: str, dst: str) -> None:
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)


def link_tree(src: Path, dst: Path) -> None:
    """Mirror ``src`` at ``dst`` with hard links (copies across file systems); symbolic
    links inside the tree are kept as links."""
    shutil.copytree(src, dst, symlinks=True, copy_function=_link_or_copy)


def _copy_sources(project_dir: Path, sources: Iterable[str], app: Path) -> int:
    root = project_dir.resolve()
    count = 0
    for rel in sources:
        src = (root / rel).resolve()
        # ``sources`` come from collect_sources, which skips links; a hand-made request must
        # not reach outside the project either.
        if not src.is_relative_to(root) or not src.is_file():
            raise BuildFailed(
                f"source file {rel} is missing or outside the project",
                hint="the project changed during the build; run deploy again",
            )
        dst = app / rel
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, dst)
        os.chmod(dst, _mode(src.stat().st_mode))
        count += 1
    for dirpath, _dirnames, _filenames in os.walk(app):
        os.chmod(dirpath, 0o755)  # noqa: S103 - read by the image's non-root user
    return count


def write_deps_context(context: Path, *, dockerfile: str, deps: Path, lock: Path) -> None:
    """Fill the empty directory ``context`` for level 1."""
    (context / "Dockerfile").write_text(dockerfile, encoding="utf-8")
    link_tree(deps, context / "deps")
    shutil.copyfile(lock, context / "requirements.lock")
    os.chmod(context / "requirements.lock", 0o644)


def write_dist_context(context: Path, *, dockerfile: str, dists: Path) -> None:
    """Fill the empty directory ``context`` for level 2."""
    (context / "Dockerfile").write_text(dockerfile, encoding="utf-8")
    link_tree(dists, context / "dist")


def write_agent_context(
    context: Path,
    *,
    dockerfile: str,
    project_dir: Path,
    sources: Iterable[str],
    snapshot: str,
    machine_profile: str = "",
) -> int:
    """Fill the empty directory ``context`` for level 3; returns the number of agent files.

    :raises BuildFailed: a source file vanished or lies outside the project.
    """
    (context / "Dockerfile").write_text(dockerfile, encoding="utf-8")
    app = context / "app"
    app.mkdir(mode=0o755)
    count = _copy_sources(project_dir, sources, app)
    spec = context / "spec.yaml"
    spec.write_text(snapshot, encoding="utf-8")
    os.chmod(spec, 0o644)
    profile = context / "machine-profile.json"
    profile.write_text(machine_profile or "{}\n", encoding="utf-8")
    os.chmod(profile, 0o644)
    return count
