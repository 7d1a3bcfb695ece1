"""Datasets of image pairs: manifests and their validation, importers of public layouts, the URL cache.

- model: Dataset, Pair, Problem, DatasetError, the manifest's columns
- manifest: `load_dataset` (every problem with its line), `resolve_manifest`
- sidecar: dataset.json (the root a dataset declares, how it was imported) and validation.json
- urls: images named by URL, fetched once into a content-addressed cache
- validation: `validate_dataset` (load, summarise, record the outcome beside the manifest)
- layouts: importers of the VITON-HD and DressCode folder layouts (labelmaps derives garment masks)
- authoring: datasets made by hand (from uploads) and their tags
- catalog: the datasets under a folder, summarised without reading an image
"""

from vton_eval.datasets.manifest import load_dataset, resolve_manifest
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

__all__ = [
    "COLUMNS", "IMAGE_COLUMNS", "REQUIRED_COLUMNS", "SERVICE_REFUSALS", "Dataset", "DatasetError", "Pair",
    "Problem", "load_dataset", "resolve_manifest",
]
