"""Where the product should appear on the person, as pixel masks at work scale.

Two masks per output:

- `core`: where the product is expected (the mask itself, or the body-geometry box). Something
  must change here (`change_in_region`).
- `zone`: `core` grown by a tolerance (mask dilated, box padded). Everything outside `zone` should
  be untouched (`preservation`); a band between the two is judged by neither, because try-ons
  legitimately spill a little past a mask or a rough body estimate.

Where the region comes from, first that applies (`Region.source`):

1. "mask": a usable mask sent with the case (a dataset's mask always wins);
2. "pose": the workflow's `BodyRegion` rule applied to the person parse (landmarks and person mask,
   `vton_eval.person.regions`);
3. "body": rough geometry (`vton_eval.body.product_region`: face detector or figure proportions) when
   there is no parser, no person was found, or the region is mostly out of frame.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image

from vton_eval import workflows
from vton_eval.body import product_region
from vton_eval.person.model import PersonParse

Box = tuple[int, int, int, int]

# A mask counts only between these coverages, like the sandbox: an empty or all-white mask is
# what a client sends when it has none.
_MIN_MASK_COVERAGE = 0.001
_MAX_MASK_COVERAGE = 0.95


@dataclass(frozen=True)
class Region:
    box: Box  # (x0, y0, x1, y1) in full-size person-image pixels
    source: str  # "mask" | "pose" | "body"
    core: np.ndarray  # bool, work scale
    zone: np.ndarray  # bool, work scale, core grown by the tolerance
    person: np.ndarray | None = None  # bool, work scale: the person's pixels (from the parse), when known


def normalise_mask(mask: Image.Image, size: tuple[int, int]) -> Image.Image:
    """A mode "L" mask of `size`. Transparent pixels count as "not the region" (editors export
    painted strokes on a transparent canvas), so alpha is flattened onto black."""
    if mask.mode in ("RGBA", "LA", "PA") or (mask.mode == "P" and "transparency" in mask.info):
        rgba = mask.convert("RGBA")
        canvas = Image.new("L", rgba.size, 0)
        canvas.paste(rgba.convert("L"), mask=rgba.getchannel("A"))
        mask = canvas
    else:
        mask = mask.convert("L")
    if mask.size != size:
        mask = mask.resize(size, Image.NEAREST)
    return mask


def _bbox(binary: np.ndarray) -> Box | None:
    rows = np.flatnonzero(binary.any(axis=1))
    cols = np.flatnonzero(binary.any(axis=0))
    if rows.size == 0:
        return None
    return int(cols[0]), int(rows[0]), int(cols[-1]) + 1, int(rows[-1]) + 1


def locate_box(base: Image.Image, workflow: str, mask: Image.Image | None) -> tuple[Box, str, np.ndarray | None]:
    """The product box in `base`, its source, and the binary mask (size of `base`) when it is used."""
    binary = None
    if mask is not None:
        mask = normalise_mask(mask, base.size)
        binary = np.asarray(mask) > 127
        if not _MIN_MASK_COVERAGE <= binary.mean() <= _MAX_MASK_COVERAGE:
            binary = None
    box: Box = tuple(int(v) for v in product_region(base, workflow, mask))  # type: ignore[assignment]
    # body.product_region ignores masks it finds unusable (e.g. the person photo sent as mask);
    # the mask's pixels only define the region when it was actually used.
    if binary is not None and box == _bbox(binary):
        return box, "mask", binary
    return box, "body", None


def _box_mask(box: tuple[float, float, float, float], size: tuple[int, int]) -> np.ndarray:
    width, height = size
    x0, y0 = max(0, int(np.floor(box[0]))), max(0, int(np.floor(box[1])))
    x1, y1 = min(width, int(np.ceil(box[2]))), min(height, int(np.ceil(box[3])))
    out = np.zeros((height, width), dtype=bool)
    out[y0 : max(y1, y0 + 1), x0 : max(x1, x0 + 1)] = True
    return out


def locate(
    base_small: Image.Image,
    full_size: tuple[int, int],
    workflow: str,
    mask: Image.Image | None,
    mask_dilation: float,
    box_padding: float,
    parse: PersonParse | None = None,
) -> Region:
    """The product region as work-scale `core` and `zone` masks (see the module docstring).

    Works on the work-scale copy of the person image (`base_small`): body geometry looks at
    128-160 px copies anyway, so the full image would only cost resizing time. The box is
    reported in `full_size` pixels.
    """
    work = base_small.size
    small_mask = None
    if mask is not None:
        # BOX keeps thin straps as grey instead of dropping them like NEAREST would.
        small_mask = normalise_mask(mask, full_size).resize(work, Image.BOX)
    sx, sy = full_size[0] / work[0], full_size[1] / work[1]
    person = None
    if parse is not None and parse.found:
        from vton_eval.person.regions import body_masks

        person = parse.scaled(work).person_mask(work)
        usable_mask = small_mask is not None and _usable_mask(base_small, small_mask)
        if not usable_mask:
            masks = body_masks(parse, workflows.get(workflow).body, work)
            if masks is not None:
                x0, y0, x1, y1 = _bbox(masks.core)  # type: ignore[misc]
                full_box = (max(0, int(np.floor(x0 * sx))), max(0, int(np.floor(y0 * sy))),
                            min(full_size[0], int(np.ceil(x1 * sx))), min(full_size[1], int(np.ceil(y1 * sy))))
                return Region(full_box, "pose", masks.core, masks.zone, masks.person)
    box, source, binary = locate_box(base_small, workflow, small_mask)
    full_box = (
        max(0, int(np.floor(box[0] * sx))),
        max(0, int(np.floor(box[1] * sy))),
        min(full_size[0], int(np.ceil(box[2] * sx))),
        min(full_size[1], int(np.ceil(box[3] * sy))),
    )
    if binary is not None and small_mask is not None:
        # Any coverage counts as region: a strap thinner than a work pixel must not vanish.
        core = np.asarray(small_mask) > 0
        radius = max(1, round(mask_dilation * max(work)))
        from scipy.ndimage import maximum_filter

        zone = maximum_filter(core, size=2 * radius + 1)
        return Region(full_box, source, core, zone, person)
    x0, y0, x1, y1 = box
    pad_x, pad_y = box_padding * (x1 - x0), box_padding * (y1 - y0)
    core = _box_mask((x0, y0, x1, y1), work)
    zone = _box_mask((x0 - pad_x, y0 - pad_y, x1 + pad_x, y1 + pad_y), work)
    return Region(full_box, source, core, zone, person)


def _usable_mask(base_small: Image.Image, small_mask: Image.Image) -> bool:
    """Whether `vton_eval.body` would use this mask (its coverage, and not the person photo sent as mask)."""
    from vton_eval.body import mask_box

    return mask_box(small_mask, base_small) is not None
