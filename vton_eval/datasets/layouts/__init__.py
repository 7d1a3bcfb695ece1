"""Importing a public try-on test set where it lies: a manifest (and a dataset.json declaring the source as
the dataset's root) written into a new folder, the images left in place.

`import_layout("viton-hd" | "dresscode", SRC, DIR, options)` reads the layout's pair files, reports every
problem with its file and line (a malformed line, a pair naming a missing file, a label map that gives no
mask), keeps a reproducible sample when asked (`limit` pairs drawn with `seed`, in the source's order),
derives garment masks when asked (DressCode), and writes `DIR/manifest.csv` with paths relative to SRC,
`DIR/dataset.json` (`root` = SRC, and how the dataset was imported) and derived masks under `DIR/masks/`.
Tags record the source, split, category and paired/unpaired (`source:viton-hd;split:test;...`).

These functions only write files; they check no role. People act through `vton_eval.curation`, whose
functions of the same names take the actor, check the role (and the import roots) and keep the audit trail.
"""

from __future__ import annotations

import csv
import io
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from vton_eval.datasets.labelmaps import LabelMapProblem, write_garment_mask
from vton_eval.datasets.layouts import dresscode, viton_hd
from vton_eval.datasets.layouts.common import Candidate, ImportOptions, ImportProblem, Layout
from vton_eval.datasets.manifest import OWN_PREFIX
from vton_eval.datasets.model import COLUMNS, DatasetError
from vton_eval.datasets.sidecar import atomic_write_text, write_declaration
from vton_eval.provenance import tool_version

# Every layout, by name: the importer, `vton-eval datasets import`'s choices and the Datasets page read this.
LAYOUTS: dict[str, Layout] = {layout.name: layout for layout in (viton_hd.LAYOUT, dresscode.LAYOUT)}
MASKS_FOLDER = "masks"


@dataclass
class ImportReport:
    layout: str
    source: Path
    folder: Path
    options: ImportOptions
    written: bool = False
    pairs: int = 0
    found: int = 0  # usable pairs in the source, before the sample
    lines: int = 0
    masks: int = 0
    by_workflow: dict[str, int] = field(default_factory=dict)
    problems: list[ImportProblem] = field(default_factory=list)

    @property
    def errors(self) -> list[ImportProblem]:
        return [p for p in self.problems if p.severity == "error"]

    @property
    def manifest(self) -> Path:
        return self.folder / "manifest.csv"

    def describe(self) -> str:
        if not self.written:
            return f"nothing imported from {self.source}: no usable pair ({len(self.errors)} error(s))"
        by_workflow = ", ".join(f"{w} {n}" for w, n in self.by_workflow.items())
        sample = f" (a sample of {self.found:,} with seed {self.options.seed})" if self.pairs < self.found else ""
        masks = f", {self.masks:,} with a derived mask" if self.masks else ""
        return (f"imported {self.pairs:,} pairs{sample} ({by_workflow}{masks}) from {self.source} into {self.folder}; "
                f"{self.lines:,} pair line(s) read, {len(self.errors)} error(s), "
                f"{len(self.problems) - len(self.errors)} warning(s)")


def import_layout(layout: str, src: str | Path, into: str | Path, options: ImportOptions | None = None,
                  overwrite: bool = False, progress: Callable[[int, int], None] | None = None) -> ImportReport:
    """Write a dataset for the pairs of a layout folder. Raises DatasetError when nothing can be imported
    at all (unknown layout, not such a folder, a bad option, a dataset already there)."""
    options = options or ImportOptions()
    options.check()
    chosen_layout = LAYOUTS.get(layout)
    if chosen_layout is None:
        raise DatasetError(f"unknown layout {layout!r} (use {', '.join(LAYOUTS)})")
    source = Path(src).expanduser().resolve()
    if not source.is_dir():
        raise DatasetError(f"{src} is not a folder")
    folder = Path(into).expanduser().resolve()
    if (folder / "manifest.csv").exists() and not overwrite:
        raise DatasetError(f"{folder} already holds a dataset (its manifest.csv); choose another folder or overwrite")
    if folder.exists() and not folder.is_dir():
        raise DatasetError(f"{folder} is not a folder")
    scan = chosen_layout.scan(source, options)
    report = ImportReport(layout, source, folder, options, found=len(scan.candidates), lines=scan.lines,
                          problems=list(scan.problems))
    chosen = sample(scan.candidates, options.limit, options.seed)
    if not chosen:
        return report
    folder.mkdir(parents=True, exist_ok=True)
    report.masks = _derive_masks(source, folder, chosen, report, progress)
    atomic_write_text(folder / "manifest.csv", manifest_text(chosen))
    write_declaration(folder, source, {
        "layout": layout, "source": str(source), "split": options.split, "pairs": options.pairs,
        "categories": sorted({t.split(":", 1)[1] for c in chosen for t in c.tags if t.startswith("category:")}),
        "limit": options.limit, "seed": options.seed, "masks": options.masks, "pair_files": scan.files,
        "pairs_written": len(chosen), "pairs_found": len(scan.candidates), "tool_version": tool_version(),
    })
    report.written, report.pairs = True, len(chosen)
    report.problems.sort(key=lambda p: (p.file, p.line))  # the source's order, whichever step found them
    for c in chosen:
        report.by_workflow[c.workflow] = report.by_workflow.get(c.workflow, 0) + 1
    return report


def sample(candidates: list[Candidate], limit: int | None, seed: int) -> list[Candidate]:
    """`limit` candidates drawn with `seed` (the same source, limit and seed give the same pairs), kept in the
    source's order; all of them without a limit."""
    if limit is None or limit >= len(candidates):
        return list(candidates)
    picked = sorted(random.Random(seed).sample(range(len(candidates)), limit))
    return [candidates[i] for i in picked]


def _derive_masks(source: Path, folder: Path, chosen: list[Candidate], report: ImportReport,
                  progress: Callable[[int, int], None] | None) -> int:
    wanted = [c for c in chosen if c.mask_from is not None]
    made: dict[str, str | None] = {}
    for done, candidate in enumerate(wanted, start=1):
        assert candidate.mask_from is not None
        label_map, classes, name = candidate.mask_from
        if name not in made:
            try:
                write_garment_mask(source / label_map, classes, folder / MASKS_FOLDER / name)
                made[name] = None
            except LabelMapProblem as exc:
                made[name] = f"{label_map} {exc}"
        problem = made[name]
        if problem is None:
            candidate.mask = f"{OWN_PREFIX}{MASKS_FOLDER}/{name}"
        else:
            report.problems.append(ImportProblem(*candidate.where, f"{problem} (the pair has no mask)", "warning"))
        if progress is not None:
            progress(done, len(wanted))
    return sum(1 for c in wanted if c.mask)


def manifest_text(candidates: list[Candidate]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(COLUMNS)
    for c in candidates:
        writer.writerow([c.pair_id, c.workflow, c.base, c.product, c.mask, c.reference, ";".join(c.tags)])
    return buffer.getvalue()
