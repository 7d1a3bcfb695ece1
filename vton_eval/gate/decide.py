"""`gate()`: compare a candidate run with a baseline per workflow and decide pass / regression.

Rules (the guide's Release pipelines page, docs/release-pipelines.md, states them for users):

- error rate = errors (any kind, silent_failure included) / shared cases. Regression when the
  lower end of the 95 % Newcombe interval of (candidate - baseline) is above the allowed increase.
- flag rate = shared cases ok with a non-empty `flags` / shared cases; same rule. Judged only when
  both runs recorded automatic checks. (A silent failure's flags are not counted: it is an error.)
- p95 latency of ok calls: regression when the relative increase is above the allowed one AND the
  lower end of the 95 % bootstrap interval of the p95 ratio is above 1 + allowed. Judged only with
  at least `min_ok_calls` ok calls in each run.
- new error kinds (in the candidate, absent from the baseline) are a warning listed in the
  reports; they fail the gate only through the error-rate rule, so one new timeout in a small suite
  is reported without failing the build.
- cannot judge (exit 2): a run is missing or not finished, no blessed baseline, different
  datasets, the same run twice, or fewer than `min_cases` shared cases.
"""

from __future__ import annotations

import numpy as np

from vton_eval.analytics.baselines import blessed_run
from vton_eval.gate.load import Comparison, Counts, load_comparison
from vton_eval.gate.model import (
    CANNOT_JUDGE,
    ERROR_RATE,
    FLAG_RATE,
    NOT_JUDGED,
    OVERALL,
    P95_LATENCY,
    PASS,
    PREFERENCE,
    REGRESSION,
    Criterion,
    GateError,
    GateResult,
    GateThresholds,
    WorkflowComparison,
)
from vton_eval.stats import bootstrap_quantile_ratio, newcombe_difference, percentile
from vton_eval.store.base import DatabaseBusy, NoDatabase, Store
from vton_eval.store.runs import get_run, latest_run, resolve_run_id


def _pp(x: float) -> str:
    return f"{x * 100:+.1f} pp"


def _pct(x: float) -> str:
    return f"{x * 100:+.0f} %"


def judge_rate(
    workflow: str, name: str, k_cand: int, k_base: int, n: int, threshold: float, t: GateThresholds,
    unavailable: str | None = None,
) -> Criterion:
    """A proportion criterion (error_rate, flag_rate) on n shared cases."""
    crit = Criterion(workflow, name, NOT_JUDGED, "", threshold, baseline_count=k_base, baseline_n=n,
                     candidate_count=k_cand, candidate_n=n)
    if n:
        crit.baseline, crit.candidate = k_base / n, k_cand / n
        crit.change = crit.candidate - crit.baseline  # shown even when not judged; no interval then
    if unavailable:
        crit.change = None
        crit.reason = unavailable
        return crit
    if n < t.min_cases:
        crit.reason = f"only {n} case(s) in common; at least {t.min_cases} are needed to judge"
        return crit
    d, lo, hi = newcombe_difference(k_cand, n, k_base, n, t.confidence)
    crit.change, crit.interval = d, (lo, hi)
    conf = f"{t.confidence * 100:.0f} % CI {_pp(lo)} to {_pp(hi)}"
    label = name.replace("_", " ")
    if lo > threshold:
        crit.verdict = REGRESSION
        crit.reason = (f"{label} {k_base}/{n} -> {k_cand}/{n} ({_pp(d)}, {conf}): "
                       f"above the allowed {_pp(threshold)} with confidence")
    else:
        crit.verdict = PASS
        why = "within noise: the interval reaches below" if d > threshold else "not above"
        crit.reason = f"{label} {k_base}/{n} -> {k_cand}/{n} ({_pp(d)}, {conf}): {why} the allowed {_pp(threshold)}"
    return crit


