"""The sandbox's input rules and its messages, as the SM4LL-VTON Space words them.

Input rules, checked in this order (each refusal is immediate, without the configured latency):

- rate limit (when configured), per client IP:
  "Rate limit exceeded: 30 requests per hour per IP. Try again in 123 s."
- a missing person or product image: "Please upload both a person image and a product image."
- an unknown workflow: "Unknown workflow 'x'. Choose one of: eyewear, footwear, dress, top."
- an image that is not JPG/PNG/WEBP, is corrupt or is under 100x100, as judged by
  `vton_eval.images.inspect_image`: "Invalid person image: GIF images are not accepted (use JPG,
  PNG or WEBP)" (likewise "Invalid product image: ..." and "Invalid mask image: ...").
- an "inappropriate" product, deterministic trigger: more than half of the product's pixels are
  pure magenta (#FF00FF, each channel within +-8):
  "Product image contains inappropriate content. Please use a different image."
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from PIL import Image

from vton_eval import workflows
from vton_eval.images import ImageProblem, inspect_image, load_rgb
from vton_eval.quota import Rate

MISSING_IMAGES_MESSAGE = "Please upload both a person image and a product image."
NSFW_MESSAGE = "Product image contains inappropriate content. Please use a different image."
SERVER_ERROR_MESSAGE = "Internal server error: worker crashed (sandbox fault injection)"
SHUTDOWN_MESSAGE = "The sandbox is shutting down."

# The magenta trigger: share of pixels within +-8 of #FF00FF above which a product is refused.
MAGENTA = (255, 0, 255)
MAGENTA_TOLERANCE = 8
MAGENTA_SHARE = 0.5


def unknown_workflow_message(workflow: object, offered: list[str] | tuple[str, ...] | None = None) -> str:
    return f"Unknown workflow {str(workflow)!r}. Choose one of: {', '.join(offered or workflows.names())}."


def rate_limit_message(rate: Rate, retry_after_s: float) -> str:
    return (
        f"Rate limit exceeded: {rate.count} requests per {_window_phrase(rate.window_s)} per IP. "
        f"Try again in {max(1, math.ceil(retry_after_s))} s."
    )


def _window_phrase(seconds: float) -> str:
    for unit, size in (("day", 86400.0), ("hour", 3600.0), ("minute", 60.0), ("second", 1.0)):
        if seconds % size == 0:
            n = int(seconds // size)
            return unit if n == 1 else f"{n} {unit}s"
    return f"{seconds:g} seconds"


def magenta_share(image: Image.Image) -> float:
    """Share of pixels that are pure magenta (within the tolerance), on a small copy."""
    small = image.convert("RGB")
    small.thumbnail((128, 128), Image.NEAREST)
    rgb = np.asarray(small, dtype=np.int16)
    near = np.abs(rgb - np.array(MAGENTA, dtype=np.int16)) <= MAGENTA_TOLERANCE
    return float(near.all(axis=2).mean())


def is_inappropriate(image: Image.Image) -> bool:
    return magenta_share(image) > MAGENTA_SHARE


def refusal(message: str) -> Exception:
    from vton_eval.sandbox.gradio_compat import error

    # Without a server traceback where Gradio allows it: refusals are the expected business of a sandbox.
    return error(message)


def judge(data: bytes, role: str, check_content: bool) -> str | None:
    """The refusal message for one uploaded file, or None when it is acceptable."""
    try:
        inspect_image(data)
    except ImageProblem as problem:
        return f"Invalid {role} image: {problem}"
    if check_content and is_inappropriate(load_rgb(data)):
        return NSFW_MESSAGE
    return None


def upload_path(value: Any) -> str | None:
    """The local path of an uploaded file as Gradio hands it over unprocessed (a FileData dict)."""
    if value is None:
        return None
    if isinstance(value, dict):
        return value.get("path") or None
    if isinstance(value, str):
        return value or None
    return getattr(value, "path", None)
