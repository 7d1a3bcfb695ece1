"""The checks that see people, on real photographs (tests/helpers/photos.py: sources and licences) and on
the drawn full-body figures: clean try-ons pass, and each defect the issue names is caught by its check.
Regions and faces are measured by hand on the photos, never by the parser the checks use.

The detection table in docs/checks.md ("Evidence on real photographs") is this file's outcome."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from vton_eval import person
from vton_eval.checks import run_checks
from vton_eval.person.model import PersonParse

from .helpers.composites import composite_at, layout_box
from .helpers.drawn import jpeg, product
from .helpers.drawn import person as drawn_person
from .helpers.photos import PHOTOS, blur_face, load, paste_face, replaced_background, rescaled

pytestmark = pytest.mark.skipif(not person.available(), reason="the person parser (mediapipe) is not installed")

WORKFLOW = {"astronaut": "top", "cameraman": "eyewear", "hopper": "top"}  # the cameraman is seen in profile
DONOR = {"astronaut": "hopper", "cameraman": "astronaut", "hopper": "cameraman"}


def _jpeg(image: Image.Image) -> Image.Image:
    return Image.open(io.BytesIO(jpeg(image, 90))).convert("RGB")


def _case(name: str, defect: str) -> tuple[Image.Image, Image.Image, Image.Image, str]:
    """(person image, product sent, output, workflow) for one photo and one defect ("clean" for none)."""
    photo, base, workflow = PHOTOS[name], load(name), WORKFLOW[name]
    sent = product(workflow, 1)
    where = photo.torso if workflow == "top" else photo.eyes
    clean = composite_at(base, sent, workflow, where)
    if defect == "clean":
        out = clean
    elif defect == "wrong place":
        x0, y0 = photo.beside[:2]
        beside = photo.beside if workflow == "top" else (x0, y0, x0 + where[2] - where[0], y0 + where[3] - where[1])
        out = composite_at(base, sent, workflow, beside)
    elif defect == "face blurred":
        out = blur_face(clean, photo.face)
    elif defect == "face pasted":
        out = paste_face(clean, photo.face, load(DONOR[name]), PHOTOS[DONOR[name]].face)
    elif defect == "other product":
        out = composite_at(base, product(workflow, 2), workflow, where)
    elif defect == "rescaled":
        out = rescaled(clean)
    elif defect == "background":
        out = replaced_background(clean, (photo.torso[0], photo.face[1] - 30, photo.torso[2], base.height + 200),
                                  (40, 160, 90))
    else:
        raise ValueError(defect)
    return base, sent, _jpeg(out), workflow


# defect -> the checks of which at least one must fail hard
CAUGHT_BY = {
    "wrong place": {"placement"},
    "face blurred": {"identity"},
    "face pasted": {"identity"},
    "other product": {"fidelity.colour"},
    "rescaled": {"preservation.changed_share", "preservation.ssim", "body.scale"},
    "background": {"background"},
}


@pytest.mark.parametrize("name", list(PHOTOS))
def test_a_clean_try_on_of_a_real_photo_passes_every_hard_check(name):
    base, sent, out, workflow = _case(name, "clean")
    report = run_checks(out, base, sent, workflow)
    assert report.passed, report.summary()
    assert report.region_source == "pose"  # the region came from the person's landmarks
    names = {r.name for r in report.results}
    assert {"identity", "background", "fidelity.colour"} <= names
    assert report.get("identity").value > 0.8


@pytest.mark.parametrize("defect", list(CAUGHT_BY))
@pytest.mark.parametrize("name", list(PHOTOS))
def test_each_defect_on_a_real_photo_is_caught_by_its_check(name, defect):
    base, sent, out, workflow = _case(name, defect)
    report = run_checks(out, base, sent, workflow)
    hard = {r.name for r in report.hard_failures}
    assert hard & CAUGHT_BY[defect], (defect, report.summary())
    # The reason reads as what went wrong.
    if defect in ("face blurred", "face pasted"):
        assert report.get("identity").detail.startswith("identity lost")
    if defect == "other product":
        assert "not the product" in report.get("fidelity.colour").detail


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_a_top_on_the_legs_of_a_full_body_figure_is_misplaced(seed):
    base, layout = drawn_person(seed)
    sent = product("top", seed)
    x0, y0, x1, y1 = layout_box(layout, "top")
    legs = (x0, layout.y(0.55), x1, layout.y(0.55) + (y1 - y0))
    report = run_checks(_jpeg(composite_at(base, sent, "top", legs)), base, sent, "top")
    assert "placement" in {r.name for r in report.hard_failures}, report.summary()
    clean = run_checks(_jpeg(composite_at(base, sent, "top", (x0, y0, x1, y1))), base, sent, "top")
    assert clean.passed and not clean.flags, clean.summary()


def test_regions_follow_the_body_and_a_mask_still_wins():
    base = load("astronaut")
    parse = person.parse_image(base)
    assert parse is not None and parse.found and parse.face is not None
    sent = product("top", 1)
    report = run_checks(_jpeg(composite_at(base, sent, "top", PHOTOS["astronaut"].torso)), base, sent, "top")
    x0, y0, x1, y1 = report.region
    shoulders_y = min(parse.point("left_shoulder")[1], parse.point("right_shoulder")[1])
    assert y0 < shoulders_y < y1 and y1 > 0.9 * base.height  # shoulders down to the hips (out of frame)
    eyes = run_checks(_jpeg(base), base, product("eyewear", 1), "eyewear").region
    ex0, ey0, ex1, ey1 = eyes
    eye_y = parse.point("left_eye")[1]
    assert ey0 < eye_y < ey1 and ey1 - ey0 < 0.3 * base.height  # a band over the eyes, not the face
    mask = Image.new("L", base.size, 0)
    mask.paste(255, (100, 300, 400, 500))
    assert run_checks(_jpeg(base), base, sent, "top", mask=mask).region_source == "mask"


def test_no_person_found_falls_back_to_geometry_and_is_recorded_as_such():
    empty = Image.new("RGB", (400, 600), (235, 235, 230))
    parse = person.parse_image(empty)
    assert parse is not None and not parse.found
    assert PersonParse.from_json(parse.to_json()).found is False  # what the store's cache keeps
    report = run_checks(_jpeg(empty), empty, product("top", 1), "top")
    assert report.region_source == "body"
    assert "no person found" in report.person_note
    assert not {"identity", "body", "background"} & {r.name for r in report.results}


def test_a_parse_travels_as_json_unchanged():
    parse = person.parse_image(load("hopper"))
    again = PersonParse.from_json(parse.to_json())
    assert again.found and again.size == parse.size
    assert abs(again.pose - parse.pose).max() < 0.06 and abs(again.face - parse.face).max() < 0.06
    assert (again.mask == parse.mask).all()
