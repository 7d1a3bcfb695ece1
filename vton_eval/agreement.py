"""Do reviewers agree? Krippendorff's alpha and plain agreement for verdicts and for blind picks, per run
and per reviewer, and the queue of cases where they disagree, for a lead to settle.

- A *unit* is what several people judged: a verdict unit is (run, case); a pick unit is (two runs, case).
  Only units judged by two or more reviewers say anything about agreement.
- **Agreement** is the share of pairs of reviewers on the same unit who gave the same answer (for picks:
  the same run preferred, or both a tie).
- **Krippendorff's alpha** (nominal: pass / fail / unsure; for picks: first run / tie / second run), from
  the `krippendorff` package: 1 = perfect agreement, 0 = what chance gives, below 0 = systematic
  disagreement. It handles any number of reviewers per unit and missing judgements. None when it is
  undefined (fewer than two reviewers on any unit, or a single answer given throughout: nothing to tell
  agreement from chance).
- **Per reviewer**, each judgement is paired with every other reviewer's on the same unit; agreement is
  the share of those pairs that match, alpha is computed on them as two coders (this reviewer, the others).
- The **overlap target** k: a dataset's cases should each be judged by k reviewers; `at_target` counts the
  units that are.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field
from typing import Any

import krippendorff
import numpy as np
import pandas as pd

from vton_eval.analytics import agreement as queries
from vton_eval.analytics import arena as arena_queries
from vton_eval.store.base import Store
from vton_eval.store.judgements import VERDICTS
from vton_eval.store.reads import reading

VERDICT_VALUES = VERDICTS
PICK_VALUES = ("first", "tie", "second")  # first = run_a preferred, second = run_b


def alpha(units: list[list[str]], values: tuple[str, ...]) -> float | None:
    """Nominal Krippendorff's alpha of units (each the answers of its reviewers); None when undefined."""
    pairable = [u for u in units if len(u) >= 2]
    if not pairable or len({v for u in pairable for v in u}) < 2:
        return None
    width = max(len(u) for u in pairable)
    code = {v: i for i, v in enumerate(values)}
    data = np.full((width, len(pairable)), np.nan)
    for j, unit in enumerate(pairable):
        for i, v in enumerate(unit):
            data[i, j] = code[v]
    result = krippendorff.alpha(reliability_data=data, level_of_measurement="nominal",
                                value_domain=list(range(len(values))))
    return None if math.isnan(result) else float(result)


def pair_agreement(units: list[list[str]]) -> tuple[int, int]:
    """(agreeing pairs, pairs) over every two answers within a unit."""
    same = total = 0
    for unit in units:
        for x, y in itertools.combinations(unit, 2):
            total += 1
            same += x == y
    return same, total


def _summary(units: list[list[str]], values: tuple[str, ...], k: int) -> dict[str, Any]:
    same, total = pair_agreement(units)
    return {"units": len(units), "multi": sum(len(u) >= 2 for u in units), "at_target": sum(len(u) >= k for u in units),
            "pairs": total, "agreement": same / total if total else None, "alpha": alpha(units, values)}


def _per_reviewer(frame: pd.DataFrame, unit_cols: list[str], value: str, values: tuple[str, ...]) -> pd.DataFrame:
    rows = []
    groups = [g for _, g in frame.groupby(unit_cols, sort=False) if len(g) >= 2]
    for reviewer in sorted(set(frame["reviewer"])):
        pairs = []
        for g in groups:
            mine = g[g["reviewer"] == reviewer]
            if mine.empty:
                continue
            pairs += [[mine.iloc[0][value], other] for other in g[g["reviewer"] != reviewer][value]]
        same, total = pair_agreement(pairs)
        judged = int((frame["reviewer"] == reviewer).sum())
        rows.append({"reviewer": reviewer, "judged": judged, "shared_pairs": total,
                     "agreement": same / total if total else None, "alpha": alpha(pairs, values)})
    return pd.DataFrame(rows, columns=["reviewer", "judged", "shared_pairs", "agreement", "alpha"])


def pick_answers(picks: pd.DataFrame) -> pd.DataFrame:
    out = picks.copy()
    out["answer"] = [PICK_VALUES[0] if s == 1.0 else PICK_VALUES[2] if s == 0.0 else PICK_VALUES[1]
                     for s in out["score"]]
    return out


@dataclass
class Agreement:
    """Agreement over one dataset: verdicts per run and per reviewer, picks per run and per reviewer."""

    dataset: str
    overlap: int
    verdict_runs: pd.DataFrame = field(default_factory=pd.DataFrame)
    verdict_reviewers: pd.DataFrame = field(default_factory=pd.DataFrame)
    verdicts_overall: dict[str, Any] = field(default_factory=dict)
    pick_runs: pd.DataFrame = field(default_factory=pd.DataFrame)
    pick_reviewers: pd.DataFrame = field(default_factory=pd.DataFrame)
    picks_overall: dict[str, Any] = field(default_factory=dict)


def verdict_units(verdicts: pd.DataFrame) -> list[list[str]]:
    return [list(g["verdict"]) for _, g in verdicts.groupby(["run_id", "pair_id", "repeat"], sort=True)]


def pick_units(picks: pd.DataFrame) -> list[list[str]]:
    return [list(g["answer"]) for _, g in pick_answers(picks).groupby(["run_a", "run_b", "pair_id", "repeat"],
                                                                      sort=True)]


def agreement_of(verdicts: pd.DataFrame, picks: pd.DataFrame, dataset: str, overlap: int) -> Agreement:
    out = Agreement(dataset, overlap)
    run_rows = []
    for run_id, part in verdicts.groupby("run_id", sort=True) if not verdicts.empty else []:
        run_rows.append({"run_id": run_id, "label": part["label"].iloc[0], "reviewers": part["reviewer"].nunique(),
                         **_summary(verdict_units(part), VERDICT_VALUES, overlap)})
    out.verdict_runs = pd.DataFrame(run_rows)
    out.verdicts_overall = _summary(verdict_units(verdicts) if not verdicts.empty else [], VERDICT_VALUES, overlap)
    if not verdicts.empty:
        out.verdict_reviewers = _per_reviewer(verdicts, ["run_id", "pair_id", "repeat"], "verdict", VERDICT_VALUES)
    if not picks.empty:
        answered = pick_answers(picks)
        rows = []
        for run_id in sorted(set(answered["run_a"]) | set(answered["run_b"])):
            part = answered[(answered["run_a"] == run_id) | (answered["run_b"] == run_id)]
            rows.append({"run_id": run_id, "reviewers": part["reviewer"].nunique(),
                         **_summary(pick_units(part), PICK_VALUES, overlap)})
        out.pick_runs = pd.DataFrame(rows)
        out.pick_reviewers = _per_reviewer(answered, ["run_a", "run_b", "pair_id", "repeat"], "answer", PICK_VALUES)
    out.picks_overall = _summary(pick_units(picks) if not picks.empty else [], PICK_VALUES, overlap)
    return out


def overlap_of(read: Any, dataset: str) -> int:
    target = arena_queries.overlap_target(read, dataset)
    return int(target["k"]) if target else 1


def agreement(db: Store, dataset: str) -> Agreement:
    """Agreement between the reviewers of `dataset`'s suite runs (verdicts and blind picks)."""
    with reading(db) as read:
        verdicts = queries.verdicts(read, dataset)
        picks = arena_queries.picks(read, dataset)
        k = overlap_of(read, dataset)
    return agreement_of(verdicts, picks, dataset, k)
