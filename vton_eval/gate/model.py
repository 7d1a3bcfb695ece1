"""What a gate decides, as plain data: thresholds in, one verdict per workflow x criterion out.

The reports (terminal, JUnit, Markdown) and the dashboard only render these objects.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from vton_eval.errors import VtonEvalError

PASS = "pass"
REGRESSION = "regression"
CANNOT_JUDGE = "cannot_judge"
NOT_JUDGED = "not_judged"

EXIT_CODES = {PASS: 0, REGRESSION: 1, CANNOT_JUDGE: 2}

ERROR_RATE = "error_rate"
P95_LATENCY = "p95_latency"
FLAG_RATE = "flag_rate"
PREFERENCE = "preference"  # blind picks between the two runs (`gate --preference`)
CRITERIA = (ERROR_RATE, P95_LATENCY, FLAG_RATE, PREFERENCE)

# The row that pools every workflow; not a workflow name the service uses.
OVERALL = "overall"


class GateError(VtonEvalError):
    """A request the gate cannot serve (unknown run...); `gate()` turns these into cannot_judge."""


@dataclass(frozen=True)
class GateThresholds:
    """How much worse a candidate may be, and how much evidence a verdict needs.

    Rates are absolute increases (0.02 = +2 percentage points); p95 is relative (0.20 = +20 %).
    A criterion fails only when its whole confidence interval lies beyond the threshold.
    """

    max_error_rate_increase: float = 0.02
    max_p95_increase: float = 0.20
    max_flag_rate_increase: float = 0.05
    # Fewer shared cases overall: cannot judge (exit 2); in one workflow: its rate criteria are not judged.
    min_cases: int = 10
    # Fewer ok calls in either run: that workflow's p95 is not judged (a p95 of 5 calls is its max).
    min_ok_calls: int = 10
    confidence: float = 0.95
    bootstrap_resamples: int = 2000
    seed: int = 20240611
    # Ask people too: the candidate must not lose to the baseline in blind picks beyond the interval.
    preference: bool = False
    min_picks: int = 20
    # Allowed loss in (candidate share - baseline share) of the picks: 0 = any loss beyond noise fails.
    max_preference_loss: float = 0.0

    def validate(self) -> GateThresholds:
        for name in ("max_error_rate_increase", "max_flag_rate_increase"):
            if not 0.0 <= getattr(self, name) < 1.0:
                raise ValueError(f"{name} must be in [0, 1) (got {getattr(self, name)})")
        if self.max_p95_increase < 0:
            raise ValueError(f"max_p95_increase cannot be negative (got {self.max_p95_increase})")
        if self.min_cases < 1 or self.min_ok_calls < 2:
            raise ValueError("min_cases must be at least 1 and min_ok_calls at least 2")
        if not 0.5 <= self.confidence < 1.0:
            raise ValueError(f"confidence must be in [0.5, 1) (got {self.confidence})")
        if self.min_picks < 1 or not 0.0 <= self.max_preference_loss < 1.0:
            raise ValueError("min_picks must be at least 1 and max_preference_loss in [0, 1)")
        if self.bootstrap_resamples < 100:
            raise ValueError("bootstrap_resamples must be at least 100")
        return self


@dataclass
class Criterion:
    """One workflow x criterion verdict.

    For rates, `baseline`/`candidate` are proportions, `change` the difference in proportion
    (candidate - baseline) and `interval` its confidence interval. For p95, they are milliseconds,
    `change` the relative change (0.25 = +25 %) and `interval` its interval, also relative.
    """

    workflow: str
    name: str
    verdict: str
    reason: str
    threshold: float
    baseline: float | None = None
    candidate: float | None = None
    change: float | None = None
    interval: tuple[float, float] | None = None
    # Counts behind the numbers: k/n for rates, ok calls for p95.
    baseline_count: int | None = None
    baseline_n: int | None = None
    candidate_count: int | None = None
    candidate_n: int | None = None

    @property
    def is_regression(self) -> bool:
        return self.verdict == REGRESSION


@dataclass
class WorkflowComparison:
    """All criteria of one workflow (or of `overall`), on the cases both runs share."""

    workflow: str
    cases: int
    criteria: list[Criterion] = field(default_factory=list)
    # Error kinds the candidate has and the baseline has not (in this workflow): kind -> count.
    new_error_kinds: dict[str, int] = field(default_factory=dict)

    @property
    def verdict(self) -> str:
        if any(c.is_regression for c in self.criteria):
            return REGRESSION
        if all(c.verdict == NOT_JUDGED for c in self.criteria):
            return NOT_JUDGED
        return PASS

    def criterion(self, name: str) -> Criterion | None:
        return next((c for c in self.criteria if c.name == name), None)


@dataclass
class GateResult:
    """The outcome of `gate()`. `workflows` lists each workflow, then the pooled `overall` row."""

    verdict: str
    reasons: list[str]
    thresholds: GateThresholds
    candidate: dict[str, Any] | None = None
    baseline: dict[str, Any] | None = None
    # 'blessed' when the baseline came from `baselines`, else 'explicit'.
    baseline_source: str = "explicit"
    workflows: list[WorkflowComparison] = field(default_factory=list)
    shared_cases: int = 0
    candidate_cases: int = 0
    baseline_cases: int = 0
    warnings: list[str] = field(default_factory=list)

    @property
    def exit_code(self) -> int:
        return EXIT_CODES[self.verdict]

    @property
    def candidate_id(self) -> str | None:
        return self.candidate["run_id"] if self.candidate else None

    @property
    def baseline_id(self) -> str | None:
        return self.baseline["run_id"] if self.baseline else None

    @property
    def criteria(self) -> list[Criterion]:
        return [c for w in self.workflows for c in w.criteria]

    @property
    def regressions(self) -> list[Criterion]:
        return [c for c in self.criteria if c.is_regression]

    @property
    def new_error_kinds(self) -> dict[str, int]:
        """Across all workflows (from the overall row)."""
        overall = next((w for w in self.workflows if w.workflow == OVERALL), None)
        return dict(overall.new_error_kinds) if overall else {}

    def summary(self) -> str:
        """The verdict line: what CI logs show."""
        if self.verdict == CANNOT_JUDGE:
            return "GATE CANNOT JUDGE: " + "; ".join(self.reasons)
        head = f"GATE {'PASS' if self.verdict == PASS else 'FAIL'}: candidate {self.candidate_id} vs " \
               f"baseline {self.baseline_id} on {self.shared_cases} shared cases"
        return head + ("; " + "; ".join(self.reasons) if self.reasons else "")
