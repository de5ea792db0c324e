"""AgentDock's own distributions, as the runtime of a bundle or an image needs them.

When AgentDock runs from a source checkout (an editable install, told by the
distribution's ``direct_url.json``), each distribution is built into a wheel with
``uv build --wheel`` and cached under a hash of its source, so an unchanged checkout never
rebuilds and any edit gives a new digest. When AgentDock was installed from an index, the
same ``name==version`` is pinned instead.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shutil
import tempfile
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from urllib.parse import unquote, urlparse

from agentdock.deployment.artifacts import Progress, no_progress
from agentdock.deployment.errors import BuildFailed

from agentdock_plugins.pydeps.uvtool import run_uv

__all__ = [
    "AGENTDOCK_DISTS",
    "DEPLOY_ONLY_REQUIREMENTS",
    "AgentDockDists",
    "agentdock_dists",
    "default_wheel_cache",
    "normalize_name",
    "source_dir",
]

#: What a runtime needs of AgentDock (the CLI is never shipped).
AGENTDOCK_DISTS = ("agentdock-core", "agentdock-runtime", "agentdock-plugins")

#: Requirements of agentdock-plugins used only to build and deploy (the docker SDK, uv, the
#: Kubernetes client): the runtime never imports them, so bundles and images leave them out.
DEPLOY_ONLY_REQUIREMENTS = frozenset({"docker", "kubernetes", "uv"})

_NAME = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)")
_EXTRA_MARKER = re.compile(r"\bextra\s*==")
_SKIP_DIRS = frozenset({"__pycache__", "dist", "build", "node_modules"})


def normalize_name(name: str) -> str:
    """A distribution name in its PEP 503 form (``Foo_Bar`` → ``foo-bar``)."""
    return re.sub(r"[-_.]+", "-", name).lower()


@dataclass(frozen=True, slots=True)
class AgentDockDists:
    """AgentDock's distributions for one build.

    ``wheels`` are built wheel files (source installs); ``pins`` are ``name==version``
    specifiers (index installs); either may be empty. ``requirements`` are their
    third-party requirements (AgentDock's own names and :data:`DEPLOY_ONLY_REQUIREMENTS`
    left out, ``extra`` markers dropped). ``digest`` changes with any of them.
    """

    wheels: tuple[Path, ...]
    pins: tuple[str, ...]
    requirements: tuple[str, ...]
    digest: str

    @property
    def install_args(self) -> tuple[str, ...]:
        """The wheel paths and pins, as arguments of ``uv pip install``."""
        return (*(str(w) for w in self.wheels), *self.pins)


def default_wheel_cache() -> Path:
    """``$XDG_CACHE_HOME/agentdock/wheels`` (``~/.cache/agentdock/wheels``)."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "agentdock" / "wheels"


def source_dir(dist: metadata.Distribution) -> Path | None:
    raw = dist.read_text("direct_url.json")
    if not raw:
        return None
    try:
        info = json.loads(raw)
    except ValueError:
        return None
    url = str(info.get("url", ""))
    if "dir_info" not in info or not url.startswith("file://"):
        return None
    path = Path(unquote(urlparse(url).path))
    return path if (path / "pyproject.toml").is_file() else None


def source_hash(root: Path) -> str:
    """SHA-256 of a source tree (paths and bytes), without caches and build outputs."""
    digest = hashlib.sha256()
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(
            d
            for d in dirnames
            if d not in _SKIP_DIRS and not d.startswith(".") and not d.endswith(".egg-info")
        )
        for name in sorted(filenames):
            if name.endswith((".pyc", ".pyo")) or name.startswith("."):
                continue
            path = Path(dirpath) / name
            if path.is_symlink() or not path.is_file():
                continue
            rel = path.relative_to(root).as_posix()
            data = path.read_bytes()
            digest.update(b"%s\0%d\0" % (rel.encode(), len(data)))
            digest.update(data)
    return digest.hexdigest()


def _wheel_requires(wheel: Path) -> list[str]:
    with zipfile.ZipFile(wheel) as zf:
        name = next(n for n in zf.namelist() if n.endswith(".dist-info/METADATA"))
        text = zf.read(name).decode("utf-8")
    return [
        line.split(":", 1)[1].strip()
        for line in text.splitlines()
        if line.startswith("Requires-Dist:")
    ]


def _third_party(requires: Iterable[str]) -> list[str]:
    own = {normalize_name(n) for n in AGENTDOCK_DISTS} | {"agentdock-cli"}
    out = []
    for req in requires:
        match = _NAME.match(req)
        if not match or _EXTRA_MARKER.search(req):
            continue
        name = normalize_name(match.group(1))
        if name in own or name in DEPLOY_ONLY_REQUIREMENTS:
            continue
        out.append(req.strip())
    return out


def _build_wheel(name: str, src: Path, cache_dir: Path, progress: Progress) -> Path:
    key = f"{normalize_name(name)}-{source_hash(src)[:20]}"
    slot = cache_dir / key
    found = sorted(slot.glob("*.whl")) if slot.is_dir() else []
    if found:
        return found[0]
    cache_dir.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{key}-", dir=cache_dir))
    try:
        progress("wheel", f"building {name} from {src}")
        result = run_uv(
            ["build", "--wheel", "--quiet", "--out-dir", str(tmp), str(src)],
            step="wheel",
            progress=progress,
        )
        wheels = sorted(tmp.glob("*.whl"))
        if result.returncode != 0 or not wheels:
            tail = "; ".join(result.lines[-3:]) or f"exit status {result.returncode}"
            raise BuildFailed(f"cannot build a wheel of {name}: {tail}")
        for extra in tmp.iterdir():
            if extra.suffix != ".whl":
                shutil.rmtree(extra, ignore_errors=True) if extra.is_dir() else extra.unlink()
        with contextlib.suppress(OSError):  # another build filled the slot first
            tmp.rename(slot)
        found = sorted(slot.glob("*.whl"))
        if not found:
            raise BuildFailed(f"cannot build a wheel of {name}: {slot} holds no wheel")
        return found[0]
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def agentdock_dists(
    cache_dir: Path | None = None, progress: Progress = no_progress
) -> AgentDockDists:
    """AgentDock's distributions as installed in this interpreter (see the module doc).

    Wheels are built only when their source changed since the last call with the same
    ``cache_dir`` (default :func:`default_wheel_cache`).

    :raises BuildFailed: a distribution is not installed, or its wheel cannot be built.
    """
    cache = cache_dir or default_wheel_cache()
    wheels: list[Path] = []
    pins: list[str] = []
    requires: list[str] = []
    digest = hashlib.sha256()
    for name in AGENTDOCK_DISTS:
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            raise BuildFailed(
                f"{name} is not installed", hint=f"install {name} next to agentdock"
            ) from None
        src = source_dir(dist)
        if src is not None:
            wheel = _build_wheel(name, src, cache, progress)
            wheels.append(wheel)
            requires.extend(_wheel_requires(wheel))
            digest.update(f"wheel\0{wheel.parent.name}/{wheel.name}\0".encode())
        else:
            pin = f"{name}=={dist.version}"
            pins.append(pin)
            requires.extend(dist.requires or [])
            digest.update(f"pin\0{pin}\0".encode())
    third = sorted(set(_third_party(requires)), key=str.lower)
    digest.update("\n".join(third).encode())
    return AgentDockDists(tuple(wheels), tuple(pins), tuple(third), digest.hexdigest())
