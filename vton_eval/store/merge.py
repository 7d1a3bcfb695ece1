"""Joining shard databases (one per CI matrix job) into one database with one run per suite.

Shards of one suite (the rule is in `vton_eval.shards`: same dataset, endpoint, N and settings but
the shard) are merged: a complete suite (shards 1..N, each once) becomes ONE run in the target,
with a deterministic id derived from the shard run ids, `merged_from` = those ids in shard order,
`shard` NULL, status `finished` when every shard finished. An incomplete or unfinished suite is
refused with what is missing, unless `allow_partial` (then the run is marked `interrupted` and its
message says what is missing).
Runs that are not shards are copied as they are, with their blessing (`baselines`) when the
target has none for that dataset and endpoint: `merge baseline.duckdb shards/*.duckdb --into x`
gives a file where `gate --baseline blessed` works.

Sources are only read (each stays a valid database). Rows go in only where their key is new (the
store's insert-unless-present) and files are content-addressed, so merging twice changes nothing. Artifact files
(objects and thumbnails) are copied into the target's artifact store before the rows that name them are
committed; their paths, relative to the database's folder, are rewritten from `<src stem>.artifacts/`
to the target's prefix (`<target stem>.artifacts/`, or `artifacts/` in a shared store).

The target may be a shared store (a store URL): `vton-eval store copy FILE URL` is a merge that copies
every run as it is (`combine_shards=False`), with its files.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa

from vton_eval.artifacts import ArtifactStore, artifact_root_for
from vton_eval.errors import VtonEvalError
from vton_eval.shards import plan_suite, shard_of, suite_key
from vton_eval.store.base import Store, Writer
from vton_eval.store.db import Database
from vton_eval.store.location import is_store_url, resolve_location
from vton_eval.store.reads import Reader, reading
from vton_eval.store.runs import RUN_COLUMNS, list_runs
from vton_eval.store.summaries import refresh_summaries

_KEYS = {
    "cases": ("run_id", "pair_id"),
    "results": ("run_id", "pair_id", "repeat"),
    "checks": ("run_id", "pair_id", "repeat", "check"),
    "check_boxes": ("run_id", "pair_id", "repeat", "check"),
    "reviews": ("run_id", "pair_id", "repeat", "reviewer"),
    "preferences": ("run_a", "run_b", "pair_id", "repeat", "reviewer"),
}

# Tables copied per source, with their run-id and path columns.
_TABLES = {
    "cases": (("run_id",), ("base_path", "product_path", "mask_path", "reference_path")),
    "results": (("run_id",), ("output_path",)),
    "checks": (("run_id",), ()),
    "check_boxes": (("run_id",), ()),
    "reviews": (("run_id",), ()),
    "preferences": (("run_a", "run_b"), ()),
}


class MergeError(VtonEvalError):
    """The merge cannot be done as asked; nothing was written."""


@dataclass
class MergedRun:
    run_id: str
    sources: list[str]
    status: str
    message: str | None
    existed: bool


@dataclass
class MergeReport:
    target: str
    merged: list[MergedRun] = field(default_factory=list)
    copied_runs: list[str] = field(default_factory=list)
    # Blessings of copied runs, carried over where the target has none for that (dataset, endpoint).
    blessings_added: int = 0
    superseded: list[str] = field(default_factory=list)
    files_copied: int = 0
    rows_added: dict[str, int] = field(default_factory=dict)


@dataclass
class _Source:
    db: Database
    runs: list[dict[str, Any]]
    raw_runs: list[dict[str, Any]]
    tables: dict[str, pa.Table]
    baselines: list[tuple[Any, ...]]


def _read_source(path: Path) -> _Source:
    db = Database(path)
    if not db.exists():
        raise MergeError(f"no database at {path}")
    runs = list_runs(db)  # with liveness: a 'running' shard whose process died reads as interrupted
    with db.connect(read_only=True) as con:
        raw = Reader(con).rows("SELECT * FROM runs")
        tables = {t: con.sql(f"SELECT * FROM {t}").to_arrow_table() for t in _TABLES}
        baselines = con.execute("SELECT dataset, endpoint, run_id, blessed_at FROM baselines").fetchall()
    return _Source(db, runs, raw, tables, baselines)


def _copy_tree(src_root: Path, dst: ArtifactStore) -> int:
    """Copy objects/ and thumbs/ files the target lacks (same name = same content); atomic per file, and
    uploaded when the target keeps its files in S3."""
    copied = 0
    for sub in ("objects", "thumbs"):
        for dirpath, _dirs, files in os.walk(src_root / sub):
            rel = Path(dirpath).relative_to(src_root)
            for name in files:
                if name.startswith(".tmp-"):
                    continue
                target = dst.root / rel / name
                if not target.exists():
                    dst.write_file(target, (Path(dirpath) / name).read_bytes())
                    copied += 1
                dst.publish(target)
    return copied


def _insert_table(w: Writer, table: str, data: pa.Table, id_map: dict[str, str], old: str, new: str) -> None:
    if data.num_rows == 0:
        return
    # The table's own columns (not information_schema's, which lists every attached catalog).
    target_cols = [d[0] for d in w.execute(f"SELECT * FROM {table} LIMIT 0").description]
    id_cols, path_cols = _TABLES[table]
    cols = [c for c in target_cols if c in data.column_names]
    exprs = []
    for c in cols:
        q = f'_src."{c}"'
        if c in id_cols:
            exprs.append(f"coalesce((SELECT new FROM _map WHERE old = {q}), {q})")
        elif c in path_cols:
            exprs.append(f"CASE WHEN starts_with({q}, $old) THEN $new || {q}[length($old) + 1:] ELSE {q} END")
        else:
            exprs.append(q)
    w.con.register("_src", data)
    w.con.register("_map", pa.table({"old": list(id_map), "new": list(id_map.values())},
                                    schema=pa.schema([("old", pa.string()), ("new", pa.string())])))
    # No try/finally: after a failed statement the transaction is aborted and unregistering would
    # raise over the real error; the caller rolls back and closes the connection anyway.
    params = {"old": old, "new": new} if any(c in path_cols for c in cols) else {}
    w.insert_select(table, cols, f"SELECT {', '.join(exprs)} FROM _src", params, _KEYS[table])
    w.con.unregister("_src")
    w.con.unregister("_map")


def _insert_run(w: Writer, row: dict[str, Any], replace: bool) -> None:
    names = [c for c in RUN_COLUMNS if c in row]
    values = tuple(row[c] for c in names)
    if replace:
        w.replace("runs", names, values, ("run_id",))
    else:
        w.insert_new("runs", names, [values], ("run_id",))


def _superseded(w: Writer, new_sources: set[str]) -> list[str]:
    """Earlier partial merges whose shards are all part of a new merge (and that nobody blessed)."""
    out = []
    for r in w.rows("SELECT run_id, merged_from FROM runs WHERE merged_from IS NOT NULL AND status <> 'finished' "
                    "AND run_id NOT IN (SELECT run_id FROM baselines)"):
        if set(r["merged_from"].split(",")) < new_sources:
            out.append(r["run_id"])
    return out


def merge(sources: Sequence[str | os.PathLike[str]], into: str | os.PathLike[str] | Store,
          allow_partial: bool = False, combine_shards: bool = True) -> MergeReport:
    """Merge the runs of `sources` (database files) into `into` (a file or a shared store, created if
    needed). `combine_shards=False` copies shard runs as they are. Raises MergeError."""
    from vton_eval.store import open_store

    target = into if isinstance(into, Store) else open_store(into)
    if any(is_store_url(str(s)) for s in sources):
        raise MergeError("the sources are database files (a shared store needs no merge: runs write into it)")
    paths = [Path(s).expanduser().resolve() for s in sources]
    if not paths:
        raise MergeError("no source database given")
    if target.location in {resolve_location(p) for p in paths}:
        raise MergeError(f"{target.location} is both a source and the target: merge into a new file")
    if len(set(paths)) != len(paths):
        raise MergeError("a source database is listed twice")
    sources_read = [_read_source(p) for p in paths]
    # Group shard runs across every source: one matrix job per database is the usual layout.
    suites: dict[str, list[tuple[_Source, dict[str, Any]]]] = {}
    for src in sources_read:
        raw = {r["run_id"]: r for r in src.raw_runs}
        for run in src.runs:
            if combine_shards and shard_of(run) is not None and not run.get("merged_from"):
                suites.setdefault(suite_key(run), []).append((src, {**raw[run["run_id"]], **run}))
    plans, problems = [], []
    for members in suites.values():
        row, issues = plan_suite([r for _, r in members], allow_partial)
        label = f"suite {row['dataset']} -> {row['endpoint']}" + (f" ({row['label']})" if row.get("label") else "")
        problems += [f"{label}: {p}" for p in issues]
        plans.append((row, members))
    if problems:
        raise MergeError("cannot merge:\n  " + "\n  ".join(problems) +
                         "\n(pass --allow-partial to merge what is there; the run is then marked interrupted)")
    report = MergeReport(target.location)
    for src in sources_read:
        report.files_copied += _copy_tree(artifact_root_for(src.db.path), target.artifacts)
    tables = ["runs", *_TABLES]
    target.ensure()
    with reading(target) as read:
        before = {t: read.scalar(f"SELECT count(*) FROM {t}") for t in tables}
        existing = {r["run_id"] for r in read.rows("SELECT run_id FROM runs")}

    def write(w: Writer) -> None:
        # A shared store may run this more than once (a write conflict): start the report afresh.
        report.merged, report.copied_runs, report.superseded, report.blessings_added = [], [], [], 0
        w.lock("merge")  # two merges into one shared store at once: one waits for the other's rows
        for row, members in plans:
            sources_ids = {r["run_id"] for _, r in members}
            for old in _superseded(w, sources_ids):
                for t in ("cases", "results", "checks", "check_boxes", "reviews", "runs"):
                    w.execute(f"DELETE FROM {t} WHERE run_id = ?", [old])
                report.superseded.append(old)
            _insert_run(w, row, replace=True)
            report.merged.append(MergedRun(row["run_id"], row["merged_from"].split(","), row["status"],
                                           row["message"], row["run_id"] in existing))
        for src in sources_read:
            id_map = {r["run_id"]: row["run_id"] for row, members in plans for s, r in members if s is src}
            for run in src.raw_runs:
                if run["run_id"] not in id_map:
                    _insert_run(w, run, replace=False)
                    if run["run_id"] not in existing:
                        report.copied_runs.append(run["run_id"])
            old, new = artifact_root_for(src.db.path).name + "/", target.artifacts.prefix
            for table in _TABLES:
                _insert_table(w, table, src.tables[table], id_map, old, new)
            for blessing in src.baselines:
                # A blessed shard run means nothing once merged; the target's own blessing wins.
                if blessing[2] not in id_map and not w.scalar(
                        "SELECT count(*) FROM baselines WHERE dataset = ? AND endpoint = ?", list(blessing[:2])):
                    w.insert_new("baselines", ("dataset", "endpoint", "run_id", "blessed_at"), [tuple(blessing)],
                                 ("dataset", "endpoint"))
                    report.blessings_added += 1
        shard_ids = {r["run_id"] for _, members in plans for _, r in members}
        touched = {r["run_id"] for src in sources_read for r in src.raw_runs} - shard_ids
        refresh_summaries(w, touched | {m.run_id for m in report.merged} | set(report.superseded))

    target.write(write)
    with reading(target) as read_after:
        report.rows_added = {t: read_after.scalar(f"SELECT count(*) FROM {t}") - before[t] for t in tables}
    return report
