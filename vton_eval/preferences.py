"""Blind A/B preferences between two runs' outputs, and win rates with confidence intervals.

Storage: the `preferences` table (see store/schema.py), one row per (pair of runs, case, reviewer).

- The two runs are stored in a canonical order (run_a < run_b), whichever one a page called the
  baseline, so a reviewer has one judgement per case for a pair of runs and a later pick replaces
  the earlier one (a replace-by-key write, `vton_eval.store.judgements`).
- `choice` is what the reviewer clicked, 'left' | 'right' | 'tie', and `left_run` the run shown on
  the left. The winner is derived from the two; keeping the raw side lets position bias be measured
  (`left_share` in `win_rates`).
- The left/right order is a hash of (runs, case, reviewer): random across cases yet the same on every
  rerun and in every process (sha256, since Python's hash() is salted per process).

Win rate: the candidate's share of the decisive picks (ties excluded), with a 95% Wilson score
interval, which stays inside [0, 1] and keeps its coverage at small n and at 0 or n wins, where the
normal approximation does not. Ties are reported as their own count: counting them as half a win
would pull a tie-heavy comparison towards 50% with an interval that looks more certain than it is.
Several reviewers judging one case count as several judgements (not independent: with many
reviewers per case the interval is optimistic).
"""

from __future__ import annotations

import csv
import hashlib
import io
from collections.abc import Sequence
from typing import Any

import pandas as pd

from vton_eval import access
from vton_eval.access import Action, Actor
from vton_eval.analytics import arena as arena_queries
from vton_eval.analytics import blind
from vton_eval.arena.board import Board
from vton_eval.arena.schedule import Choice, next_pair
from vton_eval.clock import utcnow
from vton_eval.errors import InvalidValue
from vton_eval.provenance import tool_version
from vton_eval.store import judgements
from vton_eval.store.base import Store, Writer
from vton_eval.store.judgements import canonical
from vton_eval.store.reads import reading
from vton_eval.textsafe import spreadsheet_cell

CHOICES = ("left", "right", "tie")  # what is stored: the side clicked (the winner follows from left_run)
MAX_REVIEWER = 80  # as on the Review page, which shares the session's reviewer name


def clean_reviewer(name: str | None) -> str:
    """A reviewer name as stored: trimmed (as the Review page stores it); ValueError when empty or too long."""
    cleaned = (name or "").strip()
    if not cleaned:
        raise InvalidValue("enter your name: it is stored with each pick")
    if len(cleaned) > MAX_REVIEWER:
        raise InvalidValue(f"a reviewer name has at most {MAX_REVIEWER} characters")
    return cleaned


def left_run_for(run_x: str, run_y: str, pair_id: str, repeat: int, reviewer: str) -> str:
    """Which of the two runs a reviewer sees on the left for a case (stable, about half each way)."""
    a, b = canonical(run_x, run_y)
    digest = hashlib.sha256("\x00".join((a, b, pair_id, str(int(repeat)), reviewer)).encode()).digest()
    return a if digest[0] & 1 else b


def record_preference(db: Store, baseline: str, candidate: str, pair_id: str, repeat: int, workflow: str,
                      actor: Actor, choice: str, left_run: str) -> None:
    """Store `actor`'s pick at once; their earlier pick for the case (either run order) is replaced, nobody
    else's. Raises AccessDenied for a viewer."""
    subject = f"{pair_id}#{int(repeat)}"
    a, b = canonical(baseline, candidate)
    access.permit(db, actor, Action.PICK, a, subject)
    if choice not in CHOICES:
        raise InvalidValue(f"choice must be one of {', '.join(CHOICES)}, got {choice!r}")
    if left_run not in (baseline, candidate) or baseline == candidate:
        raise InvalidValue("left_run must be one of two different runs")
    pick = {"run_a": a, "run_b": b, "pair_id": pair_id, "repeat": int(repeat), "workflow": workflow,
            "reviewer": actor.name, "choice": choice, "left_run": left_run, "created_at": utcnow(),
            "tool_version": tool_version(), "identity": actor.identity}

    def save(w: Writer) -> bool:
        if not access.owns(judgements.preference_identity(w, a, b, pair_id, repeat, pick["reviewer"]), actor):
            return False
        judgements.save_preference(w, pick)
        access.record(w, actor, "pick", a, subject, {"run_b": b, "choice": choice, "left_run": left_run})
        return True

    if not db.write(save):
        raise access.refuse(db, actor, Action.PICK, f"the pick on {subject} under the name {actor.name} was made by "
                            "another signed-in person: only they can change it", a, subject)


def blind_state(db: Store, baseline: str, candidate: str, reviewer: str, workflows: Sequence[str] = (),
                case: tuple[str, int] | None = None,
                overlap: int | None = None) -> tuple[dict[str, Any] | None, pd.DataFrame, dict[str, int]]:
    """What the blind view shows, read on one connection: the next case this reviewer has not judged (or
    the given (pair_id, repeat)), the win rates so far, and the counts.

    Cases are the shared ones where both runs have an output image and the two files differ (a
    byte-identical pair has nothing to prefer: counted apart as `identical`), in an order shuffled
    per reviewer. The case has pair_id, repeat, workflow, base/product/mask paths, left_run,
    left_output, right_output, choice (this reviewer's earlier pick, or None), judged and total; it
    is None when nothing is left.
    """
    a, b = canonical(baseline, candidate)
    with reading(db) as read:
        k = overlap if overlap is not None else _overlap(read, baseline)
        counts = blind.counts(read, baseline, candidate, a, b, reviewer, workflows)
        row = blind.next_case(read, baseline, candidate, a, b, reviewer, workflows, case, k)
        rates = blind.win_rates_on(read, baseline, candidate)
    return _shown(row, baseline, candidate, reviewer, case), rates, counts


