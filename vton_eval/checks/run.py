"""Run every check on one output against its inputs and gather a `CheckReport`."""

from __future__ import annotations

import dataclasses
from collections import OrderedDict
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from vton_eval import person as people
from vton_eval import workflows
from vton_eval.checks import aligned, fidelity, integrity, measures, regions
from vton_eval.checks import people as person_checks
from vton_eval.checks.config import Thresholds
from vton_eval.checks.results import HARD, CheckReport, CheckResult
from vton_eval.images import decoded
from vton_eval.person.model import PersonParse

# `person` argument of run_checks: parse the person image here (cached by content in this process).
PARSE = "parse"


def run_checks(
    output: bytes | Image.Image,
    base: Image.Image,
    product: Image.Image,
    workflow: str,
    mask: Image.Image | None = None,
    reference: Image.Image | None = None,
    thresholds: Thresholds | Mapping[str, Any] | None = None,
    person: PersonParse | str | None = PARSE,
) -> CheckReport:
    """Judge one try-on `output` (encoded bytes or an image) against the person image `base`,
    the `product` shot, the `workflow` and the optional `mask` / `reference`.

    `thresholds` may also be an override dict (see `Thresholds.from_overrides`); None means the
    defaults. `person` is the person image's parse when the caller has it (the store's cache), PARSE
    to parse it here, None for no parse (rough geometry, no identity / body / background checks).
    Never raises for a bad output (that is what the report describes); raises ValueError for an
    unknown workflow or bad threshold overrides.

    Checks, in order (see each function's docstring in `integrity` / `aligned` / `people` /
    `fidelity`): decodes, size, size.resized, blank, product_returned, noop,
    preservation.changed_share, preservation.ssim, change_in_region, placement, identity, body,
    background, fidelity.colour, fidelity.texture, reference.ssim, reference.psnr.
    """
    skipped = set(workflows.get(workflow).skip_checks)  # raises for an unknown workflow
    t = thresholds if isinstance(thresholds, Thresholds) else Thresholds.from_overrides(thresholds)

    def get(key: str) -> float:
        return t.get(workflow, key)

    image, decoded = integrity.decode(output)
    report = CheckReport([decoded])
    if image is None:
        return report
    out_rgb = measures.to_rgb(image)
    base_rgb = measures.to_rgb(base)
    size_results = integrity.size(out_rgb.size, base_rgb.size, get("size.max_aspect_error"))
    report.results.extend(size_results)
    delta_e = get("analysis.delta_e")

    side = int(get("analysis.work_side"))
    blur = get("analysis.blur")

    if not size_results[0].passed:
        # Wrong aspect: nothing lines up with the person, so only the picture-level checks apply.
        out_small = measures.downscale(out_rgb, measures.work_size(out_rgb.size, side))
        base_small = measures.downscale(base_rgb, measures.work_size(base_rgb.size, side))
        out_lab = measures.rgb_to_lab(measures.blur(out_small, blur))
        base_lab = measures.rgb_to_lab(measures.blur(base_small, blur))
        report.results.append(integrity.blank(out_lab, base_lab, delta_e, get("blank.min_detail_share")))
        report.results.append(
            integrity.product_returned_unaligned(out_rgb, product, get("product_returned.max_similarity"))
        )
        return report

    # Everything below compares at the person image's size, downscaled (a resized output too).
    work = measures.work_size(base_rgb.size, side)
    out_small = measures.downscale(out_rgb, work)
    # Colour change is judged on blurred copies (encoder noise removed), structure (SSIM) on sharp ones.
    out_lab = measures.rgb_to_lab(measures.blur(out_small, blur))
    out_l = measures.lightness(out_small)
    parse = _base_parse(base, person)
    if parse is not None and parse.size != base_rgb.size:
        parse = parse.scaled(base_rgb.size)
    report.person = parse
    base_small, base_lab, base_l, region = _person_side(
        base, base_rgb, work, blur, workflow, mask, get("region.mask_dilation"), get("region.box_padding"), parse)
    report.person_note = _note(parse, region.source)

    report.results.append(integrity.blank(out_lab, base_lab, delta_e, get("blank.min_detail_share")))
    report.results.append(
        integrity.product_returned(out_small, base_small, product, get("product_returned.max_similarity"))
    )

    report.region, report.region_source = region.box, region.source
    region_box = _fractions(region.box, base_rgb.size)
    changed = measures.delta_e(out_lab, base_lab) > delta_e
    ssim = measures.ssim_map(base_l, out_l)

    if "noop" not in skipped:
        report.results.append(
            aligned.noop(changed, region.core, get("noop.min_changed_share"), get("noop.min_region_changed"))
        )
    first_region_check = len(report.results)
    report.results.extend(
        aligned.preservation(
            changed,
            ssim,
            region.zone,
            get("preservation.max_changed_share"),
            get("preservation.repaint_share"),
            get("preservation.min_ssim"),
            get("preservation.repaint_ssim"),
        )
    )
    if "change_in_region" not in skipped:
        report.results.append(
            aligned.change_in_region(changed, region.core, get("change_in_region.min_changed_share")))
    if "placement" not in skipped:  # a workflow's entry says which region checks do not apply to it
        report.results.append(
            aligned.placement(
                changed,
                region.core,
                region.zone,
                get("change_in_region.min_changed_share"),
                get("noop.min_changed_share"),
                get("placement.min_inside_share"),
            )
        )
    report.results[first_region_check:] = [dataclasses.replace(r, box=region_box)
                                           for r in report.results[first_region_check:]]
    note: dict[str, str] = {}
    report.results.extend(_person_checks(out_rgb, base_rgb, parse, region, changed, work, workflow, skipped, get,
                                         note))
    if note:
        report.person_note = "; ".join(n for n in (report.person_note, note["text"]) if n)
    if "fidelity" not in skipped:
        report.results.extend(fidelity.fidelity(out_small, out_lab, changed, region.core, product, region_box,
                                                get("fidelity.min_colour"), get("fidelity.min_texture")))
    if reference is not None:
        ref_small = measures.downscale(measures.to_rgb(reference), work)
        report.results.extend(
            aligned.reference(
                out_small,
                out_l,
                ref_small,
                measures.lightness(ref_small),
                get("reference.min_ssim"),
                get("reference.min_psnr"),
            )
        )
    return report


