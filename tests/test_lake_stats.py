"""Every table of a shared store has DuckLake statistics, so a page reading an empty table pays no more than for
any other (`vton_eval.store.lake_stats` says why); and priming them never shows or removes a row."""

from __future__ import annotations

import subprocess
import sys

import duckdb

from vton_eval.store import open_store
from vton_eval.store.lake_stats import MARK, bare_tables, prime_statistics

from .helpers.paths import REPO

LATER = ("CREATE TABLE later (name VARCHAR NOT NULL, n INTEGER NOT NULL, seen TIMESTAMP NOT NULL, "
         "ok BOOLEAN NOT NULL, tags VARCHAR[], note VARCHAR)")


def _alias(cur) -> str:
    return cur.execute("SELECT current_database()").fetchone()[0]


def _tables(cur, alias: str) -> list[str]:
    rows = cur.execute("SELECT table_name FROM duckdb_tables() WHERE database_name = ? ORDER BY 1", [alias])
    return [r[0] for r in rows.fetchall()]


def _count_at(cur, table: str, snapshot: int) -> int | None:
    try:
        return cur.execute(f'SELECT count(*) FROM "{table}" AT (VERSION => {snapshot})').fetchone()[0]
    except duckdb.Error:  # the table did not exist yet
        return None


def test_a_new_shared_store_has_statistics_for_every_table_and_no_row_at_any_snapshot(postgres, tmp_path):
    db = open_store(postgres.url(tmp_path / "shared"))
    db.ensure()
    with db.connect() as cur:
        alias = _alias(cur)
        tables = _tables(cur, alias)
        assert {"results", "reviews", "pair_similarity", "preferences"} <= set(tables)
        assert bare_tables(cur, alias) == []
        snapshots = [r[0] for r in cur.execute(f"SELECT snapshot_id FROM ducklake_snapshots('{alias}')").fetchall()]
        for table in set(tables) - {"_locks", "schema_version"}:
            counts = {_count_at(cur, table, s) for s in snapshots} - {None}
            assert counts == {0}, f"{table} showed a row at some snapshot: {counts}"


def test_a_table_without_statistics_gets_them_at_a_processs_first_write_keeping_others_rows(postgres, tmp_path):
    """A table a later version adds, or a store an earlier version made, has none until a writer primes it; a
    first row another writer commits between the listing and the priming stays."""
    url = postgres.url(tmp_path / "shared")
    db = open_store(url)
    db.ensure()
    db.write(lambda w: w.execute(LATER))
    db.write(lambda w: w.execute(LATER.replace("later", "later_too")))
    with db.connect() as cur:
        alias = _alias(cur)
        assert bare_tables(cur, alias) == ["later", "later_too"]
        listed = bare_tables(cur, alias)
        db.write(lambda w: w.execute("INSERT INTO later VALUES ('real', 7, now(), true, ['a'], NULL)"))
        assert prime_statistics(cur, alias, listed) == ["later", "later_too"]
        assert cur.execute("SELECT name, n, ok, tags FROM later").fetchall() == [("real", 7, True, ["a"])]
        assert bare_tables(cur, alias) == []

    db.write(lambda w: w.execute(LATER.replace("later", "later_still")))
    # Another process's first write primes it; a reader never writes.
    first_read = "from vton_eval.store import open_store; from vton_eval.store.reads import rows; " \
                 "print(rows(open_store(__import__('sys').argv[1]), 'SELECT count(*) AS n FROM later_still'))"
    subprocess.run([sys.executable, "-c", first_read, url], check=True, cwd=REPO, timeout=180)
    with db.connect() as cur:
        assert bare_tables(cur, alias) == ["later_still"]
    first_write = "from vton_eval.store import open_store; open_store(__import__('sys').argv[1]).write(lambda w: None)"
    subprocess.run([sys.executable, "-c", first_write, url], check=True, cwd=REPO, timeout=180)
    with db.connect() as cur:
        assert bare_tables(cur, alias) == []
        assert cur.execute("SELECT count(*) FROM later_still").fetchone()[0] == 0
        marked = cur.execute("SELECT count(*) FROM later WHERE name LIKE ?", [MARK + "%"]).fetchone()[0]
        assert marked == 0
