"""Planning a run: check everything that can be checked before a request is sent, then record the run
with its planned cases (inputs copied into the artifact store, so a run can be resumed or reviewed
even after the dataset folder changes)."""

from __future__ import annotations

import datetime as dt
import secrets
from pathlib import Path

from vton_eval.artifacts import ArtifactStore
from vton_eval.datasets import Dataset, Pair, load_dataset
from vton_eval.errors import VtonEvalError
from vton_eval.provenance import tool_version
from vton_eval.records import PlannedCase
from vton_eval.runner.plan import select_pairs
from vton_eval.runner.settings import RunSettings
from vton_eval.shards import parse_shard
from vton_eval.store.base import Store, Writer
from vton_eval.store.runs import insert_run, utcnow
from vton_eval.store.writes import insert_cases


class RunError(VtonEvalError):
    """The run cannot start (bad dataset, bad selection, already running...)."""


def new_run_id(now: dt.datetime | None = None) -> str:
    now = now or utcnow()
    return now.strftime("%Y%m%d-%H%M%S-") + secrets.token_hex(2)


def create_run(db: Store, settings: RunSettings, dataset: Dataset | None = None) -> str:
    """Validate, plan and record a run (status 'running', nothing sent yet). Raise RunError."""
    try:
        settings.validate()
    except ValueError as exc:
        raise RunError(str(exc)) from None
    ds = dataset or load_dataset(settings.dataset)
    if ds.row_errors and not settings.skip_bad_rows:
        lines = "\n".join(f"  {p}" for p in ds.row_errors[:20])
        more = f"\n  ... and {len(ds.row_errors) - 20} more" if len(ds.row_errors) > 20 else ""
        raise RunError(
            f"dataset {ds.manifest} has {len(ds.row_errors)} row problem(s):\n{lines}{more}\n"
            "Fix them (see `vton-eval datasets validate`) or pass --skip-bad-rows to run the valid rows."
        )
    try:
        pairs = select_pairs(ds, settings.workflows, settings.pairs, settings.tags, parse_shard(settings.shard))
    except ValueError as exc:
        raise RunError(str(exc)) from None
    thresholds_json = _thresholds_json(settings)
    run_id = new_run_id()
    cases = [_plan(db.artifacts, run_id, pair) for pair in pairs]
    now = utcnow()

    def record(w: Writer) -> None:
        insert_run(w, {
            "run_id": run_id, "label": settings.label, "endpoint": settings.endpoint, "dataset": ds.name,
            "dataset_path": str(ds.root), "status": "running", "created_at": now, "updated_at": now,
            "workflows": ",".join(sorted({p.workflow for p in pairs})),
            "pairs_filter": ",".join(settings.pairs) if settings.pairs else None,
            "tags_filter": ";".join(settings.tags) if settings.tags else None,
            "concurrency": settings.concurrency, "rate_limit": settings.rate_limit, "repeats": settings.repeats,
            "retries": settings.retries, "timeout_s": settings.timeout_s,
            "total_cases": len(pairs) * settings.repeats, "settings": settings.to_json(), "shard": settings.shard,
            "checks_config": thresholds_json, "kind": settings.kind, "tool_version": tool_version(),
        })
        insert_cases(w, cases)

    db.write(record)
    return run_id


def _plan(store: ArtifactStore, run_id: str, pair: Pair) -> PlannedCase:
    """A pair as the run will send it: its inputs copied into the artifact store (thumbnails of them are
    made by the check worker when the run starts)."""

    def put(source: Path | None) -> str | None:
        return store.put_file(source)[0] if source is not None else None

    return PlannedCase(
        run_id=run_id, pair_id=pair.pair_id, workflow=pair.workflow, tags=pair.tags_text,
        base_path=put(pair.base), product_path=put(pair.product), mask_path=put(pair.mask),
        reference_path=put(pair.reference), base_source=pair.source("base"),
        product_source=pair.source("product"),
        invalid_reason=pair.invalid_reason,
    )


def _thresholds_json(settings: RunSettings) -> str | None:
    """The check thresholds this run uses (defaults plus its overrides), or None when checks are off."""
    if not settings.checks:
        return None
    from vton_eval.checks import Thresholds

    try:
        return Thresholds.from_overrides(settings.check_thresholds).to_json()
    except ValueError as exc:
        raise RunError(f"check thresholds: {exc}") from None


