"""Comparing runs case by case: shared cases side by side, outcome and latency changes, output similarity.

Runs "share" a case when each has a result for the same (pair_id, repeat). Functions take the
baseline first and up to three other runs; everything is aggregated or paged in SQL, so a page of a
10,000-case comparison costs one small query.

Similarity cache. Comparing two outputs (SSIM + a difference image) costs ~0.1 s, too slow to do for
every case of a big run on each page view, so results are kept in a table this module creates itself
(derived data: deleting it loses nothing but time)::

    CREATE TABLE IF NOT EXISTS pair_similarity (
        output_a VARCHAR NOT NULL,   -- sha256 of the baseline's output (the file's content key)
        output_b VARCHAR NOT NULL,   -- sha256 of the other run's output
        ssim DOUBLE, changed_share DOUBLE, psnr DOUBLE,  -- vton_eval.checks.compare.similarity
        diff_path VARCHAR,           -- difference image (JPEG, <= 512 px), relative to the database folder
        problem VARCHAR,             -- why it could not be computed (an undecodable output), else NULL
        computed_at TIMESTAMP NOT NULL,
        PRIMARY KEY (output_a, output_b))

It is keyed by content, not by run: the same two images compare the same whoever produced them,
and outputs with the same sha256 are identical, so SQL gives them SSIM 1 without computing anything
(a deterministic service then costs nothing). Pages have the rows they show computed
(`ensure_similarities`); `fill_similarities` computes the rest for a full "most changed" ranking.

Read functions take a `read(sql, params) -> DataFrame` from `filters.reading`, so one page view costs
one connection (opening the file costs more than these queries).
"""

from __future__ import annotations

import datetime as dt
import io
import threading
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import pandas as pd

from vton_eval.analytics.filters import frame, reading
from vton_eval.artifacts import ArtifactStore
from vton_eval.checks.compare import difference_image, similarity
from vton_eval.images import load_rgb
from vton_eval.preferences import win_rates_on
from vton_eval.store.db import Database

MAX_RUNS = 4
DIFF_SIDE = 512
SIM_TABLE = """CREATE TABLE IF NOT EXISTS pair_similarity (
    output_a VARCHAR NOT NULL, output_b VARCHAR NOT NULL, ssim DOUBLE, changed_share DOUBLE, psnr DOUBLE,
    diff_path VARCHAR, problem VARCHAR, computed_at TIMESTAMP NOT NULL, PRIMARY KEY (output_a, output_b))"""
_RUN_COLUMNS = ("status", "error_kind", "error_message", "latency_ms", "output_path")
# A (key_a, path_a, key_b, path_b) to compare: content keys and artifact paths of the two outputs.
Item = tuple[str, str, str, str]


@dataclass(frozen=True)
class CaseFilter:
    workflows: tuple[str, ...] = ()
    tag: str | None = None
    changed_only: bool = False


@dataclass
class ComparePage:
    total: int  # shared cases matching the filter
    rows: pd.DataFrame  # this page: inputs, then per run i status_i, error_kind_i, ..., output_path_i
    both_outputs: int  # of `total`, cases where the baseline and the second run both have an output
    similarity_known: int  # of those, cases with a known similarity (computed, or identical files)


Read = Callable[..., pd.DataFrame]


def _has_sim_table(read: Read) -> bool:
    found = read("SELECT count(*) AS n FROM information_schema.tables WHERE table_name = 'pair_similarity'")
    return bool(not found.empty and found.iloc[0]["n"])


