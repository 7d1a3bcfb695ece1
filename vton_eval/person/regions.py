"""A workflow's product region on a parsed person: its `BodyRegion` rule (vton_eval.workflows) applied to
the landmarks and the person mask, as pixel masks at the checks' work scale.

Returns None when the rule cannot be applied honestly (no person, a region mostly out of frame such as
the feet of a portrait, a region of no pixels): the caller falls back to rough geometry.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw
from scipy.ndimage import distance_transform_edt

from vton_eval.person.model import PersonParse
from vton_eval.workflows import BodyRegion

# A region whose hull lies less than this share inside the frame is not where the product can be judged.
_MIN_IN_FRAME = 0.3
_MIN_PIXELS = 4


@dataclass(frozen=True)
class BodyMasks:
    core: np.ndarray  # bool (h, w): where the product must appear
    zone: np.ndarray  # bool (h, w): where the output may differ from the person (core included)
    person: np.ndarray | None  # bool (h, w): the person's pixels, when the parse has a mask


def _hull(points: np.ndarray) -> np.ndarray:
    """The convex hull's corners (or the points themselves when there are fewer than three)."""
    if len(points) < 3:
        return points
    from scipy.spatial import ConvexHull, QhullError

    try:
        return points[ConvexHull(points).vertices]
    except QhullError:  # collinear points: their bounding segment
        return points


def _area(polygon: np.ndarray) -> float:
    if len(polygon) < 3:
        return 0.0
    x, y = polygon[:, 0], polygon[:, 1]
    return 0.5 * abs(float(np.dot(x, np.roll(y, 1)) - np.dot(y, np.roll(x, 1))))


def _raster(polygon: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    canvas = Image.new("1", size, 0)
    if len(polygon) >= 3:
        ImageDraw.Draw(canvas).polygon([tuple(p) for p in polygon.tolist()], fill=1)
    elif len(polygon):
        ImageDraw.Draw(canvas).line([tuple(p) for p in polygon.tolist()], fill=1, width=1)
    return np.asarray(canvas, dtype=bool)


def _grow(mask: np.ndarray, radius: float) -> np.ndarray:
    if radius <= 0.5 or not mask.any():
        return mask
    return distance_transform_edt(~mask) <= radius


def body_masks(parse: PersonParse | None, rule: BodyRegion, size: tuple[int, int]) -> BodyMasks | None:
    """`rule` applied to `parse` (made on the same photo, any size) at `size` (width, height), or None."""
    if parse is None or not parse.found or parse.pose is None:
        return None
    p = parse.scaled(size)
    person = p.person_mask(size)
    unit = p.torso_length() or max(size)
    if rule.core == ("person",):
        if person is None or person.sum() < _MIN_PIXELS:
            return None
        core = _grow(person, rule.grow * unit)
        zone = _grow(person, rule.zone_grow * unit)
        return BodyMasks(core, zone, person)
    core_points = p.points(rule.core)
    if len(core_points) == 0:
        return None
    hull = _hull(core_points)
    core = _raster(hull, size)
    area = _area(hull)
    if area > 0 and core.sum() < _MIN_IN_FRAME * area:
        return None  # mostly out of frame
    core = _grow(core, rule.grow * unit)
    if rule.on_person and person is not None:
        core &= _grow(person, rule.grow * unit)
    if core.sum() < _MIN_PIXELS:
        return None
    zone_points = p.points(rule.zone) if rule.zone else np.zeros((0, 2))
    zone = _raster(_hull(np.concatenate([core_points, zone_points])), size)
    zone = _grow(zone, rule.zone_grow * unit) | _grow(core, 0.5 * rule.grow * unit)
    return BodyMasks(core, zone, person)
