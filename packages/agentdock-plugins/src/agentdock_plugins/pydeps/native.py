"""Native extensions of an installed tree, made smaller without changing what they do.

Several wheels ship extension modules built with DWARF debug info (uvloop's event loop is
13.6 MB with it, 1.9 MB without; zstandard's C backend 11.6 MB, 1.0 MB). An image never
runs a debugger, so :func:`slim_tree` removes the debug sections with ``strip
--strip-debug``: code, dynamic symbols and the symbol table stay (a crash still names its
functions), so every extension imports and behaves as before. It also removes zstandard's
CFFI backend when its C backend is present: zstandard's default import policy loads the C
backend and falls back to CFFI only when that import fails.

What is touched is told apart through the distributions' ``RECORD`` files:

* files of a distribution the agent names in its own requirements are left as shipped
  (it may depend on them byte for byte), and so are files no ``RECORD`` lists;
* every file changed or removed has its ``RECORD`` row rewritten (new hash and size) or
  dropped, so the tree's metadata, and the SBOM made from it, describe what ships.

Extensions for another architecture are stripped with that architecture's GNU strip
(``aarch64-linux-gnu-strip`` from ``binutils-aarch64-linux-gnu``) when it is installed,
and otherwise left as they are, which a progress line says.
"""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import platform
import shutil
import subprocess
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from agentdock.deployment.artifacts import Progress, no_progress

from agentdock_plugins.pydeps.dists import normalize_name

__all__ = ["SlimReport", "can_strip", "slim_tree"]

#: ELF ``e_machine`` values of the platforms images are built for, and the prefix of the
#: GNU binutils built for each (Debian's ``binutils-<triplet>`` packages).
_MACHINES = {62: "x86_64", 183: "aarch64"}
_HOST = platform.machine()
#: Docker's names of those architectures.
_DOCKER_ARCH = {"amd64": "x86_64", "arm64": "aarch64"}

#: zstandard's CFFI backend: never imported when its C backend imports.
_ZSTD_CFFI = ("zstandard/backend_cffi.py", "zstandard/_cffi.")
_ZSTD_C = "zstandard/backend_c."


@dataclass(slots=True)
class SlimReport:
    """What :func:`slim_tree` did: bytes saved, files stripped, removed and left alone."""

    saved: int = 0
    stripped: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    foreign: list[str] = field(default_factory=list)


def _machine(path: Path) -> str | None:
    """The architecture of an ELF file (little-endian ``e_machine``), or None for a file
    that is not ELF or of an architecture images are not built for."""
    with path.open("rb") as handle:
        header = handle.read(20)
    if len(header) < 20 or header[:4] != b"\x7fELF":
        return None
    return _MACHINES.get(int.from_bytes(header[18:20], "little"))


def _strip_tool(machine: str) -> str | None:
    """A GNU strip that reads ``machine``'s ELF files, or None."""
    tool = shutil.which(f"{machine}-linux-gnu-strip")
    if tool is None and machine == _HOST:
        tool = shutil.which("strip")
    return tool


def can_strip(image_platform: str) -> bool:
    """Whether this host has a strip for ``image_platform`` (``linux/arm64``): a part of
    the dependency tree's cache key, so a tree kept unstripped is made again once one is
    installed."""
    arch = image_platform.split("/")[1] if "/" in image_platform else image_platform
    return _strip_tool(_DOCKER_ARCH.get(arch, arch)) is not None


def _record_hash(data_path: Path) -> tuple[str, str]:
    """The ``sha256=`` value and size a ``RECORD`` row gives ``data_path``."""
    digest = hashlib.sha256(data_path.read_bytes()).digest()
    encoded = base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")
    return f"sha256={encoded}", str(data_path.stat().st_size)


