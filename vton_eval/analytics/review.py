"""The review grid's queries: one page of a run's cases with filters, progress, and one case in full.

Paging happens in SQL (LIMIT/OFFSET over an ordered query), so a run of thousands of cases
costs the same per page as a run of fifty.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

from vton_eval.store.base import Store
from vton_eval.store.reads import Reader, reading

SORTS = {
    "unreviewed first": "(my_verdict IS NOT NULL), res.pair_id, res.\"repeat\"",
    "flagged first": "(res.error_kind = 'silent_failure') DESC, (coalesce(res.flags, '') <> '') DESC, "
                     "(my_verdict IS NOT NULL), res.pair_id, res.\"repeat\"",
    "errors first": "(res.status = 'error') DESC, (my_verdict IS NOT NULL), res.pair_id, res.\"repeat\"",
    "slowest first": "res.latency_ms DESC NULLS LAST, res.pair_id",
    "pair id": "res.pair_id, res.\"repeat\"",
}
VERDICT_FILTERS = ("unreviewed", "pass", "fail", "unsure")


@dataclass(frozen=True)
class ReviewFilter:
    workflows: tuple[str, ...] = ()
    statuses: tuple[str, ...] = ()
    error_kinds: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    verdicts: tuple[str, ...] = ()  # of the current reviewer; "unreviewed" = none yet
    flagged_only: bool = False

    def sql(self) -> tuple[str, list[Any]]:
        parts, params = ["TRUE"], []
        for column, values in (("res.workflow", self.workflows), ("res.status", self.statuses),
                               ("res.error_kind", self.error_kinds)):
            if values:
                parts.append(f"{column} IN ({', '.join('?' for _ in values)})")
                params += list(values)
        if self.tags:
            marks = ", ".join("?" for _ in self.tags)
            parts.append(f"list_has_any(string_split(coalesce(c.tags, ''), ';'), [{marks}])")
            params += list(self.tags)
        if self.verdicts:
            named = [v for v in self.verdicts if v != "unreviewed"]
            ors = []
            if "unreviewed" in self.verdicts:
                ors.append("my_verdict IS NULL")
            if named:
                ors.append(f"my_verdict IN ({', '.join('?' for _ in named)})")
                params += named
            parts.append("(" + " OR ".join(ors) + ")")
        if self.flagged_only:
            parts.append("(coalesce(res.flags, '') <> '' OR res.error_kind = 'silent_failure')")
        return " AND ".join(parts), params


# The run's rows of a table, read once per connection for all the page's queries: on a shared store every scan of
# a table asks its catalog for the table's files and statistics, whatever it finds, and the page's eight scans
# cost more than its rows.
def _results(read: Reader, run_id: str) -> str:
    return read.kept("""SELECT run_id, pair_id, "repeat", workflow, status, error_kind, error_message, latency_ms,
                             output_path, flags FROM results WHERE run_id = ?""", [run_id])


def _cases(read: Reader, run_id: str) -> str:
    return read.kept("""SELECT run_id, pair_id, base_path, product_path, mask_path, reference_path, tags
                             FROM cases WHERE run_id = ?""", [run_id])


def _reviews(read: Reader, run_id: str) -> str:
    return read.kept('SELECT run_id, pair_id, "repeat", reviewer, verdict, reasons, note FROM reviews WHERE run_id = ?',
                     [run_id])


def _base(read: Reader, run_id: str) -> str:
    results, cases, reviews = _results(read, run_id), _cases(read, run_id), _reviews(read, run_id)
    return f"""
    FROM {results} res
    JOIN {cases} c USING (run_id, pair_id)
    LEFT JOIN (SELECT pair_id, "repeat",
                      max(verdict) FILTER (WHERE reviewer = $reviewer) AS my_verdict,
                      max(reasons) FILTER (WHERE reviewer = $reviewer) AS my_reasons,
                      max(note) FILTER (WHERE reviewer = $reviewer) AS my_note,
                      count(*) AS n_verdicts,
                      string_agg(reviewer || ': ' || verdict, ', ' ORDER BY reviewer) AS all_verdicts,
                      count(DISTINCT verdict) AS distinct_verdicts
               FROM {reviews} WHERE run_id = $run GROUP BY ALL) v USING (pair_id, "repeat")
    WHERE res.run_id = $run
"""


def _named(values: list[Any], sql: str) -> tuple[str, dict[str, Any]]:
    """DuckDB takes either ? or $name parameters, not both; turn the filter's ? into $p0, $p1..."""
    pieces = sql.split("?")
    out, named = pieces[0], {}
    for i, piece in enumerate(pieces[1:]):
        out += f"$p{i}" + piece
        named[f"p{i}"] = values[i]
    return out, named


