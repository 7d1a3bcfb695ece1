"""Checks on the output as a picture, before comparing it pixel by pixel with the person:
does it decode, has it the person's size, is it more than one colour, is it not the product shot.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

from vton_eval.checks import measures
from vton_eval.checks.results import HARD, SOFT, CheckResult
from vton_eval.images import decoded


def decode(output: bytes | Image.Image) -> tuple[Image.Image | None, CheckResult]:
    """`decodes` (hard): the output opens and its pixel data decodes completely.

    A truncated download or a JSON error body saved as .png looks like an image to the runner;
    decoding every byte is the only way to know.
    """
    try:
        if isinstance(output, bytes | bytearray | memoryview):
            if not output:
                raise ValueError("empty response (0 bytes)")
            image = decoded(bytes(output))  # the image rules: JPEG, PNG or WEBP, within the pixel limit
        elif isinstance(output, Image.Image):
            image = output
            image.load()
        else:
            raise TypeError(f"expected bytes or a PIL image, got {type(output).__name__}")
        if image.width < 1 or image.height < 1:
            raise ValueError(f"image has no pixels ({image.width}x{image.height})")
    # Deliberately broad: any decoder error (OSError, SyntaxError, struct.error, bombs...) means
    # the same thing here, and check_paths promises not to raise for a bad output.
    except Exception as exc:  # noqa: BLE001
        reason = str(exc) or type(exc).__name__
        return None, CheckResult("decodes", 0.0, None, False, HARD, f"the output does not decode: {reason}")
    fmt = f"{image.format} " if image.format else ""
    detail = f"the output decodes ({fmt}{image.width}x{image.height})"
    return image, CheckResult("decodes", 1.0, None, True, HARD, detail)


def size(out_size: tuple[int, int], base_size: tuple[int, int], max_aspect_error: float) -> list[CheckResult]:
    """`size` (hard): the output has the person image's aspect ratio, within `max_aspect_error`
    (relative). Otherwise no pixel of it can be compared with the person: "wrong size".
    `size.resized` (soft): same aspect but another pixel size; the output is then compared at the
    person's size, and the flag only says the service did not keep the resolution."""
    (ow, oh), (bw, bh) = out_size, base_size
    error = abs((ow / oh) / (bw / bh) - 1.0)
    shape = f"{ow}x{oh} for a {bw}x{bh} person image"
    if error > max_aspect_error:
        detail = f"wrong size: {shape} (aspect ratio off by {error:.1%}, limit {max_aspect_error:.1%})"
        return [CheckResult("size", error, max_aspect_error, False, HARD, detail)]
    results = [CheckResult("size", error, max_aspect_error, True, HARD, f"aspect ratio kept ({shape})")]
    scale = ow / bw
    if out_size == base_size:
        results.append(CheckResult("size.resized", 1.0, 1.0, True, SOFT, f"same size as the person image ({shape})"))
    else:
        detail = f"resized: {shape} ({scale:.2f}x); compared at the person image's size"
        results.append(CheckResult("size.resized", scale, 1.0, False, SOFT, detail))
    return results


def blank(out_lab: np.ndarray, base_lab: np.ndarray, delta_e: float, min_share: float) -> CheckResult:
    """`blank` (hard): the output is not (nearly) one colour, e.g. all black (a safety filter's
    answer), all white, a flat fill, or mostly so (a white canvas with a small logo).

    Measured as the share of pixels clearly different (deltaE) from the output's dominant colour.
    The limit is lowered to half the person image's own share, so a small figure on a big white
    background is not called blank when the person image itself is that sparse.
    """
    share, colour = measures.detail_share(out_lab, delta_e)
    base_share, _ = measures.detail_share(base_lab, delta_e)
    limit = min(min_share, 0.5 * base_share)
    name = measures.colour_name(colour)
    if share < limit:
        detail = f"the output is blank: {share:.2%} of the pixels differ from its dominant {name} (limit {limit:.2%})"
        return CheckResult("blank", share, limit, False, HARD, detail)
    detail = f"{share:.1%} of the pixels differ from the dominant colour (at least {limit:.2%} needed)"
    return CheckResult("blank", share, limit, True, HARD, detail)


def product_returned(
    out_small: np.ndarray, base_small: np.ndarray, product: Image.Image, max_similarity: float
) -> CheckResult:
    """`product_returned` (hard): the output is not the product image sent back (as is, stretched,
    letterboxed or centre-cropped to the person's frame).

    Similarity is the correlation of 64x64 grayscale thumbnails, the best over three ways of
    fitting the product into the output's frame: squashed (covers "as is" and "stretched"),
    letterboxed, centre-cropped. It fails only when that similarity reaches
    the limit AND exceeds the output's similarity with the person image: a real try-on resembles
    the person far more than the product shot, whatever the product looks like.
    """
    out_thumb = measures.thumbnail(out_small)
    product = measures.to_rgb(product)
    # Fitting the product to a shape is cheap on a small copy and the thumbnails are 64 px anyway.
    product = product.copy()
    product.thumbnail((256, 256), Image.BOX)
    aspect = out_small.shape[1] / out_small.shape[0]
    variants = [product] + [measures.fit_to_aspect(product, aspect, mode) for mode in ("pad", "crop")]
    similarity = max(measures.correlation(out_thumb, measures.thumbnail(v)) for v in variants)
    to_person = measures.correlation(out_thumb, measures.thumbnail(base_small))
    returned = similarity >= max_similarity and similarity > to_person
    if returned:
        detail = (
            f"the output is the product image: similarity {similarity:.2f} (limit {max_similarity:.2f}), "
            f"against {to_person:.2f} with the person image"
        )
    else:
        detail = (
            f"similarity with the product image {similarity:.2f} (limit {max_similarity:.2f}), "
            f"with the person {to_person:.2f}"
        )
    return CheckResult("product_returned", similarity, max_similarity, not returned, HARD, detail)


def product_returned_unaligned(out_image: Image.Image, product: Image.Image, max_similarity: float) -> CheckResult:
    """`product_returned` for an output of the wrong size: no person comparison is meaningful
    there (the frames differ), so the similarity limit alone decides."""
    small_image = measures.to_rgb(out_image).copy()
    small_image.thumbnail((256, 256), Image.BOX)
    small = np.asarray(small_image)
    flat = np.zeros_like(small)  # correlation with a flat image is 0: the person term drops out
    return product_returned(small, flat, product, max_similarity)
