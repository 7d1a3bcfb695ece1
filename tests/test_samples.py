"""The shipped sample dataset is complete, valid, small, and exactly what the generator makes."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from vton_eval.images import inspect_image, load_rgb
from vton_eval.samples import KINDS, draw_person, draw_product, inappropriate_product, make_sample_dataset
from vton_eval.sandbox import is_inappropriate, tryon_composite

SAMPLE = Path(__file__).resolve().parents[1] / "datasets" / "sample"
COLUMNS = ["pair_id", "workflow", "base", "product", "mask", "reference", "tags"]


def _rows(manifest: Path) -> list[dict[str, str]]:
    with manifest.open(encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle)
        assert reader.fieldnames == COLUMNS
        return list(reader)


@pytest.fixture(scope="module")
def rows() -> list[dict[str, str]]:
    return _rows(SAMPLE / "manifest.csv")


def test_manifest_covers_every_workflow_with_unique_pairs(rows):
    assert len(rows) >= 16
    workflows = [row["workflow"] for row in rows]
    for workflow in ("eyewear", "footwear", "dress", "top"):
        assert workflows.count(workflow) >= 4, workflow
    assert len({row["pair_id"] for row in rows}) == len(rows)
    assert any(row["mask"] for row in rows) and any(row["reference"] for row in rows)
    assert all(row["tags"] and " " not in row["tags"] for row in rows)


def test_every_referenced_file_exists_inside_the_dataset_and_passes_inspection(rows):
    root = SAMPLE.resolve()
    for row in rows:
        for column in ("base", "product", "mask", "reference"):
            if not row[column]:
                continue
            path = (SAMPLE / row[column]).resolve()
            assert root in path.parents, f"{row['pair_id']}: {column} leaves the dataset folder"
            info = inspect_image(path)
            assert info.format in ("JPEG", "PNG", "WEBP")
        if row["mask"]:
            # A mask is white-on-black and the size of its person image.
            mask = Image.open(SAMPLE / row["mask"])
            assert mask.size == Image.open(SAMPLE / row["base"]).size
            values = np.unique(np.asarray(mask.convert("L")))
            assert values.min() == 0 and values.max() == 255


def test_dataset_is_small_enough_to_ship():
    total = sum(p.stat().st_size for p in SAMPLE.rglob("*") if p.is_file())
    assert total < 3_000_000


def test_references_are_what_the_sandbox_compositor_makes(rows):
    for row in rows:
        if not row["reference"]:
            continue
        mask = Image.open(SAMPLE / row["mask"]) if row["mask"] else None
        expected = tryon_composite(
            load_rgb(SAMPLE / row["base"]), load_rgb(SAMPLE / row["product"]), row["workflow"], mask
        )
        reference = load_rgb(SAMPLE / row["reference"])
        diff = np.abs(np.asarray(expected, dtype=np.int16) - np.asarray(reference, dtype=np.int16))
        # PNG references are exact; JPEG ones (photos) carry compression noise.
        assert diff.mean() < (0.01 if row["reference"].endswith(".png") else 3.0), row["pair_id"]


def test_regenerating_gives_the_same_manifest_and_files(tmp_path):
    manifest = make_sample_dataset(tmp_path / "sample")
    assert manifest.read_bytes() == (SAMPLE / "manifest.csv").read_bytes()
    for row in _rows(manifest):
        for column in ("base", "product", "mask", "reference"):
            if row[column]:
                assert (manifest.parent / row[column]).read_bytes() == (SAMPLE / row[column]).read_bytes()


def test_drawing_helpers_are_deterministic_and_safe():
    assert draw_person(4).tobytes() == draw_person(4).tobytes()
    assert draw_person(4).tobytes() != draw_person(5).tobytes()
    assert draw_person(1, size=(300, 600)).size == (300, 600)
    for kind in KINDS:
        product = draw_product(kind, 3)
        assert min(product.size) >= 100
        assert not is_inappropriate(product), kind
    assert is_inappropriate(inappropriate_product())
    assert is_inappropriate(inappropriate_product((120, 300)))
    with pytest.raises(ValueError, match="unknown product kind"):
        draw_product("hat", 0)
