"""The datasets under a folder, summarised from their manifests and sidecars alone (no image is opened, no
URL fetched): what the Datasets page lists."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vton_eval.datasets.manifest import MAX_MANIFEST_BYTES
from vton_eval.datasets.model import DatasetError
from vton_eval.datasets.sidecar import manifest_digest, read_declaration, read_validation
from vton_eval.datasets.urls import looks_like_url


@dataclass
class DatasetSummary:
    folder: Path
    pairs: int = 0
    by_workflow: dict[str, int] = field(default_factory=dict)
    paired: int = 0  # the person wears the product: a reference to compare with
    by_url: int = 0
    layout: str | None = None  # how it was imported (None: made by hand)
    root: Path | None = None
    validation: dict[str, Any] | None = None
    stale: bool = False  # validated, but the manifest changed since
    problem: str | None = None  # why it could not be summarised

    @property
    def name(self) -> str:
        return self.folder.name

    @property
    def unpaired(self) -> int:
        return self.pairs - self.paired


def find_dataset_folders(root: Path) -> list[Path]:
    """Dataset folders (with a manifest.csv) directly under `root`."""
    if not root.is_dir():
        return []
    return sorted(p.parent for p in root.glob("*/manifest.csv"))


def summarize_folder(folder: Path) -> DatasetSummary:
    """Counts from the manifest's text (rows as written: a broken row still counts until validated)."""
    out = DatasetSummary(folder)
    manifest = folder / "manifest.csv"
    try:
        declaration = read_declaration(folder)
        out.root, out.layout = declaration.root, (declaration.imported or {}).get("layout")
        if manifest.stat().st_size > MAX_MANIFEST_BYTES:
            raise DatasetError(f"{manifest} is larger than {MAX_MANIFEST_BYTES:,} bytes")
        text = manifest.read_bytes().decode("utf-8-sig")
        rows = list(csv.DictReader(io.StringIO(text, newline="")))
    except (DatasetError, OSError, UnicodeDecodeError, csv.Error) as exc:
        out.problem = str(exc)
        return out
    for row in rows:
        values = {str(k).strip().lower(): (v or "").strip() if isinstance(v, str) else "" for k, v in row.items()}
        if not values.get("pair_id"):
            continue
        out.pairs += 1
        workflow = values.get("workflow", "").lower() or "?"
        out.by_workflow[workflow] = out.by_workflow.get(workflow, 0) + 1
        tags = {t.strip() for t in values.get("tags", "").split(";")}
        if values.get("reference") or "pairs:paired" in tags:
            out.paired += 1
        if any(looks_like_url(values.get(c, "")) for c in ("base", "product", "mask", "reference")):
            out.by_url += 1
    out.by_workflow = dict(sorted(out.by_workflow.items()))
    out.validation = read_validation(folder)
    if out.validation is not None:
        out.stale = out.validation.get("manifest_sha256") != manifest_digest(manifest)
    return out


def catalog(root: Path) -> list[DatasetSummary]:
    return [summarize_folder(folder) for folder in find_dataset_folders(root)]