def _shared_cte(n: int, sim: bool) -> str:
    """`WITH ... shared AS (...)`: one row per shared case; params are the n run ids, baseline first."""
    ctes = [f"r{i} AS (SELECT * FROM results WHERE run_id = ?)" for i in range(n)]
    cols = [f"r{i}.{c} AS {c}_{i}" for i in range(n) for c in _RUN_COLUMNS]
    cols += [f"coalesce(r{i}.output_sha256, r{i}.output_path) AS output_key_{i}" for i in range(n)]
    joins = [f'JOIN r{i} ON r{i}.pair_id = r0.pair_id AND r{i}."repeat" = r0."repeat"' for i in range(1, n)]
    # A run "changed" a case when its outcome (status, and error kind for errors) differs from the baseline's.
    changed = " + ".join(f"(r{i}.status <> r0.status OR coalesce(r{i}.error_kind, '') <> "
                         f"coalesce(r0.error_kind, ''))::INTEGER" for i in range(1, n)) or "0"
    moved = ", ".join(f"abs(r{i}.latency_ms - r0.latency_ms)" for i in range(1, n))
    latency = f"greatest({moved})" if n > 1 else "NULL::DOUBLE"
    if n == 2:
        both = "r0.output_path IS NOT NULL AND r1.output_path IS NOT NULL"
        same = "coalesce(r0.output_sha256, r0.output_path) = coalesce(r1.output_sha256, r1.output_path)"
        pick = "s.{0}" if sim else "NULL"
        cols += [f"CASE WHEN NOT ({both}) THEN NULL WHEN {same} THEN {v} ELSE {pick.format(c)} END AS {c}"
                 for c, v in (("ssim", "1.0"), ("changed_share", "0.0"), ("psnr", "100.0"))]
        cols += [f"CASE WHEN {both} AND NOT ({same}) THEN {pick.format('diff_path')} END AS diff_path",
                 f"CASE WHEN {both} AND NOT ({same}) THEN {pick.format('problem')} END AS problem",
                 f"coalesce({both} AND {same}, FALSE) AS identical"]
        if sim:
            joins.append("LEFT JOIN pair_similarity s ON s.output_a = coalesce(r0.output_sha256, r0.output_path) "
                         "AND s.output_b = coalesce(r1.output_sha256, r1.output_path)")
    return f"""WITH {", ".join(ctes)}, shared AS (
        SELECT r0.pair_id, r0."repeat", r0.workflow, c.tags, c.base_path, c.product_path, c.mask_path,
               {", ".join(cols)}, {changed} AS n_changed, {latency} AS latency_change_ms
        FROM r0 {" ".join(joins)}
        LEFT JOIN cases c ON c.run_id = r0.run_id AND c.pair_id = r0.pair_id)"""


def _where(flt: CaseFilter) -> tuple[str, list[Any]]:
    parts, params = ["TRUE"], []
    if flt.workflows:
        parts.append(f"workflow IN ({', '.join('?' for _ in flt.workflows)})")
        params += list(flt.workflows)
    if flt.tag:
        # Tags are ';'-separated with optional spaces: compare whole, trimmed tags.
        parts.append(r"contains(';' || regexp_replace(trim(coalesce(tags, '')), '\s*;\s*', ';', 'g') || ';', ?)")
        params.append(f";{flt.tag.strip()};")
    if flt.changed_only:
        parts.append("n_changed > 0")
    return " AND ".join(parts), params


def _check_runs(run_ids: Sequence[str]) -> None:
    if not 1 <= len(run_ids) <= MAX_RUNS or len(set(run_ids)) != len(run_ids):
        raise ValueError(f"compare 1 to {MAX_RUNS} distinct runs, got {list(run_ids)}")


def _page(read: Read, run_ids: Sequence[str], flt: CaseFilter, sort: str, page: int, page_size: int) -> ComparePage:
    _check_runs(run_ids)
    where, params = _where(flt)
    two = len(run_ids) == 2
    cte = _shared_cte(len(run_ids), _has_sim_table(read))
    both = "output_path_0 IS NOT NULL AND output_path_1 IS NOT NULL" if two else "FALSE"
    counts = read(f"""{cte} SELECT count(*) AS total, count(*) FILTER (WHERE {both}) AS n_both,
                      count(*) FILTER (WHERE {both} AND {"ssim IS NOT NULL" if two else "FALSE"}) AS n_known
                      FROM shared WHERE {where}""", [*run_ids, *params])
    if counts.empty:  # no database
        return ComparePage(0, pd.DataFrame(), 0, 0)
    total, n_both, n_known = (int(counts.iloc[0][c]) for c in ("total", "n_both", "n_known"))
    # Similarity ranks only once it is known for every case: ranking on a partial set would move the
    # rows a page computes up the list, so the same page would show other rows on the next rerun.
    by_sim = "ssim ASC NULLS LAST, " if two and n_known == n_both else ""
    order = {"pair": 'pair_id, "repeat"',
             "most_changed": f'n_changed DESC, {by_sim}latency_change_ms DESC NULLS LAST, pair_id, "repeat"'}[sort]
    rows = read(f"{cte} SELECT * FROM shared WHERE {where} ORDER BY {order} LIMIT ? OFFSET ?",
                [*run_ids, *params, int(page_size), max(0, (int(page) - 1) * int(page_size))])
    return ComparePage(total, rows, n_both, n_known)


def shared_page(db: Database, run_ids: Sequence[str], flt: CaseFilter = CaseFilter(), sort: str = "pair",
                page: int = 1, page_size: int = 12) -> ComparePage:
    """One page of the shared cases of `run_ids` (baseline first).

    sort "pair": by pair id and repeat. "most_changed": cases whose outcome changed in more runs
    first, then (two runs, once known for all) the lowest similarity, then the largest latency change.
    """
    with reading(db) as read:
        return _page(read, run_ids, flt, sort, page, page_size)


