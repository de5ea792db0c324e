"""The test cluster's outage (``PgCluster.stop``) loses no committed work, as a server that
commits synchronously loses none: the cluster commits asynchronously for speed, and an
immediate stop would otherwise drop a table created a moment before (which made the store's
outage test fail at random: the restarted server had lost a migration's column)."""

from __future__ import annotations

import psycopg
from pgserver import PgCluster
from psycopg import sql

pytest_plugins = ("pgserver",)


def test_work_committed_just_before_an_outage_is_there_after_it(
    pg_url: str, pg_cluster: PgCluster
) -> None:
    for round_ in range(3):
        table = sql.Identifier(f"kept_{round_}")
        with psycopg.connect(pg_url, autocommit=True) as conn:
            conn.execute(sql.SQL("CREATE TABLE {} (a int)").format(table))
            conn.execute(sql.SQL("ALTER TABLE {} ADD COLUMN b int").format(table))
            conn.execute(sql.SQL("INSERT INTO {} VALUES (1, 2)").format(table))
        pg_cluster.stop()
        pg_cluster.start()
        with psycopg.connect(pg_url, autocommit=True) as conn:
            row = conn.execute(sql.SQL("SELECT a, b FROM {}").format(table)).fetchone()
        assert row == (1, 2)
