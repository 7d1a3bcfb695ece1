"""Loading a manifest and reporting every problem with its line and reason.

A manifest is `<dataset>/manifest.csv` (UTF-8, header row) with the columns
`pair_id, workflow, base, product, mask, reference, tags`; `mask`, `reference` and `tags` may be
empty; `tags` is `;`-separated. An image cell is one of:
- a path relative to the dataset's root (its folder, or the root its dataset.json declares); it may not
  leave that root;
- `dataset:PATH`, a file of the dataset's own folder (the masks an importer derived), which may not
  leave that folder;
- an `http(s)://` URL, fetched once into the local URL cache (vton_eval.datasets.urls) and then
  checked like a file.

Problems come in two sorts. A row problem (unknown workflow, missing file, a URL that does not answer,
duplicate id...) means the row cannot become a case at all. An image problem (GIF, too small,
truncated...) describes an input the service would refuse: the pair stays, marked invalid, so a run
records it as `invalid_input` without sending it.
"""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from vton_eval import workflows
from vton_eval.datasets.model import (
    COLUMNS,
    IMAGE_COLUMNS,
    REQUIRED_COLUMNS,
    SERVICE_REFUSALS,
    Dataset,
    DatasetError,
    Pair,
    Problem,
)
from vton_eval.datasets.sidecar import read_declaration
from vton_eval.datasets.urls import UrlCache, UrlFailure, looks_like_url, shown_url
from vton_eval.images import DEFAULT_MAX_PIXELS, SERVICE_DOWNSCALE_PIXELS, ImageInfo, ImageProblem, inspect_image

OWN_PREFIX = "dataset:"
MAX_MANIFEST_BYTES = 200 * 1024 * 1024
# A cell longer than Python's csv default (128 KB) is reported, not a crash.
MAX_FIELD_CHARS = 1 << 20
INSPECT_WORKERS = 8


def resolve_manifest(path: str | Path) -> Path:
    """Accept a dataset folder or its manifest.csv; raise DatasetError if neither exists."""
    p = Path(path)
    if p.is_dir():
        p = p / "manifest.csv"
    if not p.is_file():
        raise DatasetError(f"no manifest at {p} (a dataset is a folder with a manifest.csv)")
    return p


@dataclass
class _Row:
    line: int
    values: dict[str, str]


@dataclass
class _Context:
    ds: Dataset
    check_images: bool
    max_pixels: int
    seen: dict[str, int]
    images: dict[Path, ImageInfo | ImageProblem]
    urls: dict[str, Path | UrlFailure]
    warned: set[Path] = field(default_factory=set)


def load_dataset(
    path: str | Path, check_images: bool = True, max_pixels: int = DEFAULT_MAX_PIXELS,
    url_cache: UrlCache | None = None, refresh_urls: bool = False,
    progress: Callable[[int, int], None] | None = None,
) -> Dataset:
    """Read a manifest and check every row; problems are collected, never raised (DatasetError only when
    there is no dataset to read). URLs are fetched into `url_cache` (the default cache when None), all at
    once and each distinct URL once; `progress(done, total)` follows the fetching."""
    manifest = resolve_manifest(path)
    root = manifest.parent.resolve()
    declaration = read_declaration(root)
    ds = Dataset(name=root.name, root=root, manifest=manifest, image_root=declaration.root or root)
    size = manifest.stat().st_size
    if size > MAX_MANIFEST_BYTES:
        raise DatasetError(f"{manifest} is {size:,} bytes; a manifest may have at most {MAX_MANIFEST_BYTES:,}")
    rows = _read_rows(manifest, ds)
    if rows is None:
        return ds
    wanted = [v for row in rows for c in IMAGE_COLUMNS if looks_like_url(v := row.values.get(c, ""))]
    urls: dict[str, Path | UrlFailure] = {}
    if wanted:
        cache = url_cache if url_cache is not None else UrlCache()
        urls = cache.resolve(wanted, refresh=refresh_urls, progress=progress)
    images = _inspect_all(ds, rows, urls, max_pixels) if check_images else {}
    ctx = _Context(ds, check_images, max_pixels, {}, images, urls)
    for row in rows:
        pair = _check_row(ctx, row.values, row.line)
        if pair is not None:
            ds.pairs.append(pair)
    if not ds.pairs and not ds.errors:
        ds.problems.append(Problem(1, None, None, "empty", "the manifest has no pairs"))
    return ds


def _inspect(path: Path, max_pixels: int) -> ImageInfo | ImageProblem:
    try:
        return inspect_image(path, max_pixels=max_pixels)
    except ImageProblem as problem:
        return problem


def _inspect_all(ds: Dataset, rows: list[_Row], urls: dict[str, Path | UrlFailure],
                 max_pixels: int) -> dict[Path, ImageInfo | ImageProblem]:
    """Every distinct image the manifest names, decoded once, several at a time (Pillow decodes outside the
    interpreter lock: a 2,032-pair test set validates in about half the time on two cores)."""
    targets: set[Path] = set()
    for row in rows:
        for column in IMAGE_COLUMNS:
            cell = row.values.get(column, "")
            if not cell:
                continue
            target = urls.get(cell) if looks_like_url(cell) else locate(ds, cell)[0]
            if isinstance(target, Path) and target.is_file():
                targets.add(target)
    workers = max(1, min(INSPECT_WORKERS, os.cpu_count() or 1))
    if workers == 1 or len(targets) < 8:
        return {t: _inspect(t, max_pixels) for t in targets}
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="vton-inspect") as pool:
        ordered = sorted(targets)
        return dict(zip(ordered, pool.map(lambda t: _inspect(t, max_pixels), ordered, chunksize=16), strict=True))