@dataclass
class TwoRunSummary:
    transitions: dict[str, int]  # shared, ok_to_ok, ok_to_error, error_to_ok, error_to_error, kind_changed
    error_kinds: pd.DataFrame  # error_kind, baseline, candidate, change, new
    latency: pd.DataFrame  # workflow ('(all)' last), n / p50 / p95 per side, p50_change_ms, p95_change_ms


def _summary(read: Read, baseline: str, candidate: str, flt: CaseFilter) -> TwoRunSummary:
    where, params = _where(CaseFilter(flt.workflows, flt.tag))
    cte = _shared_cte(2, sim=False)
    # One pass: latency per workflow and, in the grand-total row, the outcome transitions.
    stats = read(f"""{cte} SELECT coalesce(workflow, '(all)') AS workflow,
        count(*) FILTER (WHERE status_0 = 'ok') AS n_baseline,
        quantile_cont(latency_ms_0, 0.5) FILTER (WHERE status_0 = 'ok') AS p50_baseline_ms,
        quantile_cont(latency_ms_0, 0.95) FILTER (WHERE status_0 = 'ok') AS p95_baseline_ms,
        count(*) FILTER (WHERE status_1 = 'ok') AS n_candidate,
        quantile_cont(latency_ms_1, 0.5) FILTER (WHERE status_1 = 'ok') AS p50_candidate_ms,
        quantile_cont(latency_ms_1, 0.95) FILTER (WHERE status_1 = 'ok') AS p95_candidate_ms,
        count(*) AS shared,
        count(*) FILTER (WHERE status_0 = 'ok' AND status_1 = 'ok') AS ok_to_ok,
        count(*) FILTER (WHERE status_0 = 'ok' AND status_1 = 'error') AS ok_to_error,
        count(*) FILTER (WHERE status_0 = 'error' AND status_1 = 'ok') AS error_to_ok,
        count(*) FILTER (WHERE status_0 = 'error' AND status_1 = 'error') AS error_to_error,
        count(*) FILTER (WHERE status_0 = 'error' AND status_1 = 'error'
                         AND coalesce(error_kind_0, '') <> coalesce(error_kind_1, '')) AS kind_changed
        FROM shared WHERE {where} GROUP BY GROUPING SETS ((workflow), ())
        ORDER BY workflow IS NULL, workflow""", [baseline, candidate, *params])
    kinds = read(f"""{cte}, sides AS (
            SELECT error_kind_0 AS error_kind, 0 AS side FROM shared WHERE status_0 = 'error' AND {where}
            UNION ALL SELECT error_kind_1, 1 FROM shared WHERE status_1 = 'error' AND {where})
        SELECT coalesce(error_kind, '(none)') AS error_kind, count(*) FILTER (WHERE side = 0) AS baseline,
               count(*) FILTER (WHERE side = 1) AS candidate
        FROM sides GROUP BY 1 ORDER BY candidate - baseline DESC, error_kind""",
                 [baseline, candidate, *params, *params])
    keys = ["shared", "ok_to_ok", "ok_to_error", "error_to_ok", "error_to_error", "kind_changed"]
    total = stats.iloc[-1]
    transitions = {k: int(total[k]) for k in keys}
    latency = stats.drop(columns=keys) if transitions["shared"] else stats.drop(columns=keys).iloc[0:0]
    kinds["change"] = kinds["candidate"] - kinds["baseline"]
    kinds["new"] = kinds["baseline"] == 0
    for p in ("p50", "p95"):
        latency[f"{p}_change_ms"] = latency[f"{p}_candidate_ms"] - latency[f"{p}_baseline_ms"]
    return TwoRunSummary(transitions, kinds, latency)


def two_run_summary(db: Database, baseline: str, candidate: str, flt: CaseFilter = CaseFilter()) -> TwoRunSummary:
    """What changed from `baseline` to `candidate` over their shared cases (the filter's workflows and tag)."""
    with reading(db) as read:
        return _summary(read, baseline, candidate, flt)


@dataclass
class CompareView:
    page: ComparePage
    summary: TwoRunSummary | None  # two runs only
    win_rates: pd.DataFrame | None  # two runs only: preferences.win_rates


