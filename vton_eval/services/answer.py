"""Reading the image out of what a service answered, without trusting the answer.

A Gradio endpoint can answer in several honest shapes: a FileData (a dict with a `url` on the
server), a gallery item (`{"image": FileData}`), an http(s) URL string, or the image itself as
base64 text or a `data:image/...;base64,` URI (the SM4LL-VTON Space documents "a JSON object with
a data field containing a base64-encoded PNG image"). Anything else is `bad_output`, never a
reason to retry.

A FileData with a `path` and no `url` is how Gradio up to 4.16 answers a file: the path is on the
service's disk, and gradio_client downloads it from the service's own file route. So do we, through
`file_url(path)` (the caller's URL on the endpoint's own origin, see `services.gradio`) and the same
`fetch` as any download; without a `file_url` such an answer is `bad_output`. A path is never opened on
*our* disk, and a plain string that looks like a path is not a file answer at all.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Callable
from typing import Any

from vton_eval.errors import VtonEvalError
from vton_eval.images import ImageProblem, opened

MAX_OUTPUT_BYTES = 64 * 1024 * 1024
# Try-on outputs are one to a few megapixels; 25 MP (5000x5000) leaves ample room while keeping the
# decode of one output under ~100 MB. Larger outputs are refused from their header, undecoded.
MAX_OUTPUT_PIXELS = 25_000_000

_DATA_URI = re.compile(r"^data:(?P<mime>[\w.+-]+/[\w.+-]+)?(?P<params>(?:;[\w.+-]+=[^;,]*)*)(?P<b64>;base64)?,",
                       re.I)
_BASE64_TEXT = re.compile(r"^[A-Za-z0-9+/_\-\s]+={0,2}\s*$")
_IMAGE_MAGIC = (b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"RIFF", b"GIF8")


class BadAnswer(VtonEvalError):
    """The service answered, but not with an image we may use (recorded as bad_output)."""


def answer_image(value: Any, fetch: Callable[[str], bytes], file_url: Callable[[str], str] | None = None) -> bytes:
    """The image bytes an answer carries. `fetch(url)` downloads an http(s) URL; `file_url(path)` is the URL of
    a file the service names by its path alone (None: such an answer is refused). Raises BadAnswer."""
    if isinstance(value, list | tuple):
        if not value:
            raise BadAnswer("the service returned an empty list instead of an image")
        value = value[0]
    if isinstance(value, dict):
        if isinstance(value.get("image"), dict | str):  # a gallery item
            return answer_image(value["image"], fetch, file_url)
        url = value.get("url")
        if isinstance(url, str) and url:
            return _from_text(url, fetch, named_as="url")
        path = value.get("path")
        if isinstance(path, str) and path:
            if _BASE64_TEXT.match(path) and len(path) >= 64 and _is_image_base64(path):
                return _decode_base64(path)
            if file_url is None:
                raise BadAnswer(f"the service named a file on its own disk ({_excerpt(path)}) and no URL to download "
                                "it from; a path named by a service is never opened")
            return fetch(file_url(path))
        data = value.get("data")
        if data is not None:  # {"data": [...]} as the raw HTTP API answers
            return answer_image(data, fetch, file_url)
        raise BadAnswer(f"the service returned a {type(value).__name__} without an image (keys: "
                        f"{_excerpt(', '.join(map(str, list(value)[:8])))})")
    if isinstance(value, str):
        return _from_text(value, fetch, named_as="text")
    if value is None:
        raise BadAnswer("the service returned no image (None)")
    raise BadAnswer(f"the service returned a {type(value).__name__} instead of an image")


def _from_text(text: str, fetch: Callable[[str], bytes], named_as: str) -> bytes:
    stripped = text.strip()
    lowered = stripped[:16].lower()
    if lowered.startswith("data:"):
        return _decode_data_uri(stripped)
    if lowered.startswith(("http://", "https://")):
        return fetch(stripped)
    if re.match(r"^[a-z][a-z0-9+.-]*:", lowered) and not re.match(r"^[a-z]:[\\/]", lowered):
        raise BadAnswer(f"the service named an address with the scheme {lowered.split(':', 1)[0]!r}; "
                        "only http(s) URLs are downloaded")
    if len(stripped) >= 64 and _BASE64_TEXT.match(stripped) and _is_image_base64(stripped):
        return _decode_base64(stripped)
    if named_as == "url":
        raise BadAnswer(f"the service's URL {_excerpt(stripped)} is not an http(s) address; it is not opened")
    if stripped.startswith(("/", "~", "\\", "./", "../")) or re.match(r"^[a-z]:[\\/]", lowered):
        raise BadAnswer(f"the service answered with a local path ({_excerpt(stripped)}) instead of an image; "
                        "a path named by a service is never opened")
    raise BadAnswer(f"the service answered with text that is neither an image URL nor base64 image data: "
                    f"{_excerpt(stripped)}")


def _is_image_base64(text: str) -> bool:
    head = re.sub(r"\s", "", text[:64])
    head = head[: len(head) - len(head) % 4]
    try:
        raw = base64.b64decode(head.replace("-", "+").replace("_", "/"), validate=True)
    except (binascii.Error, ValueError):
        return False
    return raw.startswith(_IMAGE_MAGIC)


def _decode_base64(text: str) -> bytes:
    compact = re.sub(r"\s", "", text).replace("-", "+").replace("_", "/")
    if len(compact) * 3 // 4 > MAX_OUTPUT_BYTES:
        raise BadAnswer(f"the base64 image is larger than {MAX_OUTPUT_BYTES // 2**20} MB")
    compact += "=" * (-len(compact) % 4)
    try:
        return base64.b64decode(compact, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise BadAnswer(f"the base64 image data does not decode ({exc})") from None


def _decode_data_uri(text: str) -> bytes:
    match = _DATA_URI.match(text)
    if not match:
        raise BadAnswer("the service's data: URI is malformed")
    mime = (match.group("mime") or "").lower()
    if mime and not mime.startswith("image/"):
        raise BadAnswer(f"the service's data: URI holds {mime}, not an image")
    payload = text[match.end():]
    if not match.group("b64"):
        raise BadAnswer("the service's data: URI is not base64-encoded")
    return _decode_base64(payload)


def image_size(data: bytes, max_pixels: int = MAX_OUTPUT_PIXELS) -> tuple[int, int]:
    """(width, height) of an output, by the image rules (`vton_eval.images`): JPEG, PNG or WEBP by its signature,
    and read from its header first, so an image over `max_pixels` is refused before anything is decoded; the rest
    is decoded once, to prove it is an image. Raises BadAnswer."""
    if len(data) > MAX_OUTPUT_BYTES:
        raise BadAnswer(f"the output is larger than {MAX_OUTPUT_BYTES // 2**20} MB")
    try:
        with opened(data, max_pixels) as img:
            width, height = img.size
            img.load()
    except ImageProblem as exc:
        if exc.reason == "too_large":
            raise BadAnswer(f"the output {exc}; it was not decoded") from None
        if exc.reason == "format":
            # A try-on output is a photograph: a GIF (or a BMP, a TIFF...) is no answer the Space gives, and
            # would be kept as a file of no known kind.
            raise BadAnswer(f"the output is not accepted: {exc}; an output must be JPEG, PNG or WEBP") from None
        raise BadAnswer(f"the output is not a decodable image ({len(data)} bytes: {exc})") from None
    except Exception as exc:  # Pillow raises many types for a damaged stream
        raise BadAnswer(f"the output is not a decodable image ({len(data)} bytes: {_excerpt(str(exc))})") from None
    return width, height


def _excerpt(text: str, limit: int = 120) -> str:
    text = text.replace("\n", " ")
    return repr(text if len(text) <= limit else text[:limit] + "…")
