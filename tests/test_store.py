"""The DuckDB store: schema versions, idempotent batched writes, lock retries across processes."""

import datetime as dt
import subprocess
import sys
import textwrap
import time

import duckdb
import pytest

from vton_eval.store import Database, DatabaseBusy, NoDatabase, open_store
from vton_eval.store.reads import reading
from vton_eval.store.runs import list_runs
from vton_eval.store.schema import MIGRATIONS, SCHEMA_VERSION, current_version
from vton_eval.store.writes import insert_results

from .helpers.seed import record_sample_run


def _row(pair_id, repeat=1, status="ok"):
    return {"run_id": "r1", "pair_id": pair_id, "workflow": "top", "repeat": repeat, "status": status,
            "error_kind": None if status == "ok" else "timeout", "latency_ms": 12.5,
            "started_at": dt.datetime(2026, 1, 1), "finished_at": dt.datetime(2026, 1, 1, 0, 0, 1)}


def test_new_database_has_the_contract_tables_and_version(tmp_path):
    db = Database(tmp_path / "r.duckdb")
    db.ensure()
    with db.connect(read_only=True) as con:
        assert current_version(con) == SCHEMA_VERSION
        tables = {r[0] for r in con.execute("SELECT table_name FROM information_schema.tables").fetchall()}
        assert {"runs", "results", "reviews", "cases", "schema_version"} <= tables
        cols = {r[0] for r in con.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_name = 'results'").fetchall()}
        assert {"run_id", "pair_id", "workflow", "repeat", "status", "error_kind", "error_message",
                "latency_ms", "output_path", "started_at"} <= cols


def test_reading_a_missing_database_says_so(tmp_path):
    with pytest.raises(NoDatabase), Database(tmp_path / "none.duckdb").connect(read_only=True):
        pass


def test_writes_are_idempotent(tmp_path):
    db = Database(tmp_path / "r.duckdb")
    db.write(lambda w: insert_results(w, [_row("a"), _row("b")]))
    db.write(lambda w: insert_results(w, [_row("a"), _row("b"), _row("c")]))  # a journal replayed over stored rows
    with db.connect() as con:
        assert con.execute("SELECT count(*) FROM results").fetchone()[0] == 3


def test_lock_conflict_is_retried_then_reported(tmp_path):
    path = tmp_path / "r.duckdb"
    Database(path).ensure()
    holder = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(f"""
            import duckdb, sys, time
            con = duckdb.connect({str(path)!r})
            print("locked", flush=True)
            time.sleep(float(sys.argv[1]))
            con.close()
        """), "1.0"], stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "locked"
    started = time.monotonic()
    # The other process holds the file for about a second: a reader waits for it instead of failing.
    with Database(path).connect(read_only=True, busy_timeout_s=10) as con:
        assert con.execute("SELECT count(*) FROM runs").fetchone()[0] == 0
    assert time.monotonic() - started > 0.3
    holder.wait()

    holder = subprocess.Popen(
        [sys.executable, "-c", f"import duckdb, time; c = duckdb.connect({str(path)!r}); print('locked', flush=True); "
         "time.sleep(5)"], stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "locked"
    with pytest.raises(DatabaseBusy, match="locked by another process"), Database(path).connect(busy_timeout_s=0.5):
        pass
    holder.kill()
    holder.wait()


def test_newer_schema_is_refused(tmp_path):
    path = tmp_path / "r.duckdb"
    Database(path).ensure()
    con = duckdb.connect(str(path))
    con.execute("INSERT INTO schema_version VALUES (?, now()::TIMESTAMP)", [SCHEMA_VERSION + 5])
    con.close()
    with pytest.raises(RuntimeError, match="newer than this vton-eval"):
        Database(path).ensure()


def _summary_matches_results(con, run_id: str) -> None:
    got = con.execute("SELECT workflow, cases, ok, errors, p95_ms FROM run_summary WHERE run_id = ? ORDER BY 1",
                      [run_id]).fetchall()
    want = con.execute("""SELECT workflow, count(*), count(*) FILTER (WHERE status = 'ok'),
                                 count(*) FILTER (WHERE status = 'error'),
                                 quantile_cont(latency_ms, 0.95) FILTER (WHERE status = 'ok')
                          FROM results WHERE run_id = ? GROUP BY 1 ORDER BY 1""", [run_id]).fetchall()
    assert got == want and got


def test_writing_results_keeps_the_run_summaries_in_step(tmp_path):
    db = Database(tmp_path / "r.duckdb")
    db.write(lambda w: insert_results(w, [_row("a"), _row("b", status="error")]))
    with db.connect() as con:
        _summary_matches_results(con, "r1")
    db.write(lambda w: insert_results(w, [_row("a"), _row("b", status="error"), _row("c")]))  # a replay plus one new
    with db.connect() as con:
        _summary_matches_results(con, "r1")
        kinds = con.execute("SELECT workflow, error_kind, n FROM run_error_kinds WHERE run_id = 'r1'").fetchall()
        assert kinds == [("top", "timeout", 1)]


def test_an_older_database_is_upgraded_when_first_read(tmp_path):
    path = tmp_path / "old.duckdb"
    con = duckdb.connect(str(path))
    con.execute("CREATE TABLE schema_version (version INTEGER, applied_at TIMESTAMP)")
    for number, statements in enumerate(MIGRATIONS[:2], 1):  # the file as version 2 left it
        for statement in statements:
            con.execute(statement)
        con.execute("INSERT INTO schema_version VALUES (?, now()::TIMESTAMP)", [number])
    for run_id, label, total in (("suite-run", "v1", 3), ("try-run", "try one pair", 1)):
        con.execute("INSERT INTO runs (run_id, label, endpoint, dataset, status, created_at, total_cases) "
                    "VALUES (?, ?, 'http://x', 'sample', 'finished', now()::TIMESTAMP, ?)", [run_id, label, total])
    for pair, status in (("a", "ok"), ("b", "ok"), ("c", "error")):
        con.execute("""INSERT INTO results (run_id, pair_id, workflow, "repeat", status, latency_ms)
                       VALUES ('suite-run', ?, 'top', 1, ?, 10.0)""", [pair, status])
    con.close()
    runs = {r["run_id"]: r for r in list_runs(Database(path))}  # a reader: the file is upgraded first
    assert {k: r["kind"] for k, r in runs.items()} == {"suite-run": "suite", "try-run": "try"}
    assert (runs["suite-run"]["done"], runs["suite-run"]["ok"], runs["suite-run"]["errors"]) == (3, 2, 1)
    with Database(path).connect(read_only=True) as con:
        assert current_version(con) == SCHEMA_VERSION
        _summary_matches_results(con, "suite-run")



def test_a_slow_query_draws_no_progress_bar_into_a_commands_output(db):
    """DuckDB draws a progress bar on stdout, terminal or not, once a query runs longer than 2 s; a slow read (a
    loaded machine, a busy shared store) would write it into the JSON or CSV a command prints, or a test's pipe.
    Every connection the store opens has it off (`SET progress_bar_time` would turn it on again, so the setting
    itself is what is checked)."""
    db.ensure()
    for read_only in (True, False):
        with db.connect(read_only=read_only) as con:
            assert con.execute("SELECT current_setting('enable_progress_bar')").fetchone()[0] is False


def test_kept_rows_are_read_once_per_connection_on_a_shared_store_and_in_place_in_a_file(db, tmp_path):
    """A page's several reads of a run's rows: a shared store copies them once per connection (each scan asks
    its catalog), a file reads them where they are; both answer the same, quotes in the value included."""
    run_id = record_sample_run(db, "kept", error_rate=0.3, seed=5)
    sql = "SELECT pair_id, status FROM results WHERE run_id = ? AND pair_id <> ?"
    temporary = "SELECT count(*) FROM duckdb_tables() WHERE temporary AND table_name LIKE 'kept_%'"
    with reading(db) as read:
        first, again = read.kept(sql, [run_id, "it's"]), read.kept(sql, [run_id, "it's"])
        assert first == again  # one copy for every ask with the same rows
        assert read.scalar(f"SELECT count(*) FROM {first}") == 20
        assert read.scalar(f"SELECT count(*) FROM {read.kept(sql, [run_id, 'top-01'])}") == 19
        assert read.scalar(temporary) == (2 if db.keeps_reads else 0)
        with reading(db) as other:  # the reader's own: another connection neither sees nor reuses it
            assert other.scalar(temporary) == 0
            assert other.kept(sql, [run_id, "it's"]) != first or not db.keeps_reads
    with reading(db) as read:  # gone with its connection
        assert read.scalar(temporary) == 0
    with reading(open_store(str(tmp_path / "nothing.duckdb"))) as read:
        assert read.frame(f"SELECT * FROM {read.kept(sql, [run_id, 'x'])}").empty  # no database yet: empty
    assert db.keeps_reads == (not isinstance(db, Database))
