"""The gate's question to people: in blind picks between the candidate and its baseline, did the candidate lose?

`preference` is a criterion like the others, per workflow and pooled (`overall`): the candidate's share of
the picks between the two runs (a tie counting half), with the arena's interval (`vton_eval.arena.model`:
Bradley-Terry with two systems, bootstrap over cases, and over reviewers when there are enough of them).
Regression when the whole interval of (candidate share - baseline share) lies below -max_preference_loss
(default 0: the baseline is preferred beyond noise). A workflow with fewer than `min_picks` picks is not
judged; fewer than that in all, and the gate cannot judge (unless another criterion regressed).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from vton_eval.analytics import arena as queries
from vton_eval.arena.model import Picks, expected_share, fit
from vton_eval.gate.model import NOT_JUDGED, OVERALL, PASS, PREFERENCE, REGRESSION, Criterion, GateThresholds
from vton_eval.store.base import Store
from vton_eval.store.judgements import canonical
from vton_eval.store.reads import reading


def load_picks(db: Store, candidate: dict, baseline: dict) -> pd.DataFrame:
    """The blind picks between the two runs, each with the candidate's `share` (1, 0 or 0.5)."""
    a, _ = canonical(candidate["run_id"], baseline["run_id"])
    with reading(db) as read:
        picks = queries.picks(read, candidate["dataset"])
    if picks.empty:
        return picks.assign(share=[])
    pair = canonical(candidate["run_id"], baseline["run_id"])
    picks = picks[(picks["run_a"] == pair[0]) & (picks["run_b"] == pair[1])].copy()
    picks["share"] = picks["score"] if a == candidate["run_id"] else 1.0 - picks["score"]
    return picks


def _pct(x: float) -> str:
    return f"{x * 100:.0f} %"


def judge_preference(workflow: str, picks: pd.DataFrame, t: GateThresholds) -> Criterion:
    n = len(picks)
    shares = picks["share"].to_numpy(dtype=float) if n else np.zeros(0)
    wins, losses = int((shares == 1.0).sum()), int((shares == 0.0).sum())
    ties = n - wins - losses
    crit = Criterion(workflow, PREFERENCE, NOT_JUDGED, "", t.max_preference_loss, baseline_count=losses,
                     baseline_n=n, candidate_count=wins, candidate_n=n)
    if n:
        crit.candidate = float(shares.mean())
        crit.baseline = 1.0 - crit.candidate
        crit.change = crit.candidate - crit.baseline
    counts = f"candidate preferred {wins}, baseline {losses}, ties {ties} of {n} blind pick(s)"
    if n < t.min_picks:
        crit.reason = f"{counts}: too few to judge (at least {t.min_picks} are needed, --min-picks)"
        return crit
    cases = {c: i for i, c in enumerate(sorted(set(zip(picks["pair_id"], picks["repeat"].astype(int), strict=True))))}
    reviewers = {r: i for i, r in enumerate(sorted(set(picks["reviewer"])))}
    data = Picks.of(2, np.zeros(n), np.ones(n), shares,
                    [cases[(p, int(r))] for p, r in zip(picks["pair_id"], picks["repeat"], strict=True)],
                    picks["reviewer"].map(reviewers))
    result = fit(data, t.confidence, t.bootstrap_resamples, t.seed)
    _, lo, hi = result.difference(0, 1)
    # On the share scale: the candidate's share s gives a change of 2s - 1.
    lo_change, hi_change = 2.0 * expected_share(lo) - 1.0, 2.0 * expected_share(hi) - 1.0
    crit.interval = (lo_change, hi_change)
    head = (f"{counts}: candidate share {_pct(crit.candidate)} (ties half; {t.confidence * 100:.0f} % CI "
            f"{_pct(expected_share(lo))} to {_pct(expected_share(hi))})")
    if hi_change < -t.max_preference_loss:
        crit.verdict = REGRESSION
        crit.reason = f"{head}: people prefer the baseline beyond noise"
    else:
        crit.verdict = PASS
        crit.reason = f"{head}: the candidate does not lose beyond noise"
    return crit


def preference_criteria(db: Store, candidate: dict, baseline: dict, workflows: list[str],
                        t: GateThresholds) -> dict[str, Criterion]:
    """The preference criterion of each workflow and of `overall`."""
    picks = load_picks(db, candidate, baseline)
    out = {}
    for wf in workflows:
        part = picks[picks["workflow"] == wf] if not picks.empty else picks
        out[wf] = judge_preference(wf, part, t)
    out[OVERALL] = judge_preference(OVERALL, picks, t)
    return out
