"""Rough body geometry of a person photo: where the product of a workflow should go.

Two estimators, tried in order:

1. A face found by scikit-image's shipped LBP frontal-face cascade (on a small grayscale copy, so
   it costs a few milliseconds). The detector box spans roughly hairline to chin; the rest of the
   body follows from classic figure-drawing proportions (a body is about 7.5 heads tall).
2. No face (profile views, cartoons, small figures): the figure is segmented from a plain
   background (the colour of the image border) and its bounding box is read with full-body
   proportions: head top at the top of the box, eyes at 6.5 % of its height, a top at 16-47 %,
   a dress at 16-74 %, shoes at 90-100 %.

Boxes are (x0, y0, x1, y1) in pixels of the full image, clamped inside it. Where each workflow's
product goes is the workflow's `Placement` in `vton_eval.workflows`. This is a stand-in for a real
try-on model's pose estimate, good enough for the sandbox's believable fake and for the quality
checks' "where to look" region; both import it (the checks never import the sandbox).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import numpy as np
from PIL import Image

from vton_eval import workflows

Box = tuple[int, int, int, int]

# The eye line as a fraction of the figure height (head top = 0, soles = 1), for a figure found
# without a face. The drawn sample people are built on the same proportions.
EYE_LINE = 0.065

# The detector is tuned for speed: long side 128 px, coarse scale and step. Faces smaller than
# 24 px at that scale (under ~1/5 of the image) are left to the segmentation fallback.
_DETECT_SIDE = 128
_MIN_FACE = 24

_detector_lock = threading.Lock()
_detector = None


@dataclass(frozen=True)
class Figure:
    """A person's vertical extent and centre line, in full-image pixels."""

    top: float  # head top
    height: float  # head top to soles
    cx: float  # horizontal centre of the body
    face: Box | None = None  # the detected face, when there was one

    def span(self, start: float, end: float) -> tuple[float, float]:
        return self.top + start * self.height, self.top + end * self.height


def _face_detector():
    # Loading the cascade XML takes a few ms; the object is reused under a lock because the
    # Cython detector's thread safety is not documented.
    global _detector
    if _detector is None:
        from skimage.data import lbp_frontal_face_cascade_filename
        from skimage.feature import Cascade

        _detector = Cascade(lbp_frontal_face_cascade_filename())
    return _detector


def warm_up() -> None:
    """Load the face detector now rather than on the first call."""
    with _detector_lock:
        _face_detector()


def detect_face(image: Image.Image) -> Box | None:
    """The most plausible frontal face as (x0, y0, x1, y1), or None."""
    scale = _DETECT_SIDE / max(image.size)
    small_size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
    small = np.asarray(image.convert("L").resize(small_size, Image.BILINEAR), dtype=np.float32) / 255.0
    if min(small.shape) < _MIN_FACE:
        return None
    with _detector_lock:
        detections = _face_detector().detect_multi_scale(
            small,
            scale_factor=1.25,
            step_ratio=1.5,
            min_size=(_MIN_FACE, _MIN_FACE),
            max_size=(small.shape[1], small.shape[0]),
            min_neighbor_number=1,
        )
    short = min(small.shape)
    # The LBP cascade fires on textures (flags, badges) too; a head sits high in the frame, so
    # among plausible sizes prefer the detection nearest the top, then the largest.
    candidates = [d for d in detections if 0.08 * short <= d["width"] <= 0.7 * short]
    if not candidates:
        return None
    best = min(candidates, key=lambda d: (d["r"] + d["height"] / 2, -d["width"]))
    return (
        round(best["c"] / scale),
        round(best["r"] / scale),
        round((best["c"] + best["width"]) / scale),
        round((best["r"] + best["height"]) / scale),
    )


def border_colour(rgb: np.ndarray, ring: int = 2) -> np.ndarray:
    """Median colour of the outer `ring` pixels: the background of a studio or product shot."""
    border = np.concatenate(
        [
            rgb[:ring].reshape(-1, 3),
            rgb[-ring:].reshape(-1, 3),
            rgb[:, :ring].reshape(-1, 3),
            rgb[:, -ring:].reshape(-1, 3),
        ]
    )
    # int16 so that arithmetic with an int16 image stays int16 (float64 would be ~5x slower).
    return np.round(np.median(border, axis=0)).astype(np.int16)


def colour_distance(rgb: np.ndarray, colour: np.ndarray) -> np.ndarray:
    """Per-pixel sum of absolute channel differences from `colour` (int16, 0..765)."""
    diff = rgb.astype(np.int16)
    diff -= colour.astype(np.int16)
    np.abs(diff, out=diff)
    # Adding channel planes is ~3x faster than .sum(axis=2) over a length-3 axis.
    return diff[..., 0] + diff[..., 1] + diff[..., 2]


def _segment_figure(image: Image.Image) -> Figure:
    scale = min(1.0, 160 / max(image.size))
    small_size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
    rgb = np.asarray(image.convert("RGB").resize(small_size, Image.BILINEAR))
    distance = colour_distance(rgb, border_colour(rgb))
    fg = distance > 60
    rows = np.flatnonzero(fg.sum(axis=1) >= 2)
    cols = np.flatnonzero(fg.sum(axis=0) >= 2)
    h, w = fg.shape
    if rows.size == 0 or cols.size == 0 or fg.mean() > 0.85:
        # Busy background or nothing found: treat the whole frame as the figure.
        return Figure(top=0.0, height=float(image.height), cx=image.width / 2)
    top, bottom = rows[0], rows[-1] + 1
    height = bottom - top
    # The body's centre line from the torso rows, where arms matter least.
    torso = fg[int(top + 0.17 * height) : int(top + 0.45 * height) + 1]
    xs = np.flatnonzero(torso.any(axis=0))
    cx = float(np.median(np.nonzero(torso)[1])) if xs.size else (cols[0] + cols[-1]) / 2
    return Figure(top=top / scale, height=height / scale, cx=(cx + 0.5) / scale)