def compare_view(db: Database, run_ids: Sequence[str], flt: CaseFilter = CaseFilter(), sort: str = "pair",
                 page: int = 1, page_size: int = 12) -> CompareView:
    """All a side-by-side view shows, read on one connection."""
    with reading(db) as read:
        shown = _page(read, run_ids, flt, sort, page, page_size)
        if len(run_ids) != 2 or shown.total == 0:
            return CompareView(shown, None, None)
        return CompareView(shown, _summary(read, run_ids[0], run_ids[1], flt), win_rates_on(read, *run_ids))


@dataclass
class CompareSetup:
    runs: pd.DataFrame  # runs with results, newest first: run_id, label, dataset, endpoint, status, created_at, done
    baseline: str | None  # the one asked for if it exists, else a default
    others: pd.DataFrame  # runs over the baseline's dataset, newest first, with `shared` (cases in common)
    workflows: list[str]  # of the baseline's results
    tags: list[str]  # of the baseline's cases


def default_baseline(runs: pd.DataFrame) -> str | None:
    """The run before the latest (finished first) run over the same dataset: "what did the latest change"."""
    if runs.empty:
        return None
    ordered = pd.concat([runs[runs["status"] == "finished"], runs[runs["status"] != "finished"]])
    for row in ordered.itertuples():
        older = runs[(runs["dataset"] == row.dataset) & (runs["created_at"] < row.created_at)]
        if not older.empty:
            return str(older.iloc[0]["run_id"])
    return str(ordered.iloc[0]["run_id"])


def compare_setup(db: Database, baseline: str | None = None) -> CompareSetup:
    """What the run pickers and filters offer, read on one connection."""
    empty = pd.DataFrame(columns=["run_id", "label", "dataset", "endpoint", "status", "created_at", "done", "shared"])
    with reading(db) as read:
        runs = read("""
            SELECT r.run_id, r.label, r.dataset, r.endpoint, r.status, r.created_at, c.done
            FROM runs r JOIN (SELECT run_id, count(*) AS done FROM results GROUP BY 1) c USING (run_id)
            ORDER BY r.created_at DESC, r.run_id""")
        if runs.empty:
            return CompareSetup(empty, None, empty, [], [])
        if baseline not in set(runs["run_id"]):
            baseline = default_baseline(runs)
        dataset = runs.loc[runs["run_id"] == baseline, "dataset"].iloc[0]
        others = runs[(runs["dataset"] == dataset) & (runs["run_id"] != baseline)].copy()
        shared = read(f"""
            SELECT y.run_id, count(*) AS n FROM results x
            JOIN results y ON y.pair_id = x.pair_id AND y."repeat" = x."repeat"
            WHERE x.run_id = ? AND y.run_id IN ({", ".join("?" for _ in others["run_id"])})
            GROUP BY 1""", [baseline, *others["run_id"]]) if len(others) else pd.DataFrame(columns=["run_id", "n"])
        counts = dict(zip(shared["run_id"], shared["n"], strict=True))
        others["shared"] = [int(counts.get(i, 0)) for i in others["run_id"]]
        workflows = read("SELECT DISTINCT workflow FROM results WHERE run_id = ? ORDER BY 1", [baseline])
        tags = read("""
            SELECT DISTINCT trim(t) AS tag
            FROM (SELECT unnest(string_split(tags, ';')) AS t FROM cases WHERE run_id = ?)
            WHERE trim(t) <> '' ORDER BY 1""", [baseline])
    return CompareSetup(runs, baseline, others[others["shared"] > 0].reset_index(drop=True),
                        workflows["workflow"].tolist(), tags["tag"].tolist())


# --- similarity: computing and caching -----------------------------------------------------------------


def _compute(store: ArtifactStore, item: Item) -> dict[str, Any]:
    key_a, path_a, key_b, path_b = item
    row: dict[str, Any] = {"output_a": key_a, "output_b": key_b, "ssim": None, "changed_share": None,
                           "psnr": None, "diff_path": None, "problem": None}
    try:
        a, b = load_rgb(store.abspath(path_a)), load_rgb(store.abspath(path_b))
        row.update(similarity(a, b))
        diff = difference_image(a, b)
        diff.thumbnail((DIFF_SIDE, DIFF_SIDE))
        buf = io.BytesIO()
        diff.save(buf, "JPEG", quality=85)  # JPEG: the dashboard sends it to the browser as is
        row["diff_path"] = store.put_bytes(buf.getvalue(), "jpg")[0]
    except (OSError, ValueError, SyntaxError) as exc:  # missing or undecodable output: say so, do not retry
        row["problem"] = f"cannot compare: {type(exc).__name__}: {exc}"[:300]
    return row


