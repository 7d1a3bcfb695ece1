"""Shards, merging shard databases into one run, and Parquet export, on real files.

Shard databases are laid out as a CI matrix leaves them (each job's `results.duckdb` in its own
folder) and as a person might (differently named files side by side); each holds a run seeded
through the store's writers, with real input and output files in its artifact store.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import shutil
from pathlib import Path

import duckdb
import pandas as pd
import pytest
from click.testing import CliRunner
from PIL import Image

from vton_eval.cli import main
from vton_eval.datasets import Dataset, load_dataset
from vton_eval.runner.plan import select_pairs
from vton_eval.runner.settings import RunSettings
from vton_eval.shards import shard_of
from vton_eval.store import Database
from vton_eval.store.export import ExportError, export_run
from vton_eval.store.merge import MergeError, merge
from vton_eval.store.runs import insert_run
from vton_eval.store.writes import insert_cases, insert_results

SAMPLE = Path(__file__).resolve().parents[1] / "datasets" / "sample"
T0 = dt.datetime(2026, 3, 2, 9, 0, 0)
ENDPOINT = "http://127.0.0.1:7860"


@pytest.fixture(scope="module")
def sample(tmp_path_factory) -> Dataset:
    """A private copy of the sample dataset (tests never touch the repo's)."""
    copy = tmp_path_factory.mktemp("data") / "sample"
    shutil.copytree(SAMPLE, copy)
    ds = load_dataset(copy)
    assert len(ds.pairs) >= 8
    return ds


def _output_png(seed: str) -> bytes:
    h = hashlib.sha256(seed.encode()).digest()
    buf = io.BytesIO()
    Image.new("RGB", (64, 80), (h[0], h[1], h[2])).save(buf, "PNG")
    return buf.getvalue()


def record(db_path: Path, ds: Dataset, shard: tuple[int, int] | None, *, label: str = "build-1",
           status: str = "finished", run_id: str | None = None) -> str:
    """Record a run of `ds` (one shard of it, or all) as the runner would: inputs and outputs in the
    artifact store, one result per case (the second one an error), a check row and a review per shard."""
    db = Database(db_path)
    store = db.artifacts
    k, n = shard or (0, 0)
    run_id = run_id or f"2026030{k}-090000-{k:04x}"
    pairs = select_pairs(ds, shard=shard)
    cases, results = [], []
    for i, p in enumerate(pairs):
        paths = {c: (store.put_file(getattr(p, c))[0] if getattr(p, c) else None)
                 for c in ("base", "product", "mask", "reference")}
        cases.append({"run_id": run_id, "pair_id": p.pair_id, "workflow": p.workflow, "tags": p.tags_text,
                      "base_path": paths["base"], "product_path": paths["product"], "mask_path": paths["mask"],
                      "reference_path": paths["reference"], "base_source": str(p.base)})
        ok = i != 1
        output = sha = None
        if ok:
            output, sha = store.put_bytes(_output_png(p.pair_id), "png")
            store.thumbnail(output)
        results.append({"run_id": run_id, "pair_id": p.pair_id, "workflow": p.workflow, "repeat": 1,
                        "status": "ok" if ok else "error", "error_kind": None if ok else "timeout",
                        "latency_ms": 900.0 + i, "attempts": 1, "output_path": output, "output_sha256": sha,
                        "started_at": T0, "finished_at": T0})
    # The dataset sits at a different path on each machine of a matrix: not part of the suite's identity.
    settings = RunSettings(dataset=f"/runner-{k}/work/datasets/sample", endpoint=ENDPOINT, label=label,
                           shard=f"{k}/{n}" if shard else None)
    def seed(con):  # a Writer: the store's one door for writes
        insert_run(con, {"run_id": run_id, "label": label, "endpoint": ENDPOINT, "dataset": ds.name,
                         "dataset_path": settings.dataset, "status": status, "created_at": T0 + dt.timedelta(
                             seconds=k), "started_at": T0, "finished_at": T0 + dt.timedelta(minutes=3),
                         "workflows": ",".join(sorted({p.workflow for p in pairs})), "repeats": 1,
                         "total_cases": len(pairs), "settings": settings.to_json()})
        con.execute("UPDATE runs SET shard = ? WHERE run_id = ?", [settings.shard, run_id])
        insert_cases(con, cases)
        insert_results(con, results)
        first_ok = results[0]
        con.execute('INSERT INTO checks (run_id, pair_id, "repeat", workflow, "check", value, threshold, passed, '
                    "severity) VALUES (?, ?, 1, ?, 'blank', 0.4, 0.02, true, 'hard')",
                    [run_id, first_ok["pair_id"], first_ok["workflow"]])
        con.execute('INSERT INTO reviews (run_id, pair_id, workflow, "repeat", reviewer, verdict, reasons, note, '
                    "created_at) VALUES (?, ?, ?, 1, 'ana', 'pass', NULL, 'looks right', ?)",
                    [run_id, first_ok["pair_id"], first_ok["workflow"], T0])

    db.write(seed)
    return run_id


def _layout(root: Path, ds: Dataset, count: int = 4, skip: int | None = None, **kw) -> list[Path]:
    """Shards 1..count: odd ones as job folders with results.duckdb, even ones side by side."""
    paths = []
    for k in range(1, count + 1):
        if k == skip:
            continue
        path = root / f"job-{k}" / "results.duckdb" if k % 2 else root / "side" / f"shard{k}.duckdb"
        path.parent.mkdir(parents=True, exist_ok=True)
        record(path, ds, (k, count), **kw)
        paths.append(path)
    return paths


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _count(db: Database, sql: str, params: list | None = None) -> int:
    with db.connect(read_only=True) as con:
        return con.execute(sql, params or []).fetchone()[0]


def test_shards_partition_the_dataset(sample):
    full = [p.pair_id for p in select_pairs(sample)]
    parts = [{p.pair_id for p in select_pairs(sample, shard=(k, 4))} for k in range(1, 5)]
    assert all(parts), "every shard of the sample has cases"
    assert set().union(*parts) == set(full)
    assert sum(len(p) for p in parts) == len(full)  # disjoint
    # Deterministic and independent of the dataset's row order.
    again = [{p.pair_id for p in select_pairs(sample, shard=(k, 4))} for k in range(1, 5)]
    assert again == parts


def test_merge_joins_shards_into_one_run_and_is_idempotent(sample, tmp_path):
    sources = _layout(tmp_path / "matrix", sample)
    before = {p: _digest(p) for p in sources}
    target = tmp_path / "out" / "merged.duckdb"
    report = merge(sources, target)
    assert len(report.merged) == 1 and not report.copied_runs
    merged = report.merged[0]
    assert merged.status == "finished" and not merged.existed
    assert [shard_of_id[-1] for shard_of_id in merged.sources] == ["1", "2", "3", "4"]
    db = Database(target)
    with db.connect(read_only=True) as con:
        run = con.execute("SELECT status, shard, merged_from, total_cases, settings FROM runs").fetchall()
        assert len(run) == 1
        status, shard, merged_from, total, settings = run[0]
        cases = {r[0] for r in con.execute("SELECT pair_id FROM cases WHERE run_id = ?", [merged.run_id]).fetchall()}
        outputs = [r[0] for r in con.execute(
            "SELECT output_path FROM results WHERE run_id = ? AND output_path IS NOT NULL", [merged.run_id]).fetchall()]
        inputs = [r[0] for r in con.execute("SELECT base_path FROM cases").fetchall()]
        assert con.execute("SELECT count(*) FROM checks WHERE run_id = ?", [merged.run_id]).fetchone()[0] == 4
        assert con.execute("SELECT count(*) FROM reviews WHERE run_id = ?", [merged.run_id]).fetchone()[0] == 4
        # The merged run's summary is built from its rows (what the dashboard's lists read).
        summary = con.execute("SELECT sum(cases), sum(ok) FROM run_summary WHERE run_id = ?",
                              [merged.run_id]).fetchone()
        counted = con.execute("SELECT count(*), count(*) FILTER (WHERE status = 'ok') FROM results WHERE run_id = ?",
                              [merged.run_id]).fetchone()
        assert summary == counted and counted[0] > 0
    full = {p.pair_id for p in select_pairs(sample)}
    assert status == "finished" and shard is None and merged_from == ",".join(merged.sources)
    assert cases == full and total == len(full)
    assert '"shard": null' in settings
    # Artifacts copied beside the target, paths rewritten, files readable.
    assert len(outputs) == sum(_count(Database(p), "SELECT count(*) FROM results WHERE status = 'ok'") for p in sources)
    for rel in outputs + inputs:
        assert rel.startswith("merged.artifacts/objects/"), rel
        with Image.open(target.parent / rel) as img:
            img.load()
    assert any((target.parent / "merged.artifacts" / "thumbs").rglob("*.jpg"))
    # Sources untouched and still valid on their own.
    assert {p: _digest(p) for p in sources} == before
    for p in sources:
        assert _count(Database(p), "SELECT count(*) FROM runs WHERE shard IS NOT NULL") == 1
    # Merging again adds nothing.
    counts = {t: _count(db, f"SELECT count(*) FROM {t}") for t in ("runs", "cases", "results", "checks", "reviews")}
    again = merge(sources, target)
    assert again.merged[0].run_id == merged.run_id and again.merged[0].existed
    assert not any(again.rows_added.values()) and again.files_copied == 0
    assert {t: _count(db, f"SELECT count(*) FROM {t}") for t in counts} == counts


def test_incomplete_or_unfinished_suites_are_refused_unless_partial(sample, tmp_path):
    three = _layout(tmp_path / "m", sample, skip=4)
    target = tmp_path / "merged.duckdb"
    with pytest.raises(MergeError, match="missing shard\\(s\\) 4/4"):
        merge(three, target)
    assert not target.exists()
    partial = merge(three, target, allow_partial=True)
    assert partial.merged[0].status == "interrupted" and "4/4" in partial.merged[0].message
    # The missing shard arrives: the full merge replaces the partial one.
    fourth = tmp_path / "m" / "side" / "shard4.duckdb"
    record(fourth, sample, (4, 4))
    full = merge([*three, fourth], target)
    assert full.merged[0].status == "finished" and full.superseded == [partial.merged[0].run_id]
    db = Database(target)
    assert _count(db, "SELECT count(*) FROM runs") == 1
    assert _count(db, "SELECT count(DISTINCT run_id) FROM results") == 1

    one, two = tmp_path / "n" / "a.duckdb", tmp_path / "n" / "b.duckdb"
    one.parent.mkdir()
    record(one, sample, (1, 2), label="build-2")
    record(two, sample, (2, 2), label="build-2", status="interrupted")
    with pytest.raises(MergeError, match=r"shard 2/2 \(run \S+\) is interrupted"):
        merge([one, two], tmp_path / "other.duckdb")
    # Two runs of the same shard (two builds' databases mixed up): ambiguous, refused.
    again = tmp_path / "n" / "c.duckdb"
    record(again, sample, (2, 2), label="build-2", run_id="20260302-090000-beef")
    with pytest.raises(MergeError, match="several runs"):
        merge([one, two, again], tmp_path / "other.duckdb", allow_partial=True)


def test_unrelated_runs_are_copied_as_they_are(sample, tmp_path):
    a = tmp_path / "a" / "results.duckdb"
    b = tmp_path / "b.duckdb"
    a.parent.mkdir()
    run_a = record(a, sample, None, run_id="20260301-080000-aaaa")
    run_b = record(b, sample, None, run_id="20260301-080000-bbbb", label="other")
    report = merge([a, b], tmp_path / "all.duckdb")
    assert sorted(report.copied_runs) == [run_a, run_b] and not report.merged
    db = Database(tmp_path / "all.duckdb")
    assert _count(db, "SELECT count(*) FROM runs WHERE merged_from IS NULL") == 2
    assert _count(db, "SELECT count(*) FROM results WHERE NOT starts_with(output_path, 'all.artifacts/')") == 0
    assert shard_of({"shard": None, "settings": '{"shard": "3/5"}'}) == (3, 5)


def test_export_writes_parquet_that_reads_back(sample, tmp_path):
    path = tmp_path / "results.duckdb"
    run_id = record(path, sample, None, run_id="20260301-070000-cafe")
    db = Database(path)
    files = export_run(db, run_id[:15], tmp_path / "export")
    assert set(files) == {"run", "cases", "results", "checks", "reviews", "preferences", "settlements"}
    con = duckdb.connect()
    try:
        for name, file in files.items():
            if name in ("preferences", "settlements"):  # keyed by two runs; tests/test_agreement.py fills them
                continue
            table = "runs" if name == "run" else name
            got = con.execute(f"SELECT count(*) FROM read_parquet('{file}')").fetchone()[0]
            assert got == _count(db, f"SELECT count(*) FROM {table} WHERE run_id = ?", [run_id]) > 0, name
    finally:
        con.close()
    frame = pd.read_parquet(files["results"])
    assert set(frame["run_id"]) == {run_id} and {"latency_ms", "error_kind", "output_path"} <= set(frame.columns)
    with pytest.raises(ExportError):
        export_run(db, "nope", tmp_path / "x")


def test_cli_merge_and_export(sample, tmp_path):
    """The documented matrix flow: shard databases + the baseline database -> one file -> gate."""
    sources = _layout(tmp_path / "m", sample, count=2, label="cli")
    baseline = tmp_path / "cache" / "baseline.duckdb"
    baseline.parent.mkdir()
    record(baseline, sample, None, run_id="20260201-090000-0000", label="v1.0")
    runner = CliRunner()
    assert runner.invoke(main, ["bless", "20260201-090000-0000", "--db", str(baseline)]).exit_code == 0
    target = tmp_path / "results.duckdb"
    out = runner.invoke(main, ["merge", str(baseline), *map(str, sources), "--into", str(target)])
    assert out.exit_code == 0, out.output
    assert out.stdout.strip().splitlines() == [merge_id := out.stdout.strip()]  # only the merged run on stdout
    assert merge_id.startswith("20260302-090001-m") and "1 blessing(s)" in out.stderr
    out = runner.invoke(main, ["gate", "--candidate", merge_id, "--db", str(target)])
    assert out.exit_code == 0 and "GATE PASS" in out.stdout and "baseline 20260201-090000-0000" in out.stdout
    out = runner.invoke(main, ["export", merge_id, "--parquet", str(tmp_path / "pq"), "--db", str(target)])
    assert out.exit_code == 0 and (tmp_path / "pq" / "results.parquet").is_file()
    assert str(tmp_path / "pq" / "cases.parquet") in out.stdout
    out = runner.invoke(main, ["merge", str(sources[0]), "--into", str(tmp_path / "x.duckdb")])
    assert out.exit_code == 1 and "missing shard(s) 2/2" in out.output
    out = runner.invoke(main, ["export", "nope", "--parquet", str(tmp_path / "pq2"), "--db", str(target)])
    assert out.exit_code == 1 and "no run matches" in out.output
