"""Datasets of image pairs: loading a manifest and reporting every problem with its row and reason.

A manifest is `datasets/<name>/manifest.csv` (UTF-8, header row) with the columns
`pair_id, workflow, base, product, mask, reference, tags`. Paths are relative to the manifest's
folder and may not leave it; `mask`, `reference` and `tags` may be empty; `tags` is `;`-separated.

Problems come in two sorts. A row problem (unknown workflow, missing file, duplicate id...) means
the row cannot become a case at all. An image problem (GIF, too small, truncated...) describes an
input the service would refuse: the pair stays, marked invalid, so a run records it as
`invalid_input` without sending it.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from pathlib import Path

from vton_eval import workflows
from vton_eval.errors import VtonEvalError
from vton_eval.images import DEFAULT_MAX_PIXELS, SERVICE_DOWNSCALE_PIXELS, ImageProblem, inspect_image

COLUMNS: tuple[str, ...] = ("pair_id", "workflow", "base", "product", "mask", "reference", "tags")
REQUIRED_COLUMNS: tuple[str, ...] = ("pair_id", "workflow", "base", "product")
IMAGE_COLUMNS: tuple[str, ...] = ("base", "product", "mask", "reference")
# Image reasons that describe what the service refuses (format, size), not a broken dataset.
SERVICE_REFUSALS = frozenset({"format", "too_small", "too_large", "truncated", "not_an_image"})


class DatasetError(VtonEvalError):
    """The dataset cannot be read at all (no manifest, not a folder)."""


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a manifest. `line` is the file's line number (1 = header)."""

    line: int
    pair_id: str | None
    column: str | None
    reason: str
    message: str
    severity: str = "error"

    def __str__(self) -> str:
        where = f"line {self.line}"
        if self.pair_id:
            where += f" ({self.pair_id})"
        if self.column:
            where += f", {self.column}"
        return f"{where}: {self.severity}: {self.message}"


@dataclass(frozen=True)
class Pair:
    pair_id: str
    workflow: str
    base: Path
    product: Path
    mask: Path | None
    reference: Path | None
    tags: tuple[str, ...]
    line: int
    # Set when the service would refuse an input: the case is recorded as invalid_input.
    invalid_reason: str | None = None

    @property
    def tags_text(self) -> str:
        return ";".join(self.tags)


@dataclass
class Dataset:
    name: str
    root: Path
    manifest: Path
    pairs: list[Pair] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "error"]

    @property
    def row_errors(self) -> list[Problem]:
        """Errors that dropped a row (as opposed to image refusals kept as invalid pairs)."""
        kept = {(p.line, p.reason) for p in self.errors if p.reason in SERVICE_REFUSALS}
        return [p for p in self.errors if (p.line, p.reason) not in kept]

    @property
    def workflows(self) -> list[str]:
        return sorted({p.workflow for p in self.pairs})

    @property
    def tags(self) -> list[str]:
        return sorted({t for p in self.pairs for t in p.tags})


def resolve_manifest(path: str | Path) -> Path:
    """Accept a dataset folder or its manifest.csv; raise DatasetError if neither exists."""
    p = Path(path)
    if p.is_dir():
        p = p / "manifest.csv"
    if not p.is_file():
        raise DatasetError(f"no manifest at {p} (a dataset is a folder with a manifest.csv)")
    return p


