"""Checks that look at the person: is it the same face, the same body in the same place, the same photo
around them. They read two parses (`vton_eval.person`): the person image's and the output's.

Each result carries a `box` (fractions of the image) that Review's zoom crops: the face, the body, the
changed background.
"""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw

from vton_eval.checks import measures
from vton_eval.checks.aligned import escalating
from vton_eval.checks.results import CheckResult
from vton_eval.person.model import FACE_GROUPS, PersonParse

Box = tuple[float, float, float, float]

FACE_SIDE = 96  # the aligned face crops are compared at this size
# Pose landmark groups whose displacement `body` reports (one moved arm is a moved arm, whatever the rest).
BODY_PARTS: dict[str, tuple[int, ...]] = {
    "head": tuple(range(0, 11)), "torso": (11, 12, 23, 24), "left arm": (13, 15, 17, 19, 21),
    "right arm": (14, 16, 18, 20, 22), "left leg": (25, 27, 29, 31), "right leg": (26, 28, 30, 32),
}

# Each pose landmark's mirror image (left <-> right), in MediaPipe Pose's order.
_MIRROR = [0, 4, 5, 6, 1, 2, 3, 8, 7, 10, 9] + [i + 1 if i % 2 else i - 1 for i in range(11, 33)]


def _fraction_box(points: np.ndarray, size: tuple[int, int], pad: float = 0.25) -> Box:
    x0, y0 = points.min(axis=0)
    x1, y1 = points.max(axis=0)
    px, py = pad * (x1 - x0), pad * (y1 - y0)
    w, h = size
    return (max(0.0, (x0 - px) / w), max(0.0, (y0 - py) / h), min(1.0, (x1 + px) / w), min(1.0, (y1 + py) / h))


def _canonical(face: np.ndarray) -> np.ndarray:
    """The face mesh moved and scaled into a FACE_SIDE square (its oval fills it)."""
    oval = face[list(FACE_GROUPS["face.oval"])]
    (x0, y0), (x1, y1) = oval.min(axis=0), oval.max(axis=0)
    scale = (FACE_SIDE - 12) / max(x1 - x0, y1 - y0, 1e-6)
    return (face - [(x0 + x1) / 2, (y0 + y1) / 2]) * scale + FACE_SIDE / 2


def _aligned(rgb: np.ndarray, points: np.ndarray, target: np.ndarray) -> np.ndarray:
    """The face's lightness warped so that `points` (image pixels) land on `target` (canonical pixels).
    Only the face's neighbourhood is converted: a megapixel photo's face is a few percent of it."""
    from skimage.transform import SimilarityTransform, warp

    (x0, y0), (x1, y1) = points.min(axis=0), points.max(axis=0)
    pad = 0.6 * max(x1 - x0, y1 - y0, 8.0)
    h, w = rgb.shape[:2]
    cx0, cy0 = max(0, int(x0 - pad)), max(0, int(y0 - pad))
    cx1, cy1 = min(w, int(x1 + pad) + 1), min(h, int(y1 + pad) + 1)
    if cx1 - cx0 < 2 or cy1 - cy0 < 2:
        return np.zeros((FACE_SIDE, FACE_SIDE), dtype=np.float32)
    lightness = measures.lightness(np.ascontiguousarray(rgb[cy0:cy1, cx0:cx1]))
    transform = SimilarityTransform.from_estimate(target, points - [cx0, cy0])
    return warp(lightness, transform, output_shape=(FACE_SIDE, FACE_SIDE), order=1,
                preserve_range=True).astype(np.float32)


def _polygon_mask(points: np.ndarray) -> np.ndarray:
    canvas = Image.new("1", (FACE_SIDE, FACE_SIDE), 0)
    ImageDraw.Draw(canvas).polygon([tuple(p) for p in points.tolist()], fill=1)
    return np.array(canvas, dtype=bool)