def _read_rows(manifest: Path, ds: Dataset) -> list[_Row] | None:
    text = _decode(manifest.read_bytes(), ds)
    if text is None:
        return None
    csv.field_size_limit(max(csv.field_size_limit(), MAX_FIELD_CHARS))
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = [h.strip().lower() for h in next(reader)]
    except StopIteration:
        ds.problems.append(Problem(1, None, None, "empty", "the manifest is empty"))
        return None
    except csv.Error as exc:
        ds.problems.append(Problem(1, None, None, "csv", f"the header cannot be read: {exc}"))
        return None
    missing = [c for c in REQUIRED_COLUMNS if c not in header]
    if missing:
        ds.problems.append(
            Problem(1, None, None, "header", f"missing column(s) {', '.join(missing)}; expected {', '.join(COLUMNS)}")
        )
        return None
    rows: list[_Row] = []
    while True:
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            ds.problems.append(Problem(reader.line_num, None, None, "csv", f"the line cannot be read: {exc}"))
            continue
        line = reader.line_num
        if not any(cell.strip() for cell in row):
            continue
        if len(row) > len(header):
            ds.problems.append(
                Problem(line, None, None, "columns", f"{len(row)} fields but the header has {len(header)}")
            )
            continue
        rows.append(_Row(line, {name: (row[i].strip() if i < len(row) else "") for i, name in enumerate(header)}))
    return rows


def _decode(raw: bytes, ds: Dataset) -> str | None:
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        ds.problems.append(
            Problem(line, None, None, "encoding", f"not UTF-8 (byte 0x{raw[exc.start]:02x}); save the file as UTF-8")
        )
        return None


def locate(ds: Dataset, cell: str) -> tuple[Path | None, str | None]:
    """The file a (non-URL) image cell names, or why it names none: (path, None) or (None, message)."""
    if cell.startswith(OWN_PREFIX):
        base, rel, where = ds.root, cell[len(OWN_PREFIX):], "the dataset folder"
    else:
        assert ds.image_root is not None
        base, rel = ds.image_root, cell
        where = "the dataset folder" if ds.image_root == ds.root else f"the dataset's root ({ds.image_root})"
    try:
        target = (base / rel).resolve()
    except (OSError, RuntimeError, ValueError) as exc:  # a symlink loop, a NUL byte
        return None, f"{cell!r} cannot be resolved: {exc}"
    if not target.is_relative_to(base):
        return None, f"{cell!r} leaves {where}"
    return target, None


def _check_row(ctx: _Context, values: dict[str, str], line: int) -> Pair | None:
    ds = ctx.ds
    pair_id = values.get("pair_id", "")
    problems: list[Problem] = []

    def add(column: str | None, reason: str, message: str, severity: str = "error") -> None:
        problems.append(Problem(line, pair_id or None, column, reason, message, severity))

    if not pair_id:
        add("pair_id", "pair_id", "pair_id is empty")
    elif pair_id in ctx.seen:
        add("pair_id", "duplicate", f"pair_id {pair_id!r} already used on line {ctx.seen[pair_id]}")
    else:
        ctx.seen[pair_id] = line
    workflow = values.get("workflow", "").lower()
    if not workflows.is_known(workflow):
        add("workflow", "workflow",
            f"unknown workflow {values.get('workflow', '')!r} (use {', '.join(workflows.names())}; a run through "
            "the sm4ll profile also accepts the workflows its endpoint offers)")

    paths: dict[str, Path | None] = {}
    urls: list[tuple[str, str]] = []
    refusal: str | None = None
    for column in IMAGE_COLUMNS:
        cell = values.get(column, "")
        paths[column] = None
        if not cell:
            if column in REQUIRED_COLUMNS:
                add(column, "missing_path", f"{column} is empty")
            continue
        if looks_like_url(cell):
            got = ctx.urls[cell]
            if isinstance(got, UrlFailure):
                add(column, got.reason, got.message)
                continue
            target, shown = got, shown_url(cell)
            urls.append((column, cell))
        else:
            target, why = locate(ds, cell)
            if target is None:
                add(column, "path_escapes", why or "")
                continue
            if not target.is_file():
                add(column, "missing_file", f"file not found: {cell}")
                continue
            shown = cell
        paths[column] = target
        if not ctx.check_images:
            continue
        got_image = ctx.images.get(target)
        if got_image is None:  # a file that appeared after the images were inspected
            got_image = ctx.images[target] = _inspect(target, ctx.max_pixels)
        if isinstance(got_image, ImageProblem):
            reason = got_image.reason if got_image.reason in SERVICE_REFUSALS else "unreadable"
            add(column, reason, f"{shown}: {got_image}")
            if reason in SERVICE_REFUSALS and refusal is None:
                refusal = f"{column}: {got_image}"
        elif got_image.pixels > SERVICE_DOWNSCALE_PIXELS and column in ("base", "product") \
                and target not in ctx.warned:
            ctx.warned.add(target)
            add(column, "downscaled", f"{shown} is {got_image.width}x{got_image.height}; the service downsizes "
                "inputs over 1.6 MP", severity="warning")

    ds.problems.extend(problems)
    fatal = [p for p in problems if p.severity == "error" and p.reason not in SERVICE_REFUSALS]
    if fatal:
        return None
    assert paths["base"] is not None and paths["product"] is not None
    tags = tuple(t.strip() for t in values.get("tags", "").split(";") if t.strip())
    return Pair(pair_id, workflow, paths["base"], paths["product"], paths["mask"], paths["reference"], tags,
                line, invalid_reason=refusal, urls=tuple(urls))
