"""Garment fidelity: what the service put in the product region looks like the product that was sent.

A clean try-on of another garment passes every pixel check (the region changed, the rest was kept); only
comparing the region with the product shot catches it. Two measures, both at work scale:

- colour: the CIELAB colour distribution of the region's changed pixels (what the service painted; the
  whole region when little changed) against the product's own pixels (cut out from its plain background),
  as the Bhattacharyya coefficient of smoothed 3-D histograms (1 = the same colours, 0 = none shared);
- texture: the share of edge pixels (lightness gradient above a step) in each, with the product scaled to
  the region's size first, compared as a ratio (1 = equally plain or equally patterned): stripes where a
  plain top was sent, or the reverse.
"""

from __future__ import annotations

import numpy as np
from PIL import Image
from scipy.ndimage import uniform_filter

from vton_eval.body import border_colour, colour_distance
from vton_eval.checks import measures
from vton_eval.checks.results import HARD, SOFT, CheckResult

Box = tuple[float, float, float, float]

# Histogram bins: lightness is coarse (a garment on a body is shaded, its packshot is flat), hue finer.
_L_BINS, _AB_BINS, _AB_RANGE = 5, 10, 80.0
_EDGE_STEP = 6.0  # L* per work pixel: a printed pattern's edge, not a fold's shading
_BG_DISTANCE = 45  # RGB distance from the packshot's border colour from which a pixel is product


def _histogram(lab: np.ndarray) -> np.ndarray:
    bins = (_L_BINS, _AB_BINS, _AB_BINS)
    ranges = ((0.0, 100.0), (-_AB_RANGE, _AB_RANGE), (-_AB_RANGE, _AB_RANGE))
    clipped = np.clip(lab, [0.0, -_AB_RANGE + 1e-3, -_AB_RANGE + 1e-3], [100.0 - 1e-3, _AB_RANGE - 1e-3,
                                                                        _AB_RANGE - 1e-3])
    hist, _ = np.histogramdd(clipped, bins=bins, range=ranges)
    hist = np.maximum(uniform_filter(hist, size=3, mode="constant"), 0.0)  # neighbours share: no cliff at an edge
    total = hist.sum()
    return hist / total if total > 0 else hist


def _edges(lightness: np.ndarray, where: np.ndarray) -> float:
    gy, gx = np.gradient(lightness)
    strong = np.hypot(gx, gy) > _EDGE_STEP
    return float(strong[where].mean()) if where.any() else 0.0


def product_pixels(product: Image.Image, height: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The product shot at `height` px tall (its product's box, not its canvas): RGB, lightness and the
    product's own pixels (not the plain background around it)."""
    rgba = product.convert("RGBA") if "A" in product.getbands() or "transparency" in product.info else None
    rgb_image = measures.to_rgb(product)
    small = rgb_image.copy()
    small.thumbnail((256, 256), Image.BOX)
    rgb = np.asarray(small)
    if rgba is not None:
        alpha = np.asarray(rgba.resize(small.size, Image.BOX).getchannel("A")) > 128
    else:
        alpha = colour_distance(rgb, border_colour(rgb)) > _BG_DISTANCE
    if alpha.mean() < 0.01:
        alpha = np.ones_like(alpha)
    rows, cols = np.flatnonzero(alpha.any(axis=1)), np.flatnonzero(alpha.any(axis=0))
    crop = (cols[0], rows[0], cols[-1] + 1, rows[-1] + 1)
    piece = Image.fromarray(rgb).crop(crop)
    keep = Image.fromarray(alpha.astype(np.uint8) * 255).crop(crop)
    scale = max(8, height) / piece.height
    size = (max(1, round(piece.width * scale)), max(8, height))
    rgb_scaled = np.asarray(piece.resize(size, Image.BOX))
    keep_scaled = np.asarray(keep.resize(size, Image.BOX)) > 128
    return rgb_scaled, measures.lightness(rgb_scaled), keep_scaled


def fidelity(out_small: np.ndarray, out_lab: np.ndarray, changed: np.ndarray, core: np.ndarray, product: Image.Image,
             box: Box, min_colour: float, min_texture: float) -> list[CheckResult]:
    """`fidelity.colour` (hard) and `fidelity.texture` (soft): the product region against the product shot.

    `out_small` / `out_lab`: the output at work scale (RGB; blurred CIELAB), `changed` the changed-pixel
    map, `core` the product region (both work scale), `box` the region as fractions (Review's zoom)."""
    if core.sum() < 16:
        return []
    painted = core & changed
    pixels = painted if painted.sum() >= max(16, 0.05 * core.sum()) else core
    rows = np.flatnonzero(core.any(axis=1))
    rgb, lightness, keep = product_pixels(product, int(rows[-1] - rows[0] + 1))
    product_lab = measures.rgb_to_lab(measures.blur(rgb, 1.0))[keep]
    colour = float(np.sqrt(_histogram(out_lab[pixels]) * _histogram(product_lab)).sum())
    what = "the painted pixels" if pixels is painted else "the region (little changed)"
    results = [CheckResult(
        "fidelity.colour", colour, min_colour, colour >= min_colour, HARD,
        (f"{what} share {colour:.0%} of their colours with the product image (at least {min_colour:.0%})"
         if colour >= min_colour else
         f"not the product: {what} share only {colour:.0%} of their colours with the product image "
         f"(at least {min_colour:.0%}); a different garment or colour"), box)]
    out_edges = _edges(measures.lightness(out_small), pixels)
    product_edges = _edges(lightness, keep)
    texture = (min(out_edges, product_edges) + 0.02) / (max(out_edges, product_edges) + 0.02)
    results.append(CheckResult(
        "fidelity.texture", texture, min_texture, texture >= min_texture, SOFT,
        f"pattern: {out_edges:.0%} edge pixels in the region, {product_edges:.0%} in the product "
        f"(likeness {texture:.2f}, at least {min_texture:.2f})", box))
    return results
