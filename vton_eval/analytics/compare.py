"""Comparing runs case by case: shared cases side by side, outcome and latency changes, output similarity.

Runs "share" a case when each has a result for the same (pair_id, repeat). Functions take the
baseline first and up to three other runs; everything is counted, ordered and paged in SQL on narrow
rows, and only the page's rows are read in full, so a page of a 10,000-case comparison costs a few
small queries on one connection.

Output similarity (SSIM and a difference image per case) is cached in `pair_similarity`: read here, computed
and stored by `vton_eval.similarity_cache`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

from vton_eval.analytics.baselines import blessed_on
from vton_eval.analytics.blind import win_rates_on
from vton_eval.analytics.overview import with_liveness
from vton_eval.store.base import Store
from vton_eval.store.reads import Reader, reading

MAX_RUNS = 4
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




@dataclass(frozen=True)
class Sources:
    """Where the compared runs' results and the baseline's cases are read from: the store's tables, or
    copies of just those rows kept for a view's several queries (`_kept`)."""

    results: str = "results"
    cases: str = "cases"
    similarity: str = "pair_similarity"


def _kept(read: Reader, run_ids: Sequence[str]) -> Sources:
    """The compared runs' rows, read once from the store for all of a view's queries (`Reader.kept`: on a shared
    store each scan of a table costs a round of catalog queries, so a view's dozen scans cost more than its rows;
    a file reads them in place)."""
    marks = ", ".join("?" for _ in run_ids)
    results = read.kept(f"""SELECT run_id, pair_id, "repeat", workflow, status, error_kind, latency_ms, output_path,
                                   output_sha256, error_message FROM results WHERE run_id IN ({marks})""",
                        list(run_ids))
    cases = read.kept("SELECT run_id, pair_id, tags, base_path, product_path, mask_path FROM cases WHERE run_id = ?",
                      [run_ids[0]])
    similarity = read.kept(f"""SELECT output_a, output_b, ssim, changed_share, psnr, diff_path, problem
                               FROM pair_similarity WHERE output_a IN (
                                   SELECT coalesce(output_sha256, output_path) FROM {results} WHERE run_id = ?)""",
                           [run_ids[0]])
    return Sources(results, cases, similarity)


def _shared(run_ids: Sequence[str], sim: bool, detail: bool = False, tags: bool = False,
            pairs: Sequence[str] = (), src: Sources = Sources()) -> tuple[str, list[Any]]:
    """`WITH ... shared AS (...)`, one row per shared case of `run_ids` (baseline first), and its params.

    Narrow by default (what filters, counts and orders need); `detail` adds messages, inputs and the
    difference image for the rows a page shows, `tags` the cases' tags, `pairs` keeps only those pair ids.
    """
    n, two = len(run_ids), len(run_ids) == 2
    only = f" AND pair_id IN ({', '.join('?' for _ in pairs)})" if pairs else ""
    extra = ", error_message" if detail else ""
    ctes = [f'r{i} AS (SELECT pair_id, "repeat", workflow, status, error_kind, latency_ms, output_path, '
            f"coalesce(output_sha256, output_path) AS output_key{extra} FROM {src.results} WHERE run_id = ?{only})"
            for i in range(n)]
    params = [p for run_id in run_ids for p in (run_id, *pairs)]
    columns = ("status", "error_kind", "latency_ms", "output_path", "output_key", *(("error_message",) * detail))
    cols = [f"r{i}.{c} AS {c}_{i}" for i in range(n) for c in columns]
    joins = [f'JOIN r{i} ON r{i}.pair_id = r0.pair_id AND r{i}."repeat" = r0."repeat"' for i in range(1, n)]
    # A run "changed" a case when its outcome (status, and error kind for errors) differs from the baseline's.
    changed = " + ".join(f"(r{i}.status <> r0.status OR coalesce(r{i}.error_kind, '') <> "
                         f"coalesce(r0.error_kind, ''))::INTEGER" for i in range(1, n)) or "0"
    moved = ", ".join(f"abs(r{i}.latency_ms - r0.latency_ms)" for i in range(1, n))
    cols += [f"{changed} AS n_changed", f"greatest({moved}) AS latency_change_ms" if n > 1 else
             "NULL::DOUBLE AS latency_change_ms"]
    if two:
        both = "r0.output_path IS NOT NULL AND r1.output_path IS NOT NULL"
        same = "r0.output_key = r1.output_key"
        pick = "s.{0}" if sim else "NULL"
        sims = (("ssim", "1.0"), ("changed_share", "0.0"), ("psnr", "100.0")) if detail else (("ssim", "1.0"),)
        cols += [f"CASE WHEN NOT ({both}) THEN NULL WHEN {same} THEN {v} ELSE {pick.format(c)} END AS {c}"
                 for c, v in sims]
        cols += [f"CASE WHEN {both} AND NOT ({same}) THEN {pick.format('problem')} END AS problem",
                 f"coalesce({both} AND {same}, FALSE) AS identical"]
        if detail:
            cols.append(f"CASE WHEN {both} AND NOT ({same}) THEN {pick.format('diff_path')} END AS diff_path")
        if sim:
            joins.append(f"LEFT JOIN {src.similarity} s ON s.output_a = r0.output_key AND s.output_b = r1.output_key")
    if detail or tags:
        cols += ["c.tags"] + (["c.base_path", "c.product_path", "c.mask_path"] if detail else [])
        joins.append(f"LEFT JOIN (SELECT * FROM {src.cases} WHERE run_id = ?{only}) c ON c.pair_id = r0.pair_id")
        params += [run_ids[0], *pairs]
    sql = f"""WITH {", ".join(ctes)}, shared AS (
        SELECT r0.pair_id, r0."repeat", r0.workflow, {", ".join(cols)} FROM r0 {" ".join(joins)})"""
    return sql, params


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


