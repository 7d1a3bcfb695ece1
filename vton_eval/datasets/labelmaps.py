"""Garment masks derived from label maps (a person parsed into numbered classes, one per pixel).

A label map is data from outside: it must be a PNG of class numbers (palette or greyscale; a colour
picture of the classes is refused, since its colours are not class numbers), no larger than the
pixel limit, and decode completely. The mask is white where the pixel's class is one of the garment's
classes, black elsewhere, saved as an 8-bit PNG.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image

from vton_eval.images import DEFAULT_MAX_PIXELS, ImageProblem, opened

ATR_NAMES = {4: "upper clothes", 5: "skirt", 6: "pants", 7: "dress"}


class LabelMapProblem(ValueError):
    """The label map cannot give a mask; str() says why."""


def garment_mask(label_map: Path, classes: tuple[int, ...], max_pixels: int = DEFAULT_MAX_PIXELS) -> Image.Image:
    """The mask of `classes` in a label map; raises LabelMapProblem."""
    try:
        with opened(label_map, max_pixels) as img:
            if img.format != "PNG":
                raise LabelMapProblem(f"is {img.format or 'not an image'}, not a PNG label map")
            if img.mode not in ("P", "L", "I", "I;16"):
                raise LabelMapProblem(f"is a {img.mode} image: a label map holds one class number per pixel "
                                      "(palette or greyscale)")
            values = np.asarray(img)
    except LabelMapProblem:
        raise
    except ImageProblem as exc:
        raise LabelMapProblem(f"is not a usable PNG label map: {exc}") from None
    except (OSError, SyntaxError, ValueError) as exc:
        raise LabelMapProblem(f"cannot be read: {exc}") from None
    mask = np.isin(values, classes)
    if not mask.any():
        names = ", ".join(f"{c} ({ATR_NAMES.get(c, 'class')})" for c in classes)
        raise LabelMapProblem(f"has no pixel of class {names}: the person does not wear that garment here")
    return Image.fromarray(np.where(mask, 255, 0).astype(np.uint8))


def write_garment_mask(label_map: Path, classes: tuple[int, ...], target: Path,
                       max_pixels: int = DEFAULT_MAX_PIXELS) -> None:
    """Derive and save the mask (atomically); raises LabelMapProblem."""
    mask = garment_mask(label_map, classes, max_pixels)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".tmp-", suffix=".png")
    os.close(fd)
    try:
        mask.save(tmp, "PNG")
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