def case_page(db: Store, run_id: str, reviewer: str, flt: ReviewFilter = ReviewFilter(),
              sort: str = "unreviewed first", page: int = 1, page_size: int = 24,
              pinned: Sequence[tuple[str, int]] | None = None) -> tuple[pd.DataFrame, int]:
    """(the cases of one page, the number of cases matching the filter).

    `pinned`: the (pair_id, repeat) of the cases to show, in this order, instead of the page the sort
    gives now. A page keeps its cards in place while they are judged (a verdict would otherwise move
    a card under the reviewer's pointer, as "unreviewed first" sorts judged cases last)."""
    where, flt_params = flt.sql()
    where, filter_params = _named(flt_params, where)
    base = {"run": run_id, "reviewer": reviewer or ""}
    params = {**base, **filter_params}
    order = SORTS.get(sort, SORTS["unreviewed first"])
    columns = """res.pair_id, res."repeat", res.workflow, res.status, res.error_kind, res.error_message,
               res.latency_ms, res.output_path, res.flags, c.base_path, c.product_path, c.mask_path,
               c.reference_path, c.tags, my_verdict, my_reasons, my_note, coalesce(n_verdicts, 0) AS n_verdicts,
               all_verdicts, distinct_verdicts"""
    with reading(db) as read:
        base_sql = _base(read, run_id)
        if pinned:
            total = read(f"SELECT count(*) AS n {base_sql} AND {where}", params)
            n = int(total.iloc[0]["n"]) if not total.empty else 0
            keys = {f"k{i}": f"{pair}\x1f{int(repeat)}" for i, (pair, repeat) in enumerate(pinned)}
            rows = read(f"""
            SELECT {columns}, list_position([{", ".join("$" + k for k in keys)}],
                                            res.pair_id || chr(31) || res."repeat") AS _pos
            {base_sql} AND _pos IS NOT NULL ORDER BY _pos""", {**base, **keys})  # DuckDB refuses unused parameters
            return rows.drop(columns=["_pos"], errors="ignore"), n
        # The page and the number of matches in one query (the count is taken before LIMIT): one scan each.
        rows = read(f"""
        SELECT {columns}, count(*) OVER () AS _matches
        {base_sql} AND {where}
        ORDER BY {order}
        LIMIT {int(page_size)} OFFSET {max(0, int(page) - 1) * int(page_size)}""", params)
        if not rows.empty:
            return rows.drop(columns=["_matches"]), int(rows.iloc[0]["_matches"])
        if page <= 1:
            return rows.drop(columns=["_matches"]), 0
        total = read(f"SELECT count(*) AS n {base_sql} AND {where}", params)  # a page past the last one
        return rows.drop(columns=["_matches"]), int(total.iloc[0]["n"]) if not total.empty else 0


def progress(db: Store, run_id: str, reviewer: str) -> dict[str, Any]:
    """Cases, how many this reviewer judged (pass, fail, unsure), their pass rate so far (passes among pass and
    fail: unsure cases are left out), and how many cases any reviewer judged."""
    with reading(db) as read:
        return progress_on(read, run_id, reviewer)


def progress_on(read: Reader, run_id: str, reviewer: str) -> dict[str, Any]:
    results, reviews = _results(read, run_id), _reviews(read, run_id)
    df = read(f"""
        SELECT count(*) AS cases,
               count(v.verdict) AS reviewed,
               count(*) FILTER (WHERE v.verdict = 'pass') AS passed,
               count(*) FILTER (WHERE v.verdict = 'fail') AS failed,
               count(*) FILTER (WHERE v.verdict = 'unsure') AS unsure,
               count(*) FILTER (WHERE v.n > 0) AS reviewed_by_anyone
        FROM {results} res
        LEFT JOIN (SELECT pair_id, "repeat", max(verdict) FILTER (WHERE reviewer = $reviewer) AS verdict,
                          count(*) AS n
                   FROM {reviews} WHERE run_id = $run GROUP BY ALL) v USING (pair_id, "repeat")
        WHERE res.run_id = $run""", {"run": run_id, "reviewer": reviewer or ""})
    if df.empty:
        return {"cases": 0, "reviewed": 0, "passed": 0, "failed": 0, "unsure": 0, "reviewed_by_anyone": 0,
                "pass_rate": None}
    row = {k: int(v) for k, v in df.iloc[0].items()}
    # "unsure" is no verdict on quality: the rate is passes among the cases judged pass or fail.
    decided = row["passed"] + row["failed"]
    row["pass_rate"] = row["passed"] / decided if decided else None
    return row


