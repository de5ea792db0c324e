"""The registry's schema and key lookups: hand-written SQL against SQLAlchemy Core.

    uv run python benchmarks/registry_schema.py [--lookups 20000] [--starts 5]
    uv run --with 'sqlalchemy>=2' python benchmarks/registry_schema.py   # SQLAlchemy too

uv's ephemeral environment may hold SQLAlchemy without its bytecode, which every import would
then compile again: compile it once first (``uv run --with 'sqlalchemy>=2' python -c "import
compileall, os, sqlalchemy; compileall.compile_dir(os.path.dirname(sqlalchemy.__file__))"``).

Prints, in one run:
- render: microseconds to render the migrations for SQLite and PostgreSQL from their one
  source (:func:`agentdock.registry.migrations.render`), which every process does on import;
- cold start: milliseconds for a fresh interpreter to import the SQLite store, and to
  import SQLAlchemy (when installed), best and median of S processes;
- key lookup: microseconds per lookup of one API key by id (the query ``get_api_key`` runs,
  with the join to its agent) on the same registry file, through ``SQLiteStore.get_api_key``,
  bare ``sqlite3``, and SQLAlchemy Core (a compiled ``select`` on a pooled connection).
Figures only; nothing is asserted.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any


def _best(fn: Callable[[], Any], count: int, trials: int = 3) -> float:
    """Microseconds per call, best of ``trials`` runs of ``count`` calls."""
    best = float("inf")
    for _ in range(trials):
        start = time.perf_counter()
        for _ in range(count):
            fn()
        best = min(best, (time.perf_counter() - start) / count)
    return best * 1e6


def _cold(statement: str, starts: int) -> tuple[float, float]:
    seen = []
    for _ in range(starts):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", statement], check=True)
        seen.append(time.perf_counter() - start)
    return min(seen) * 1000, statistics.median(seen) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lookups", type=int, default=20000)
    parser.add_argument("--starts", type=int, default=5)
    args = parser.parse_args()

    from agentdock.registry.migrations import SQLITE_TYPES, render
    from agentdock.registry.sqlite import SQLiteStore
    from agentdock_plugins.postgres.migrations import POSTGRES_TYPES

    print(f"render   sqlite   {_best(lambda: render(SQLITE_TYPES), 2000):8.2f} us")
    print(f"render   postgres {_best(lambda: render(POSTGRES_TYPES), 2000):8.2f} us")
    base = _cold("pass", args.starts)
    store_import = _cold("import agentdock.registry.sqlite", args.starts)
    print(f"cold     python alone            best {base[0]:7.1f} ms  median {base[1]:7.1f} ms")
    print(
        f"cold     import SQLiteStore      best {store_import[0]:7.1f} ms  "
        f"median {store_import[1]:7.1f} ms"
    )
    try:
        import sqlalchemy
    except ImportError:
        sqlalchemy = None
        print("cold     import sqlalchemy       (not installed: run with --with 'sqlalchemy>=2')")
    else:
        alchemy_import = _cold("import sqlalchemy", args.starts)
        print(
            f"cold     import sqlalchemy {sqlalchemy.__version__:6s}best {alchemy_import[0]:7.1f} "
            f"ms  median {alchemy_import[1]:7.1f} ms"
        )

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "registry.db"
        store = SQLiteStore(path)
        store.migrate()
        for index in range(200):
            store.create_api_key(
                agent=f"agent{index % 10}",
                role="developer",
                key_id=f"key{index:04d}",
                hashed_key="0" * 64,
                hash_algorithm="sha256",
            )
        wanted = "key0123"
        through_store = _best(lambda: store.get_api_key(wanted), args.lookups)
        print(f"lookup   SQLiteStore.get_api_key {through_store:8.2f} us")

        import sqlite3

        from agentdock.registry import sqlkeys

        query = f"{sqlkeys._KEY_SELECT} WHERE k.id = ?"
        conn = sqlite3.connect(path)
        bare = _best(lambda: conn.execute(query, (wanted,)).fetchone(), args.lookups)
        print(f"lookup   sqlite3 (same SQL)      {bare:8.2f} us")
        if sqlalchemy is not None:
            from sqlalchemy import Column, MetaData, String, Table, create_engine, select

            metadata = MetaData()
            agents = Table("agents", metadata, Column("id", sqlalchemy.Integer), Column("name"))
            keys = Table(
                "api_keys",
                metadata,
                *(Column(name) for name in ("role", "hashed_key", "hash_algorithm")),
                Column("id", String),
                Column("agent_id", sqlalchemy.Integer),
            )
            statement = (
                select(keys.c.id, agents.c.name, keys.c.role, keys.c.hashed_key)
                .join_from(keys, agents, agents.c.id == keys.c.agent_id)
                .where(keys.c.id == sqlalchemy.bindparam("wanted"))
            )
            engine = create_engine(f"sqlite:///{path}")
            with engine.connect() as alchemy:
                core = _best(
                    lambda: alchemy.execute(statement, {"wanted": wanted}).fetchone(),
                    args.lookups,
                )
            print(f"lookup   SQLAlchemy Core         {core:8.2f} us  ({core / bare:.1f}x sqlite3)")
        conn.close()
        store.close()


if __name__ == "__main__":
    main()