def identity(base_rgb: np.ndarray, out_rgb: np.ndarray, base: PersonParse, out: PersonParse | None,
             exclude: np.ndarray | None, soft_limit: float, hard_limit: float) -> CheckResult | None:
    """`identity`: the face in the output is the person's. None when the person image shows no face.

    Both faces are aligned on their landmarks (the face mesh; the pose's face points when the output's mesh
    was not found, as for a heavily blurred face) into one 96 px square and compared by SSIM of lightness
    inside the face oval, and by how much of the face's fine detail (lightness gradient) is left: the value
    is the lower of the two (a blur keeps a face's layout but not its detail). `exclude` (a bool mask of
    the person image, any scale: the product's region, such as the glasses' band over the eyes) is left
    out, since the product is meant to change it. A pasted face, a blurred one, a different person score
    far lower than a re-encoded or relit one.
    `base_rgb` and `out_rgb` are full-size arrays of the same size; the parses are in those pixels.
    """
    from skimage.transform import SimilarityTransform

    if base.face is None:
        return None
    size = (base_rgb.shape[1], base_rgb.shape[0])
    box = _fraction_box(base.face[list(FACE_GROUPS["face.oval"])], size)
    canon = _canonical(base.face)
    # The output's own landmarks when found (the face may have moved a little); and, since the output is
    # aligned with the person image, the person image's own: the better of the two counts, so a detector
    # thrown off by new glasses does not make a kept face look lost.
    candidates = [(base.face, canon, "the person image's landmarks")]
    if out is not None and out.face is not None:
        candidates.append((out.face, canon, "face landmarks"))
    elif out is not None and out.found and out.pose is not None and base.pose is not None:
        to_canon = SimilarityTransform.from_estimate(base.face, canon)
        candidates.append((out.pose[:11, :2], to_canon(base.pose[:11, :2]), "pose face points"))
    a = _aligned(base_rgb, base.face, canon)
    region = _polygon_mask(canon[list(FACE_GROUPS["face.oval"])])
    oval = region.sum()
    if exclude is not None:
        region &= ~_in_canonical(exclude, canon, base.face, size)
    if region.sum() < 0.15 * oval:
        return None  # the product covers the face: nothing of it left to compare
    scored = []
    for points, target, name in candidates:
        b = _aligned(out_rgb, points, target)
        kept = _detail(b, region) / max(_detail(a, region), 1e-6)
        scored.append((float(measures.ssim_map(a, b)[region].mean()), kept, name))
    ssim, detail, how = max(scored, key=lambda item: item[0])
    similarity = min(ssim, detail, 1.0)
    where = " outside the product region" if exclude is not None else ""
    describe = (f"the face{where} matches the person's at {similarity:.2f} (SSIM of the aligned faces "
                f"{ssim:.2f}, by {how}; fine detail kept {min(detail, 9.99):.0%})")
    return escalating("identity", similarity, soft_limit, hard_limit, False, describe, "identity lost", box)


def _detail(lightness: np.ndarray, region: np.ndarray) -> float:
    """Mean lightness gradient inside `region`: the fine detail a blur removes."""
    gy, gx = np.gradient(lightness)
    return float(np.hypot(gx, gy)[region].mean())