def case_detail(db: Store, run_id: str, pair_id: str, repeat: int) -> dict[str, Any] | None:
    """Everything about one case: inputs, output, outcome, check values and every reviewer's verdict."""
    with reading(db) as read:
        return _detail(read, run_id, pair_id, repeat)


def _detail(read: Any, run_id: str, pair_id: str, repeat: int) -> dict[str, Any] | None:
    rows = read("""
        SELECT res.*, c.base_path, c.product_path, c.mask_path, c.reference_path, c.tags, c.base_source,
               c.product_source
        FROM results res JOIN cases c USING (run_id, pair_id)
        WHERE res.run_id = ? AND res.pair_id = ? AND res."repeat" = ?""", [run_id, pair_id, int(repeat)])
    if rows.empty:
        return None
    detail = rows.iloc[0].to_dict()
    detail["checks_table"] = read("""
        SELECT "check", value, threshold, passed, severity FROM checks
        WHERE run_id = ? AND pair_id = ? AND "repeat" = ? ORDER BY severity, "check" """,
                                   [run_id, pair_id, int(repeat)])
    # Where each check looks (the face, the body, the product region), for a zoom per check; failed first.
    boxes = read.rows("""
        SELECT b."check", b.box FROM check_boxes b JOIN checks c USING (run_id, pair_id, "repeat", "check")
        WHERE b.run_id = ? AND b.pair_id = ? AND b."repeat" = ? ORDER BY c.passed, c.severity, b."check" """,
                      [run_id, pair_id, int(repeat)])
    detail["check_boxes"] = {r["check"]: tuple(json.loads(r["box"])) for r in boxes}
    detail["reviews"] = read("""
        SELECT reviewer, verdict, reasons, note, created_at FROM reviews
        WHERE run_id = ? AND pair_id = ? AND "repeat" = ? ORDER BY created_at""", [run_id, pair_id, int(repeat)])
    return detail


def review_options(db: Store, run_id: str) -> dict[str, list[str]]:
    """Values the filters can take in this run."""
    with reading(db) as read:
        results, cases = _results(read, run_id), _cases(read, run_id)
        row = read.one(f"""
            SELECT (SELECT [list(DISTINCT workflow ORDER BY workflow),
                            list(DISTINCT error_kind ORDER BY error_kind) FILTER (WHERE error_kind IS NOT NULL)]
                    FROM {results} WHERE run_id = $run) AS results,
                   (SELECT list(DISTINCT tag ORDER BY tag) FROM (
                        SELECT trim(unnest(string_split(tags, ';'))) AS tag FROM {cases}
                        WHERE run_id = $run AND coalesce(tags, '') <> '')) AS tags""", {"run": run_id}) or {}
    workflows, error_kinds = row.get("results") or (None, None)
    return {"workflows": [str(v) for v in workflows or ()], "error_kinds": [str(v) for v in error_kinds or ()],
            "tags": [str(v) for v in row.get("tags") or ()]}


def verdicts_with_outcomes(db: Store, run_id: str) -> list[dict[str, Any]]:
    """Every verdict of a run with its case's outcome (what the CSV export holds)."""
    with reading(db) as read:
        return read.rows("""
            SELECT v.run_id, v.pair_id, v."repeat", v.workflow, v.reviewer, v.identity, v.verdict, v.reasons, v.note,
                   v.created_at, r.status, r.error_kind, r.latency_ms, r.flags, s.decision AS settled_verdict,
                   s.settled_by
            FROM reviews v LEFT JOIN results r USING (run_id, pair_id, "repeat")
            LEFT JOIN settlements s ON s.kind = 'verdict' AND s.run_a = v.run_id AND s.pair_id = v.pair_id
                 AND s."repeat" = v."repeat"
            WHERE v.run_id = ? ORDER BY v.pair_id, v."repeat", v.reviewer""", [run_id])


def multi_judged(read: Reader, run_id: str) -> tuple[int, list[list[str]]]:
    """(how many reviewers judged the run, the verdicts of each case judged by two or more)."""
    reviews = _reviews(read, run_id)
    row = read.one(f"""
        WITH v AS MATERIALIZED (SELECT pair_id, "repeat", reviewer, verdict FROM {reviews} WHERE run_id = ?)
        SELECT (SELECT count(DISTINCT reviewer) FROM v) AS reviewers,
               (SELECT list(verdicts) FROM (SELECT list(verdict) AS verdicts FROM v GROUP BY pair_id, "repeat"
                                            HAVING count(*) >= 2)) AS cases""", [run_id]) or {}
    return int(row.get("reviewers") or 0), [list(v) for v in row.get("cases") or ()]
