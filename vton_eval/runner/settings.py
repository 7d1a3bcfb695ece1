"""A run's settings, checked before anything starts, and stored with the run for `resume`."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass

from vton_eval.errors import InvalidValue
from vton_eval.quota import parse_rate
from vton_eval.services import check_endpoint_text
from vton_eval.shards import parse_shard
from vton_eval.store.runs import RUN_KINDS, SUITE


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
        return self

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> RunSettings:
        data = json.loads(text)
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        return cls(**known)
