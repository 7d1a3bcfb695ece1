"""Real photographs of people for the checks' evidence, with where they come from and their licence, the
regions measured by hand on each (never by the checks' own parser), and the defects the issue names,
made by code: a top off the torso, the face blurred beyond recognition, another person's face pasted in,
a clean try-on of a different garment, a rescaled person, a replaced background.

| photo | source | licence |
|---|---|---|
| astronaut | scikit-image `skimage.data.astronaut()`: Eileen Collins, NASA | public domain |
| cameraman | scikit-image `skimage.data.camera()` (since 0.18), photographed by Lav Varshney | CC0 |
| hopper | matplotlib `sample_data/grace_hopper.jpg`: Commodore Grace M. Hopper, U.S. Navy | public domain |

None of them is full-body (no installed or PyPI-shipped photograph of a whole standing person with a clear
licence was found), so "a top on the legs" is made on the drawn full-body figures, and on the portraits
the top is laid beside the person, on the background.
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from tests.helpers.composites import composite_at

Box = tuple[float, float, float, float]


@dataclass(frozen=True)
class Photo:
    name: str
    source: str
    licence: str
    face: Box  # the face (brow to chin, ear to ear), measured by hand
    eyes: Box  # where glasses go
    torso: Box  # where a top goes: shoulders down to the frame's edge or the waist
    beside: Box  # background beside the person, as big as a top


PHOTOS = {
    "astronaut": Photo("astronaut", "scikit-image skimage.data.astronaut() (NASA Great Images)", "public domain",
                       (170, 62, 282, 178), (172, 88, 272, 128), (40, 178, 372, 500), (380, 20, 510, 200)),
    "cameraman": Photo("cameraman", "scikit-image skimage.data.camera() (Lav Varshney)", "CC0",
                       (178, 100, 258, 196), (204, 134, 254, 164), (10, 160, 290, 512), (330, 10, 510, 170)),
    "hopper": Photo("hopper", "matplotlib sample_data/grace_hopper.jpg (U.S. Navy)", "public domain",
                    (156, 130, 372, 336), (176, 164, 360, 232), (30, 330, 500, 600), (370, 10, 510, 300)),
}


@functools.cache
def load(name: str) -> Image.Image:
    if name == "astronaut":
        from skimage import data

        return Image.fromarray(data.astronaut())
    if name == "cameraman":
        from skimage import data

        return Image.fromarray(data.camera()).convert("RGB")
    if name == "hopper":
        import matplotlib

        path = os.path.join(matplotlib.get_data_path(), "sample_data", "grace_hopper.jpg")
        return Image.open(path).convert("RGB")
    raise KeyError(name)


def _ellipse_mask(size: tuple[int, int], box: Box, feather: float) -> Image.Image:
    mask = Image.new("L", size, 0)
    ImageDraw.Draw(mask).ellipse(box, fill=255)
    return mask.filter(ImageFilter.GaussianBlur(feather))


def blur_face(image: Image.Image, face: Box, strength: float = 0.12) -> Image.Image:
    """The face blurred beyond recognition (Gaussian, `strength` of the face's width), feathered in."""
    width = face[2] - face[0]
    blurred = image.filter(ImageFilter.GaussianBlur(strength * width))
    return Image.composite(blurred, image, _ellipse_mask(image.size, face, 0.05 * width))


def paste_face(image: Image.Image, face: Box, donor: Image.Image, donor_face: Box) -> Image.Image:
    """Another person's face (the donor's face box) scaled into this face's box, feathered in."""
    piece = donor.crop(tuple(round(v) for v in donor_face)).resize(
        (round(face[2] - face[0]), round(face[3] - face[1])), Image.LANCZOS)
    canvas = image.copy()
    layer = Image.new("RGB", image.size)
    layer.paste(piece, (round(face[0]), round(face[1])))
    width = face[2] - face[0]
    return Image.composite(layer, canvas, _ellipse_mask(image.size, face, 0.06 * width))


def rescaled(image: Image.Image, scale: float = 0.8) -> Image.Image:
    """The whole photo shrunk about its centre and framed by its border colour: a rescaled person."""
    small = image.resize((round(image.width * scale), round(image.height * scale)), Image.LANCZOS)
    border = np.concatenate([np.asarray(image)[0], np.asarray(image)[-1]])
    canvas = Image.new("RGB", image.size, tuple(int(v) for v in np.median(border, axis=0)))
    canvas.paste(small, ((image.width - small.width) // 2, (image.height - small.height) // 2))
    return canvas


def replaced_background(image: Image.Image, person_box: Box, colour: tuple[int, int, int]) -> Image.Image:
    """Everything outside a generous ellipse around the person (measured box) painted one colour."""
    keep = _ellipse_mask(image.size, person_box, 4)
    return Image.composite(image, Image.new("RGB", image.size, colour), keep)


def top_on(image: Image.Image, product: Image.Image, box: Box) -> Image.Image:
    return composite_at(image, product, "top", box)
