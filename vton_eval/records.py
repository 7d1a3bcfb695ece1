"""Typed records of a run and its cases on their way from a dataset to the database.

A `RunRow` is the row of `runs` a new run starts as (its settings; the progress columns come later).

A `PlannedCase` is a row of `cases` (what a run will send: its inputs copied into the artifact
store). A `ResultRow` is a row of `results` (what came back, for one repeat of a case), and a
`CheckRow` a row of `checks`. A result and its checks travel together as a `Recorded`, from the
check worker through the journal to the database, so nothing rides along as a hidden key.

The column order of each table is the field order here: `columns(...)` is the one definition the
store writes with.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

R = TypeVar("R")


@dataclass(frozen=True)
class RunRow:
    run_id: str
    label: str | None
    endpoint: str
    dataset: str
    dataset_path: str
    status: str
    created_at: dt.datetime
    updated_at: dt.datetime
    workflows: str
    pairs_filter: str | None
    tags_filter: str | None
    concurrency: int
    rate_limit: str | None
    repeats: int
    retries: int
    timeout_s: float
    total_cases: int
    settings: str  # the RunSettings as JSON: what a resume runs with
    shard: str | None
    checks_config: str | None
    kind: str  # "suite" or "try"
    tool_version: str
    profile: str
    profile_text: str


@dataclass(frozen=True)
class PlannedCase:
    run_id: str
    pair_id: str
    workflow: str
    tags: str | None
    # None: the input is not an accepted image, so it was never copied (the case is invalid_input, unsent).
    base_path: str | None
    product_path: str | None
    mask_path: str | None
    reference_path: str | None
    base_source: str | None = None
    product_source: str | None = None
    invalid_reason: str | None = None
    sent_note: str | None = None  # what the call sends differently from the case's files (profile, resizing)


@dataclass(frozen=True)
class ResultRow:
    run_id: str
    pair_id: str
    workflow: str
    repeat: int
    status: str
    error_kind: str | None = None
    error_message: str | None = None
    latency_ms: float | None = None
    queue_ms: float | None = None
    attempts: int | None = None
    output_path: str | None = None
    output_sha256: str | None = None
    output_width: int | None = None
    output_height: int | None = None
    started_at: dt.datetime | None = None
    finished_at: dt.datetime | None = None
    flags: str | None = None
    checks: str | None = None

    @property
    def key(self) -> tuple[str, int]:
        return self.pair_id, int(self.repeat)

    def replace(self, **changes: Any) -> ResultRow:
        return dataclasses.replace(self, **changes)


@dataclass(frozen=True)
class CheckRow:
    run_id: str
    pair_id: str
    repeat: int
    workflow: str
    check: str
    value: float | None
    threshold: float | None
    passed: bool
    severity: str
    box: str | None = None  # JSON [x0, y0, x1, y1], fractions of the person image: where to look


@dataclass(frozen=True)
class ParseRow:
    """A person image's parse, for the store's parse cache (`person_parses`)."""

    image_sha256: str
    parser: str
    found: bool
    parse: str  # PersonParse JSON
    parsed_at: dt.datetime


@dataclass(frozen=True)
class Recorded:
    """A final result, the rows of its automatic checks (none when checks were off or failed), and the
    person parses its checks made (new to the store; derived data, not journalled)."""

    result: ResultRow
    checks: tuple[CheckRow, ...] = field(default=())
    parses: tuple[ParseRow, ...] = field(default=())


def columns(record: type) -> tuple[str, ...]:
    """The table columns of a record type, in order."""
    return tuple(f.name for f in dataclasses.fields(record))


def from_row(record: type[R], row: Mapping[str, Any]) -> R:
    """A record from a table row (or any mapping with its columns; missing ones are None)."""
    return record(**{name: row.get(name) for name in columns(record)})


def values(record: Any) -> tuple[Any, ...]:
    """A record's values in column order (what the store appends)."""
    return tuple(getattr(record, f.name) for f in dataclasses.fields(record))


def to_json_dict(record: Any) -> dict[str, Any]:
    """A record as JSON-ready data (timestamps as {"$dt": iso}), for the journal."""
    out = {}
    for f in dataclasses.fields(record):
        value = getattr(record, f.name)
        out[f.name] = {"$dt": value.isoformat()} if isinstance(value, dt.datetime) else value
    return out


def from_json_dict(record: type, data: dict[str, Any]) -> Any:
    kwargs = {}
    for name in columns(record):
        value = data.get(name)
        if isinstance(value, dict) and set(value) == {"$dt"}:
            value = dt.datetime.fromisoformat(value["$dt"])
        kwargs[name] = value
    return record(**kwargs)