@dataclass(slots=True)
class _Record:
    """One distribution's ``RECORD``: its rows, and whether the agent names it."""

    path: Path
    rows: list[list[str]]
    agents: bool

    def write(self) -> None:
        """Write the rows to a new file renamed over the old one: installed files may be
        hard links into uv's cache, which must not change."""
        out = io.StringIO()
        csv.writer(out, lineterminator="\n").writerows(self.rows)
        tmp = self.path.with_name(self.path.name + ".new")
        tmp.write_text(out.getvalue(), encoding="utf-8")
        tmp.replace(self.path)


def _records(site: Path, agent_names: frozenset[str]) -> dict[str, _Record]:
    """Every file listed in a ``RECORD`` of ``site``, mapped to its ``RECORD``."""
    owners: dict[str, _Record] = {}
    for record_path in sorted(site.glob("*.dist-info/RECORD")):
        name = normalize_name(record_path.parent.name.removesuffix(".dist-info").rsplit("-", 1)[0])
        text = record_path.read_text("utf-8")
        record = _Record(record_path, list(csv.reader(io.StringIO(text))), name in agent_names)
        for row in record.rows:
            if row:
                owners[row[0]] = record
    return owners


def _strip(path: Path, tool: str) -> int:
    """Strip the debug sections of ``path`` in place; the bytes saved (0: none, file kept)."""
    with tempfile.TemporaryDirectory(dir=path.parent) as tmp:
        out = Path(tmp) / path.name
        result = subprocess.run(
            [tool, "--strip-debug", "-o", str(out), str(path)],
            capture_output=True,
            check=False,
        )
        if result.returncode != 0 or not out.is_file():
            return 0
        saved = path.stat().st_size - out.stat().st_size
        if saved <= 0:
            return 0
        out.chmod(path.stat().st_mode)
        out.replace(path)
    return saved


def _extensions(site: Path) -> Iterable[Path]:
    for path in sorted(site.rglob("*.so*")):
        if (
            path.is_file()
            and not path.is_symlink()
            and (path.suffix == ".so" or ".so." in path.name)
        ):
            yield path


def slim_tree(
    site: Path, agent_names: Iterable[str] = (), progress: Progress = no_progress
) -> SlimReport:
    """Strip the debug info of the native extensions in ``site`` and remove zstandard's
    unused CFFI backend, leaving the agent's own distributions (``agent_names``) as shipped.
    """
    owners = _records(site, frozenset(normalize_name(n) for n in agent_names))
    report = SlimReport()
    changed: set[int] = set()
    tools: dict[str, str | None] = {}
    by_record: dict[int, _Record] = {}

    def owner(path: Path) -> tuple[str, _Record | None]:
        rel = path.relative_to(site).as_posix()
        record = owners.get(rel)
        if record is None or record.agents:
            return rel, None
        return rel, record

    if (zstd_c := next(site.glob(_ZSTD_C + "*.so"), None)) is not None and owner(zstd_c)[1]:
        for path in sorted(site.glob("zstandard/*")):
            rel, record = owner(path)
            if record is not None and rel.startswith(_ZSTD_CFFI):
                report.saved += path.stat().st_size
                path.unlink()
                record.rows = [row for row in record.rows if not row or row[0] != rel]
                report.removed.append(rel)
                changed.add(id(record))
                by_record[id(record)] = record

    for path in _extensions(site):
        rel, record = owner(path)
        machine = _machine(path)
        if record is None or machine is None:
            continue
        if machine not in tools:
            tools[machine] = _strip_tool(machine)
        tool = tools[machine]
        if tool is None:
            report.foreign.append(rel)
            continue
        saved = _strip(path, tool)
        if saved:
            report.saved += saved
            report.stripped.append(rel)
            digest, size = _record_hash(path)
            for row in record.rows:
                if row and row[0] == rel:
                    row[1:3] = [digest, size]
            changed.add(id(record))
            by_record[id(record)] = record

    for key in changed:
        by_record[key].write()
    if report.foreign:
        missing = sorted({m for m, t in tools.items() if t is None})
        progress(
            "deps",
            f"debug info kept in {len(report.foreign)} extension(s) for "
            + ", ".join(missing)
            + ": no GNU strip for that architecture (install binutils-<arch>-linux-gnu)",
        )
    return report
