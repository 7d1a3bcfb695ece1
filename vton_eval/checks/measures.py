"""Pixel measures the checks are built from: colour distance, SSIM, PSNR, thumbnail correlation.

All work on small uint8 RGB arrays (the "work scale" copies); nothing here knows about thresholds.
"""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageFilter

# PSNR of identical images is infinite, which JSON cannot store; 100 dB means "identical" in
# practice (8-bit images differing by one level in one pixel in a megapixel are ~108 dB).
PSNR_CAP = 100.0
THUMB_SIDE = 64


def to_rgb(image: Image.Image) -> Image.Image:
    """RGB, with transparency flattened onto white (how the project shows any image with alpha)."""
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        canvas = Image.new("RGB", rgba.size, (255, 255, 255))
        canvas.paste(rgba, mask=rgba.getchannel("A"))
        return canvas
    return image if image.mode == "RGB" else image.convert("RGB")


def work_size(size: tuple[int, int], side: int) -> tuple[int, int]:
    """`size` scaled down (never up) so its long side is at most `side`."""
    width, height = size
    scale = min(1.0, side / max(width, height))
    return max(1, round(width * scale)), max(1, round(height * scale))


def downscale(image: Image.Image, size: tuple[int, int]) -> np.ndarray:
    """An HxWx3 uint8 copy of an RGB image at `size`. Area averaging (BOX) so that sub-pixel
    resampling differences and compression noise average out instead of aliasing."""
    if image.size != size:
        image = image.resize(size, Image.BOX)
    return np.asarray(image, dtype=np.uint8)


def _srgb_lut() -> np.ndarray:
    v = np.arange(256, dtype=np.float64) / 255.0
    return np.where(v <= 0.04045, v / 12.92, ((v + 0.055) / 1.055) ** 2.4).astype(np.float32)


_LINEAR = _srgb_lut()
# sRGB -> XYZ (D65), each row divided by the D65 white point so white maps to (1, 1, 1); the same
# constants as skimage.color.rgb2lab, which this matches to ~1e-4 at a fraction of the cost.
_RGB_TO_XYZ_N = (
    np.array(
        [[0.412453, 0.357580, 0.180423], [0.212671, 0.715160, 0.072169], [0.019334, 0.119193, 0.950227]],
        dtype=np.float32,
    )
    / np.array([[0.95047], [1.0], [1.08883]], dtype=np.float32)
).T.astype(np.float32)


def rgb_to_lab(rgb: np.ndarray) -> np.ndarray:
    """CIELAB (D65) of an HxWx3 uint8 sRGB array, float32: L* in 0..100, a*/b* roughly -128..127."""
    xyz = _LINEAR[rgb] @ _RGB_TO_XYZ_N
    np.maximum(xyz, 0.0, out=xyz)
    f = np.where(xyz > 0.008856, np.cbrt(xyz), 7.787 * xyz + 16.0 / 116.0)
    lab = np.empty_like(f)
    lab[..., 0] = 116.0 * f[..., 1] - 16.0
    lab[..., 1] = 500.0 * (f[..., 0] - f[..., 1])
    lab[..., 2] = 200.0 * (f[..., 1] - f[..., 2])
    return lab


def lightness(rgb: np.ndarray) -> np.ndarray:
    """L* (0..100, float32) of an HxWx3 uint8 sRGB array: rgb_to_lab's first channel, cheaper."""
    y = np.maximum(_LINEAR[rgb] @ _RGB_TO_XYZ_N[:, 1], 0.0)
    f = np.where(y > 0.008856, np.cbrt(y), 7.787 * y + 16.0 / 116.0)
    return (116.0 * f - 16.0).astype(np.float32)


def delta_e(lab_a: np.ndarray, lab_b: np.ndarray) -> np.ndarray:
    """Per-pixel CIE76 colour difference. Coarser than CIEDE2000 but ~20x cheaper, and the
    checks only ask "clearly different colour or not" (deltaE ~10), where the two agree."""
    d = lab_a - lab_b
    # Channel by channel: numpy reduces a trailing axis of 3 slowly.
    return np.sqrt(d[..., 0] ** 2 + d[..., 1] ** 2 + d[..., 2] ** 2)


