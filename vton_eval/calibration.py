"""`vton-eval checks calibrate`: thresholds that match the reviewers' verdicts, with cross-validated agreement.

For each workflow and each check whose verdict is one value against one threshold, the candidate
thresholds are the midpoints between the values seen; the proposal is the one with the best Cohen's kappa
against the verdicts (`vton_eval.analytics.check_agreement`). Its agreement is then estimated honestly by
k-fold cross-validation (the threshold chosen on the other folds, judged on the held-out one).

Hard defects keep their recall: for a check that can fail hard, a threshold that catches fewer of the
cases reviewers failed than the current one is never proposed; when such a threshold would agree better,
the report says so (`recall_kept`) and keeps the best one that loses no recall. A workflow with too few
verdicts (fewer than MIN_CASES decided cases, or only one kind) gets no proposal, and the report says why.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from vton_eval.analytics.check_agreement import check_outcomes, scores
from vton_eval.checks.config import Thresholds
from vton_eval.store.base import Store

MIN_CASES = 8
FOLDS = 5

# check name -> (threshold key, "min" when a value under the threshold fails, "max" when over it fails,
# whether the check can fail hard). Escalating checks are calibrated at their first (flag) limit.
CALIBRATABLE: dict[str, tuple[str, str, bool]] = {
    "preservation.changed_share": ("preservation.max_changed_share", "max", True),
    "preservation.ssim": ("preservation.min_ssim", "min", True),
    "change_in_region": ("change_in_region.min_changed_share", "min", False),
    "identity": ("identity.min_similarity", "min", True),
    "body": ("body.max_shift", "max", True),
    "background": ("background.max_changed_share", "max", True),
    "fidelity.colour": ("fidelity.min_colour", "min", True),
    "fidelity.texture": ("fidelity.min_texture", "min", False),
    "reference.ssim": ("reference.min_ssim", "min", False),
    "reference.psnr": ("reference.min_psnr", "min", False),
}
# An escalating check's hard limit: a proposed flag limit never goes past it.
_HARD_KEY = {"preservation.max_changed_share": "preservation.repaint_share",
             "preservation.min_ssim": "preservation.repaint_ssim",
             "identity.min_similarity": "identity.hard_similarity", "body.max_shift": "body.hard_shift",
             "background.max_changed_share": "background.repaint_share"}


@dataclass
class Proposal:
    workflow: str
    check: str
    key: str
    current: float
    proposed: float | None
    cases: int
    kappa_now: float | None
    kappa_proposed: float | None
    kappa_cv: float | None
    recall_now: float | None
    recall_proposed: float | None
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def _fails(values: np.ndarray, threshold: float, direction: str) -> np.ndarray:
    return values < threshold if direction == "min" else values > threshold


def _score(values: np.ndarray, bad: np.ndarray, threshold: float, direction: str) -> dict[str, Any]:
    says = _fails(values, threshold, direction)
    return scores(int((says & bad).sum()), int((says & ~bad).sum()), int((~says & bad).sum()),
                  int((~says & ~bad).sum()))


def _choose(values: np.ndarray, bad: np.ndarray, direction: str, current: float, keep_recall: bool,
            ceiling: float | None) -> tuple[float, float | None, bool]:
    """The threshold with the best kappa (ties: nearest the current one); with `keep_recall`, never one that
    catches fewer bad cases than `current`. Returns (threshold, its kappa, whether recall held it back)."""
    distinct = np.unique(values)
    candidates = {current, *((distinct[1:] + distinct[:-1]) / 2).tolist(), *(distinct * (1 + 1e-9)).tolist()}
    if ceiling is not None:  # a flag limit stays on its side of the hard limit
        candidates = {c for c in candidates if (c >= ceiling if direction == "min" else c <= ceiling)} | {current}
    now = _score(values, bad, current, direction)
    best, best_kappa, held = current, now["kappa"], False
    unconstrained_kappa = best_kappa
    for c in sorted(candidates, key=lambda c: abs(c - current)):
        result = _score(values, bad, c, direction)
        kappa = result["kappa"]
        if kappa is None:
            continue
        if unconstrained_kappa is None or kappa > unconstrained_kappa + 1e-12:
            unconstrained_kappa = kappa
        if keep_recall and now["recall"] is not None and (result["recall"] or 0.0) < now["recall"] - 1e-12:
            continue
        if best_kappa is None or kappa > best_kappa + 1e-12:
            best, best_kappa = c, kappa
    if unconstrained_kappa is not None and (best_kappa is None or unconstrained_kappa > best_kappa + 1e-12):
        held = True
    return float(best), best_kappa, held


def _cross_validated(values: np.ndarray, bad: np.ndarray, direction: str, current: float, keep_recall: bool,
                     ceiling: float | None) -> float | None:
    n = len(values)
    folds = min(FOLDS, int(bad.sum()), int((~bad).sum()))
    if folds < 2:
        return None
    order = list(range(n))
    random.Random(0).shuffle(order)
    tp = fp = fn = tn = 0
    for k in range(folds):
        test = np.array(order[k::folds])
        train = np.setdiff1d(np.arange(n), test)
        if bad[train].all() or (~bad[train]).all():
            return None
        threshold, _, _ = _choose(values[train], bad[train], direction, current, keep_recall, ceiling)
        says = _fails(values[test], threshold, direction)
        truth = bad[test]
        tp += int((says & truth).sum())
        fp += int((says & ~truth).sum())
        fn += int((~says & truth).sum())
        tn += int((~says & ~truth).sum())
    return scores(tp, fp, fn, tn)["kappa"]


def calibrate(db: Store, run_ids: Sequence[str], thresholds: Thresholds) -> tuple[list[Proposal], dict[str, Any]]:
    """Proposals for every (workflow, check) with enough verdicts, and the overrides they make
    ({workflow: {key: value}}, usable as --check-thresholds)."""
    outcomes = check_outcomes(db, run_ids)
    proposals: list[Proposal] = []
    overrides: dict[str, dict[str, float]] = {}
    if outcomes.empty:
        return proposals, {}
    outcomes = outcomes[outcomes["check"].isin(list(CALIBRATABLE)) & outcomes["value"].notna()]
    for (workflow, check), group in outcomes.groupby(["workflow", "check"], sort=True):
        key, direction, hard = CALIBRATABLE[check]
        try:
            current = thresholds.get(workflow, key)
        except ValueError:
            continue
        values = group["value"].to_numpy(dtype=float)
        bad = group["bad"].to_numpy(dtype=bool)
        now = _score(values, bad, current, direction)
        proposal = Proposal(workflow, check, key, current, None, len(values), now["kappa"], None, None,
                            now["recall"], None)
        proposals.append(proposal)
        if len(values) < MIN_CASES or bad.all() or (~bad).all():
            proposal.notes.append(f"not enough verdicts: {int(bad.sum())} failed and {int((~bad).sum())} passed "
                                  f"cases (at least {MIN_CASES}, both kinds, needed)")
            continue
        ceiling = thresholds.get(workflow, _HARD_KEY[key]) if key in _HARD_KEY else None
        threshold, kappa, held = _choose(values, bad, direction, current, hard, ceiling)
        proposal.proposed, proposal.kappa_proposed = threshold, kappa
        proposal.recall_proposed = _score(values, bad, threshold, direction)["recall"]
        proposal.kappa_cv = _cross_validated(values, bad, direction, current, hard, ceiling)
        if held:
            proposal.notes.append("a threshold that agrees better would catch fewer of the outputs reviewers failed "
                                  "(lower recall on a hard defect): not proposed")
        if abs(threshold - current) > 1e-12:
            overrides.setdefault(workflow, {})[key] = round(threshold, 4)
    return proposals, overrides


def proposals_frame(proposals: list[Proposal]) -> pd.DataFrame:
    return pd.DataFrame([p.to_dict() for p in proposals])
