"""Where reviewers disagree, a lead settles: the queue of such cases, the lead's ruling, the overlap target.

A ruling is the final answer on one case (a verdict on a run's case, or which of two runs' outputs is
better on a case), stored with who gave it (`settlements`, `vton_eval.store.judgements`); the reviewers'
own judgements stay as they were (agreement is measured on them). Settling and setting the overlap
target are a lead's acts: the operator role, checked and written to the audit trail
(`vton_eval.access`) in the same transaction as the ruling.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from vton_eval import access
from vton_eval.access import Action, Actor
from vton_eval.agreement import PICK_VALUES, pick_answers
from vton_eval.analytics import agreement as queries
from vton_eval.analytics import arena as arena_queries
from vton_eval.clock import utcnow
from vton_eval.errors import InvalidValue
from vton_eval.provenance import tool_version
from vton_eval.reviews import VERDICTS
from vton_eval.store import judgements
from vton_eval.store.base import Store, Writer
from vton_eval.store.judgements import canonical
from vton_eval.store.reads import reading

TIE = "tie"
MAX_NOTE = 2000
MAX_OVERLAP = 20
QUEUE_COLUMNS = ["kind", "run_a", "run_b", "pair_id", "repeat", "workflow", "answers", "strong", "reviewers",
                 "decision", "settled_by", "settled_at"]


def _answers(group: pd.DataFrame, column: str, names: dict[str, str] | None = None) -> str:
    return " · ".join(f"{r}: {names.get(v, v) if names else v}" for r, v in zip(group["reviewer"], group[column],
                                                                              strict=True))


def queue_of(verdicts: pd.DataFrame, picks: pd.DataFrame, settled: pd.DataFrame,
             include_settled: bool = False) -> pd.DataFrame:
    """Cases where reviewers disagree: verdicts (`kind` 'verdict', run in run_a) and picks ('pick'). `strong`:
    pass against fail, or opposite picks (not only an unsure or a tie against an answer). Strong ones first."""
    rows: list[dict[str, Any]] = []
    if not verdicts.empty:
        for (run_id, pair_id, repeat), g in verdicts.groupby(["run_id", "pair_id", "repeat"], sort=True):
            answers = set(g["verdict"])
            if len(answers) >= 2:
                rows.append({"kind": "verdict", "run_a": run_id, "run_b": "", "pair_id": pair_id, "repeat": int(repeat),
                             "workflow": g["workflow"].iloc[0], "answers": _answers(g, "verdict"),
                             "strong": {"pass", "fail"} <= answers, "reviewers": len(g)})
    if not picks.empty:
        for (a, b, pair_id, repeat), g in pick_answers(picks).groupby(["run_a", "run_b", "pair_id", "repeat"],
                                                                       sort=True):
            answers = set(g["answer"])
            if len(answers) >= 2:
                names = {PICK_VALUES[0]: a, PICK_VALUES[1]: TIE, PICK_VALUES[2]: b}
                rows.append({"kind": "pick", "run_a": a, "run_b": b, "pair_id": pair_id, "repeat": int(repeat),
                             "workflow": g["workflow"].iloc[0], "answers": _answers(g, "answer", names),
                             "strong": {PICK_VALUES[0], PICK_VALUES[2]} <= answers, "reviewers": len(g)})
    queue = pd.DataFrame(rows, columns=QUEUE_COLUMNS[:-3])
    keys = ["kind", "run_a", "run_b", "pair_id", "repeat"]
    if not settled.empty:
        done = settled[[*keys, "decision", "settled_by", "settled_at"]].copy()
        done["repeat"] = done["repeat"].astype(int)
        queue = queue.merge(done, on=keys, how="left")
    else:
        queue = queue.assign(decision=None, settled_by=None, settled_at=None)
    queue = queue.astype(object).where(queue.notna(), None)
    if not include_settled:
        queue = queue[queue["decision"].isna()]
    return queue.sort_values(["strong", "reviewers", "kind", "run_a", "run_b", "pair_id", "repeat"],
                             ascending=[False, False, True, True, True, True, True]).reset_index(drop=True)


def disagreements(db: Store, dataset: str, include_settled: bool = False) -> pd.DataFrame:
    """`dataset`'s cases where reviewers disagree that no lead has ruled on (all of them: `include_settled`)."""
    with reading(db) as read:
        verdicts = queries.verdicts(read, dataset)
        picks = arena_queries.picks(read, dataset)
        settled = queries.settlements(read, dataset)
    return queue_of(verdicts, picks, settled, include_settled)


