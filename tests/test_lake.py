"""The shared store: DuckLake over a real PostgreSQL on loopback, files in a folder or in S3 (moto).

What every store does is tested on both kinds through the `db` fixture; this module tests what only a
shared store has: its URL, passwords, many writers at once, S3, runs on other machines, and the
`store` commands.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
import textwrap
import time

import pytest

from vton_eval.store import Database, StoreUrlError, open_store
from vton_eval.store.lake_schema import lake_statement
from vton_eval.store.location import parse_store_url
from vton_eval.store.reads import reading

from .helpers.paths import REPO, SAMPLE
from .helpers.seed import record_sample_run
from .helpers.servers import start_postgres


def _cli(*args: str, env: dict[str, str] | None = None, timeout: float = 180, cwd=REPO) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "vton_eval", *args], capture_output=True, text=True, cwd=cwd,
                          env={**os.environ, **(env or {})}, timeout=timeout)


def _scalar(db, sql: str, params=()):
    with reading(db) as read:
        return read.scalar(sql, params)


# --- the URL -----------------------------------------------------------------------------------------

def test_a_store_url_is_checked_and_never_carries_a_password(tmp_path):
    url = parse_store_url(f"ducklake+postgresql://ana@db.example:6543/vton?data_path={tmp_path}/shared/")
    assert (url.user, url.host, url.port, url.dbname, url.data_path) == ("ana", "db.example", 6543, "vton",
                                                                         f"{tmp_path}/shared")
    assert "password" not in url.conninfo and url.lake_path == f"{tmp_path}/shared/lake/"
    assert parse_store_url("ducklake+postgresql://h/db?data_path=s3://bucket/team").is_s3
    refused = {
        "ducklake+postgresql://ana:hunter2@h/db?data_path=/x": "carries no password",
        "ducklake+postgresql://h/db": r"needs \?data_path",
        "ducklake+postgresql://h/db?data_path=relative/dir": "absolute folder",
        "ducklake+postgresql://h/?data_path=/x": "name the PostgreSQL database",
        "ducklake+postgresql://h/db?data_path=/x&sslmode=off": "unknown store URL parameter",
        "ducklake+postgresql://h:port/db?data_path=/x": "not a number",
        "ducklake+postgresql://h/db?data_path=http://x/y": "a folder or an s3:// URL",
        "ducklake+mysql://h/db?data_path=/x": "not a store this tool knows",
        "postgresql://ana:hunter2@h/db": "not a store this tool knows",
    }
    for text, reason in refused.items():
        with pytest.raises(StoreUrlError, match=reason) as caught:
            open_store(text)
        assert "hunter2" not in str(caught.value)
    proc = _cli("runs", "--db", "ducklake+postgresql://ana:hunter2@127.0.0.1:9/db?data_path=/tmp/x")
    assert proc.returncode == 1 and "carries no password" in proc.stderr
    assert "hunter2" not in proc.stdout + proc.stderr and "Traceback" not in proc.stderr
    mistyped = tmp_path / "cwd"
    mistyped.mkdir()
    proc = _cli("run", "--dataset", str(SAMPLE), "--endpoint", "http://127.0.0.1:9", "--db", "postgres://a@h/db",
                cwd=mistyped)
    assert proc.returncode == 1 and "not a store this tool knows" in proc.stderr
    assert not any(mistyped.rglob("*"))  # no file named after the URL


def test_an_unreachable_catalog_is_one_clear_line(tmp_path):
    proc = _cli("runs", "--db", f"ducklake+postgresql://postgres@127.0.0.1:9/db?data_path={tmp_path}")
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert "cannot open the shared store" in proc.stderr and "Connection refused" in proc.stderr


def test_the_password_comes_from_pgpassword_or_pgpass_and_is_never_shown(tmp_path):
    secret = "s3cr3t-Pass-9931"
    server = start_postgres(password=secret)
    try:
        url = server.url(tmp_path / "shared")
        env = {k: v for k, v in os.environ.items() if k not in ("PGPASSWORD", "PGPASSFILE")}
        missing = subprocess.run([sys.executable, "-m", "vton_eval", "store", "init", url], capture_output=True,
                                 text=True, cwd=REPO, env={**env, "HOME": str(tmp_path)}, timeout=120)
        assert missing.returncode == 1 and "no password supplied" in missing.stderr, missing.stderr
        wrong = _cli("store", "init", url, env={"PGPASSWORD": "wrong-" + secret})
        assert wrong.returncode == 1 and "password authentication failed" in wrong.stderr
        assert secret not in wrong.stderr + wrong.stdout
        assert _cli("store", "init", url, env={"PGPASSWORD": secret}).returncode == 0
        pgpass = tmp_path / "pgpass"
        pgpass.write_text(f"127.0.0.1:{server.port}:*:postgres:{secret}\n")
        pgpass.chmod(0o600)
        ok = subprocess.run([sys.executable, "-m", "vton_eval", "runs", "--db", url], capture_output=True, text=True,
                            cwd=REPO, env={**env, "PGPASSFILE": str(pgpass)}, timeout=120)
        assert ok.returncode == 0 and "no suite runs" in ok.stdout, ok.stderr
        os.environ["PGPASSWORD"] = secret  # as a service would have it; the store keeps none of it
        try:
            db = open_store(url)
            record_sample_run(db, "pw")
            with db.connect(read_only=True) as con:
                rows = con.execute("SELECT * FROM runs").fetchall()
            assert secret not in repr(rows)
        finally:
            del os.environ["PGPASSWORD"]
    finally:
        server.stop()


# --- the schema --------------------------------------------------------------------------------------

def test_lake_ddl_drops_keys_and_constraints_on_added_columns():
    assert lake_statement("CREATE TABLE t (a VARCHAR PRIMARY KEY, b INT NOT NULL, PRIMARY KEY (a, b))") == \
        "CREATE TABLE t (a VARCHAR NOT NULL, b INT NOT NULL)"
    assert lake_statement("ALTER TABLE runs ADD COLUMN x INTEGER NOT NULL DEFAULT 0") == \
        "ALTER TABLE runs ADD COLUMN x INTEGER DEFAULT 0"
    assert lake_statement("CREATE INDEX i ON results (run_id)") is None
    backfill = "UPDATE runs SET kind = 'try' WHERE label = 'x'"
    assert lake_statement(backfill) == backfill


def test_a_later_migration_applies_to_both_kinds_of_store(db, monkeypatch):
    """Migrations 4-6 come from other issues: a table with a key, a column added NOT NULL, an index, a
    backfill; the lake takes them as they are written for a file."""
    from vton_eval.store import schema

    record_sample_run(db, "before")
    later = [
        """CREATE TABLE notes (run_id VARCHAR NOT NULL, author VARCHAR NOT NULL, body VARCHAR,
           PRIMARY KEY (run_id, author))""",
        "ALTER TABLE runs ADD COLUMN priority INTEGER NOT NULL DEFAULT 3",
        "CREATE INDEX notes_by_author ON notes (author)",
        "UPDATE runs SET priority = 1 WHERE label = 'before'",
        "ALTER TABLE results ADD COLUMN cost DOUBLE",
    ]
    monkeypatch.setattr(schema, "MIGRATIONS", [*schema.MIGRATIONS, later])
    monkeypatch.setattr(schema, "SCHEMA_VERSION", len(schema.MIGRATIONS))
    fresh = open_store(db.location)  # a new process would see the longer list
    if isinstance(fresh, Database):
        from vton_eval.store import db as file_db

        monkeypatch.setattr(file_db, "SCHEMA_VERSION", schema.SCHEMA_VERSION)
        file_db._migrated.discard(fresh.path)
    else:
        from vton_eval.store import lake

        monkeypatch.setattr(lake, "SCHEMA_VERSION", schema.SCHEMA_VERSION)
        lake._migrated.discard(fresh.url.key)
    fresh.ensure()
    assert _scalar(fresh, "SELECT max(version) FROM schema_version") == len(schema.MIGRATIONS)
    assert _scalar(fresh, "SELECT priority FROM runs") == 1
    for body in ("hi", "again"):  # the second is a replay of the same key
        fresh.write(lambda w, body=body: w.insert_new("notes", ("run_id", "author", "body"), [("r", "ana", body)],
                                                      ("run_id", "author")))
    assert _scalar(fresh, "SELECT string_agg(body, ',') FROM notes") == "hi"


# --- many writers ------------------------------------------------------------------------------------

VERDICTS = textwrap.dedent("""
    import sys, time, datetime as dt
    from vton_eval.store import open_store
    from vton_eval.store.judgements import save_verdict
    db = open_store(sys.argv[1], busy_timeout_s=60)
    me, start = sys.argv[2], float(sys.argv[3])
    db.exists()  # attached before the start
    time.sleep(max(0.0, start - time.time()))
    for i in range(15):
        v = {"run_id": "r1", "pair_id": f"p{i % 5}", "workflow": "top", "repeat": 1, "reviewer": "ana",
             "verdict": "pass" if me == "a" else "fail", "reasons": "", "note": me, "created_at": dt.datetime.now(),
             "tool_version": None, "identity": None}
        db.write(lambda w: save_verdict(w, v))
    print("done")
