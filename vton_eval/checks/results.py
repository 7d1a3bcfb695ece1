"""The verdicts of the output checks: one `CheckResult` per measured value, gathered in a `CheckReport`."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

HARD = "hard"
SOFT = "soft"


@dataclass(frozen=True)
class CheckResult:
    """One measured value and its verdict.

    `severity` "hard" means a failed check makes the output a silent failure (the service answered
    with an unusable image); "soft" means a failed check is a flag worth a look.
    `threshold` is the limit the value was judged against (a minimum or a maximum, as `detail` says).
    `box` is where a reviewer should look to see it (x0, y0, x1, y1 as fractions of the person image:
    the face for identity, the product region for the region checks), None for whole-image checks.
    """

    name: str
    value: float | None
    threshold: float | None
    passed: bool
    severity: str
    detail: str
    box: tuple[float, float, float, float] | None = None

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        if self.box is not None:
            out["box"] = [round(float(v), 4) for v in self.box]
        return out


@dataclass
class CheckReport:
    """All check results for one output.

    Checks that cannot be judged are left out rather than reported as passed: an undecodable
    output has only `decodes`; an output of the wrong aspect ratio has no pixel-aligned checks
    (noop, preservation, change_in_region, placement, reference).
    `region` is the product region (x0, y0, x1, y1) in person-image pixels the checks used and
    `region_source` where it came from ("mask", "pose" or "body"); both None when not computed.
    `person` is the person image's parse the checks used (None without a parser), `person_note` what
    the parse meant for the checks ("no person found: rough geometry"...).
    """

    results: list[CheckResult] = field(default_factory=list)
    region: tuple[int, int, int, int] | None = None
    region_source: str | None = None
    person: Any = None
    person_note: str | None = None

    @property
    def hard_failures(self) -> list[CheckResult]:
        return [r for r in self.results if r.severity == HARD and not r.passed]

    @property
    def flags(self) -> list[CheckResult]:
        """Soft checks that did not pass."""
        return [r for r in self.results if r.severity == SOFT and not r.passed]

    @property
    def passed(self) -> bool:
        """True when no hard check failed (flags allowed)."""
        return not self.hard_failures

    def get(self, name: str) -> CheckResult | None:
        """The result called `name`, or None when that check was not run."""
        return next((r for r in self.results if r.name == name), None)

    def summary(self) -> str:
        """One line: the hard failures with their reasons (for a silent failure's error message),
        or "all hard checks passed" followed by the names of any flags."""
        if self.hard_failures:
            return "; ".join(f"{r.name}: {r.detail}" for r in self.hard_failures)
        flags = self.flags
        if flags:
            return f"all hard checks passed; flags: {', '.join(r.name for r in flags)}"
        return "all hard checks passed"

    def values(self) -> dict[str, float | None]:
        """Check name -> measured value, for JSON storage (values are plain floats or None)."""
        return {r.name: r.value for r in self.results}

    def to_dict(self) -> dict[str, Any]:
        return {
            "results": [r.to_dict() for r in self.results],
            "region": list(self.region) if self.region else None,
            "region_source": self.region_source,
            "person_note": self.person_note,
        }