def _in_canonical(mask: np.ndarray, canon: np.ndarray, face: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """`mask` (person-image frame, any scale) sampled in the canonical face square."""
    from skimage.transform import SimilarityTransform

    to_image = SimilarityTransform.from_estimate(canon, face)
    ys, xs = np.mgrid[0:FACE_SIDE, 0:FACE_SIDE]
    points = to_image(np.column_stack([xs.ravel() + 0.5, ys.ravel() + 0.5]))
    mh, mw = mask.shape
    col = np.clip((points[:, 0] * mw / size[0]).astype(int), 0, mw - 1)
    row = np.clip((points[:, 1] * mh / size[1]).astype(int), 0, mh - 1)
    return mask[row, col].reshape(FACE_SIDE, FACE_SIDE)


# A landmark counts for `body` only when the pose is this sure it sees it: an occluded limb (the far arm of
# a person in profile) is guessed, and a guess moves with a re-encode.
BODY_VISIBLE = 0.8


def _visible(parse: PersonParse, size: tuple[int, int]) -> np.ndarray:
    x, y, v = parse.pose[:, 0], parse.pose[:, 1], parse.pose[:, 2]  # type: ignore[index]
    w, h = size
    return (v >= BODY_VISIBLE) & (x >= 0) & (x < w) & (y >= 0) & (y < h)


def body(base: PersonParse, out: PersonParse | None, size: tuple[int, int], core: np.ndarray, soft_limit: float,
         hard_limit: float, soft_scale: float, hard_scale: float) -> list[CheckResult]:
    """`body`: the person's pose landmarks stay where they were: a moved limb, another body, a cropped or
    rescaled person move them. Value: the largest median displacement of a body part (head, torso, each
    arm, each leg) among the landmarks seen in both images, in torso lengths. Landmarks inside the
    product region (`core`, any scale) are left out: a new garment or glasses shift the estimate of what
    they cover. Nothing when the person image's pose shows too little to judge.

    `body.scale`: the output's person is as big as the person image's: the spread of the same landmarks
    (root mean square distance from their centre), output over person image; a zoomed, cropped or
    shrunk person is off by more than `soft_scale` / `hard_scale` (relative). Judged only when those
    landmarks spread over half a torso length or more (a face alone is too small a ruler)."""
    seen = _visible(base, size)
    both = seen.copy()
    ch, cw = core.shape
    xs = np.clip((base.pose[:, 0] * cw / size[0]).astype(int), 0, cw - 1)  # type: ignore[index]
    ys = np.clip((base.pose[:, 1] * ch / size[1]).astype(int), 0, ch - 1)  # type: ignore[index]
    seen &= ~core[ys, xs]
    if both.sum() < 4:
        return []
    box = _fraction_box(base.pose[both, :2], size, pad=0.1)  # type: ignore[index]
    if out is None or not out.found or out.pose is None:
        # Not judged: the detector misses a person it found before often enough (a face hidden by big
        # glasses, a garment that changes the silhouette) that a flag would mostly be noise; a person
        # really gone shows in identity, preservation and background. The report's note says so.
        return []
    # Only landmarks the output's pose also claims to see: its own low confidence means "not seen", and
    # a guessed position says nothing about where the limb is.
    seen &= out.pose[:, 2] >= BODY_VISIBLE  # type: ignore[index]
    unit = base.torso_length() or max(size)
    shift = np.linalg.norm(out.pose[:, :2] - base.pose[:, :2], axis=1) / unit  # type: ignore[index]
    # The detector may swap left and right limbs (a symmetric figure, a back view): a part counts as in
    # place when it is where either side was.
    swapped = np.linalg.norm(out.pose[_MIRROR, :2] - base.pose[:, :2], axis=1) / unit  # type: ignore[index]
    worst_part, worst = "", 0.0
    for part, indices in BODY_PARTS.items():
        idx = [i for i in indices if seen[i]]
        if len(idx) >= 2 or (idx and part == "torso"):
            value = float(min(np.median(shift[idx]), np.median(swapped[idx])))
            if value > worst:
                worst_part, worst = part, value
    describe = (f"the body is where it was: landmarks moved at most {worst:.2f} torso lengths"
                if not worst_part else f"the {worst_part} moved {worst:.2f} torso lengths (median of its landmarks)")
    results = [escalating("body", worst, soft_limit, hard_limit, True, describe, "body changed", box)]
    # A size from a few close points (the face alone) is mostly their jitter: judged on a body-sized spread.
    if seen.sum() >= 4 and _spread(base.pose[seen, :2]) >= 0.5 * unit:  # type: ignore[index]
        results.append(_scale(base.pose[seen, :2], out.pose[seen, :2], soft_scale, hard_scale, box))  # type: ignore[index]
    return results


def _spread(points: np.ndarray) -> float:
    """Root mean square distance of the points from their centre."""
    return float(np.sqrt(((points - points.mean(axis=0)) ** 2).sum(axis=1).mean()))


def _scale(base_points: np.ndarray, out_points: np.ndarray, soft_limit: float, hard_limit: float,
           box: Box) -> CheckResult:
    ratio = _spread(out_points) / max(_spread(base_points), 1e-6)
    describe = f"the person is {ratio:.0%} of their size in the person image"
    result = escalating("body.scale", abs(ratio - 1.0), soft_limit, hard_limit, True, describe, "rescaled", box)
    return CheckResult(result.name, ratio, result.threshold, result.passed, result.severity, result.detail, box)


def background(changed: np.ndarray, person: np.ndarray, out_person: np.ndarray | None, zone: np.ndarray,
               margin: int, soft_limit: float, hard_limit: float) -> CheckResult | None:
    """`background`: outside the person (either image's person mask, grown by `margin` work pixels, and
    the product's zone), the photo is unchanged. Value: share of those pixels whose colour clearly changed.
    None when nearly everything is person."""
    from scipy.ndimage import distance_transform_edt

    people = person | out_person if out_person is not None and out_person.shape == person.shape else person
    near = distance_transform_edt(~people) <= margin if people.any() else people
    outside = ~(near | zone)
    if outside.mean() < 0.02:
        return None
    moved = changed & outside
    share = float(moved[outside].mean())
    h, w = changed.shape
    if moved.any():
        rows, cols = np.flatnonzero(moved.any(axis=1)), np.flatnonzero(moved.any(axis=0))
        box: Box = (cols[0] / w, rows[0] / h, (cols[-1] + 1) / w, (rows[-1] + 1) / h)
    else:
        box = (0.0, 0.0, 1.0, 1.0)
    describe = f"{share:.1%} of the background (outside the person) changed"
    return escalating("background", share, soft_limit, hard_limit, True, describe, "background replaced", box)
