"""Writing what people judge: reviewers' verdicts on cases, blind A/B picks between two runs, and a lead's
rulings where reviewers disagree (settlements) with the overlap target per dataset.

One verdict per (run, case, repeat, reviewer) and one pick per (pair of runs, case, repeat,
reviewer): a later one replaces the earlier one, so these are replace-by-key writes.
"""

from __future__ import annotations

from typing import Any

from vton_eval.store.base import Writer

VERDICTS: tuple[str, ...] = ("pass", "fail", "unsure")  # a reviewer's verdict on a case
REVIEW_COLUMNS = ("run_id", "pair_id", "workflow", "repeat", "reviewer", "verdict", "reasons", "note", "created_at",
                  "tool_version", "identity")
REVIEW_KEY = ("run_id", "pair_id", "repeat", "reviewer")
PREFERENCE_COLUMNS = ("run_a", "run_b", "pair_id", "repeat", "workflow", "reviewer", "choice", "left_run", "created_at",
                      "tool_version", "identity")
PREFERENCE_KEY = ("run_a", "run_b", "pair_id", "repeat", "reviewer")


def canonical(run_x: str, run_y: str) -> tuple[str, str]:
    """The (run_a, run_b) order the preferences table stores a pair of runs in, whichever was the baseline."""
    return (run_x, run_y) if run_x <= run_y else (run_y, run_x)


def case_workflow(w: Writer, run_id: str, pair_id: str) -> str | None:
    """The workflow of a planned case, read in the write's own transaction (None: no such case)."""
    return w.scalar("SELECT workflow FROM cases WHERE run_id = ? AND pair_id = ?", [run_id, pair_id])


def verdict_identity(w: Writer, run_id: str, pair_id: str, repeat: int, reviewer: str) -> list[dict[str, Any]]:
    """The identity behind the verdict this key holds ([] when none): whose it is to replace or clear."""
    return w.rows('SELECT identity FROM reviews WHERE run_id = ? AND pair_id = ? AND "repeat" = ? AND reviewer = ?',
                  [run_id, pair_id, int(repeat), reviewer])


def preference_identity(w: Writer, run_a: str, run_b: str, pair_id: str, repeat: int,
                        reviewer: str) -> list[dict[str, Any]]:
    return w.rows('SELECT identity FROM preferences WHERE run_a = ? AND run_b = ? AND pair_id = ? AND "repeat" = ? '
                  "AND reviewer = ?", [run_a, run_b, pair_id, int(repeat), reviewer])


def save_verdict(w: Writer, verdict: dict[str, Any]) -> None:
    w.replace("reviews", REVIEW_COLUMNS, tuple(verdict[c] for c in REVIEW_COLUMNS), REVIEW_KEY)


def clear_verdict(w: Writer, run_id: str, pair_id: str, repeat: int, reviewer: str) -> None:
    w.execute('DELETE FROM reviews WHERE run_id = ? AND pair_id = ? AND "repeat" = ? AND reviewer = ?',
              [run_id, pair_id, int(repeat), reviewer])


def save_preference(w: Writer, pick: dict[str, Any]) -> None:
    w.replace("preferences", PREFERENCE_COLUMNS, tuple(pick[c] for c in PREFERENCE_COLUMNS), PREFERENCE_KEY)


SETTLEMENT_COLUMNS = ("kind", "run_a", "run_b", "pair_id", "repeat", "workflow", "decision", "note", "settled_by",
                      "identity", "settled_at", "tool_version")
SETTLEMENT_KEY = ("kind", "run_a", "run_b", "pair_id", "repeat")
TARGET_COLUMNS = ("dataset", "k", "set_by", "identity", "set_at")


def save_settlement(w: Writer, settlement: dict[str, Any]) -> None:
    """A lead's ruling on a case; a later ruling on the same case replaces it."""
    w.replace("settlements", SETTLEMENT_COLUMNS, tuple(settlement[c] for c in SETTLEMENT_COLUMNS), SETTLEMENT_KEY)


def save_overlap_target(w: Writer, target: dict[str, Any]) -> None:
    w.replace("overlap_targets", TARGET_COLUMNS, tuple(target[c] for c in TARGET_COLUMNS), ("dataset",))
