"""A run's settings, checked before anything starts, and stored with the run for `resume`."""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass

from vton_eval.errors import InvalidValue
from vton_eval.quota import parse_rate
from vton_eval.services import DEFAULT_PROFILE, Profile, check_endpoint_text, load_profile, parse_profile
from vton_eval.shards import parse_shard
from vton_eval.store.runs import RUN_KINDS, SUITE

DEFAULT_PATIENCE_S = 3600.0
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|sec|m|min|h|hours?)?\s*$", re.I)


def parse_duration(text: str | float) -> float:
    """Seconds from '900', '900s', '15m', '2h'. Raises InvalidValue."""
    if isinstance(text, int | float):
        return float(text)
    match = _DURATION.match(text or "")
    if not match:
        raise InvalidValue(f"{text!r} is not a duration (use seconds, or e.g. 15m, 2h)")
    unit = (match.group(2) or "s").lower()
    return float(match.group(1)) * (3600 if unit.startswith("h") else 60 if unit.startswith("m") else 1)


@dataclass
class RunSettings:
    dataset: str
    endpoint: str
    workflows: list[str] | None = None
    pairs: list[str] | None = None
    tags: list[str] | None = None
    concurrency: int = 4
    rate_limit: str | None = None
    repeats: int = 1
    retries: int = 2
    timeout_s: float = 300.0
    label: str | None = None
    shard: str | None = None
    skip_bad_rows: bool = False
    checks: bool = True
    backoff_s: float = 1.0
    check_thresholds: dict[str, object] | None = None
    kind: str = SUITE  # "suite", or "try" for one pair sent from the Runs page (kept out of trends and gates)
    profile: str = DEFAULT_PROFILE  # a built-in profile's name or a profile TOML file, as given
    # The longest wait a service may ask for (a quota: "retry in 0:09:48") that the run sits out; a longer
    # one ends the run `interrupted`, to be resumed later, instead of sleeping for hours.
    patience_s: float = DEFAULT_PATIENCE_S

    def validate(self) -> RunSettings:
        """Raise ValueError with a sentence a person can act on."""
        self.endpoint = check_endpoint_text(self.endpoint)
        if self.concurrency < 1:
            raise InvalidValue(f"concurrency must be at least 1 (got {self.concurrency})")
        if self.concurrency > 64:
            raise InvalidValue(f"concurrency {self.concurrency} is more than 64; the service would refuse most calls")
        if self.repeats < 1:
            raise InvalidValue(f"repeats must be at least 1 (got {self.repeats})")
        if self.retries < 0:
            raise InvalidValue(f"retries cannot be negative (got {self.retries})")
        if self.timeout_s <= 0:
            raise InvalidValue(f"timeout must be positive (got {self.timeout_s})")
        if self.rate_limit:
            parse_rate(self.rate_limit)
        parse_shard(self.shard)
        if self.kind not in RUN_KINDS:
            raise InvalidValue(f"a run is one of {', '.join(RUN_KINDS)} (got {self.kind!r})")
        if not self.patience_s > 0:
            raise InvalidValue(f"patience must be positive (got {self.patience_s:g} s)")
        load_profile(self.profile)  # ProfileError (an InvalidValue) with the line and the reason
        return self

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> RunSettings:
        data = json.loads(text)
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        return cls(**known)


def run_profile(run: dict) -> Profile:
    """The profile a recorded run calls its endpoint with: the text it recorded (so a resume sends exactly
    what the run sent, whatever the file or the built-in says today), else what its settings name."""
    text = run.get("profile_text")
    if text:
        return parse_profile(text, f"recorded with run {run.get('run_id')}")
    settings = run.get("settings")
    name = json.loads(settings).get("profile") if settings else None
    return load_profile(name or DEFAULT_PROFILE)
