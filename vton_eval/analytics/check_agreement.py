"""How the automatic checks agree with the reviewers' verdicts, per check.

A case's verdict is its reviewers' majority of pass and fail (unsure left out; a tie leaves the case
out). A check "says fail" when it did not pass (a flag or a hard failure). Per check: the confusion
counts against the verdicts (fail is the positive class), precision, recall, and Cohen's kappa with its
95 % interval (statsmodels' asymptotic one). Two rows judge the checks together: `any hard failure`
(what turns a result into a silent failure) and `any check` (a hard failure or a flag).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pandas as pd

from vton_eval.store.base import Store
from vton_eval.store.reads import reading

ANY_HARD = "any hard failure"
ANY = "any check"

_TRUTH = """
    WITH votes AS (
        SELECT run_id, pair_id, "repeat", sum((verdict = 'fail')::INT) AS fails, sum((verdict = 'pass')::INT) AS passes
        FROM reviews WHERE list_contains(?, run_id) GROUP BY run_id, pair_id, "repeat"
    )
    SELECT run_id, pair_id, "repeat", fails > passes AS bad FROM votes WHERE fails <> passes
"""


def check_outcomes(db: Store, run_ids: Sequence[str]) -> pd.DataFrame:
    """One row per (case, check) of cases with a verdict: workflow, check, value, threshold, passed, severity,
    bad (the reviewers' verdict is fail); plus the two combined rows per case (value NULL)."""
    ids = list(run_ids)
    sql = f"""
        WITH truth AS ({_TRUTH})
        SELECT c.run_id, c.pair_id, c."repeat", c.workflow, c."check", c.value, c.threshold, c.passed, c.severity,
               t.bad
        FROM checks c JOIN truth t USING (run_id, pair_id, "repeat")
        UNION ALL
        SELECT c.run_id, c.pair_id, c."repeat", any_value(c.workflow), '{ANY_HARD}', NULL, NULL,
               NOT bool_or(NOT c.passed AND c.severity = 'hard'), 'hard', any_value(t.bad)
        FROM checks c JOIN truth t USING (run_id, pair_id, "repeat") GROUP BY c.run_id, c.pair_id, c."repeat"
        UNION ALL
        SELECT c.run_id, c.pair_id, c."repeat", any_value(c.workflow), '{ANY}', NULL, NULL, bool_and(c.passed),
               'any', any_value(t.bad)
        FROM checks c JOIN truth t USING (run_id, pair_id, "repeat") GROUP BY c.run_id, c.pair_id, c."repeat"
    """
    if not db.exists():
        return pd.DataFrame()
    with reading(db) as read:
        return read.frame(sql, [ids])


def scores(tp: int, fp: int, fn: int, tn: int) -> dict[str, Any]:
    """Precision, recall and Cohen's kappa (with its 95 % interval) of one confusion table."""
    n = tp + fp + fn + tn
    out: dict[str, Any] = {"cases": n, "tp": tp, "fp": fp, "fn": fn, "tn": tn,
                           "precision": tp / (tp + fp) if tp + fp else None,
                           "recall": tp / (tp + fn) if tp + fn else None,
                           "kappa": None, "kappa_low": None, "kappa_high": None}
    if n == 0:
        return out
    expected = ((tp + fp) * (tp + fn) + (fn + tn) * (fp + tn)) / (n * n)
    if expected >= 1.0:  # everyone said the same: agreement is total but kappa is undefined
        return out
    import numpy as np
    from statsmodels.stats.inter_rater import cohens_kappa

    with np.errstate(invalid="ignore", divide="ignore"):  # perfect agreement: a zero variance, no interval width
        result = cohens_kappa([[tn, fp], [fn, tp]])
    low, high = float(result.kappa_low), float(result.kappa_upp)
    kappa = float(result.kappa)
    out.update(kappa=kappa, kappa_low=kappa if np.isnan(low) else max(-1.0, low),
               kappa_high=kappa if np.isnan(high) else min(1.0, high))
    return out


def agreement_table(outcomes: pd.DataFrame) -> pd.DataFrame:
    """Per check (the combined rows first): counts, precision, recall, kappa and its interval."""
    columns = ["check", "cases", "tp", "fp", "fn", "tn", "precision", "recall", "kappa", "kappa_low", "kappa_high"]
    if outcomes.empty:
        return pd.DataFrame(columns=columns)
    rows = []
    for name, group in outcomes.groupby("check", sort=False):
        says_fail = ~group["passed"].astype(bool)
        bad = group["bad"].astype(bool)
        rows.append({"check": name, **scores(int((says_fail & bad).sum()), int((says_fail & ~bad).sum()),
                                             int((~says_fail & bad).sum()), int((~says_fail & ~bad).sum()))})
    table = pd.DataFrame(rows, columns=columns)
    order = {ANY_HARD: 0, ANY: 1}
    return table.sort_values(by="check", key=lambda s: s.map(lambda c: (order.get(c, 2), c))).reset_index(drop=True)


def agreement(db: Store, run_ids: Sequence[str]) -> pd.DataFrame:
    """The agreement table of these runs' checks with their verdicts (empty without verdicts)."""
    return agreement_table(check_outcomes(db, run_ids))