def blur(rgb: np.ndarray, radius: float) -> np.ndarray:
    """A box blur of `radius` px (fractional radii allowed); `rgb` itself when radius is 0.

    The checks compare blurred copies for colour change: a blur of ~1.5 px at work scale removes
    what encoders add (8x8 ringing, chroma bleeding at colour edges; unblurred, a JPEG q75
    re-encode of a photo "changes" ~3 % of its pixels, blurred ~0 %), while a real edit, even a
    thin glasses frame, stays well above the deltaE threshold (the blur spreads it, if anything).
    """
    if radius <= 0:
        return rgb
    return np.asarray(Image.fromarray(rgb).filter(ImageFilter.BoxBlur(radius)))


def ssim_map(l_a: np.ndarray, l_b: np.ndarray) -> np.ndarray:
    """Per-pixel SSIM of two L* planes (data range 100), 7x7 uniform window.

    Lightness only: structure (edges, texture, blur) lives there; colour shifts are deltaE's job.
    """
    from skimage.metrics import structural_similarity

    win = min(7, *l_a.shape) | 1  # odd, no larger than a tiny image
    if win < 3:
        return np.ones(l_a.shape, dtype=np.float32)
    _, full = structural_similarity(l_a, l_b, data_range=100.0, win_size=win, full=True)
    return full.astype(np.float32)


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    """PSNR in dB of two uint8 arrays, capped at PSNR_CAP for (nearly) identical images."""
    mse = float(np.mean((a.astype(np.float32) - b.astype(np.float32)) ** 2))
    if mse <= 0.0:
        return PSNR_CAP
    return min(PSNR_CAP, 10.0 * float(np.log10(255.0**2 / mse)))


def dominant_colour(lab: np.ndarray) -> np.ndarray:
    """Per-channel median Lab colour: the background of a studio shot, the colour of a flat image."""
    return np.median(lab.reshape(-1, 3)[::3], axis=0)


def detail_share(lab: np.ndarray, threshold: float) -> tuple[float, np.ndarray]:
    """Share of pixels farther than `threshold` (deltaE) from the dominant colour, and that colour.

    Near 0 for a one-colour, all-black or all-white picture; a person on a plain studio
    background still has 5-50 % (the person).
    """
    colour = dominant_colour(lab)
    share = float(np.mean(delta_e(lab, colour) > threshold))
    return share, colour


def colour_name(lab_colour: np.ndarray) -> str:
    lightness, a, b = (float(v) for v in lab_colour)
    chroma = (a * a + b * b) ** 0.5
    if lightness < 12:
        return "black"
    if lightness > 95 and chroma < 8:
        return "white"
    if chroma < 8:
        return "gray"
    return "one colour"


def thumbnail(image: Image.Image | np.ndarray, side: int = THUMB_SIDE) -> np.ndarray:
    """A side x side grayscale float32 thumbnail (aspect ignored: both images get the same squash)."""
    if isinstance(image, np.ndarray):
        image = Image.fromarray(image)
    return np.asarray(image.convert("L").resize((side, side), Image.BOX), dtype=np.float32)


def correlation(a: np.ndarray, b: np.ndarray) -> float:
    """Pearson correlation of two equally shaped arrays, clipped to 0..1; 0 when either is flat
    (a flat picture resembles nothing, so it never "is" the product image)."""
    a = a - a.mean()
    b = b - b.mean()
    denom = float(np.sqrt((a * a).sum() * (b * b).sum()))
    if denom < 1e-6:
        return 0.0
    return max(0.0, float((a * b).sum()) / denom)


def fit_to_aspect(image: Image.Image, aspect: float, mode: str) -> Image.Image:
    """`image` brought to width/height `aspect`: "pad" with its border colour (letterbox) or "crop"
    its centre. How a service might have squeezed a product shot into the person's frame."""
    width, height = image.size
    if abs(width / height - aspect) < 1e-3:
        return image
    if mode == "crop":
        if width / height > aspect:
            new_w = max(1, round(height * aspect))
            left = (width - new_w) // 2
            return image.crop((left, 0, left + new_w, height))
        new_h = max(1, round(width / aspect))
        top = (height - new_h) // 2
        return image.crop((0, top, width, top + new_h))
    rgb = np.asarray(image)
    border = np.concatenate([rgb[0], rgb[-1], rgb[:, 0], rgb[:, -1]])
    fill = tuple(int(v) for v in np.median(border, axis=0))
    size = (max(width, round(height * aspect)), max(height, round(width / aspect)))
    canvas = Image.new("RGB", size, fill)
    canvas.paste(image, ((size[0] - width) // 2, (size[1] - height) // 2))
    return canvas
