"""Inputs and outputs made by code for the checks' tests: drawn people and products, their clean try-on,
and the defects a broken service produces (tests/test_checks.py, tests/test_checks_config.py)."""

from __future__ import annotations

import functools
import io

import numpy as np
from PIL import Image, ImageDraw

from tests.helpers.composites import composite_at, layout_box
from vton_eval.checks import CheckReport, CheckResult
from vton_eval.samples.people import draw_person_with_layout, person_mask
from vton_eval.samples.products import draw_product

WORKFLOWS = ("eyewear", "footwear", "top", "dress")
KIND = {"eyewear": "glasses", "footwear": "shoes", "top": "top", "dress": "dress"}


@functools.cache
def person(seed: int) -> tuple[Image.Image, object]:
    return draw_person_with_layout(seed)


@functools.cache
def product(workflow: str, seed: int = 1) -> Image.Image:
    return draw_product(KIND[workflow], seed)


def painted_mask(seed: int, workflow: str) -> Image.Image:
    """A mask where a client would paint it: the garment shape for top / dress, a band over the
    eyes or the feet for eyewear / footwear."""
    base, layout = person(seed)
    if workflow in ("top", "dress"):
        return person_mask(layout, workflow)
    mask = Image.new("L", base.size, 0)
    half = 0.09 * layout.height
    if workflow == "eyewear":
        box = (layout.cx - half, layout.y(0.04), layout.cx + half, layout.y(0.095))
    else:
        box = (layout.cx - 1.6 * half, layout.y(0.91), layout.cx + 1.6 * half, layout.y(1.0))
    ImageDraw.Draw(mask).rectangle(box, fill=255)
    return mask


def jpeg(image: Image.Image, quality: int = 80) -> bytes:
    buf = io.BytesIO()
    image.save(buf, "JPEG", quality=quality)
    return buf.getvalue()


def names(results: list[CheckResult]) -> set[str]:
    return {r.name for r in results}


def hard(report: CheckReport) -> set[str]:
    return names(report.hard_failures)


def clean(workflow: str = "top", seed: int = 1) -> tuple[Image.Image, Image.Image, Image.Image]:
    """A drawn person, a product and their clean try-on, placed from the drawing (not from the checks' geometry)."""
    base, layout = person(seed)
    shot = product(workflow, seed)
    return base, shot, composite_at(base, shot, workflow, layout_box(layout, workflow))


def new_background(image: Image.Image, colour: tuple[int, int, int]) -> Image.Image:
    rgb = np.asarray(image).astype(np.int16)
    background = np.abs(rgb - rgb[2, 2]).sum(axis=2) < 30
    out = rgb.copy()
    out[background] = colour
    return Image.fromarray(out.astype(np.uint8))


def colour_shift(image: Image.Image) -> Image.Image:
    rgb = np.asarray(image).astype(np.int16) + np.array([30, -12, -25])
    return Image.fromarray(np.clip(rgb, 0, 255).astype(np.uint8))