def judge_p95(workflow: str, cand: np.ndarray, base: np.ndarray, t: GateThresholds) -> Criterion:
    """The p95 latency of ok calls, relative change, with a seeded bootstrap interval."""
    thr = t.max_p95_increase
    crit = Criterion(workflow, P95_LATENCY, NOT_JUDGED, "", thr, baseline_n=len(base), candidate_n=len(cand))
    if len(base):
        crit.baseline = percentile(base, 0.95)
    if len(cand):
        crit.candidate = percentile(cand, 0.95)
    if crit.baseline and crit.candidate is not None:
        crit.change = crit.candidate / crit.baseline - 1.0
    if len(base) < t.min_ok_calls or len(cand) < t.min_ok_calls:
        crit.reason = (f"too few ok calls to estimate a p95: baseline {len(base)}, candidate {len(cand)} "
                       f"(at least {t.min_ok_calls} each are needed)")
        return crit
    if not crit.baseline or crit.baseline <= 0:
        crit.reason = "the baseline p95 is 0 ms: a relative change means nothing"
        return crit
    ratio, lo, hi = bootstrap_quantile_ratio(cand, base, 0.95, t.confidence, t.bootstrap_resamples, t.seed)
    crit.change, crit.interval = ratio - 1.0, (lo - 1.0, hi - 1.0)
    head = (f"p95 {crit.baseline:.0f} -> {crit.candidate:.0f} ms ({_pct(ratio - 1)}, "
            f"{t.confidence * 100:.0f} % CI {_pct(lo - 1)} to {_pct(hi - 1)})")
    if ratio - 1.0 > thr and lo - 1.0 > thr:
        crit.verdict = REGRESSION
        crit.reason = f"{head}: above the allowed {_pct(thr)} beyond noise"
    else:
        crit.verdict = PASS
        why = "within noise: the interval reaches below" if ratio - 1.0 > thr else "not above"
        crit.reason = f"{head}: {why} the allowed {_pct(thr)}"
    return crit


def _compare_workflow(workflow: str, counts: Counts, data: Comparison, t: GateThresholds) -> WorkflowComparison:
    n = counts.cases
    flags_off = None
    if not data.candidate_checked and not data.baseline_checked:
        flags_off = "no automatic checks were recorded in either run"
    elif not data.baseline_checked:
        flags_off = "the baseline recorded no automatic checks (its flag rate is unknown)"
    elif not data.candidate_checked:
        flags_off = "the candidate recorded no automatic checks (its flag rate is unknown)"
    criteria = [
        judge_rate(workflow, ERROR_RATE, counts.c_errors, counts.b_errors, n, t.max_error_rate_increase, t),
        judge_p95(workflow, data.latencies["candidate"].get(workflow, np.empty(0)),
                  data.latencies["baseline"].get(workflow, np.empty(0)), t),
        judge_rate(workflow, FLAG_RATE, counts.c_flagged, counts.b_flagged, n, t.max_flag_rate_increase, t,
                   unavailable=flags_off),
    ]
    cand_kinds = data.kinds.get("candidate", {}).get(workflow, {})
    base_kinds = data.kinds.get("baseline", {}).get(workflow, {})
    new = {k: v for k, v in sorted(cand_kinds.items()) if k not in base_kinds}
    if new:
        err = criteria[0]
        err.reason += "; new error kind(s): " + ", ".join(f"{k} ({v})" for k, v in new.items())
    return WorkflowComparison(workflow, n, criteria, new)


def _resolve_candidate(db: Store, candidate: str) -> dict:
    if candidate == "latest":
        latest = latest_run(db)
        if latest is None:
            raise GateError(f"no finished suite run in {db.location} to gate ('latest' leaves out single-pair tries "
                            "and runs that failed or were stopped)")
        return get_run(db, latest) or {}
    full = resolve_run_id(db, candidate)
    run = get_run(db, full) if full else None
    if run is None:
        raise GateError(f"no candidate run matches {candidate!r} in {db.location}")
    return run


def _resolve_baseline(db: Store, baseline: str, cand: dict, result: GateResult) -> dict:
    if baseline == "blessed":
        base_id = blessed_run(db, cand["dataset"], cand["endpoint"])
        if base_id is None:
            raise GateError(f"no blessed baseline for dataset {cand['dataset']!r}: bless a good run first "
                            "(vton-eval bless RUN_ID) or pass --baseline RUN_ID")
    else:
        base_id = resolve_run_id(db, baseline)
        if base_id is None:
            raise GateError(f"no baseline run matches {baseline!r} in {db.location}")
    run = get_run(db, base_id)
    if run is None:
        raise GateError(f"the baseline run {base_id} is not in {db.location} (blessed, then deleted?)")
    if result.baseline_source == "blessed" and run["endpoint"] != cand["endpoint"]:
        result.warnings.append(f"no baseline blessed for endpoint {cand['endpoint']}: using the latest blessing of "
                               f"dataset {cand['dataset']}, run {base_id} on {run['endpoint']}")
    return run


