"""Verdicts from reviewers: one per case and reviewer, saved at once, exported, compared across reviewers.

A later verdict by the same reviewer on the same case replaces the earlier one (the primary key
is run, pair, repeat, reviewer); verdicts from different reviewers stand side by side. The reviewer
is the acting `Actor` (the signed-in person; `vton_eval.access`), never a name passed in: nobody
writes, replaces or clears another person's verdict. Each verdict given or cleared is in the audit trail.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from typing import Any

from vton_eval import access, workflows
from vton_eval.access import Action, Actor
from vton_eval.agreement import alpha
from vton_eval.analytics import review as review_queries
from vton_eval.clock import utcnow
from vton_eval.errors import VtonEvalError
from vton_eval.provenance import tool_version
from vton_eval.store import judgements
from vton_eval.store.base import Store, Writer
from vton_eval.store.judgements import VERDICTS
from vton_eval.store.reads import Reader, reading
from vton_eval.textsafe import spreadsheet_cell

MAX_NOTE = 2000


class ReviewError(VtonEvalError, ValueError):
    """A verdict that cannot be saved as given (unknown verdict, reason, case, empty name)."""


def _not_yours(db: Store, actor: Actor, run_id: str, subject: str) -> access.AccessDenied:
    return access.refuse(db, actor, Action.VERDICT, f"the verdict on {subject} under the name {actor.name} was given "
                         "by another signed-in person: only they can change it", run_id, subject)


def save_verdict(db: Store, run_id: str, pair_id: str, repeat: int, actor: Actor, verdict: str,
                 reasons: Sequence[str] = (), note: str = "") -> dict[str, Any]:
    """Store `actor`'s verdict on a case now, replacing their earlier one. Returns the saved row.
    Raises ReviewError for a verdict that cannot be saved, AccessDenied for a viewer."""
    subject = f"{pair_id}#{int(repeat)}"
    access.permit(db, actor, Action.VERDICT, run_id, subject)
    if verdict not in VERDICTS:
        raise ReviewError(f"verdict must be one of {', '.join(VERDICTS)} (got {verdict!r})")

    def save(w: Writer) -> dict[str, Any] | None:
        workflow = judgements.case_workflow(w, run_id, pair_id)
        if workflow is None:
            raise ReviewError(f"run {run_id} has no case {pair_id}")
        allowed = workflows.reasons_for(workflow)
        unknown = [r for r in reasons if r not in allowed]
        if unknown:
            raise ReviewError(f"unknown reason(s) for {workflow}: {', '.join(unknown)}")
        if not access.owns(judgements.verdict_identity(w, run_id, pair_id, repeat, actor.name), actor):
            return None
        saved = {"run_id": run_id, "pair_id": pair_id, "workflow": workflow, "repeat": int(repeat),
                 "reviewer": actor.name, "verdict": verdict, "reasons": ";".join(reasons),
                 "note": (note or "").strip()[:MAX_NOTE], "created_at": utcnow(), "tool_version": tool_version(),
                 "identity": actor.identity}
        judgements.save_verdict(w, saved)
        access.record(w, actor, "verdict", run_id, subject, {"verdict": verdict, "reasons": saved["reasons"]})
        return saved

    saved = db.write(save)
    if saved is None:
        raise _not_yours(db, actor, run_id, subject)
    return saved


def clear_verdict(db: Store, run_id: str, pair_id: str, repeat: int, actor: Actor) -> None:
    """Take back `actor`'s own verdict on a case (nobody else's)."""
    subject = f"{pair_id}#{int(repeat)}"
    access.permit(db, actor, Action.VERDICT, run_id, subject)

    def clear(w: Writer) -> bool:
        held = judgements.verdict_identity(w, run_id, pair_id, repeat, actor.name)
        if not access.owns(held, actor):
            return False
        if held:
            judgements.clear_verdict(w, run_id, pair_id, repeat, actor.name)
            access.record(w, actor, access.VERDICT_CLEARED, run_id, subject)
        return True

    if not db.write(clear):
        raise _not_yours(db, actor, run_id, subject)


EXPORT_COLUMNS = ("run_id", "pair_id", "repeat", "workflow", "reviewer", "identity", "verdict", "reasons", "note",
                  "created_at", "status", "error_kind", "latency_ms", "flags", "settled_verdict", "settled_by")


def export_csv(db: Store, run_id: str) -> str:
    """Every verdict of a run with who gave it (the name, and the signed-in identity `issuer#subject`, empty
    for a typed name), the case's outcome and a lead's ruling on the case if any, as CSV text (reasons
    ';'-separated)."""
    rows = review_queries.verdicts_with_outcomes(db, run_id)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(EXPORT_COLUMNS)
    # Reviewers' notes, pair ids and messages are other people's text: no cell may start a formula.
    writer.writerows([[spreadsheet_cell(row[c]) for c in EXPORT_COLUMNS] for row in rows])
    return out.getvalue()


def agreement(db: Store, run_id: str) -> dict[str, Any]:
    """How far reviewers agree on the cases two or more of them judged.

    `agreement` is the share of such cases where every verdict is the same; `kappa` is Fleiss'
    kappa over those cases and `alpha` Krippendorff's alpha (agreement beyond chance: 1 = perfect,
    0 = chance level; `vton_eval.agreement`), None when they cannot be computed.
    """
    with reading(db) as read:
        return agreement_from(read, run_id)


def agreement_from(read: Reader, run_id: str) -> dict[str, Any]:
    """`agreement` on an open reader (see `vton_eval.store.reads.reading`)."""
    reviewers, cases = review_queries.multi_judged(read, run_id)
    if not cases:
        return {"reviewers": reviewers, "cases": 0, "agreement": None, "kappa": None, "alpha": None}
    same = sum(1 for v in cases if len(set(v)) == 1)
    return {"reviewers": reviewers, "cases": len(cases), "agreement": same / len(cases), "kappa": fleiss_kappa(cases),
            "alpha": alpha(cases, VERDICTS)}


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


def review_status(db: Store, run_id: str, reviewer: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """(progress, reviewer agreement) on one connection: what the top of the Review page shows."""
    with reading(db) as read:
        return review_queries.progress_on(read, run_id, reviewer), agreement_from(read, run_id)