def _page(read: Reader, run_ids: Sequence[str], flt: CaseFilter, sort: str, page: int, page_size: int,
          src: Sources = Sources()) -> ComparePage:
    _check_runs(run_ids)
    where, params = _where(flt)
    two = len(run_ids) == 2
    sim = True  # the similarity cache always exists (schema migration 2)
    # Count and order on narrow rows, then read the page's few rows in full: 10,000 wide rows
    # (messages, paths) sorted to keep 12 cost more than the rest of the page.
    cte, cte_params = _shared(run_ids, sim, tags=bool(flt.tag), src=src)
    both = "output_path_0 IS NOT NULL AND output_path_1 IS NOT NULL" if two else "FALSE"
    counts = read(f"""{cte} SELECT count(*) AS total, count(*) FILTER (WHERE {both}) AS n_both,
                      count(*) FILTER (WHERE {both} AND {"ssim IS NOT NULL" if two else "FALSE"}) AS n_known
                      FROM shared WHERE {where}""", [*cte_params, *params])
    if counts.empty:  # no database
        return ComparePage(0, pd.DataFrame(), 0, 0)
    total, n_both, n_known = (int(counts.iloc[0][c]) for c in ("total", "n_both", "n_known"))
    # Similarity ranks only once it is known for every case: ranking on a partial set would move the
    # rows a page computes up the list, so the same page would show other rows on the next rerun.
    by_sim = "ssim ASC NULLS LAST, " if two and n_known == n_both else ""
    order = {"pair": 'pair_id, "repeat"',
             "most_changed": f'n_changed DESC, {by_sim}latency_change_ms DESC NULLS LAST, pair_id, "repeat"'}[sort]
    keys = read(f'{cte} SELECT pair_id, "repeat" FROM shared WHERE {where} ORDER BY {order} LIMIT ? OFFSET ?',
                [*cte_params, *params, int(page_size), max(0, (int(page) - 1) * int(page_size))])
    if keys.empty:
        return ComparePage(total, keys, n_both, n_known)
    wanted = list(zip(keys["pair_id"], keys["repeat"], strict=True))
    cte, cte_params = _shared(run_ids, sim, detail=True, pairs=sorted({p for p, _ in wanted}), src=src)
    rows = read(f"{cte} SELECT * FROM shared", cte_params).set_index(["pair_id", "repeat"], drop=False)
    return ComparePage(total, rows.loc[wanted].reset_index(drop=True), n_both, n_known)