def load_dataset(
    path: str | Path, check_images: bool = True, max_pixels: int = DEFAULT_MAX_PIXELS
) -> Dataset:
    """Read a manifest and check every row; problems are collected, never raised."""
    manifest = resolve_manifest(path)
    root = manifest.parent.resolve()
    ds = Dataset(name=root.name, root=root, manifest=manifest)
    text = _decode(manifest.read_bytes(), ds)
    if text is None:
        return ds
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = [h.strip().lower() for h in next(reader)]
    except StopIteration:
        ds.problems.append(Problem(1, None, None, "empty", "the manifest is empty"))
        return ds
    missing = [c for c in REQUIRED_COLUMNS if c not in header]
    if missing:
        ds.problems.append(
            Problem(1, None, None, "header", f"missing column(s) {', '.join(missing)}; expected {', '.join(COLUMNS)}")
        )
        return ds
    seen: dict[str, int] = {}
    image_cache: dict[Path, ImageProblem | None] = {}
    for row in reader:
        line = reader.line_num
        if not any(cell.strip() for cell in row):
            continue
        if len(row) > len(header):
            ds.problems.append(
                Problem(line, None, None, "columns", f"{len(row)} fields but the header has {len(header)}")
            )
            continue
        values = {name: (row[i].strip() if i < len(row) else "") for i, name in enumerate(header)}
        pair = _check_row(ds, values, line, seen, check_images, max_pixels, image_cache)
        if pair is not None:
            ds.pairs.append(pair)
    if not ds.pairs and not ds.errors:
        ds.problems.append(Problem(1, None, None, "empty", "the manifest has no pairs"))
    return ds


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


def _check_row(
    ds: Dataset,
    values: dict[str, str],
    line: int,
    seen: dict[str, int],
    check_images: bool,
    max_pixels: int,
    image_cache: dict[Path, ImageProblem | None],
) -> Pair | None:
    pair_id = values.get("pair_id", "")
    problems: list[Problem] = []

    def add(column: str | None, reason: str, message: str, severity: str = "error") -> None:
        problems.append(Problem(line, pair_id or None, column, reason, message, severity))

    if not pair_id:
        add("pair_id", "pair_id", "pair_id is empty")
    elif pair_id in seen:
        add("pair_id", "duplicate", f"pair_id {pair_id!r} already used on line {seen[pair_id]}")
    else:
        seen[pair_id] = line
    workflow = values.get("workflow", "").lower()
    if not workflows.is_known(workflow):
        add("workflow", "workflow",
            f"unknown workflow {values.get('workflow', '')!r} (use {', '.join(workflows.names())}; a run through "
            "the sm4ll profile also accepts the workflows its endpoint offers)")

    paths: dict[str, Path | None] = {}
    refusal: str | None = None
    for column in IMAGE_COLUMNS:
        rel = values.get(column, "")
        if not rel:
            if column in REQUIRED_COLUMNS:
                add(column, "missing_path", f"{column} is empty")
            paths[column] = None
            continue
        target = (ds.root / rel).resolve()
        if not target.is_relative_to(ds.root):
            add(column, "path_escapes", f"{rel!r} leaves the dataset folder")
            paths[column] = None
            continue
        if not target.is_file():
            add(column, "missing_file", f"file not found: {rel}")
            paths[column] = None
            continue
        paths[column] = target
        if not check_images:
            continue
        if target not in image_cache:
            try:
                info = inspect_image(target, max_pixels=max_pixels)
                image_cache[target] = None
                if info.pixels > SERVICE_DOWNSCALE_PIXELS and column in ("base", "product"):
                    add(column, "downscaled", f"{rel} is {info.width}x{info.height}; the service downsizes inputs "
                        "over 1.6 MP", severity="warning")
            except ImageProblem as problem:
                image_cache[target] = problem
        problem = image_cache[target]
        if problem is not None:
            reason = problem.reason if problem.reason in SERVICE_REFUSALS else "unreadable"
            add(column, reason, f"{rel}: {problem}")
            if reason in SERVICE_REFUSALS and refusal is None:
                refusal = f"{column}: {problem}"

    ds.problems.extend(problems)
    fatal = [p for p in problems if p.severity == "error" and p.reason not in SERVICE_REFUSALS]
    if fatal:
        return None
    assert paths["base"] is not None and paths["product"] is not None
    tags = tuple(t.strip() for t in values.get("tags", "").split(";") if t.strip())
    return Pair(pair_id, workflow, paths["base"], paths["product"], paths["mask"], paths["reference"], tags,
                line, invalid_reason=refusal)