def _save(db: Store, actor: Actor, row: dict[str, Any], subject: str, detail: dict[str, Any]) -> dict[str, Any]:
    def save(w: Writer) -> dict[str, Any]:
        workflow = judgements.case_workflow(w, row["run_a"], row["pair_id"])
        if workflow is None:
            raise InvalidValue(f"run {row['run_a']} has no case {row['pair_id']}")
        saved = {**row, "workflow": workflow, "settled_by": actor.name, "identity": actor.identity,
                 "settled_at": utcnow(), "tool_version": tool_version()}
        judgements.save_settlement(w, saved)
        access.record(w, actor, Action.SETTLE.value, row["run_a"], subject, detail)
        return saved

    return db.write(save)


def settle_verdict(db: Store, run_id: str, pair_id: str, repeat: int, actor: Actor, verdict: str,
                   note: str = "") -> dict[str, Any]:
    """The lead's final verdict on a run's case. AccessDenied below the operator role."""
    subject = f"{pair_id}#{int(repeat)}"
    access.permit(db, actor, Action.SETTLE, run_id, subject)
    if verdict not in VERDICTS:
        raise InvalidValue(f"verdict must be one of {', '.join(VERDICTS)} (got {verdict!r})")
    row = {"kind": "verdict", "run_a": run_id, "run_b": "", "pair_id": pair_id, "repeat": int(repeat),
           "decision": verdict, "note": (note or "").strip()[:MAX_NOTE]}
    return _save(db, actor, row, subject, {"kind": "verdict", "decision": verdict})


def settle_pick(db: Store, run_x: str, run_y: str, pair_id: str, repeat: int, actor: Actor, decision: str,
                note: str = "") -> dict[str, Any]:
    """The lead's final word on which of two runs' outputs is better on a case (a run id, or 'tie')."""
    a, b = canonical(run_x, run_y)
    subject = f"{pair_id}#{int(repeat)}"
    access.permit(db, actor, Action.SETTLE, a, subject)
    if a == b or decision not in (a, b, TIE):
        raise InvalidValue("the decision must be one of the two runs, or 'tie'")
    row = {"kind": "pick", "run_a": a, "run_b": b, "pair_id": pair_id, "repeat": int(repeat), "decision": decision,
           "note": (note or "").strip()[:MAX_NOTE]}
    return _save(db, actor, row, subject, {"kind": "pick", "run_b": b, "decision": decision})


def set_overlap_target(db: Store, dataset: str, k: int, actor: Actor) -> None:
    """How many reviewers should judge each case of `dataset` (the blind view offers cases below it first)."""
    access.permit(db, actor, Action.TARGET, None, dataset)
    if not 1 <= int(k) <= MAX_OVERLAP:
        raise InvalidValue(f"the overlap target is between 1 and {MAX_OVERLAP} reviewers per case (got {k})")

    def save(w: Writer) -> None:
        judgements.save_overlap_target(w, {"dataset": dataset, "k": int(k), "set_by": actor.name,
                                           "identity": actor.identity, "set_at": utcnow()})
        access.record(w, actor, Action.TARGET.value, None, dataset, {"k": int(k)})

    db.write(save)


def overlap_target(db: Store, dataset: str) -> int:
    """The dataset's overlap target (1 when no lead set one)."""
    with reading(db) as read:
        target = arena_queries.overlap_target(read, dataset)
    return int(target["k"]) if target else 1
