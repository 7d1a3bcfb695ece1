"""Release gates: compare a candidate run with a blessed baseline and decide pass / regression.

    from vton_eval.gate import gate, GateThresholds, write_junit, write_markdown
    result = gate(db, candidate=run_id)            # baseline="blessed" by default
    write_junit(result, "report.xml"); write_markdown(result, "report.md", db)
    sys.exit(result.exit_code)                      # 0 pass, 1 regression, 2 cannot judge

Modules: `stats` (intervals), `load` (SQL), `compare` (verdicts), `baseline` (bless),
`junit` / `markdown` / `changes` (reports), `model` (the result objects).
"""

from vton_eval.analytics.baselines import blessed_run
from vton_eval.gate.baseline import BlessError, bless, list_baselines, unbless
from vton_eval.gate.decide import gate
from vton_eval.gate.junit import write_junit
from vton_eval.gate.markdown import write_markdown
from vton_eval.gate.model import (
    CANNOT_JUDGE,
    CRITERIA,
    EXIT_CODES,
    NOT_JUDGED,
    OVERALL,
    PASS,
    REGRESSION,
    Criterion,
    GateError,
    GateResult,
    GateThresholds,
    WorkflowComparison,
)

__all__ = [
    "CANNOT_JUDGE",
    "CRITERIA",
    "EXIT_CODES",
    "NOT_JUDGED",
    "OVERALL",
    "PASS",
    "REGRESSION",
    "BlessError",
    "Criterion",
    "GateError",
    "GateResult",
    "GateThresholds",
    "WorkflowComparison",
    "bless",
    "blessed_run",
    "gate",
    "list_baselines",
    "unbless",
    "write_junit",
    "write_markdown",
]