def _overlap(read: Any, run_id: str) -> int:
    dataset = read.scalar("SELECT dataset FROM runs WHERE run_id = ?", [run_id])
    target = arena_queries.overlap_target(read, dataset) if dataset else None
    return int(target["k"]) if target else 1


def arena_state(db: Store, run_ids: Sequence[str], reviewer: str, board: Board,
                workflows: Sequence[str] = ()) -> tuple[dict[str, Any] | None, Choice | None, int]:
    """The arena's next comparison for `reviewer` among `run_ids` (runs of one dataset): the case to show, the
    pair chosen and why (`vton_eval.arena.schedule`), and how many comparisons are left for this reviewer.

    `board` is the dataset's current leaderboard (the caller may cache it between picks). The case is as
    `blind_state` gives it, with `baseline` / `candidate` set to the chosen pair (run_a, run_b). None when
    this reviewer has judged every case of every pair."""
    with reading(db) as read:
        k = _overlap(read, run_ids[0]) if run_ids else 1
        left = arena_queries.open_cases(read, run_ids, reviewer, workflows, k)
        open_cases = {(r["run_a"], r["run_b"]): int(r["open"]) for r in left.to_dict("records")}
        judged = arena_queries.judged_pairs(read, run_ids)
        choice = next_pair(board, open_cases, judged)
        if choice is None:
            return None, None, 0
        row = blind.next_case(read, choice.run_a, choice.run_b, choice.run_a, choice.run_b, reviewer, workflows,
                              None, k)
    shown = _shown(row, choice.run_a, choice.run_b, reviewer, None)
    if shown is not None:
        shown.update(baseline=choice.run_a, candidate=choice.run_b)
    return shown, choice, sum(open_cases.values())


def _shown(row: dict[str, Any] | None, baseline: str, candidate: str, reviewer: str,
           case: tuple[str, int] | None) -> dict[str, Any] | None:
    if row is None or (case is None and row["choice"] is not None):
        return None  # nothing left, or the first in order is judged: all are
    left = left_run_for(baseline, candidate, row["pair_id"], int(row["repeat"]), reviewer)
    outputs = {baseline: row.pop("out_x"), candidate: row.pop("out_y")}
    row.pop("same", None)
    right = candidate if left == baseline else baseline
    row.update(left_run=left, left_output=outputs[left], right_output=outputs[right], repeat=int(row["repeat"]),
               judged=int(row["judged"]), total=int(row["total"]))
    return row


def win_rates(db: Store, baseline: str, candidate: str) -> pd.DataFrame:
    """Per workflow, then '(all)': judgements, candidate_wins, baseline_wins, ties, decisive, win_share
    (candidate's share of decisive picks), ci_low / ci_high (95% Wilson), left_share, reviewers."""
    with reading(db) as read:
        return blind.win_rates_on(read, baseline, candidate)


PICK_EXPORT_COLUMNS = ("run_a", "label_a", "run_b", "label_b", "pair_id", "repeat", "workflow", "reviewer", "identity",
                       "choice", "left_run", "preferred", "created_at", "settled_preferred", "settled_by")


def export_picks_csv(db: Store, dataset: str) -> str:
    """Every blind pick between two suite runs of `dataset`, with who gave it (the name, and the signed-in
    identity `issuer#subject`, empty for a typed name), the run preferred ('tie' for a tie) and a lead's
    ruling on the case if any, as CSV text."""
    from vton_eval.analytics import agreement as agreement_queries

    with reading(db) as read:
        picks = arena_queries.picks(read, dataset)
        runs = arena_queries.runs(read, dataset)
        settled = agreement_queries.settlements(read, dataset)
    labels = dict(zip(runs["run_id"], runs["label"], strict=True)) if not runs.empty else {}
    rulings = {(s["run_a"], s["run_b"], s["pair_id"], int(s["repeat"])): s for s in settled.to_dict("records")
               if s["kind"] == "pick"}
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(PICK_EXPORT_COLUMNS)
    for p in picks.to_dict("records"):
        ruling = rulings.get((p["run_a"], p["run_b"], p["pair_id"], int(p["repeat"])), {})
        row = {**p, "label_a": labels.get(p["run_a"]), "label_b": labels.get(p["run_b"]),
               "preferred": p["winner"] or "tie", "settled_preferred": ruling.get("decision"),
               "settled_by": ruling.get("settled_by")}
        # Labels and reviewers' names are people's text: no cell may start a spreadsheet formula.
        writer.writerow(["" if row[c] is None else spreadsheet_cell(row[c]) for c in PICK_EXPORT_COLUMNS])
    return out.getvalue()
