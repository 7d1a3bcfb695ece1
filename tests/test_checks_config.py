"""Output checks: thresholds and their overrides, reference and comparison measures, the report API."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
from PIL import ImageDraw

from vton_eval.checks import (
    Thresholds,
    difference_image,
    run_checks,
    similarity,
)
from vton_eval.checks import config as checks_config
from vton_eval.sandbox.composite import tryon_composite

from .helpers.drawn import clean as _clean
from .helpers.drawn import colour_shift as _colour_shift
from .helpers.drawn import hard as _hard
from .helpers.drawn import jpeg as _jpeg
from .helpers.drawn import names as _names
from .helpers.drawn import new_background as _new_background
from .helpers.drawn import product as _product

# ---------------------------------------------------------------- thresholds


def test_permissive_override_lets_a_defect_pass():
    base, product, clean = _clean("top")
    shifted = _colour_shift(clean)
    assert "preservation.changed_share" in _hard(run_checks(shifted, base, product, "top"))
    permissive = Thresholds.from_overrides(
        {"top": {"preservation.repaint_share": 1.0, "preservation.max_changed_share": 1.0}}
    )
    report = run_checks(shifted, base, product, "top", thresholds=permissive)
    assert report.get("preservation.changed_share").passed, report.summary()
    # Only for the workflow named.
    assert permissive.get("dress", "preservation.repaint_share") == 0.5
    noop_allowed = Thresholds.from_overrides('{"noop.min_changed_share": 0, "noop.min_region_changed": 0}')
    assert run_checks(base, base, product, "top", thresholds=noop_allowed).get("noop").passed


def test_override_precedence_and_round_trip():
    overrides = {"preservation.max_changed_share": 0.2, "top": {"preservation.max_changed_share": 0.3}}
    t = Thresholds.from_overrides(overrides)
    assert t.get("top", "preservation.max_changed_share") == 0.3
    # A value for all workflows replaces the built-in garment default (0.15) for dress too.
    assert t.get("dress", "preservation.max_changed_share") == 0.2
    assert Thresholds().get("dress", "preservation.max_changed_share") == 0.15
    assert Thresholds.from_overrides(json.loads(t.to_json())) == t
    assert Thresholds.from_overrides(None) == Thresholds()


@pytest.mark.parametrize(
    "overrides",
    [
        {"preservation.max_changed_sahre": 0.2},
        {"top": {"noop.minimum": 0.1}},
        {"hat": {"noop.min_changed_share": 0.1}},
        {"noop.min_changed_share": "high"},
        {"noop.min_changed_share": -1},
        "{not json",
    ],
)
def test_bad_overrides_raise_value_error(overrides):
    with pytest.raises(ValueError) as info:
        Thresholds.from_overrides(overrides)
    if isinstance(overrides, dict) and "preservation.max_changed_sahre" in overrides:
        assert "did you mean 'preservation.max_changed_share'" in str(info.value)


def test_every_threshold_is_documented_in_the_table():
    for key, default in checks_config.DEFAULTS.items():
        line = next((ln for ln in checks_config.__doc__.splitlines() if ln.startswith(key + " ")), None)
        assert line is not None, f"{key} missing from the config docstring table"
        assert f"{default:g}" in line.split()[2], (key, line)


# ---------------------------------------------------------------- reference, comparison, report


def test_reference_ssim_and_psnr():
    base, product, clean = _clean("dress")
    report = run_checks(_jpeg(clean, 90), base, product, "dress", reference=clean)
    ssim, psnr = report.get("reference.ssim"), report.get("reference.psnr")
    assert ssim.value > 0.97 and psnr.value > 35 and ssim.passed and psnr.passed
    other = tryon_composite(base, _product("dress", 3), "dress")
    report = run_checks(_colour_shift(other), base, product, "dress", reference=clean)
    assert report.get("reference.psnr").value < 25
    assert {"reference.psnr"} <= _names(report.flags)
    assert run_checks(clean, base, product, "dress").get("reference.ssim") is None


def test_similarity_of_an_image_with_itself_and_with_a_repaint():
    _, _, clean = _clean("top")
    same = similarity(clean, clean)
    assert same == {"ssim": pytest.approx(1.0), "changed_share": 0.0, "psnr": 100.0}
    repaint = similarity(clean, _new_background(clean, (60, 60, 60)))
    assert repaint["ssim"] < 0.95 and repaint["changed_share"] > 0.5 and repaint["psnr"] < 20
    # Different sizes are compared at a common size.
    assert similarity(clean, clean.resize((192, 384)))["ssim"] > 0.95


def test_difference_image_highlights_the_changed_area():
    _, _, clean = _clean("top")
    changed = clean.copy()
    ImageDraw.Draw(changed).rectangle((20, 600, 120, 700), fill=(30, 200, 30))
    picture = difference_image(clean, changed)
    assert picture.size == clean.size and picture.mode == "RGB"
    rgb = np.asarray(picture).astype(int)
    inside, outside = rgb[620:680, 40:100], rgb[100:200, 300:380]
    assert (inside[..., 0] - inside[..., 2]).mean() > 150  # red / yellow heat
    assert np.abs(outside[..., 0] - outside[..., 2]).max() < 5  # gray elsewhere
    assert difference_image(clean, changed.resize((100, 200))).size == clean.size


def test_report_api():
    base, product, _ = _clean("top")
    report = run_checks(base, base, product, "top")
    assert report.summary().startswith("noop: the output is the person image unchanged")
    values = report.values()
    assert values["noop"] == 0.0 and set(values) == _names(report.results)
    json.dumps(report.to_dict())  # JSON-ready, no numpy scalars
    assert all(type(v) in (float, type(None)) for v in values.values())
    assert report.region is not None and len(report.region) == 4
    _, _, clean = _clean("top")
    assert run_checks(clean, base, product, "top").summary() == "all hard checks passed"


def test_checks_import_no_ui_library():
    code = (
        "import sys; import vton_eval.checks as c; from PIL import Image;"
        "im = Image.new('RGB', (200, 400), 'white'); c.run_checks(im, im, im, 'top');"
        "print(sorted(m for m in ('streamlit', 'plotly', 'gradio') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_fast_lab_conversion_matches_scikit_image():
    from skimage.color import rgb2lab

    from vton_eval.checks import measures

    rgb = np.random.default_rng(1).integers(0, 256, (64, 64, 3), dtype=np.uint8)
    rgb[0, :3] = [(0, 0, 0), (255, 255, 255), (1, 2, 3)]  # the ends and the linear segment
    lab = measures.rgb_to_lab(rgb)
    assert np.abs(lab - rgb2lab(rgb)).max() < 0.01
    assert np.abs(measures.lightness(rgb) - lab[..., 0]).max() < 1e-3
