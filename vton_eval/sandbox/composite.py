"""A fake but believable try-on: cut the product out of its plain background and paste it on the body.

`tryon_composite` is a pure function of its inputs (same inputs, same pixels), so the sample
dataset's reference images can be produced with it and compared exactly. It imports no gradio.
"""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageChops, ImageFilter

from vton_eval import workflows
from vton_eval.body import border_colour, colour_distance, mask_box, placement_box

__all__ = ["cutout", "fit_box", "tryon_composite"]

# Colour distance (sum over RGB) below which a pixel is background, and above which it is fully
# product; the ramp between gives soft, anti-aliased edges. Kept low so pale parts (a white sole
# on a white packshot, distance ~60) stay opaque; JPEG noise on a flat background sums to < 12.
_BG_NEAR = 12
_BG_FAR = 45
# Products are cut out at most this size; larger shots only cost time.
_CUTOUT_SIDE = 512


def cutout(product: Image.Image) -> Image.Image:
    """The product as RGBA, background made transparent and cropped to the product's bbox.

    An image that already has transparency keeps its own alpha; otherwise the background colour
    is the median of the border and alpha grows with the distance from it, slightly feathered.
    """
    product = product.copy()
    product.thumbnail((_CUTOUT_SIDE, _CUTOUT_SIDE), Image.BILINEAR)
    has_alpha = product.mode in ("RGBA", "LA") or (product.mode == "P" and "transparency" in product.info)
    if has_alpha:
        rgba = product.convert("RGBA")
        rgb = np.asarray(rgba.convert("RGB"))
        alpha = np.asarray(rgba.getchannel("A"))
    else:
        rgb = np.asarray(product.convert("RGB"))
        alpha = _background_alpha(rgb)
    solid = alpha > 24
    rows = np.flatnonzero(solid.any(axis=1))
    cols = np.flatnonzero(solid.any(axis=0))
    if rows.size == 0:
        # Nothing stands out from the background: paste the whole shot rather than nothing.
        return Image.fromarray(rgb).convert("RGBA")
    y0, y1, x0, x1 = rows[0], rows[-1] + 1, cols[0], cols[-1] + 1
    out = np.dstack([rgb[y0:y1, x0:x1], alpha[y0:y1, x0:x1]])
    return Image.fromarray(np.ascontiguousarray(out), "RGBA")



def _background_alpha(rgb: np.ndarray) -> np.ndarray:
    """Alpha for a product on a plain background: 0 on the background, 255 on the product,
    a ramp on anti-aliased edges, feathered by a light blur."""
    distance = colour_distance(rgb, border_colour(rgb)).astype(np.float32)
    ramp = np.clip((distance - _BG_NEAR) / (_BG_FAR - _BG_NEAR), 0.0, 1.0)
    alpha_img = Image.fromarray((ramp * 255).astype(np.uint8))
    return np.asarray(alpha_img.filter(ImageFilter.GaussianBlur(0.8)))


def fit_box(
    size: tuple[int, int], box: tuple[float, float, float, float], anchor: str = "center"
) -> tuple[int, int, int, int]:
    """The largest box of `size`'s aspect ratio inside `box`, centred horizontally and placed
    at the top, centre or bottom of it. May extend past an image when `box` does."""
    w, h = size
    x0, y0, x1, y1 = box
    bw, bh = max(x1 - x0, 1.0), max(y1 - y0, 1.0)
    scale = min(bw / w, bh / h)
    fw, fh = max(1, round(w * scale)), max(1, round(h * scale))
    left = round(x0 + (bw - fw) / 2)
    top = {"top": round(y0), "bottom": round(y1) - fh}.get(anchor, round(y0 + (bh - fh) / 2))
    return left, top, left + fw, top + fh


def tryon_composite(
    base: Image.Image,
    product: Image.Image,
    workflow: str,
    mask: Image.Image | None = None,
) -> Image.Image:
    """Paste `product` on the person in `base` where `workflow` puts it; RGB, same size as `base`.

    With a usable `mask` the product fills the mask's bounding box (aspect kept) and shows only
    inside the mask (grown a little), as a try-on model paints only where it is told: a T-shirt
    fitted to the box of a mask traced around a leaning body must not cover the face. A mask that
    is the base image itself or covers almost everything is ignored. Raises ValueError for an
    unknown workflow.
    """
    base_rgb = base.convert("RGB")
    box = placement_box(base_rgb, workflow, mask)
    piece = cutout(product)
    fx0, fy0, fx1, fy1 = fit_box(piece.size, box, workflows.get(workflow).anchor)
    piece = piece.resize((fx1 - fx0, fy1 - fy0), Image.BILINEAR)
    if workflows.get(workflow).anchor == "top":  # a garment hanging from the shoulders takes the body's shading
        piece = _shade(piece, base_rgb, (fx0, fy0))
    alpha = piece.getchannel("A")
    if mask is not None and mask_box(mask, base_rgb) is not None:
        alpha = ImageChops.multiply(alpha, _painted(mask, base_rgb.size).crop((fx0, fy0, fx1, fy1)))
    canvas = base_rgb.copy()
    # PIL clips the paste at the frame (a dress on a portrait runs off the bottom).
    canvas.paste(piece.convert("RGB"), (fx0, fy0), alpha)
    return canvas


def _painted(mask: Image.Image, size: tuple[int, int]) -> Image.Image:
    """Where a mask lets the service paint: its region (alpha flattened, resized), grown by 2 % of the
    long side (try-ons spill a little past a hand-drawn mask) and feathered."""
    if mask.mode in ("RGBA", "LA", "PA") or (mask.mode == "P" and "transparency" in mask.info):
        rgba = mask.convert("RGBA")
        flat = Image.new("L", rgba.size, 0)
        flat.paste(rgba.convert("L"), mask=rgba.getchannel("A"))
        mask = flat
    region = mask.convert("L").resize(size, Image.NEAREST).point(lambda v: 255 if v > 127 else 0)
    grow = max(1, round(0.02 * max(size))) | 1
    return region.filter(ImageFilter.MaxFilter(min(grow, 31) if min(grow, 31) % 2 else min(grow, 31) - 1)).filter(
        ImageFilter.GaussianBlur(1.0))


def _shade(piece: Image.Image, base: Image.Image, origin: tuple[int, int]) -> Image.Image:
    """A garment borrows a little of the body's shading (folds, light) so it does not look like a
    flat sticker; relative to the mean under it, so the garment keeps its own brightness."""
    fx0, fy0 = origin
    x0, y0 = max(fx0, 0), max(fy0, 0)
    x1, y1 = min(fx0 + piece.width, base.width), min(fy0 + piece.height, base.height)
    if x1 <= x0 or y1 <= y0:
        return piece
    lum = np.asarray(base.crop((x0, y0, x1, y1)).convert("L"), dtype=np.float32)
    factor = 1.0 + 0.2 * (np.clip(lum / max(float(lum.mean()), 1.0), 0.7, 1.2) - 1.0)
    rgba = np.array(piece)
    visible = rgba[y0 - fy0 : y1 - fy0, x0 - fx0 : x1 - fx0]
    visible[..., :3] = np.clip(visible[..., :3] * factor[..., None] + 0.5, 0, 255).astype(np.uint8)
    return Image.fromarray(rgba, "RGBA")
