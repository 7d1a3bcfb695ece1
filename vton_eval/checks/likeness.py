"""Comparing two outputs of the same case (e.g. two runs, or a run and its reference)."""

from __future__ import annotations

import numpy as np
from PIL import Image

from vton_eval.checks import measures
from vton_eval.checks.config import DEFAULTS

_WORK_SIDE = int(DEFAULTS["analysis.work_side"])
_DELTA_E = DEFAULTS["analysis.delta_e"]
_BLUR = DEFAULTS["analysis.blur"]
# difference_image computes its heat map at most this size, with the checks' blur scaled to it,
# and scales it up: it then shows what the checks count as changed (not encoder speckle), at a
# bounded cost for big outputs.
_DIFF_SIDE = 768


def _pair(a: Image.Image, b: Image.Image, side: int) -> tuple[np.ndarray, np.ndarray]:
    """Both images as uint8 RGB arrays at `a`'s aspect, long side at most `side` (b stretched if
    its aspect differs: the caller asked to compare them, so compare what lines up)."""
    a, b = measures.to_rgb(a), measures.to_rgb(b)
    size = measures.work_size(a.size, side)
    return measures.downscale(a, size), measures.downscale(b, size)


def similarity(a: Image.Image, b: Image.Image) -> dict[str, float]:
    """How alike two images are, at work scale (b resized to a's size first).

    Returns {"ssim": mean SSIM of lightness (1 = identical), "changed_share": share of pixels
    whose colour moved by more than deltaE 10, after the same small blur as the checks, so
    re-encoding noise does not count (0 = identical), "psnr": dB over RGB, 100 = identical}.
    """
    small_a, small_b = _pair(a, b, _WORK_SIDE)
    lab_a = measures.rgb_to_lab(measures.blur(small_a, _BLUR))
    lab_b = measures.rgb_to_lab(measures.blur(small_b, _BLUR))
    return {
        "ssim": float(measures.ssim_map(measures.lightness(small_a), measures.lightness(small_b)).mean()),
        "changed_share": float((measures.delta_e(lab_a, lab_b) > _DELTA_E).mean()),
        "psnr": measures.psnr(small_a, small_b),
    }


def difference_image(a: Image.Image, b: Image.Image) -> Image.Image:
    """A picture of where `b` differs from `a`, the size of `a` (RGB).

    `b` (resized to a's size) is shown as dimmed grayscale so the eye finds the person, with the
    colour difference overlaid as heat: transparent under deltaE 4, yellow through orange to red
    from deltaE ~10 (clearly changed) up to 40. Like the checks, colours are compared after a
    slight blur, so compression speckle stays gray.
    """
    a_rgb, b_rgb = measures.to_rgb(a), measures.to_rgb(b)
    if b_rgb.size != a_rgb.size:
        b_rgb = b_rgb.resize(a_rgb.size, Image.BILINEAR)
    small_a, small_b = _pair(a_rgb, b_rgb, _DIFF_SIDE)
    radius = _BLUR * max(small_a.shape[:2]) / _WORK_SIDE
    diff = measures.delta_e(
        measures.rgb_to_lab(measures.blur(small_a, radius)), measures.rgb_to_lab(measures.blur(small_b, radius))
    )
    # 0 at deltaE 4, 1 at deltaE 40; the square root lifts moderate changes into view.
    strength = np.sqrt(np.clip((diff - 4.0) / 36.0, 0.0, 1.0))
    heat = Image.fromarray((strength * 255).astype(np.uint8))
    if heat.size != a_rgb.size:
        heat = heat.resize(a_rgb.size, Image.BILINEAR)
    alpha = np.asarray(heat, dtype=np.float32)[..., None] / 255.0
    gray = np.asarray(b_rgb.convert("L"), dtype=np.float32)[..., None]
    dimmed = 40.0 + 0.45 * gray
    # Yellow for a small change shading to red for a large one.
    colour = np.concatenate([np.full_like(alpha, 255.0), 230.0 * (1.0 - alpha), np.zeros_like(alpha)], axis=2)
    mixed = dimmed * (1.0 - alpha) + colour * alpha
    return Image.fromarray(np.clip(mixed + 0.5, 0, 255).astype(np.uint8), "RGB")
