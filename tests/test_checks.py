"""Output checks: clean composites pass, each known defect is caught by the check named for it."""

from __future__ import annotations

import functools
import io

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFilter

from vton_eval.checks import (
    check_paths,
    run_checks,
)
from vton_eval.sandbox.composite import tryon_composite

from .helpers.composites import ASTRONAUT_BOXES, composite_at, layout_box
from .helpers.drawn import WORKFLOWS
from .helpers.drawn import clean as _clean
from .helpers.drawn import colour_shift as _colour_shift
from .helpers.drawn import hard as _hard
from .helpers.drawn import jpeg as _jpeg
from .helpers.drawn import names as _names
from .helpers.drawn import new_background as _new_background
from .helpers.drawn import painted_mask as _person_mask
from .helpers.drawn import person as _person
from .helpers.drawn import product as _product

# ---------------------------------------------------------------- inputs made by code


@functools.cache
def _astronaut() -> Image.Image:
    from skimage import data

    return Image.fromarray(data.astronaut())


def _box_mask(base: Image.Image, workflow: str) -> Image.Image:
    """A rectangle mask over the region measured by hand on the photo (which has no drawn layout)."""
    x0, y0, x1, y1 = (round(v) for v in ASTRONAUT_BOXES[workflow])
    mask = Image.new("L", base.size, 0)
    ImageDraw.Draw(mask).rectangle((x0, y0, x1 - 1, y1 - 1), fill=255)
    return mask


def _png(image: Image.Image) -> bytes:
    buf = io.BytesIO()
    image.save(buf, "PNG")
    return buf.getvalue()


# ---------------------------------------------------------------- clean outputs


CLEAN_CASES = [(f"drawn{seed}", seed, wf, masked) for seed in (0, 1) for wf in WORKFLOWS for masked in (False, True)]


@pytest.mark.parametrize(("label", "seed", "workflow", "masked"), CLEAN_CASES)
def test_clean_composite_on_drawn_person_passes_and_raises_no_flags(label, seed, workflow, masked):
    base, layout = _person(seed)
    mask = _person_mask(seed, workflow) if masked else None
    product = _product(workflow, seed)
    # Placed from the drawing (or the mask), not from the checks' own body geometry.
    box = mask.getbbox() if mask is not None else layout_box(layout, workflow)
    output = composite_at(base, product, workflow, box)
    report = run_checks(output, base, product, workflow, mask=mask)
    assert report.passed, report.summary()
    assert not report.flags, [r.detail for r in report.flags]
    # The drawn figures are parsed (MediaPipe finds them), so the region comes from their landmarks.
    assert report.region_source == ("mask" if masked else "pose")
    # The same output as a JPEG, as most services send it: still clean.
    report = run_checks(_jpeg(output), base, product, workflow, mask=mask)
    assert report.passed and not report.flags, report.summary()


@pytest.mark.parametrize("workflow", WORKFLOWS)
@pytest.mark.parametrize("masked", [False, True])
def test_clean_composite_on_photo_passes_and_raises_no_flags(workflow, masked):
    base = _astronaut()
    mask = _box_mask(base, workflow) if masked else None
    product = _product(workflow)
    output = composite_at(base, product, workflow, ASTRONAUT_BOXES[workflow])
    report = run_checks(_jpeg(output, 90), base, product, workflow, mask=mask)
    assert report.passed, report.summary()
    assert not report.flags, [r.detail for r in report.flags]
    names = [r.name for r in report.results]
    assert names[:10] == [
        "decodes", "size", "size.resized", "blank", "product_returned", "noop",
        "preservation.changed_share", "preservation.ssim", "change_in_region", "placement",
    ]
    # The checks that see the person (the astronaut's face and body are found; her feet are out of frame).
    assert {"identity", "body", "background", "fidelity.colour", "fidelity.texture"} <= set(names[10:])
    assert report.region_source == ("mask" if masked else ("body" if workflow == "footwear" else "pose"))