def _check_runs(cand: dict, base: dict) -> None:
    for role, run in (("candidate", cand), ("baseline", base)):
        if run["status"] == "running":
            raise GateError(f"the {role} run {run['run_id']} is still running ({run['done']} of "
                            f"{run['total_cases']} cases recorded)")
        if run["status"] != "finished":
            raise GateError(f"the {role} run {run['run_id']} is {run['status']} ({run['done']} of "
                            f"{run['total_cases']} cases recorded): resume it (vton-eval resume {run['run_id']})")
    if cand["run_id"] == base["run_id"]:
        raise GateError(f"the candidate and the baseline are the same run ({cand['run_id']})")
    if cand["dataset"] != base["dataset"]:
        raise GateError(f"the runs are over different datasets: candidate {cand['dataset']!r}, "
                        f"baseline {base['dataset']!r}")


def _coverage_warnings(data: Comparison, result: GateResult) -> None:
    if data.baseline_results > result.shared_cases:
        result.warnings.append(f"compared on {result.shared_cases} shared cases: the baseline has "
                               f"{data.baseline_results} and the candidate {data.candidate_results}")
    for wf, (c, b) in sorted(data.run_workflows.items()):
        if wf not in data.counts:
            result.warnings.append(f"workflow {wf}: no case in common (candidate {c}, baseline {b}): not compared")


def gate(
    db: Store, candidate: str, baseline: str = "blessed", thresholds: GateThresholds | None = None
) -> GateResult:
    """Compare run `candidate` ('latest' or an id/prefix) with `baseline` ('blessed' or an id/prefix).

    Never raises for a situation a pipeline can meet (missing run, busy database...): those return
    a cannot_judge result (exit code 2) whose `reasons` say why.
    """
    t = (thresholds or GateThresholds()).validate()
    result = GateResult(verdict=CANNOT_JUDGE, reasons=[], thresholds=t,
                        baseline_source="blessed" if baseline == "blessed" else "explicit")
    try:
        result.candidate = _resolve_candidate(db, candidate)
        result.baseline = _resolve_baseline(db, baseline, result.candidate, result)
        _check_runs(result.candidate, result.baseline)
        data = load_comparison(db, result.candidate["run_id"], result.baseline["run_id"])
    except (GateError, NoDatabase, DatabaseBusy) as exc:
        result.reasons.append(str(exc))
        return result
    overall = data.counts.get(OVERALL)
    result.shared_cases = overall.cases if overall else 0
    result.candidate_cases, result.baseline_cases = data.candidate_results, data.baseline_results
    _coverage_warnings(data, result)
    if result.shared_cases < t.min_cases:
        result.reasons.append(f"only {result.shared_cases} case(s) in common between the runs; at least "
                              f"{t.min_cases} are needed (--min-cases)")
        return result
    for wf in [*data.workflows, OVERALL]:
        result.workflows.append(_compare_workflow(wf, data.counts[wf], data, t))
    if t.preference:
        from vton_eval.gate.preference import preference_criteria  # numpy-heavy; only when asked

        asked = preference_criteria(db, result.candidate, result.baseline, list(data.workflows), t)
        for w in result.workflows:
            w.criteria.append(asked[w.workflow])
    for w in result.workflows:
        if w.new_error_kinds and w.workflow != OVERALL:
            kinds = ", ".join(f"{k} ({v})" for k, v in w.new_error_kinds.items())
            result.warnings.append(f"workflow {w.workflow}: new error kind(s) in the candidate: {kinds}")
    regressions = result.regressions
    result.verdict = REGRESSION if regressions else PASS
    result.reasons = [f"{c.workflow} {c.name}: {c.reason}" for c in regressions]
    overall = result.workflows[-1].criterion(PREFERENCE)
    if not regressions and overall is not None and overall.verdict == NOT_JUDGED:
        result.verdict = CANNOT_JUDGE  # people were asked and have not said enough yet
        result.reasons = [f"preference: {overall.reason}"]
    return result
