"""A corrupt or truncated database gives one clear error naming the file, never a traceback or a busy loop."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from vton_eval.artifacts import ArtifactStore
from vton_eval.runner.journal import Journal, journal_path
from vton_eval.store import Database, DatabaseDamaged

from .helpers.paths import REPO, SAMPLE
from .helpers.wait import wait_until


def _cli(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "vton_eval", *args], cwd=REPO, capture_output=True, text=True,
                          timeout=timeout)


def _garbage(path: Path) -> Path:
    path.write_bytes(b"this is not a database\n" * 200)
    return path


def _truncated(path: Path) -> Path:
    con = duckdb.connect(str(path))
    con.execute("CREATE TABLE t AS SELECT range AS i, repeat('x', 50) AS s FROM range(200000)")
    con.close()
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    return path


@pytest.mark.parametrize("make", [_garbage, _truncated], ids=["garbage", "truncated"])
def test_every_command_names_a_damaged_file_in_one_line(tmp_path, live_sandbox, make):
    db = make(tmp_path / "broken.duckdb")
    for args in (["runs"], ["gate", "--candidate", "latest"], ["baselines"],
                 ["run", "--dataset", str(SAMPLE), "--endpoint", live_sandbox.url, "--workflows", "top"]):
        proc = _cli(*args, "--db", str(db))
        assert proc.returncode in (1, 2), (args, proc.stderr)
        assert "Traceback" not in proc.stderr, (args, proc.stderr)
        assert "not a DuckDB database, or it is damaged" in proc.stderr + proc.stdout, (args, proc.stderr)
        assert str(db) in proc.stderr + proc.stdout


def test_the_store_raises_one_error_type_for_damage(tmp_path):
    db = Database(_garbage(tmp_path / "g.duckdb"))
    with pytest.raises(DatabaseDamaged, match="not a DuckDB database"), db.connect(read_only=True):
        pass


def test_a_run_whose_database_breaks_ends_soon_and_says_where_its_results_are(tmp_path, live_sandbox):
    """The file is destroyed mid-run: the run stops, says so once, and keeps what it received in its
    journal for `resume`. Without checks: a result is written once checked, and the check process's start-up
    kept the first three from the file for over a minute beside two CPU burners."""
    path = tmp_path / "results.duckdb"
    db = Database(path)
    live_sandbox.hold_after(3)
    proc = subprocess.Popen([sys.executable, "-m", "vton_eval", "run", "--dataset", str(SAMPLE), "--endpoint",
                             live_sandbox.url, "--concurrency", "2", "--db", str(path), "--no-checks"],
                            cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def recorded() -> int:
        try:
            with db.connect(read_only=True) as con:
                return con.execute("SELECT count(*) FROM results").fetchone()[0]
        except Exception:
            return 0

    wait_until(lambda: recorded() == 3 and live_sandbox.held_now >= 1, what="3 results and a held call")
    run_id = duckdb.connect(str(path), read_only=True).execute("SELECT run_id FROM runs").fetchone()[0]
    for leftover in tmp_path.glob("results.duckdb.wal"):
        leftover.unlink()
    _garbage(path)
    live_sandbox.hold_after(None)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 1, err
    assert "Traceback" not in err
    assert "not a DuckDB database, or it is damaged" in err
    journal = journal_path(ArtifactStore(path).root, run_id)
    assert str(journal) in err and "vton-eval resume" in err
    assert err.count("writing results failed") <= 1  # said once, not once per retry
    assert len(Journal(journal).read()) > 3  # what came back after the damage is kept
