"""What makes an image acceptable to a try-on service, decided once for datasets, uploads, calls and thumbnails.

An image is opened by its header alone, and only as one of the accepted formats: the first bytes must be a
JPEG, PNG or WEBP signature, and that format's own reader parses the header (Pillow's open would try every
format it knows, EPS with its Ghostscript path among them). Its size is compared with the pixel limit before a
single pixel is decoded, so a small file declaring 168 megapixels costs nothing. No process-wide warnings filter
is involved: Pillow's own bomb warning is never reached (our limit is far below its own), and a filter set by
one thread would leak into the others.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from PIL import Image, ImageFile, JpegImagePlugin, PngImagePlugin, WebPImagePlugin

ACCEPTED_FORMATS = frozenset({"JPEG", "PNG", "WEBP"})
# Formats the service names as refused; everything else unknown is refused as "unsupported".
REFUSED_FORMATS = frozenset({"GIF", "AVIF"})
MIN_SIDE = 100
DEFAULT_MAX_PIXELS = 25_000_000
# The service downsizes inputs above this; worth a warning, not an error.
SERVICE_DOWNSCALE_PIXELS = 1_600_000

# The readers of the accepted formats, chosen by signature (each registers itself with Pillow when imported).
_READERS: dict[str, Callable[..., ImageFile.ImageFile]] = {
    "JPEG": JpegImagePlugin.jpeg_factory, "PNG": PngImagePlugin.PngImageFile, "WEBP": WebPImagePlugin.WebPImageFile}
# Other formats named by their signature, to say what a refused file is (never opened as such).
_OTHER_SIGNATURES: tuple[tuple[bytes, int, str], ...] = (
    (b"GIF87a", 0, "GIF"), (b"GIF89a", 0, "GIF"), (b"BM", 0, "BMP"), (b"II*\x00", 0, "TIFF"), (b"MM\x00*", 0, "TIFF"),
    (b"%!PS", 0, "EPS"), (b"\xc5\xd0\xd3\xc6", 0, "EPS"), (b"%PDF", 0, "PDF"), (b"8BPS", 0, "PSD"),
    (b"\x00\x00\x01\x00", 0, "ICO"), (b"\xff\x0a", 0, "JPEG XL"), (b"\x00\x00\x00\x0cJXL ", 0, "JPEG XL"),
)
_FTYP = {b"avif": "AVIF", b"avis": "AVIF", b"heic": "HEIC", b"heix": "HEIC", b"mif1": "HEIF"}


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


def signature_format(head: bytes) -> str | None:
    """The format the first bytes of a file announce: an accepted one (JPEG, PNG, WEBP) or another we can name
    (GIF, AVIF, EPS...); None for anything else."""
    if head.startswith(b"\xff\xd8\xff"):
        return "JPEG"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "PNG"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "WEBP"
    if head[4:8] == b"ftyp" and head[8:12] in _FTYP:
        return _FTYP[head[8:12]]
    return next((name for magic, offset, name in _OTHER_SIGNATURES if head[offset:offset + len(magic)] == magic), None)


def _refused(fmt: str | None) -> ImageProblem:
    if fmt is None:
        return ImageProblem("not_an_image", "not a readable image (unknown or corrupt format)")
    return ImageProblem("format", f"{fmt} images are not accepted (use JPG, PNG or WEBP)")


def _handle(source: str | Path | bytes) -> IO[bytes]:
    if isinstance(source, bytes | bytearray | memoryview):
        return io.BytesIO(bytes(source))
    path = Path(source)
    if not path.is_file():
        raise ImageProblem("missing", f"file not found: {path}")
    try:
        return path.open("rb")
    except OSError as exc:
        raise ImageProblem("unreadable", f"cannot read file: {exc.strerror or exc}") from None


@contextmanager
def opened(source: str | Path | bytes, max_pixels: int = DEFAULT_MAX_PIXELS) -> Iterator[ImageFile.ImageFile]:
    """An accepted image opened by its header, nothing decoded yet (load it inside the block); ImageProblem for a
    file that is not JPEG, PNG or WEBP by its signature and header, or over `max_pixels`."""
    handle = _handle(source)
    try:
        try:
            head = handle.read(16)
            handle.seek(0)
        except OSError as exc:
            raise ImageProblem("unreadable", f"cannot read file: {exc.strerror or exc}") from None
        fmt = signature_format(head)
        reader = _READERS.get(fmt or "")
        if reader is None:
            raise _refused(fmt)
        try:
            img = reader(handle)
        except Exception:  # Pillow's readers raise many types for a damaged header
            raise ImageProblem("not_an_image", f"not a readable image (a damaged {fmt} header)") from None
        if (img.format or "").upper() not in ACCEPTED_FORMATS:  # a JPEG that is really MPO
            raise _refused(img.format)
        width, height = img.size
        if width * height > max_pixels:
            raise ImageProblem("too_large", f"image is {width}x{height} ({width * height / 1e6:.1f} MP), over the "
                                            f"limit of {max_pixels / 1e6:.1f} MP")
        yield img
    finally:
        handle.close()


def _load(img: ImageFile.ImageFile) -> None:
    try:
        img.load()
    except Exception as exc:  # a truncated or corrupt stream: Pillow raises OSError, SyntaxError, ValueError...
        raise ImageProblem("truncated", f"image data is truncated or corrupt: {exc}") from None


def inspect_image(source: str | Path | bytes, max_pixels: int = DEFAULT_MAX_PIXELS) -> ImageInfo:
    """Open and fully decode an image; raise ImageProblem saying why the service would refuse it."""
    with opened(source, max_pixels) as img:
        width, height = img.size
        if min(width, height) < MIN_SIDE:
            raise ImageProblem("too_small", f"image is {width}x{height}, under the minimum of 100x100")
        _load(img)
        return ImageInfo(width, height, (img.format or "").upper())


def decoded(source: str | Path | bytes, max_pixels: int = DEFAULT_MAX_PIXELS) -> Image.Image:
    """An accepted image fully decoded, its file closed; ImageProblem otherwise (a truncated one included)."""
    with opened(source, max_pixels) as img:
        _load(img)
        img.fp = None  # the pixels are in memory; the file is closed as the block ends
        return img


def load_rgb(source: str | Path | bytes, max_pixels: int = DEFAULT_MAX_PIXELS) -> Image.Image:
    """Decode an accepted image into RGB, flattening transparency onto white (how a product shot is shown);
    ImageProblem for anything else (what every thumbnail, crop and difference is made from)."""
    img = decoded(source, max_pixels)
    if img.mode in ("RGBA", "LA") or (img.mode == "P" and "transparency" in img.info):
        rgba = img.convert("RGBA")
        canvas = Image.new("RGB", rgba.size, (255, 255, 255))
        canvas.paste(rgba, mask=rgba.getchannel("A"))
        return canvas
    return img.convert("RGB")