""")


def test_verdicts_from_many_sessions_at_once_keep_one_row_per_key(postgres, tmp_path):
    db = open_store(postgres.url(tmp_path / "shared"))
    db.ensure()
    start = time.time() + 4
    procs = [subprocess.Popen([sys.executable, "-c", VERDICTS, db.location, who, str(start)], cwd=REPO,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for who in ("a", "b", "c")]
    outs = [p.communicate(timeout=180) for p in procs]
    assert all(p.returncode == 0 for p in procs), [o[1][-2000:] for o in outs]
    rows = _scalar(db, "SELECT count(*) FROM reviews")
    keys = _scalar(db, "SELECT count(DISTINCT pair_id) FROM reviews")
    assert rows == keys == 5


@pytest.mark.timeout(720)
def test_concurrent_runs_into_one_store_lose_and_repeat_nothing(postgres, tmp_path, live_sandbox):
    live_sandbox.config.latency = 0.05
    db = open_store(postgres.url(tmp_path / "shared"))
    db.ensure()
    procs = [subprocess.Popen([sys.executable, "-m", "vton_eval", "run", "--dataset", str(SAMPLE), "--endpoint",
                               live_sandbox.url, "--repeats", "2", "--concurrency", "4", "--label", f"w{k}",
                               "--db", db.location], cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True) for k in range(3)]
    # Each output's checks parse the person in it (MediaPipe, ~0.1 s a core): three runs' checks share two
    # loaded cores.
    outs = [p.communicate(timeout=600) for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0], [o[1][-2000:] for o in outs]
    with reading(db) as read:
        per_run = read.rows("SELECT run_id, count(*) AS n, count(DISTINCT pair_id || '/' || \"repeat\") AS keys "
                            "FROM results GROUP BY run_id")
        summaries = read.rows("SELECT run_id, sum(cases) AS cases FROM run_summary GROUP BY run_id")
        statuses = {r["status"] for r in read.rows("SELECT status FROM runs")}
    assert sorted(r["n"] for r in per_run) == [40, 40, 40] and all(r["n"] == r["keys"] for r in per_run)
    assert sorted(r["cases"] for r in summaries) == [40, 40, 40] and statuses == {"finished"}


ELSEWHERE = """
import sys
from tests.helpers.seed import record_sample_run
from vton_eval.access import local_actor
from vton_eval.gate import bless
from vton_eval.store import open_store
db = open_store(sys.argv[1])
run_id = record_sample_run(db, "elsewhere", error_rate=0.5, seed=3)
bless(db, run_id, local_actor("lead", via="cli"))
print(run_id)
"""


def test_pages_on_a_shared_store_show_what_another_machine_wrote_at_once(postgres, tmp_path):
    # Readers serve the runs, their summaries and the blessings from copies in their process: a write from
    # another process must show on the very next read, with the summaries that go with it.
    from vton_eval.analytics.overview import errors_by_workflow, pick_runs
    from vton_eval.gate import list_baselines
    from vton_eval.store.runs import list_runs

    db = open_store(postgres.url(tmp_path / "shared"))
    here = record_sample_run(db, "here")
    assert [r["run_id"] for r in list_runs(db)] == [here] and not list_baselines(db)
    proc = subprocess.run([sys.executable, "-c", ELSEWHERE, db.location], cwd=REPO, capture_output=True, text=True,
                          timeout=180)
    assert proc.returncode == 0, proc.stderr[-2000:]
    there = proc.stdout.split()[-1]
    runs = pick_runs(db).set_index("run_id")
    assert set(runs.index) == {here, there} and runs.loc[there, "done"] == runs.loc[here, "done"] > 0
    assert [b["run_id"] for b in list_baselines(db)] == [there]
    errors = errors_by_workflow(db, there)
    with reading(db) as read:  # the summary read through the copies matches a count of the lake's rows
        counted = read.scalar(f"SELECT count(*) FROM lake_{db.url.key}.main.results "
                              "WHERE run_id = ? AND status = 'error'", [there])
    assert counted > 0 and int(errors["n"].sum()) == counted
    # A writer reads the lake itself: a run it adds is in the next reader's list.
    record_sample_run(db, "again")
    assert len(list_runs(db)) == 3


def test_a_run_on_another_machine_is_alive_while_it_beats_and_interrupted_after(db):
    from vton_eval.clock import utcnow
    from vton_eval.run_process import STALE_AFTER_S
    from vton_eval.store.runs import get_run, update_run

    run_id = record_sample_run(db, "remote", status="finished")
    db.write(lambda w: update_run(w, run_id, status="running", host="another-machine", pid=1, updated_at=utcnow()))
    assert get_run(db, run_id)["status"] == "running"
    proc = _cli("resume", run_id, "--db", db.location)
    assert proc.returncode == 1 and "still running" in proc.stderr
    old = utcnow() - dt.timedelta(seconds=STALE_AFTER_S + 5)
    db.write(lambda w: update_run(w, run_id, updated_at=old))
    assert get_run(db, run_id)["status"] == "interrupted"


# --- S3 and the store commands -------------------------------------------------------------------------

def test_a_run_into_s3_keeps_its_images_there_and_another_machine_shows_them(postgres, moto_s3, tmp_path,
                                                                               live_sandbox, monkeypatch, open_page):
    bucket = moto_s3.create_bucket()
    url = postgres.url(f"s3://{bucket}/team")
    env = {**moto_s3.env(), "VTON_EVAL_CACHE": str(tmp_path / "machine-a")}
    assert _cli("store", "init", url, env=env).returncode == 0
    proc = _cli("run", "--dataset", str(SAMPLE), "--endpoint", live_sandbox.url, "--workflows", "top,eyewear",
                "--db", url, env=env)
    assert proc.returncode == 0, proc.stderr
    keys = moto_s3.keys(bucket)
    outputs = [k for k in keys if k.startswith("team/artifacts/objects/") and k.endswith(".webp")]
    assert len(outputs) == 10 and any(k.startswith("team/artifacts/thumbs/") for k in keys)
    # Another machine: the same variables, an empty cache. The Review page shows the outputs from S3.
    for name, value in {**moto_s3.env(), "VTON_EVAL_CACHE": str(tmp_path / "machine-b")}.items():
        monkeypatch.setenv(name, value)
    db = open_store(url)
    with reading(db) as read:
        output = read.scalar("SELECT output_path FROM results WHERE output_path IS NOT NULL LIMIT 1")
    local = db.artifacts.abspath(output)
    assert local.is_relative_to(tmp_path / "machine-b") and local.read_bytes()[:4] == b"RIFF"
    at = open_page(db, "review")
    assert not at.exception and "no runs yet" not in " ".join(str(i.value) for i in at.info)


def test_store_copy_moves_a_file_with_its_images_and_compact_merges_files(postgres, moto_s3, tmp_path):
    source = Database(tmp_path / "old" / "results.duckdb")
    first, second = record_sample_run(source, "old-1"), record_sample_run(source, "old-2", error_rate=0.3, seed=3)
    assert _cli("bless", first, "--db", str(source.path)).returncode == 0
    bucket = moto_s3.create_bucket()
    for target in (postgres.url(tmp_path / "shared"), postgres.url(f"s3://{bucket}/team")):
        env = {**moto_s3.env(), "VTON_EVAL_CACHE": str(tmp_path / "cache")}
        copied = _cli("store", "copy", str(source.path), target, env=env)
        assert copied.returncode == 0 and "copied 2 run(s)" in copied.stdout, copied.stderr
        again = _cli("store", "copy", str(source.path), target, env=env)
        assert again.returncode == 0 and "no new rows" in again.stdout
        gate = _cli("gate", "--candidate", second, "--db", target, env=env)
        assert gate.returncode in (0, 1) and "GATE" in gate.stdout, gate.stderr  # the blessing came along
        listed = json.loads(_cli("runs", "--json", "--db", target, env=env).stdout)
        assert sorted(r["run_id"] for r in listed) == sorted([first, second])
        assert all(r["done"] == 20 for r in listed)
    keys = moto_s3.keys(bucket)
    with reading(source) as read:
        paths = [r["output_path"] for r in read.rows("SELECT output_path FROM results WHERE output_path IS NOT NULL")]
    assert {f"team/artifacts/{p.split('/', 1)[1]}" for p in paths} <= set(keys)

    from vton_eval.store.runs import list_runs

    shared = open_store(postgres.url(tmp_path / "compacted"))
    here = record_sample_run(shared, "here")  # a run's small batches: rows kept in the catalog's tables
    assert [r["run_id"] for r in list_runs(shared)] == [here]
    for i in range(12):  # small batches over the inlining limit: one Parquet file each
        shared.write(lambda w, i=i: w.insert_new("checks", ("run_id", "pair_id", "repeat", "workflow", "check",
                                                           "value", "threshold", "passed", "severity"),
                                                 [(f"c{i}", f"p{j}", 1, "top", "x", 0.0, 1.0, True, "soft")
                                                  for j in range(600)], ("run_id", "pair_id", "repeat", "check")))
    before = _scalar(shared, "SELECT count(*) FROM checks")
    done = _cli("store", "compact", shared.location, "--keep-hours", "0")
    assert done.returncode == 0, done.stderr
    files = [int(x) for x in done.stdout.split("data files ")[1].split(",")[0].split(" -> ")]
    assert files[1] < files[0]
    # This process read and wrote the store before another one compacted it: its next write and reads carry
    # on without a restart (the compaction moved the inlined rows its DuckLake had cached to files).
    shared.write(lambda w: w.insert_new("checks", ("run_id", "pair_id", "repeat", "workflow", "check", "value",
                                                   "threshold", "passed", "severity"),
                                        [("after", "p0", 1, "top", "x", 0.0, 1.0, True, "soft")],
                                        ("run_id", "pair_id", "repeat", "check")))
    assert _scalar(shared, "SELECT count(*) FROM checks") == before + 1
    [run] = list_runs(shared)
    assert run["run_id"] == here and run["done"] == 20
    assert _scalar(shared, "SELECT count(*) FROM results WHERE run_id = ?", [here]) == 20