def _figure_from_face(face: Box) -> Figure:
    fx0, fy0, fx1, fy1 = face
    fh = fy1 - fy0
    head = 1.3 * fh  # the detector box runs hairline to chin; hair adds the rest
    return Figure(top=fy0 - 0.3 * fh, height=7.5 * head, cx=(fx0 + fx1) / 2, face=face)


def find_figure(image: Image.Image) -> Figure:
    """Locate the person: by face when one is found, else by segmenting a plain background."""
    face = detect_face(image)
    return _figure_from_face(face) if face is not None else _segment_figure(image)


def _inside(
    box: tuple[float, float, float, float], width: int, height: int
) -> tuple[float, float, float, float]:
    """Keep a body box that is mostly in frame (it may be cut by the edges, like a dress in a
    portrait); slide one that is (nearly) out of frame, like the feet of a portrait, back in."""
    x0, y0, x1, y1 = box
    bw, bh = max(x1 - x0, 1.0), max(y1 - y0, 1.0)
    seen_w = min(x1, width) - max(x0, 0.0)
    seen_h = min(y1, height) - max(y0, 0.0)
    if seen_w >= min(0.3 * bw, 8.0) and seen_h >= min(0.3 * bh, 8.0):
        return box
    bw, bh = min(bw, float(width)), min(bh, float(height))
    x0 = min(max(x0, 0.0), width - bw)
    y0 = min(max(y0, 0.0), height - bh)
    return x0, y0, x0 + bw, y0 + bh


def clip_box(box: tuple[float, float, float, float], size: tuple[int, int]) -> Box:
    """The part of `box` inside an image of `size`, rounded to pixels (at least 1x1)."""
    width, height = size
    x0 = min(max(round(box[0]), 0), width - 1)
    y0 = min(max(round(box[1]), 0), height - 1)
    x1 = max(min(round(box[2]), width), x0 + 1)
    y1 = max(min(round(box[3]), height), y0 + 1)
    return x0, y0, x1, y1


def workflow_box(figure: Figure, workflow: str, size: tuple[int, int]) -> tuple[float, float, float, float]:
    """Where a product of `workflow` goes on `figure` in an image of `size` (width, height).

    The box may extend past the image edges when the body does (a dress on a portrait).
    """
    placement = workflows.get(workflow).placement
    width, height = size
    if placement.on_eyes:
        if figure.face is not None:
            fx0, fy0, fx1, fy1 = figure.face
            eye_y = fy0 + 0.42 * (fy1 - fy0)
            half = 0.55 * (fx1 - fx0)
        else:
            eye_y = figure.top + EYE_LINE * figure.height
            half = placement.width * figure.height / 2
        return _inside(
            (figure.cx - half, eye_y - 0.5 * half, figure.cx + half, eye_y + 0.5 * half), width, height
        )
    y0, y1 = figure.span(*placement.span)
    half = placement.width * figure.height / 2
    return _inside((figure.cx - half, y0, figure.cx + half, y1), width, height)


def mask_box(mask: Image.Image, base: Image.Image) -> Box | None:
    """The bounding box of a mask's region, or None when the mask should be ignored.

    Ignored: an empty mask, one covering nearly the whole image, and one that is (nearly) the
    base image itself, which clients send when they have no mask.
    """
    if mask.size != base.size:
        mask = mask.resize(base.size, Image.NEAREST)
    small_size = (max(1, base.width // 4), max(1, base.height // 4))
    mask_small = np.asarray(mask.convert("RGB").resize(small_size, Image.BILINEAR), dtype=np.int16)
    base_small = np.asarray(base.convert("RGB").resize(small_size, Image.BILINEAR), dtype=np.int16)
    if np.abs(mask_small - base_small).mean() < 6.0:
        return None
    region = np.asarray(mask.convert("L")) > 127
    coverage = region.mean()
    if coverage < 0.001 or coverage > 0.95:
        return None
    rows = np.flatnonzero(region.any(axis=1))
    cols = np.flatnonzero(region.any(axis=0))
    return int(cols[0]), int(rows[0]), int(cols[-1]) + 1, int(rows[-1]) + 1


def placement_box(
    base: Image.Image, workflow: str, mask: Image.Image | None = None
) -> tuple[float, float, float, float]:
    """The box the product is fitted into: a usable mask's bounding box, else the body box
    (which may run past the image edges)."""
    workflows.get(workflow)  # an unknown workflow is refused before any work
    if mask is not None:
        box = mask_box(mask, base)
        if box is not None:
            return box
    return workflow_box(find_figure(base), workflow, base.size)


def product_region(base: Image.Image, workflow: str, mask: Image.Image | None = None) -> Box:
    """The box (x0, y0, x1, y1), inside the image, where the product of `workflow` goes on `base`.

    A usable mask wins (its bounding box); otherwise the box comes from the body geometry.
    Raises ValueError for an unknown workflow.
    """
    return clip_box(placement_box(base, workflow, mask), base.size)
