"""Runs of datasets/sample written straight into a database, for the tests of pages and queries.

`record_sample_run` leaves a database as `execute_run` against the sandbox leaves it, without the
server, the HTTP calls or the check process (about 0.2 s a run instead of 2 to 4 s):

- planned by the engine's own `create_run` (the runs and cases rows, the inputs copied into the
  artifact store) and claimed and finished with the store's `claim_run` / `finish_run`;
- answered as the sandbox answers: its try-on picture (`tryon_composite`, encoded as it encodes it),
  its server-error message, or the person image sent back (a silent failure);
- judged by the engine's own checks (`run_checks`, then `apply_report`, as the check worker and the
  runner do), with the run's recorded thresholds;
- written by the store's writers (`insert_results`, which rebuilds the run summaries, and
  `insert_checks`), with the thumbnails the recorder makes.

Tests about running, dispatch, resume or the checks themselves use real runs through the sandbox;
these seeded runs are only data for pages and queries to show. Faults are drawn from a seeded
generator, so a fixture's runs are the same every time.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import random
from pathlib import Path
from typing import Any

from PIL import Image

from vton_eval.checks import Thresholds, run_checks
from vton_eval.clock import utcnow
from vton_eval.images import load_rgb
from vton_eval.records import Recorded, ResultRow
from vton_eval.runner import RunSettings, create_run
from vton_eval.runner.checking import apply_report, report_from_dict
from vton_eval.sandbox.composite import tryon_composite
from vton_eval.sandbox.rules import SERVER_ERROR_MESSAGE
from vton_eval.sandbox.service import WEBP_OPTIONS
from vton_eval.secrets import clean_message
from vton_eval.services.classify import classify_message
from vton_eval.store import Database
from vton_eval.store.base import Writer
from vton_eval.store.reads import reading
from vton_eval.store.runs import claim_run, finish_run, get_run
from vton_eval.store.writes import insert_boxes, insert_checks, insert_results

from .paths import SAMPLE
from .suites import ENDPOINT  # nothing listens there: a seeded run only names the endpoint it would call

# The sandbox's pictures and the checks' verdicts depend only on the input files (and thresholds):
# computed once per session, whatever the number of databases seeded.
_OUTPUTS: dict[tuple[str, ...], tuple[bytes, int, int]] = {}
_REPORTS: dict[tuple[str | None, ...], dict[str, Any]] = {}


def _sha(path: Path | None) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest() if path is not None else "-"


def _open(path: Path | None) -> Image.Image | None:
    if path is None:
        return None
    image = Image.open(path)
    image.load()
    return image


def _webp(image: Image.Image) -> tuple[bytes, int, int]:
    buf = io.BytesIO()
    image.save(buf, format="WEBP", **WEBP_OPTIONS)
    return buf.getvalue(), image.width, image.height


def sandbox_answer(kind: str, base: Path, product: Path, workflow: str, mask: Path | None) -> tuple[bytes, int, int]:
    """The .webp the sandbox sends back: its try-on picture ('ok') or the person unchanged ('noop')."""
    key = (kind, _sha(base), _sha(product), workflow, _sha(mask))
    if key not in _OUTPUTS:
        person = load_rgb(base.read_bytes())
        if kind == "noop":
            _OUTPUTS[key] = _webp(person)
        else:
            mask_image = Image.open(mask) if mask is not None else None
            _OUTPUTS[key] = _webp(tryon_composite(person, load_rgb(product.read_bytes()), workflow, mask_image))
    return _OUTPUTS[key]


def _judged(row: ResultRow, output: Path, inputs: dict[str, Path | None], workflow: str,
            thresholds_json: str | None) -> Recorded:
    """The row after the checks, as the check worker and `apply_report` leave it."""
    key = (_sha(output), *(_sha(inputs[k]) for k in ("base", "product", "mask", "reference")), workflow,
           thresholds_json)
    if key not in _REPORTS:
        thresholds = Thresholds.from_overrides(thresholds_json) if thresholds_json else Thresholds()
        report = run_checks(output.read_bytes(), _open(inputs["base"]), _open(inputs["product"]), workflow,
                            _open(inputs["mask"]), _open(inputs["reference"]), thresholds)
        _REPORTS[key] = {"results": [r.to_dict() for r in report.results]}
    return apply_report(row, report_from_dict(_REPORTS[key]))


def record_sample_run(db: Database, label: str, *, error_rate: float = 0.0, noop_rate: float = 0.0, seed: int = 0,
                      endpoint: str = ENDPOINT, recorded: int | None = None, status: str = "finished",
                      concurrency: int = 4, profile: str = "sm4ll") -> str:
    """A run of datasets/sample as a run through the sandbox records it; return its id.

    Each case fails with the sandbox's server error with probability `error_rate`, else comes back as
    the person unchanged with probability `noop_rate` (the checks make it a silent failure), else as
    the sandbox's try-on. `recorded` keeps only the first cases (a run stopped early, with `status`
    'interrupted' or 'cancelled'). `profile` names the system: a case it does not support is recorded
    invalid_input, unsent, as a run records it. The endpoint is not asked which workflows it offers."""
    run_id = create_run(db, RunSettings(dataset=str(SAMPLE), endpoint=endpoint, label=label, retries=0,
                                        concurrency=concurrency, profile=profile), discover=False)
    store = db.artifacts
    run = get_run(db, run_id)
    db.write(lambda w: claim_run(w, run_id))
    with reading(db) as read:
        cases = read.rows("SELECT * FROM cases WHERE run_id = ? ORDER BY pair_id", [run_id])
    rng = random.Random(seed)
    started = utcnow()
    rows: list[Recorded] = []
    for i, case in enumerate(cases[:recorded]):
        inputs = {k: store.abspath(case[f"{k}_path"]) if case[f"{k}_path"] else None
                  for k in ("base", "product", "mask", "reference")}
        for rel in (case["base_path"], case["product_path"], case["mask_path"], case["reference_path"]):
            if rel:
                store.thumbnail(rel)  # the check worker makes the inputs' thumbnails when a run starts
        fails, noop = rng.random() < error_rate, rng.random() < noop_rate
        latency = rng.uniform(120.0, 480.0) * (1.5 if case["workflow"] == "dress" else 1.0)
        at = started + dt.timedelta(seconds=0.3 * i)
        if case["invalid_reason"]:  # refused before sending, as the runner records it
            rows.append(Recorded(ResultRow(run_id=run_id, pair_id=case["pair_id"], workflow=case["workflow"], repeat=1,
                                           status="error", error_kind="invalid_input",
                                           error_message=case["invalid_reason"], latency_ms=0.0, attempts=0,
                                           started_at=at, finished_at=at)))
            continue
        row = ResultRow(
            run_id=run_id, pair_id=case["pair_id"], workflow=case["workflow"], repeat=1, status="ok",
            latency_ms=latency, queue_ms=rng.uniform(0.0, 20.0), attempts=1, started_at=at,
            finished_at=at + dt.timedelta(milliseconds=latency),
        )
        if fails:
            rows.append(Recorded(row.replace(status="error", error_kind=classify_message(SERVER_ERROR_MESSAGE),
                                             error_message=clean_message(SERVER_ERROR_MESSAGE))))
            continue
        data, width, height = sandbox_answer("noop" if noop else "ok", inputs["base"], inputs["product"],
                                             case["workflow"], inputs["mask"])
        path, sha = store.put_bytes(data, "webp")
        store.thumbnail(path)  # the recorder makes each output's thumbnail before writing its row
        row = row.replace(output_path=path, output_sha256=sha, output_width=width, output_height=height)
        rows.append(_judged(row, store.abspath(path), inputs, case["workflow"], run["checks_config"]))
    done = len(rows)
    message = None if status == "finished" else f"stopped with {done} of {len(cases)} cases recorded"

    def write(w: Writer) -> None:
        insert_results(w, [r.result for r in rows])
        insert_checks(w, [c for r in rows for c in r.checks])
        insert_boxes(w, [c for r in rows for c in r.checks])  # where each check looked, as the recorder writes it
        finish_run(w, run_id, status, message)

    db.write(write)
    return run_id


# The labels of the `runs` fixture's three Compare runs (tests/conftest.py), oldest first.
COMPARE_LABELS = ("base-build", "cand-build", "third-build")
