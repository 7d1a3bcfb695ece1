"""Verdicts from reviewers: one per case and reviewer, saved at once, exported, compared across reviewers.

A later verdict by the same reviewer on the same case replaces the earlier one (the primary key
is run, pair, repeat, reviewer); verdicts from different reviewers stand side by side.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from typing import Any

from vton_eval import workflows
from vton_eval.errors import VtonEvalError
from vton_eval.provenance import tool_version
from vton_eval.store.db import Database, NoDatabase
from vton_eval.store.runs import utcnow

VERDICTS: tuple[str, ...] = ("pass", "fail", "unsure")
MAX_NOTE = 2000


class ReviewError(VtonEvalError, ValueError):
    """A verdict that cannot be saved as given (unknown verdict, reason, case, empty name)."""


def save_verdict(db: Database, run_id: str, pair_id: str, repeat: int, reviewer: str, verdict: str,
                 reasons: Sequence[str] = (), note: str = "") -> dict[str, Any]:
    """Store a reviewer's verdict on a case now, replacing their earlier one. Returns the saved row."""
    reviewer = (reviewer or "").strip()
    if not reviewer:
        raise ReviewError("a verdict needs the reviewer's name")
    if verdict not in VERDICTS:
        raise ReviewError(f"verdict must be one of {', '.join(VERDICTS)} (got {verdict!r})")
    with db.connect() as con:
        row = con.execute("SELECT workflow FROM cases WHERE run_id = ? AND pair_id = ?", [run_id, pair_id]).fetchone()
        if row is None:
            raise ReviewError(f"run {run_id} has no case {pair_id}")
        workflow = row[0]
        allowed = workflows.reasons_for(workflow)
        unknown = [r for r in reasons if r not in allowed]
        if unknown:
            raise ReviewError(f"unknown reason(s) for {workflow}: {', '.join(unknown)}")
        saved = {"run_id": run_id, "pair_id": pair_id, "workflow": workflow, "repeat": int(repeat),
                 "reviewer": reviewer, "verdict": verdict, "reasons": ";".join(reasons),
                 "note": (note or "").strip()[:MAX_NOTE], "created_at": utcnow(), "tool_version": tool_version()}
        con.execute(
            'INSERT OR REPLACE INTO reviews (run_id, pair_id, workflow, "repeat", reviewer, verdict, reasons, note, '
            "created_at, tool_version) VALUES ($run_id, $pair_id, $workflow, $repeat, $reviewer, $verdict, $reasons, "
            "$note, $created_at, $tool_version)", saved)
    return saved


def clear_verdict(db: Database, run_id: str, pair_id: str, repeat: int, reviewer: str) -> None:
    with db.connect() as con:
        con.execute('DELETE FROM reviews WHERE run_id = ? AND pair_id = ? AND "repeat" = ? AND reviewer = ?',
                    [run_id, pair_id, int(repeat), reviewer])


def verdicts(db: Database, run_id: str, pair_id: str | None = None, repeat: int | None = None) -> list[dict]:
    sql = 'SELECT * FROM reviews WHERE run_id = ?'
    params: list[Any] = [run_id]
    if pair_id is not None:
        sql += ' AND pair_id = ? AND "repeat" = ?'
        params += [pair_id, int(repeat or 1)]
    try:
        with db.connect(read_only=True) as con:
            cur = con.execute(sql + " ORDER BY pair_id, \"repeat\", reviewer", params)
            cols = [d[0] for d in cur.description]
            return [dict(zip(cols, r, strict=True)) for r in cur.fetchall()]
    except NoDatabase:
        return []


EXPORT_COLUMNS = ("run_id", "pair_id", "repeat", "workflow", "reviewer", "verdict", "reasons", "note", "created_at",
                  "status", "error_kind", "latency_ms", "flags")


def export_csv(db: Database, run_id: str) -> str:
    """Every verdict of a run with the case's outcome, as CSV text (reasons ';'-separated)."""
    with db.connect(read_only=True) as con:
        rows = con.execute("""
            SELECT v.run_id, v.pair_id, v."repeat", v.workflow, v.reviewer, v.verdict, v.reasons, v.note,
                   v.created_at, r.status, r.error_kind, r.latency_ms, r.flags
            FROM reviews v LEFT JOIN results r USING (run_id, pair_id, "repeat")
            WHERE v.run_id = ? ORDER BY v.pair_id, v."repeat", v.reviewer""", [run_id]).fetchall()
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(EXPORT_COLUMNS)
    writer.writerows(rows)
    return out.getvalue()


def agreement(db: Database, run_id: str) -> dict[str, Any]:
    """How far reviewers agree on the cases two or more of them judged.

    `agreement` is the share of such cases where every verdict is the same; `kappa` is Fleiss'
    kappa over those cases (agreement beyond chance: 1 = perfect, 0 = chance level), None when
    it cannot be computed.
    """
    from vton_eval.analytics.filters import reading

    with reading(db) as read:
        return agreement_from(read, run_id)


def agreement_from(read: Any, run_id: str) -> dict[str, Any]:
    """`agreement` on an open reader (see `vton_eval.analytics.filters.reading`)."""
    rows = read("""SELECT pair_id, "repeat", list(verdict) AS verdicts FROM reviews WHERE run_id = ?
                   GROUP BY ALL HAVING count(*) >= 2""", [run_id])
    who = read("SELECT count(DISTINCT reviewer) AS n FROM reviews WHERE run_id = ?", [run_id])
    reviewers = int(who.iloc[0]["n"]) if not who.empty else 0
    cases = [list(v) for v in rows["verdicts"]] if not rows.empty else []
    if not cases:
        return {"reviewers": reviewers, "cases": 0, "agreement": None, "kappa": None}
    same = sum(1 for v in cases if len(set(v)) == 1)
    return {"reviewers": reviewers, "cases": len(cases), "agreement": same / len(cases), "kappa": fleiss_kappa(cases)}


def fleiss_kappa(cases: Sequence[Sequence[str]]) -> float | None:
    """Fleiss' kappa for cases rated by two or more raters (the number may vary per case)."""
    per_case, totals, n_ratings = [], {v: 0 for v in VERDICTS}, 0
    for ratings in cases:
        n = len(ratings)
        counts = {v: ratings.count(v) for v in VERDICTS}
        per_case.append(sum(c * (c - 1) for c in counts.values()) / (n * (n - 1)))
        for v, c in counts.items():
            totals[v] += c
        n_ratings += n
    p_bar = sum(per_case) / len(per_case)
    p_e = sum((t / n_ratings) ** 2 for t in totals.values())
    if p_e >= 1.0:
        return None if p_bar < 1.0 else 1.0
    return (p_bar - p_e) / (1.0 - p_e)
