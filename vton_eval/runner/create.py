"""Planning a run: check everything that can be checked before a request is sent, then record the run
with its planned cases (inputs copied into the artifact store, so a run can be resumed or reviewed
even after the dataset folder changes).

The run's endpoint profile decides part of the plan: a case whose workflow the profile (or, for a
profile that reads them from the endpoint, the live endpoint) does not offer is recorded
`invalid_input` without being sent; inputs over the profile's `max_megapixels` are sent as resized
copies; and what a call sends differently from the case's files (a resized input, the person image as
a missing mask...) is written with the case (`cases.sent_note`). The profile's text is stored with the
run, so a resume sends exactly what the run sent.
"""

from __future__ import annotations

import datetime as dt
import io
import math
import secrets
import threading
from collections.abc import Callable
from pathlib import Path

from PIL import Image

from vton_eval import workflows as registry
from vton_eval.artifacts import ArtifactStore
from vton_eval.clock import utcnow
from vton_eval.datasets import Dataset, Pair, load_dataset
from vton_eval.errors import VtonEvalError
from vton_eval.images import ImageProblem, decoded, inspect_image, opened
from vton_eval.provenance import tool_version
from vton_eval.records import PlannedCase, RunRow
from vton_eval.runner.plan import select_pairs
from vton_eval.runner.settings import RunSettings
from vton_eval.secrets import FROM_ENVIRONMENT, get_token
from vton_eval.services import EndpointError, EndpointStopped, Profile, load_profile, make_service
from vton_eval.shards import parse_shard
from vton_eval.store.base import Store, Writer
from vton_eval.store.runs import insert_run
from vton_eval.store.writes import insert_cases

# Reading the workflows a live endpoint offers is one connection; a Space that is asleep is not waited
# for this long here (the run itself waits for it, boundedly, when it starts).
DISCOVERY_TIMEOUT_S = 20.0


class RunError(VtonEvalError):
    """The run cannot start (bad dataset, bad selection, already running...)."""


class RunStopped(RunError):
    """The run was stopped (Ctrl-C) while it was being planned: nothing was recorded."""


def offered_workflows(settings: RunSettings, profile: Profile, stop: threading.Event | None = None,
                      on_note: Callable[[str], None] | None = None,
                      token: str | None = None) -> tuple[list[str] | None, str | None]:
    """The workflows the endpoint offers (a profile that reads them from it), each a name that can be a workflow
    (the caller makes generic entries for the new ones, for its own work: `workflows.offered`); and a note when
    they could not be read (the profile's own table is used)."""
    if not profile.workflows_from_endpoint:
        return None, None
    try:
        service = make_service(settings.endpoint, profile=profile, on_note=on_note, token=token,
                               open_timeout_s=DISCOVERY_TIMEOUT_S)
        try:
            offered = service.discover_workflows(stop)
        finally:
            service.close()
    except EndpointStopped:
        raise RunStopped("stopped while reading the endpoint's workflows; nothing was recorded") from None
    except EndpointError as exc:
        return None, f"could not read the workflows {settings.endpoint} offers ({exc}); using the profile's list"
    if offered is None:
        return None, f"{settings.endpoint} does not list its workflows; using the profile's list"
    try:
        for name in offered:
            if not registry.is_known(name):
                registry.generic(name)  # raises for a name that cannot be a workflow
    except VtonEvalError as exc:
        return None, f"{settings.endpoint} offers a workflow that cannot be used ({exc}); using the profile's list"
    return offered, None


def new_run_id(now: dt.datetime | None = None) -> str:
    now = now or utcnow()
    return now.strftime("%Y%m%d-%H%M%S-") + secrets.token_hex(2)


def create_run(db: Store, settings: RunSettings, dataset: Dataset | None = None,
               stop: threading.Event | None = None, on_note: Callable[[str], None] | None = None,
               discover: bool = True, token: object = FROM_ENVIRONMENT) -> str:
    """Validate, plan and record a run (status 'running', nothing sent yet). Raise RunError (RunStopped when
    `stop` was set while the endpoint's workflows were being read). `discover=False` plans with the profile's
    own workflow table, without asking the endpoint (data seeded for tests, which calls nothing). `token`:
    what reading the endpoint's workflows sends, as `execute_run` (default: this process's environment; a
    launcher passes what the allow-list lets the run send)."""
    try:
        settings.validate()
        profile = load_profile(settings.profile)
    except ValueError as exc:
        raise RunError(str(exc)) from None
    # Before the dataset is read: a workflow the endpoint offers that we did not know is a valid one.
    sent = get_token() if token is FROM_ENVIRONMENT else token if isinstance(token, str) else None
    offered, note = offered_workflows(settings, profile, stop, on_note, sent) if discover else (None, None)
    if note and on_note is not None:
        on_note(note)
    # What the endpoint offers is a valid workflow while this run is planned (its manifest and pairs checked).
    with registry.offered(offered or ()):
        return _plan_run(db, settings, profile, offered, dataset)