def stored_similarities(db: Database, pairs: list[tuple[str, str]]) -> dict[tuple[str, str], dict[str, Any]]:
    """The stored similarity rows of these (key_a, key_b) output pairs (those computed so far)."""
    if not pairs:
        return {}
    with reading(db) as read:
        if not _has_sim_table(read):
            return {}
        df = read("SELECT * FROM pair_similarity WHERE list_contains(?, output_a || '|' || output_b)",
                  [[f"{a}|{b}" for a, b in pairs]])
    df = df.astype(object).where(df.notna(), None)  # NULL is None, not NaN
    return {(r["output_a"], r["output_b"]): r for r in df.to_dict("records")}


def ensure_similarities(db: Database, items: Iterable[Item], workers: int = 4) -> dict[tuple[str, str], dict]:
    """Similarity rows (ssim, changed_share, psnr, diff_path, problem) for the given output pairs,
    keyed by (key_a, key_b): read from the table, the missing ones computed (in threads: Pillow and
    numpy release the GIL) and stored."""
    wanted = {(i[0], i[2]): i for i in items}
    found = stored_similarities(db, list(wanted))
    missing = [item for key, item in wanted.items() if key not in found]
    if missing:
        store = ArtifactStore(db.path)
        with ThreadPoolExecutor(max_workers=max(1, min(workers, len(missing)))) as pool:
            rows = list(pool.map(lambda item: _compute(store, item), missing))
        now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
        batch = pd.DataFrame(rows).assign(computed_at=now)
        with db.connect() as con:
            con.execute(SIM_TABLE)
            con.register("_batch", batch)
            con.execute("INSERT OR REPLACE INTO pair_similarity BY NAME SELECT * FROM _batch")
            con.unregister("_batch")
        found.update({(r["output_a"], r["output_b"]): {**r, "computed_at": now} for r in rows})
    return found


def case_similarity(db: Database, run_a: str, run_b: str, pair_id: str, repeat: int = 1) -> dict[str, Any] | None:
    """How alike two runs' outputs for one case are ({"ssim", "changed_share", "psnr", "diff_path",
    "problem", "identical"}); None when either run has no output for it."""
    df = frame(db, """
        SELECT coalesce(a.output_sha256, a.output_path) AS ka, a.output_path AS pa,
               coalesce(b.output_sha256, b.output_path) AS kb, b.output_path AS pb
        FROM results a JOIN results b ON b.run_id = ? AND b.pair_id = a.pair_id AND b."repeat" = a."repeat"
        WHERE a.run_id = ? AND a.pair_id = ? AND a."repeat" = ?
          AND a.output_path IS NOT NULL AND b.output_path IS NOT NULL""",
               [run_b, run_a, pair_id, int(repeat)])
    if df.empty:
        return None
    ka, pa, kb, pb = df.iloc[0][["ka", "pa", "kb", "pb"]]
    if ka == kb:  # the same file: identical by definition
        return {"ssim": 1.0, "changed_share": 0.0, "psnr": 100.0, "diff_path": None, "problem": None,
                "identical": True}
    row = ensure_similarities(db, [(ka, pa, kb, pb)])[(ka, kb)]
    return {k: row.get(k) for k in ("ssim", "changed_share", "psnr", "diff_path", "problem")} | {"identical": False}


def missing_similarities(db: Database, run_a: str, run_b: str, limit: int | None = None) -> tuple[list[Item], int]:
    """Output pairs of two runs' shared cases not compared yet (distinct, at most `limit`), and how many there are."""
    with reading(db) as read:
        cte = _shared_cte(2, _has_sim_table(read))
        df = read(f"""{cte} SELECT DISTINCT output_key_0, output_path_0, output_key_1, output_path_1
            FROM shared WHERE output_path_0 IS NOT NULL AND output_path_1 IS NOT NULL AND NOT identical
              AND ssim IS NULL AND problem IS NULL ORDER BY 1, 3""", [run_a, run_b])
    items = [tuple(r) for r in df.itertuples(index=False, name=None)]
    return (items[:limit] if limit else items), len(items)


def fill_similarities(db: Database, run_a: str, run_b: str, batch: int = 32,
                      stop: threading.Event | None = None) -> int:
    """Compute every missing similarity of two runs, `batch` at a time (each batch stored before the
    next, so a reader sees progress and a stopped fill keeps its work). Returns how many were computed."""
    done = 0
    while not (stop and stop.is_set()):
        items, _ = missing_similarities(db, run_a, run_b, limit=batch)
        if not items:
            break
        ensure_similarities(db, items)
        done += len(items)
    return done