def _base_parse(base: Image.Image, person: PersonParse | str | None) -> PersonParse | None:
    if person is None or isinstance(person, PersonParse):
        return person
    if person != PARSE:
        raise ValueError(f"person must be a PersonParse, {PARSE!r} or None, not {person!r}")
    return people.parse_image(base)


def _note(parse: PersonParse | None, source: str) -> str | None:
    """What the person parse meant for these checks, for a reviewer (None when all went as planned)."""
    if parse is None:
        reason = people.unavailable_reason() or "no parse was given"
        return f"no person parse ({reason}): rough geometry, no identity, body or background checks"
    if not parse.found:
        return "no person found in the person image: rough geometry, no identity, body or background checks"
    if source == "body":
        return "the product region is mostly out of frame: rough geometry for it"
    return None


def _fractions(box: tuple[int, int, int, int], size: tuple[int, int]) -> tuple[float, float, float, float]:
    w, h = size
    return box[0] / w, box[1] / h, box[2] / w, box[3] / h


def _person_checks(out_rgb: Image.Image, base_rgb: Image.Image, parse: PersonParse | None, region: regions.Region,
                   changed: np.ndarray, work: tuple[int, int], workflow: str, skipped: set[str],
                   get: Any, note: dict[str, str]) -> list[CheckResult]:
    """identity, body and background: they need the person found in the person image, and the output's parse."""
    wanted = {"identity", "body", "background"} - skipped
    if parse is None or not parse.found or not wanted:
        return []
    out_parse = people.parse_image(out_rgb, like=parse if out_rgb.size == base_rgb.size else None)
    if out_parse is not None and not out_parse.found and "body" in wanted:
        note["text"] = "no person found in the output: body not compared"
    out_full = out_rgb if out_rgb.size == base_rgb.size else out_rgb.resize(base_rgb.size, Image.BILINEAR)
    if out_parse is not None and out_parse.size != base_rgb.size:
        out_parse = out_parse.scaled(base_rgb.size)
    results: list[CheckResult | None] = []
    if "identity" in wanted:
        # Where the product goes is meant to change: glasses over the eyes, a collar over the chin. A
        # whole-person region (an outfit) would leave no face to compare, so there the face counts whole.
        whole = workflows.get(workflow).body.core == ("person",)
        results.append(person_checks.identity(np.asarray(base_rgb), np.asarray(out_full), parse, out_parse,
                                              None if whole else region.core,
                                              get("identity.min_similarity"), get("identity.hard_similarity")))
    if "body" in wanted:
        results.extend(person_checks.body(parse, out_parse, base_rgb.size, region.core, get("body.max_shift"),
                                          get("body.hard_shift"), get("body.max_scale_change"),
                                          get("body.hard_scale_change")))
    if "background" in wanted and region.person is not None:
        out_person = out_parse.person_mask(work) if out_parse is not None and out_parse.found else None
        margin = max(1, round(get("background.person_margin") * max(work)))
        results.append(person_checks.background(changed, region.person, out_person, region.zone, margin,
                                                get("background.max_changed_share"), get("background.repaint_share")))
    return [r for r in results if r is not None]


