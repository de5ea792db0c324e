"""A throwaway PostgreSQL cluster for tests: one per session, a fresh database per test.

Load the fixtures with ``pytest_plugins = ("pgserver",)`` in a test module. The cluster
is made with the server's own ``initdb`` and ``pg_ctl`` (on PATH, or Debian's
``/usr/lib/postgresql/<major>/bin``), listens on a free port of 127.0.0.1 with password
(SCRAM) authentication so every URL a test sees carries a password, and runs with
``fsync`` off because nothing in it has to survive. ``initdb`` refuses to run as root, so
as root the cluster belongs to the ``postgres`` user. Without the binaries the tests skip,
unless ``AGENTDOCK_REQUIRE_SERVERS=1`` (CI) turns the skip into a failure.
"""

from __future__ import annotations

import itertools
import os
import pwd
import secrets
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import NoReturn

import pytest
from processes import unavailable

__all__ = ["PgCluster", "find_pg_bin", "pg_cluster", "pg_url", "start_cluster"]

_INSTALL_HINT = "Debian: apt-get install postgresql"
_OWNER = "postgres"


def find_pg_bin() -> Path | None:
    """The directory holding ``initdb`` and ``pg_ctl`` (the newest major version), or None."""
    found = shutil.which("initdb")
    if found is not None and shutil.which("pg_ctl") is not None:
        return Path(found).resolve().parent
    candidates = [p for p in Path("/usr/lib/postgresql").glob("*/bin") if (p / "initdb").exists()]
    if not candidates:
        return None
    return max(candidates, key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class PgCluster:
    """A running cluster: ``url(db)`` for a database, ``create_database()`` for a fresh one."""

    root: Path
    bin_dir: Path
    port: int
    password: str
    user: str = "agentdock"
    _counter: Iterator[int] = field(default_factory=lambda: itertools.count(1))

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://{self.user}:{self.password}@127.0.0.1:{self.port}/{database}"

    def create_database(self) -> str:
        """A new empty database (copied from ``template1``); returns its name."""
        import psycopg

        name = f"t{os.getpid()}_{next(self._counter)}"
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return name

    def stop(self) -> None:
        """Stop the server at once, as an outage would; :meth:`start` brings it back.

        A checkpoint first writes out every committed transaction: this cluster commits
        asynchronously, and an immediate stop would otherwise lose the commits still in the WAL
        buffers (a table's columns added a moment ago, say), which no real outage of a server
        that commits synchronously does."""
        import psycopg

        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute("CHECKPOINT")
        _run(
            [
                str(self.bin_dir / "pg_ctl"),
                "-D",
                str(self.root / "data"),
                "-m",
                "immediate",
                "-w",
                "stop",
            ]
        )

    def start(self) -> None:
        """Start the stopped server again, on its port."""
        _start(self.bin_dir, self.root, self.port)

    def drop_database(self, name: str) -> None:
        import psycopg

        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _as_owner(argv: list[str]) -> list[str]:
    if os.geteuid() != 0:
        return argv
    runuser = shutil.which("runuser")
    if runuser is None:
        raise RuntimeError("running as root without runuser: cannot start PostgreSQL")
    return [runuser, "-u", _OWNER, "--", *argv]


def _run(argv: list[str]) -> None:
    done = subprocess.run(_as_owner(argv), capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{Path(argv[0]).name} failed: {done.stderr.strip() or done.stdout}")


def start_cluster(bin_dir: Path) -> Iterator[PgCluster]:
    """Create and start a cluster in a temporary directory; stop and delete it afterwards."""
    root = Path(tempfile.mkdtemp(prefix="agentdock-pg-"))
    data = root / "data"
    password = secrets.token_urlsafe(18)
    pwfile = root / "pwfile"
    pwfile.write_text(password + "\n")
    if os.geteuid() == 0:
        owner = pwd.getpwnam(_OWNER)
        for path in (root, pwfile):
            os.chown(path, owner.pw_uid, owner.pw_gid)
    port = _free_port()
    started = False
    try:
        _run(
            [
                str(bin_dir / "initdb"),
                "--pgdata",
                str(data),
                "--username",
                "agentdock",
                "--pwfile",
                str(pwfile),
                "--auth-host",
                "scram-sha-256",
                "--auth-local",
                "trust",
                "--encoding",
                "UTF8",
                "--locale",
                "C",
                "--no-sync",
            ]
        )
        pg_ctl = str(bin_dir / "pg_ctl")
        _start(bin_dir, root, port)
        started = True
        yield PgCluster(root=root, bin_dir=bin_dir, port=port, password=password)
    finally:
        if started and (data / "postmaster.pid").exists():  # not stopped by its test
            _run([pg_ctl, "-D", str(data), "-m", "immediate", "-w", "stop"])
        shutil.rmtree(root, ignore_errors=True)


def _start(bin_dir: Path, root: Path, port: int) -> None:
    """Start the cluster of ``root`` on ``port``; a failure quotes the server's log."""
    data, log = root / "data", root / "server.log"
    options = (
        f"-p {port} -c listen_addresses=127.0.0.1 -k {root} -c fsync=off "
        "-c synchronous_commit=off -c full_page_writes=off -c max_connections=100"
    )
    try:
        _run(
            [str(bin_dir / "pg_ctl"), "-D", str(data), "-l", str(log), "-o", options, "-w", "start"]
        )
    except RuntimeError as exc:  # the server's own words are in its log
        tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
        raise RuntimeError(f"{exc}\n{tail}") from None


def _unavailable(reason: str) -> NoReturn:
    unavailable(f"PostgreSQL: {reason} ({_INSTALL_HINT})")


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[PgCluster]:
    """The session's cluster (skips without PostgreSQL, fails then in CI)."""
    bin_dir = find_pg_bin()
    if bin_dir is None:
        _unavailable("PostgreSQL (initdb, pg_ctl) is not installed")
    assert bin_dir is not None
    if os.geteuid() == 0:
        try:
            pwd.getpwnam(_OWNER)
        except KeyError:
            _unavailable(f"running as root, and there is no {_OWNER!r} user to own the cluster")
    yield from start_cluster(bin_dir)


@pytest.fixture
def pg_url(pg_cluster: PgCluster) -> Iterator[str]:
    """The URL (with its password) of a database of its own for this test."""
    name = pg_cluster.create_database()
    try:
        yield pg_cluster.url(name)
    finally:
        pg_cluster.drop_database(name)