def test_sample_dataset_references_pass_against_themselves(tmp_path):
    """The shipped sample pairs (photos, a grayscale side view with a hand-traced mask, drawn
    figures) through check_paths: their reference composites are clean try-ons."""
    import csv

    from vton_eval.samples import make_sample_dataset

    manifest = make_sample_dataset(tmp_path)
    rows = [r for r in csv.DictReader(manifest.open()) if r["reference"]]
    assert rows
    for row in rows:
        ref = tmp_path / row["reference"]
        report = check_paths(
            ref, tmp_path / row["base"], tmp_path / row["product"], row["workflow"],
            mask_path=tmp_path / row["mask"] if row["mask"] else None, reference_path=ref,
        )
        assert report.passed and not report.flags, (row["pair_id"], report.summary())
        assert report.get("reference.psnr").value == 100.0


# ---------------------------------------------------------------- one defect each


@pytest.mark.parametrize("workflow", WORKFLOWS)
def test_unchanged_person_is_noop(workflow):
    base, product, _ = _clean(workflow)
    for output in (base, _jpeg(base, 70)):
        report = run_checks(output, base, product, workflow)
        assert "noop" in _hard(report), report.summary()
        assert "placement" not in _hard(report)  # nothing was placed anywhere
        assert "change_in_region" in _names(report.flags)
    photo = _astronaut()
    assert "noop" in _hard(run_checks(_jpeg(photo, 75), photo, product, workflow))


@pytest.mark.parametrize("workflow", WORKFLOWS)
def test_repainted_photo_is_caught(workflow):
    base, product, clean = _clean(workflow)
    repaints = {"colour shift": _colour_shift(clean), "new background": _new_background(clean, (90, 140, 200))}
    for label, output in repaints.items():
        report = run_checks(output, base, product, workflow)
        assert "preservation.changed_share" in _hard(report), (label, report.summary())
        assert "repainted" in report.get("preservation.changed_share").detail
    photo = _astronaut()
    blurred = tryon_composite(photo, product, workflow).filter(ImageFilter.GaussianBlur(8))
    report = run_checks(blurred, photo, product, workflow)
    assert "preservation.ssim" in _hard(report), report.summary()


def test_moderate_change_outside_is_a_soft_flag():
    base, product, clean = _clean("eyewear")
    output = clean.copy()
    # A stripe across the legs: ~15 % of the picture outside the eyes changed.
    ImageDraw.Draw(output).rectangle((0, 560, base.width, 680), fill=(200, 60, 60))
    report = run_checks(output, base, product, "eyewear")
    result = report.get("preservation.changed_share")
    assert result.severity == "soft" and not result.passed, result
    assert report.passed  # a flag, not a failure
    assert "placement" not in _hard(report)  # the glasses are in place


@pytest.mark.parametrize(
    "colour", [(128, 128, 128), (0, 0, 0), (255, 255, 255), (40, 160, 90)], ids=["gray", "black", "white", "green"]
)
def test_one_colour_output_is_blank(colour):
    base, product, _ = _clean("dress")
    report = run_checks(Image.new("RGB", base.size, colour), base, product, "dress")
    assert "blank" in _hard(report), report.summary()
    # Nearly black: a dark frame with faint noise, as a safety filter might send.
    noise = np.random.default_rng(0).integers(0, 12, (base.height, base.width, 3), dtype=np.uint8)
    assert "blank" in _hard(run_checks(Image.fromarray(noise), base, product, "dress"))
    # Mostly white: an empty canvas with a small mark (3 % of the picture).
    mostly_white = Image.new("RGB", base.size, (255, 255, 255))
    ImageDraw.Draw(mostly_white).rectangle((150, 300, 230, 410), fill=(30, 30, 30))
    assert "blank" in _hard(run_checks(mostly_white, base, product, "dress"))


