"""The gate's SQL: counts and latencies on the cases two runs share, aggregated in DuckDB.

Shared cases are (pair_id, repeat) recorded by both runs for the same workflow: a candidate run on
a shard of the suite, or one that stopped early, is compared on what it has, never against cases it
did not run. Aggregates come out per workflow and pooled (`overall`) from one GROUPING SETS query.

A case counts as flagged only when its output was ok: a silent failure also carries the soft checks
its output failed, but it already counts in the error rate and must not count twice.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from vton_eval.gate.model import OVERALL
from vton_eval.store.base import Store
from vton_eval.store.reads import reading

# Parameters: candidate run id, baseline run id.
_SHARED = """
WITH shared AS (
    SELECT c.workflow, c.pair_id, c."repeat",
           c.status AS c_status, c.error_kind AS c_kind, c.latency_ms AS c_latency,
           c.status = 'ok' AND coalesce(c.flags, '') <> '' AS c_flagged,
           b.status AS b_status, b.error_kind AS b_kind, b.latency_ms AS b_latency,
           b.status = 'ok' AND coalesce(b.flags, '') <> '' AS b_flagged
    FROM results c
    JOIN results b ON b.pair_id = c.pair_id AND b."repeat" = c."repeat" AND b.workflow = c.workflow
    WHERE c.run_id = ? AND b.run_id = ?
)
"""

_COUNTS = _SHARED + """
SELECT CASE WHEN grouping(workflow) = 1 THEN NULL ELSE workflow END AS workflow,
       count(*) AS cases,
       count(*) FILTER (WHERE c_status = 'error') AS c_errors,
       count(*) FILTER (WHERE b_status = 'error') AS b_errors,
       count(*) FILTER (WHERE c_flagged) AS c_flagged,
       count(*) FILTER (WHERE b_flagged) AS b_flagged
FROM shared
GROUP BY GROUPING SETS ((workflow), ())
"""

_KINDS = _SHARED + """
SELECT side, CASE WHEN grouping(workflow) = 1 THEN NULL ELSE workflow END AS workflow, kind, count(*) AS n
FROM (SELECT 'candidate' AS side, workflow, coalesce(c_kind, 'unknown') AS kind FROM shared WHERE c_status = 'error'
      UNION ALL
      SELECT 'baseline', workflow, coalesce(b_kind, 'unknown') FROM shared WHERE b_status = 'error')
GROUP BY GROUPING SETS ((side, workflow, kind), (side, kind))
"""

_LATENCIES = _SHARED + """
SELECT 'candidate' AS side, workflow, c_latency AS latency FROM shared
WHERE c_status = 'ok' AND c_latency IS NOT NULL
UNION ALL
SELECT 'baseline', workflow, b_latency FROM shared WHERE b_status = 'ok' AND b_latency IS NOT NULL
"""

# A run "has checks" when any output was checked: rows in `checks`, a `checks` JSON, or a `flags`
# value (even ''). Without this a run recorded before checks existed would show a flag rate of 0.
_CHECKED = """
SELECT (SELECT count(*) FROM checks WHERE run_id = $run) > 0
    OR (SELECT count(*) FROM results WHERE run_id = $run AND (checks IS NOT NULL OR flags IS NOT NULL)) > 0
"""


@dataclass
class Counts:
    """Shared-case counts of one workflow (or overall)."""

    cases: int
    c_errors: int
    b_errors: int
    c_flagged: int
    b_flagged: int


@dataclass
class Comparison:
    """Everything `gate()` judges, keyed by workflow name (and OVERALL)."""

    counts: dict[str, Counts] = field(default_factory=dict)
    # side ('candidate' | 'baseline') -> workflow -> kind -> count
    kinds: dict[str, dict[str, dict[str, int]]] = field(default_factory=dict)
    # side -> workflow -> ok latencies (ms)
    latencies: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)
    candidate_checked: bool = False
    baseline_checked: bool = False
    candidate_results: int = 0
    baseline_results: int = 0
    # workflow -> (candidate results, baseline results) over each whole run, for coverage warnings.
    run_workflows: dict[str, tuple[int, int]] = field(default_factory=dict)

    @property
    def workflows(self) -> list[str]:
        return sorted(w for w in self.counts if w != OVERALL)


def load_comparison(db: Store, candidate: str, baseline: str) -> Comparison:
    """Read the aggregates the gate needs in one short read-only connection."""
    out = Comparison()
    params = [candidate, baseline]
    with reading(db) as read:
        for r in read.rows(_COUNTS, params):
            if r["cases"]:
                out.counts[r["workflow"] or OVERALL] = Counts(int(r["cases"]), int(r["c_errors"]), int(r["b_errors"]),
                                                              int(r["c_flagged"]), int(r["b_flagged"]))
        for r in read.rows(_KINDS, params):
            out.kinds.setdefault(r["side"], {}).setdefault(r["workflow"] or OVERALL, {})[r["kind"]] = int(r["n"])
        frame = read.numpy(_LATENCIES, params) or {"side": [], "workflow": [], "latency": []}
        out.candidate_checked = bool(read.scalar(_CHECKED, {"run": candidate}))
        out.baseline_checked = bool(read.scalar(_CHECKED, {"run": baseline}))
        for r in read.rows(
            """SELECT workflow, count(*) FILTER (WHERE run_id = ?) AS c, count(*) FILTER (WHERE run_id = ?) AS b
               FROM results WHERE run_id IN (?, ?) GROUP BY workflow ORDER BY workflow""",
            [candidate, baseline, candidate, baseline],
        ):
            out.run_workflows[r["workflow"]] = (int(r["c"]), int(r["b"]))
    out.candidate_results = sum(c for c, _ in out.run_workflows.values())
    out.baseline_results = sum(b for _, b in out.run_workflows.values())
    sides = np.asarray(frame["side"], dtype=object)
    flows = np.asarray(frame["workflow"], dtype=object)
    values = np.asarray(frame["latency"], dtype=np.float64)
    for side in ("candidate", "baseline"):
        mine = sides == side
        per = out.latencies.setdefault(side, {})
        per[OVERALL] = values[mine]
        for wf in out.workflows:
            per[wf] = values[mine & (flows == wf)]
    return out
