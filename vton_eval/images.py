"""What makes an image acceptable to a try-on service, decided once for datasets, uploads and calls."""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, UnidentifiedImageError

ACCEPTED_FORMATS = frozenset({"JPEG", "PNG", "WEBP"})
# Formats the service names as refused; everything else unknown is refused as "unsupported".
REFUSED_FORMATS = frozenset({"GIF", "AVIF"})
MIN_SIDE = 100
DEFAULT_MAX_PIXELS = 25_000_000
# The service downsizes inputs above this; worth a warning, not an error.
SERVICE_DOWNSCALE_PIXELS = 1_600_000


class ImageProblem(ValueError):
    """An image the service would refuse. `reason` is a short stable code, str() a sentence."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True)
class ImageInfo:
    width: int
    height: int
    format: str

    @property
    def pixels(self) -> int:
        return self.width * self.height


def inspect_image(source: str | Path | bytes, max_pixels: int = DEFAULT_MAX_PIXELS) -> ImageInfo:
    """Open and fully decode an image; raise ImageProblem saying why the service would refuse it."""
    try:
        if isinstance(source, bytes):
            handle = io.BytesIO(source)
        else:
            path = Path(source)
            if not path.is_file():
                raise ImageProblem("missing", f"file not found: {path}")
            handle = path.open("rb")
    except OSError as exc:
        raise ImageProblem("unreadable", f"cannot read file: {exc.strerror or exc}") from None
    with handle, warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            img = Image.open(handle)
        except UnidentifiedImageError:
            raise ImageProblem("not_an_image", "not a readable image (unknown or corrupt format)") from None
        except (Image.DecompressionBombError, Image.DecompressionBombWarning):
            raise ImageProblem("too_large", "image is too large to decode safely") from None
        except OSError as exc:
            raise ImageProblem("unreadable", f"cannot read image: {exc}") from None
        fmt = (img.format or "").upper()
        if fmt in REFUSED_FORMATS:
            raise ImageProblem("format", f"{fmt} images are not accepted (use JPG, PNG or WEBP)")
        if fmt not in ACCEPTED_FORMATS:
            raise ImageProblem("format", f"{fmt or 'unknown'} images are not accepted (use JPG, PNG or WEBP)")
        width, height = img.size
        if width * height > max_pixels:
            raise ImageProblem(
                "too_large",
                f"image is {width}x{height} ({width * height / 1e6:.1f} MP), over the limit of "
                f"{max_pixels / 1e6:.1f} MP",
            )
        if min(width, height) < MIN_SIDE:
            raise ImageProblem("too_small", f"image is {width}x{height}, under the minimum of 100x100")
        try:
            img.load()
        except (OSError, SyntaxError, ValueError) as exc:
            raise ImageProblem("truncated", f"image data is truncated or corrupt: {exc}") from None
    return ImageInfo(width, height, fmt)


def load_rgb(source: str | Path | bytes) -> Image.Image:
    """Decode an image into RGB, flattening transparency onto white (how a product shot is shown)."""
    img = Image.open(io.BytesIO(source) if isinstance(source, bytes) else source)
    img.load()
    if img.mode in ("RGBA", "LA") or (img.mode == "P" and "transparency" in img.info):
        rgba = img.convert("RGBA")
        canvas = Image.new("RGB", rgba.size, (255, 255, 255))
        canvas.paste(rgba, mask=rgba.getchannel("A"))
        return canvas
    return img.convert("RGB")