# The person-side measures depend only on the person image, the mask and the settings; a run sends
# each person with many products and repeats, so a batch of checks reuses them.
_PERSON_CACHE: OrderedDict[tuple, tuple] = OrderedDict()
_PERSON_CACHE_SIZE = 16


def _person_side(base: Image.Image, base_rgb: Image.Image, work: tuple[int, int], blur: float, workflow: str,
                 mask: Image.Image | None, dilation: float, padding: float, parse: PersonParse | None = None) -> tuple:
    key = (id(base), id(mask), id(parse), work, blur, workflow, dilation, padding)
    hit = _PERSON_CACHE.get(key)
    # The images themselves are kept in the entry, so an id cannot be reused by another image.
    if hit is not None and hit[0] is base and hit[1] is mask and hit[2] is parse:
        _PERSON_CACHE.move_to_end(key)
        return hit[3]
    base_small = measures.downscale(base_rgb, work)
    base_lab = measures.rgb_to_lab(measures.blur(base_small, blur))
    region = regions.locate(Image.fromarray(base_small), base_rgb.size, workflow, mask, dilation, padding, parse)
    value = (base_small, base_lab, measures.lightness(base_small), region)
    _PERSON_CACHE[key] = (base, mask, parse, value)
    while len(_PERSON_CACHE) > _PERSON_CACHE_SIZE:
        _PERSON_CACHE.popitem(last=False)
    return value


def _open(path: str | Path) -> Image.Image:
    return decoded(path)


def check_paths(
    output_path: str | Path,
    base_path: str | Path,
    product_path: str | Path,
    workflow: str,
    mask_path: str | Path | None = None,
    reference_path: str | Path | None = None,
    thresholds: Thresholds | Mapping[str, Any] | None = None,
    person: PersonParse | str | None = PARSE,
) -> CheckReport:
    """`run_checks` on files. The output is read as bytes, so a missing, empty or corrupt output
    file is reported as the `decodes` hard failure rather than raised; the inputs must load
    (they are the evaluation's own files: an error there is a bug worth raising). An unknown
    workflow raises ValueError before any file is read."""
    workflows.get(workflow)  # raises for an unknown workflow
    try:
        output = Path(output_path).read_bytes()
    except OSError as exc:
        detail = f"the output does not decode: cannot read {output_path}: {exc.strerror or exc}"
        return CheckReport([CheckResult("decodes", 0.0, None, False, HARD, detail)])
    return run_checks(
        output,
        _open(base_path),
        _open(product_path),
        workflow,
        mask=_open(mask_path) if mask_path is not None else None,
        reference=_open(reference_path) if reference_path is not None else None,
        thresholds=thresholds,
        person=person,
    )