def test_clean_outputs_are_not_blank_even_on_sparse_images():
    base, product, clean = _clean("eyewear")
    # A small figure on a big empty canvas: the person image itself is mostly background.
    canvas = Image.new("RGB", (base.width * 3, base.height * 3), tuple(np.asarray(base)[2, 2].tolist()))
    canvas.paste(base.resize((base.width // 2, base.height // 2)), (base.width, base.height))
    output = canvas.copy()
    output.paste(clean.resize((base.width // 2, base.height // 2)), (base.width, base.height))
    assert "blank" not in _hard(run_checks(output, canvas, product, "eyewear"))


def test_wrong_aspect_is_wrong_size_and_skips_aligned_checks():
    base, product, clean = _clean("top")
    output = clean.resize((base.width, base.width))  # square instead of 1:2
    report = run_checks(_png(output), base, product, "top")
    assert _hard(report) == {"size"}, report.summary()
    assert "wrong size" in report.summary()
    assert _names(report.results) == {"decodes", "size", "blank", "product_returned"}


def test_same_aspect_other_size_is_only_flagged_resized():
    base, product, clean = _clean("footwear")
    for scale in (0.5, 1.5):
        output = clean.resize((round(base.width * scale), round(base.height * scale)), Image.LANCZOS)
        report = run_checks(_jpeg(output, 90), base, product, "footwear")
        assert report.passed, report.summary()
        assert _names(report.flags) == {"size.resized"}
        assert report.get("size.resized").value == pytest.approx(scale, abs=0.01)


def _eyes_and_feet(seed: int) -> tuple[Image.Image, Image.Image]:
    return _person_mask(seed, "eyewear"), _person_mask(seed, "footwear")


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_product_in_the_wrong_place_is_caught(seed):
    base, _ = _person(seed)
    eyes, feet = _eyes_and_feet(seed)
    glasses, shoes = _product("eyewear", seed), _product("footwear", seed)
    glasses_on_feet = tryon_composite(base, glasses, "eyewear", mask=feet)
    shoes_on_head = tryon_composite(base, shoes, "footwear", mask=eyes)
    for output, product, workflow, mask in (
        (glasses_on_feet, glasses, "eyewear", None),
        (glasses_on_feet, glasses, "eyewear", eyes),
        (shoes_on_head, shoes, "footwear", None),
    ):
        report = run_checks(output, base, product, workflow, mask=mask)
        assert "placement" in _hard(report), report.summary()
        assert "change_in_region" in _names(report.flags)
        assert "noop" not in _hard(report)


def test_product_returned_as_is_is_caught():
    base, product, _ = _clean("dress")
    report = run_checks(_png(product), base, product, "dress")
    assert {"product_returned", "size"} <= _hard(report), report.summary()
    # Squeezed into the person's frame: stretched, letterboxed, re-encoded.
    stretched = product.resize(base.size)
    letterboxed = Image.new("RGB", base.size, (255, 255, 255))
    scale = min(base.width / product.width, base.height / product.height)
    fitted = product.resize((round(product.width * scale), round(product.height * scale)))
    letterboxed.paste(fitted, ((base.width - fitted.width) // 2, (base.height - fitted.height) // 2))
    for output in (stretched, _jpeg(letterboxed, 85)):
        report = run_checks(output, base, product, "dress")
        assert "product_returned" in _hard(report), report.summary()


@pytest.mark.parametrize(
    "payload", [b"", b"not an image at all", _png(Image.new("RGB", (300, 300), "red"))[:200]],
    ids=["empty", "garbage", "truncated"],
)
def test_undecodable_output_is_a_decodes_failure(payload, tmp_path):
    base, product, _ = _clean()
    report = run_checks(payload, base, product, "top")
    assert [r.name for r in report.results] == ["decodes"]
    assert _hard(report) == {"decodes"}
    assert report.summary().startswith("decodes: the output does not decode")
    base_path, product_path = tmp_path / "b.png", tmp_path / "p.png"
    base.save(base_path)
    product.save(product_path)
    (tmp_path / "out.png").write_bytes(payload)
    assert _hard(check_paths(tmp_path / "out.png", base_path, product_path, "top")) == {"decodes"}
    assert _hard(check_paths(tmp_path / "missing.png", base_path, product_path, "top")) == {"decodes"}


def test_unknown_workflow_raises():
    base, product, clean = _clean()
    with pytest.raises(ValueError, match="unknown workflow 'hat'"):
        run_checks(clean, base, product, "hat")