def shared_page(db: Store, run_ids: Sequence[str], flt: CaseFilter = CaseFilter(), sort: str = "pair",
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


def _summary(read: Reader, baseline: str, candidate: str, flt: CaseFilter, src: Sources = Sources()) -> TwoRunSummary:
    where, params = _where(CaseFilter(flt.workflows, flt.tag))
    cte, cte_params = _shared([baseline, candidate], sim=False, tags=bool(flt.tag), src=src)
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
        ORDER BY workflow IS NULL, workflow""", [*cte_params, *params])
    kinds = read(f"""{cte}, sides AS (
            SELECT error_kind_0 AS error_kind, 0 AS side FROM shared WHERE status_0 = 'error' AND {where}
            UNION ALL SELECT error_kind_1, 1 FROM shared WHERE status_1 = 'error' AND {where})
        SELECT coalesce(error_kind, '(none)') AS error_kind, count(*) FILTER (WHERE side = 0) AS baseline,
               count(*) FILTER (WHERE side = 1) AS candidate
        FROM sides GROUP BY 1 ORDER BY candidate - baseline DESC, error_kind""",
                 [*cte_params, *params, *params])
    keys = ["shared", "ok_to_ok", "ok_to_error", "error_to_ok", "error_to_error", "kind_changed"]
    if stats.empty:  # no database
        return TwoRunSummary(dict.fromkeys(keys, 0), pd.DataFrame(), pd.DataFrame())
    transitions = {k: int(stats.iloc[-1][k]) for k in keys}
    latency = stats.drop(columns=keys) if transitions["shared"] else stats.drop(columns=keys).iloc[0:0]
    kinds["change"] = kinds["candidate"] - kinds["baseline"]
    kinds["new"] = kinds["baseline"] == 0
    for p in ("p50", "p95"):
        latency[f"{p}_change_ms"] = latency[f"{p}_candidate_ms"] - latency[f"{p}_baseline_ms"]
    return TwoRunSummary(transitions, kinds, latency)


@dataclass
class CompareView:
    page: ComparePage
    summary: TwoRunSummary | None  # two runs only
    win_rates: pd.DataFrame | None  # two runs only: preferences.win_rates


def compare_view(db: Store, run_ids: Sequence[str], flt: CaseFilter = CaseFilter(), sort: str = "pair",
                 page: int = 1, page_size: int = 12) -> CompareView:
    """All a side-by-side view shows, read on one connection."""
    _check_runs(run_ids)
    with reading(db) as read:
        src = _kept(read, run_ids)
        shown = _page(read, run_ids, flt, sort, page, page_size, src)
        if len(run_ids) != 2 or shown.total == 0:
            return CompareView(shown, None, None)
        return CompareView(shown, _summary(read, run_ids[0], run_ids[1], flt, src), win_rates_on(read, *run_ids))


# The cases a run shares with the baseline are counted for the newest runs of its dataset only: a count is a join
# with each run's results, so counting them all would make the page's cost grow with the dataset's history.
# Older runs are offered all the same, uncounted (`shared` missing).
SHARED_COUNTED = 50


@dataclass
class CompareSetup:
    runs: pd.DataFrame  # suite runs with results, newest first: run_id, label, dataset, endpoint, profile, status,
    # created_at, message, total_cases, done (single-pair tries are never compared; runs of one dataset on different
    # services compare like runs of one service)
    baseline: str | None  # the one asked for if it exists, else a default
    others: pd.DataFrame  # runs over the baseline's dataset, newest first, with `shared` (cases in common; missing:
    # an older run, not counted, see SHARED_COUNTED)
    workflows: list[str]  # of the baseline's results
    tags: list[str]  # of the baseline's cases
    blessed: tuple[str, ...] = ()  # runs blessed as a baseline (of their dataset and endpoint)


def default_baseline(runs: pd.DataFrame, blessed: Callable[[str, str], str | None] | None = None) -> str | None:
    """What the latest (finished first) run is compared with: the blessed baseline of its dataset when there is
    one (what the team ships), else the run before it over the same dataset ("what did the latest change")."""
    if runs.empty:
        return None
    ordered = pd.concat([runs[runs["status"] == "finished"], runs[runs["status"] != "finished"]])
    latest = ordered.iloc[0]
    chosen = blessed(latest["dataset"], latest["endpoint"]) if blessed is not None else None
    if chosen in set(runs["run_id"]) and chosen != latest["run_id"]:
        return str(chosen)
    for row in ordered.itertuples():
        older = runs[(runs["dataset"] == row.dataset) & (runs["created_at"] < row.created_at)]
        if not older.empty:
            return str(older.iloc[0]["run_id"])
    return str(ordered.iloc[0]["run_id"])


def compare_setup(db: Store, baseline: str | None = None) -> CompareSetup:
    """What the run pickers and filters offer, read on one connection."""
    empty = pd.DataFrame(columns=["run_id", "label", "dataset", "endpoint", "profile", "status", "created_at",
                                  "message", "total_cases", "done", "shared"])
    with reading(db) as read:
        runs = read("""
            SELECT r.run_id, r.label, r.dataset, r.endpoint, r.profile, r.status, r.created_at, r.message,
                   r.total_cases, r.pid, r.host, c.done
            FROM runs r JOIN (SELECT run_id, sum(cases) AS done FROM run_summary GROUP BY 1) c USING (run_id)
            WHERE r.kind = 'suite' ORDER BY r.created_at DESC, r.run_id""")
        runs = with_liveness(runs)
        if runs.empty:
            return CompareSetup(empty, None, empty, [], [])
        if baseline not in set(runs["run_id"]):
            baseline = default_baseline(runs, lambda dataset, endpoint: blessed_on(read, dataset, endpoint))
        dataset = runs.loc[runs["run_id"] == baseline, "dataset"].iloc[0]
        others = runs[(runs["dataset"] == dataset) & (runs["run_id"] != baseline)].copy()
        counted = others["run_id"].tolist()[:SHARED_COUNTED]
        shared = read(f"""
            SELECT y.run_id, count(*) AS n FROM results x
            JOIN results y ON y.pair_id = x.pair_id AND y."repeat" = x."repeat"
            WHERE x.run_id = ? AND y.run_id IN ({", ".join("?" for _ in counted)})
            GROUP BY 1""", [baseline, *counted]) if counted else pd.DataFrame(columns=["run_id", "n"])
        counts = dict(zip(shared["run_id"], shared["n"], strict=True))
        others["shared"] = [int(counts.get(i, 0)) if i in counts or k < SHARED_COUNTED else None
                            for k, i in enumerate(others["run_id"])]
        workflows = read("SELECT DISTINCT workflow FROM results WHERE run_id = ? ORDER BY 1", [baseline])
        tags = read("""
            SELECT DISTINCT trim(t) AS tag
            FROM (SELECT unnest(string_split(tags, ';')) AS t FROM cases WHERE run_id = ?)
            WHERE trim(t) <> '' ORDER BY 1""", [baseline])
        blessed = read.rows("SELECT DISTINCT run_id FROM baselines")
    sharing = [bool(pd.isna(n) or n > 0) for n in others["shared"]]
    return CompareSetup(runs, baseline, others[sharing].reset_index(drop=True),
                        workflows["workflow"].tolist(), tags["tag"].tolist(), tuple(r["run_id"] for r in blessed))


def missing_similarities(db: Store, run_a: str, run_b: str, limit: int | None = None) -> tuple[list[Item], int]:
    """Output pairs of two runs' shared cases not compared yet (distinct, at most `limit`), and how many there are."""
    with reading(db) as read:
        cte, params = _shared([run_a, run_b], True)
        df = read(f"""{cte} SELECT DISTINCT output_key_0, output_path_0, output_key_1, output_path_1
            FROM shared WHERE output_path_0 IS NOT NULL AND output_path_1 IS NOT NULL AND NOT identical
              AND ssim IS NULL AND problem IS NULL ORDER BY 1, 3""", params)
    items = [tuple(r) for r in df.itertuples(index=False, name=None)]
    return (items[:limit] if limit else items), len(items)


def stored_similarities(db: Store, pairs: list[tuple[str, str]]) -> dict[tuple[str, str], dict[str, Any]]:
    """The stored similarity rows of these (key_a, key_b) output pairs (those computed so far)."""
    if not pairs:
        return {}
    with reading(db) as read:
        df = read("SELECT * FROM pair_similarity WHERE list_contains(?, output_a || '|' || output_b)",
                  [[f"{a}|{b}" for a, b in pairs]])
    df = df.astype(object).where(df.notna(), None)  # NULL is None, not NaN
    return {(r["output_a"], r["output_b"]): r for r in df.to_dict("records")}