def _plan_run(db: Store, settings: RunSettings, profile: Profile, offered: list[str] | None,
              dataset: Dataset | None) -> str:
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
    cases = [_plan(db.artifacts, run_id, pair, profile, offered) for pair in pairs]
    now = utcnow()

    def record(w: Writer) -> None:
        insert_run(w, RunRow(
            run_id=run_id, label=settings.label, endpoint=settings.endpoint, dataset=ds.name,
            dataset_path=str(ds.root), status="running", created_at=now, updated_at=now,
            workflows=",".join(sorted({p.workflow for p in pairs})),
            pairs_filter=",".join(settings.pairs) if settings.pairs else None,
            tags_filter=";".join(settings.tags) if settings.tags else None,
            concurrency=settings.concurrency, rate_limit=settings.rate_limit, repeats=settings.repeats,
            retries=settings.retries, timeout_s=settings.timeout_s, total_cases=len(pairs) * settings.repeats,
            settings=settings.to_json(), shard=settings.shard, checks_config=thresholds_json, kind=settings.kind,
            tool_version=tool_version(), profile=profile.name, profile_text=profile.text,
        ))
        insert_cases(w, cases)

    db.write(record)
    return run_id


def _plan(store: ArtifactStore, run_id: str, pair: Pair, profile: Profile, offered: list[str] | None) -> PlannedCase:
    """A pair as the run will send it: its inputs copied into the artifact store (resized copies when the
    profile limits their size), whether it is sent at all, and what is sent differently from its files.
    (Thumbnails of the inputs are made by the check worker when the run starts.)"""

    refused: list[str] = []

    def put(column: str, source: Path | None) -> str | None:
        # Only an accepted image is copied (and, on a shared store, uploaded): a dataset row naming any other file
        # (/etc/passwd, a database) makes the case invalid_input, and the file stays where it is, unread.
        if source is None:
            return None
        problem = not_accepted(source)
        if problem is not None:
            refused.append(f"{column}: {problem}")
            return None
        return store.put_file(source)[0]

    base, product, mask = put("base", pair.base), put("product", pair.product), put("mask", pair.mask)
    reference = put("reference", pair.reference)
    invalid = (refused[0] if refused else None) or pair.invalid_reason \
        or profile.unsupported_reason(pair.workflow, offered)
    notes: list[str] = []
    limit = profile.max_pixels()
    if limit and not invalid:
        resized = _resized(store, pair.base, limit, "person")
        if resized is not None:
            base, note, size = resized
            notes.append(note)
            if pair.mask is not None:  # the mask follows the person image, pixel for pixel
                mask = _resized_to(store, pair.mask, size) or mask
        resized = _resized(store, pair.product, limit, "product")
        if resized is not None:
            product, note, _ = resized
            notes.append(note)
    if not invalid:
        notes += profile.plan(pair.workflow, pair.mask is not None).notes
    return PlannedCase(
        run_id=run_id, pair_id=pair.pair_id, workflow=pair.workflow, tags=pair.tags_text,
        base_path=base, product_path=product, mask_path=mask,
        reference_path=reference, base_source=pair.source("base"),
        product_source=pair.source("product"),
        invalid_reason=invalid, sent_note="; ".join(notes) or None,
    )


def not_accepted(source: Path) -> str | None:
    """Why a file is not an accepted image by its signature and header (None when it is one)."""
    try:
        with opened(source):
            return None
    except ImageProblem as exc:
        return str(exc)


def _resized(store: ArtifactStore, source: Path, max_pixels: int, role: str) -> tuple[str, str, tuple[int, int]] | None:
    """A copy of `source` scaled (aspect kept) to at most `max_pixels`, stored; None when it is small enough."""
    try:
        info = inspect_image(source)
    except VtonEvalError:
        return None  # an image the service would refuse is recorded as such by the dataset's own checks
    if info.pixels <= max_pixels:
        return None
    scale = math.sqrt(max_pixels / info.pixels)
    size = (max(1, int(info.width * scale)), max(1, int(info.height * scale)))
    rel = _resized_to(store, source, size)
    if rel is None:
        return None
    note = (f"{role} resized {info.width}x{info.height} -> {size[0]}x{size[1]} (over the profile's "
            f"{max_pixels / 1e6:g} MP)")
    return rel, note, size


def _resized_to(store: ArtifactStore, source: Path, size: tuple[int, int]) -> str | None:
    with decoded(source) as image:
        if image.size == size:
            return None
        keep = image.mode if image.mode in ("RGB", "RGBA", "L", "LA") else "RGBA" if "transparency" in image.info \
            else "RGB"
        out = image.convert(keep).resize(size, Image.LANCZOS)
    buffer = io.BytesIO()
    out.save(buffer, format="PNG")  # lossless: the copy differs from the source by its size only
    return store.put_bytes(buffer.getvalue(), "png")[0]


def _thresholds_json(settings: RunSettings) -> str | None:
    """The check thresholds this run uses (defaults plus its overrides), or None when checks are off."""
    if not settings.checks:
        return None
    from vton_eval.checks import Thresholds

    try:
        return Thresholds.from_overrides(settings.check_thresholds).to_json()
    except ValueError as exc:
        raise RunError(f"check thresholds: {exc}") from None


