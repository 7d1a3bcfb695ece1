"""Validating a dataset: load it with every image checked, summarise, and record when and what was found."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from vton_eval.datasets.manifest import load_dataset
from vton_eval.datasets.model import Dataset
from vton_eval.datasets.sidecar import manifest_digest, record_validation
from vton_eval.datasets.urls import UrlCache
from vton_eval.images import DEFAULT_MAX_PIXELS


@dataclass
class Validation:
    dataset: Dataset
    summary: dict[str, Any]
    recorded: bool

    def describe(self) -> str:
        """One line: usable pairs per workflow, refusals, errors and warnings."""
        s = self.summary
        by_workflow = ", ".join(f"{w} {n}" for w, n in s["by_workflow"].items())
        return (f"{self.dataset.name}: {s['pairs']} usable pairs ({by_workflow or 'none'}), {s['invalid']} that the "
                f"service would refuse; {s['errors']} error(s), {s['warnings']} warning(s)")


def summarize(ds: Dataset) -> dict[str, Any]:
    by_workflow: dict[str, int] = {}
    for pair in ds.pairs:
        by_workflow[pair.workflow] = by_workflow.get(pair.workflow, 0) + 1
    return {
        "pairs": len(ds.pairs),
        "by_workflow": dict(sorted(by_workflow.items())),
        "with_reference": sum(1 for p in ds.pairs if p.reference is not None),
        "with_mask": sum(1 for p in ds.pairs if p.mask is not None),
        "by_url": sum(1 for p in ds.pairs if p.urls),
        "invalid": sum(1 for p in ds.pairs if p.invalid_reason),
        "errors": len(ds.errors),
        "warnings": len(ds.problems) - len(ds.errors),
        "row_errors": len(ds.row_errors),
    }


def validate_dataset(path: str | Path, max_pixels: int = DEFAULT_MAX_PIXELS, url_cache: UrlCache | None = None,
                     refresh_urls: bool = False, progress: Callable[[int, int], None] | None = None,
                     record: bool = True) -> Validation:
    """Check every row and image (fetching URLs as needed); keep the outcome in the dataset's validation.json
    when `record` (and the folder can be written). Raises DatasetError only when there is no dataset."""
    ds = load_dataset(path, check_images=True, max_pixels=max_pixels, url_cache=url_cache,
                      refresh_urls=refresh_urls, progress=progress)
    summary = summarize(ds)
    recorded = False
    if record:
        recorded = record_validation(ds.root, summary, [p.to_dict() for p in ds.problems],
                                     manifest_digest(ds.manifest))
    return Validation(ds, summary, recorded)
