"""The person parser: who is in a photo and where (pose landmarks, person mask, face mesh).

`parse_image(image)` parses with MediaPipe (`mediapipe_parser`), once per image content in this
process (an LRU keyed by the pixels' hash); `available()` says whether the parser can run here. The
checks ask for a parse of the person image and of each output; without a parser, or without a person
in the photo, they fall back to rough geometry (`vton_eval.body`).

Across processes and runs, a person image's parse is kept in the store (`person_parses`, keyed by the
file's SHA-256), so each person image is parsed once per store: the check worker parses what it is not
sent, and its answer carries the new parse back for the recorder to write.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict

from PIL import Image

from vton_eval.person.model import FACE_GROUPS, POSE_NAMES, VISIBLE, PersonParse

__all__ = ["FACE_GROUPS", "POSE_NAMES", "VISIBLE", "PersonParse", "available", "image_key", "parse_image",
           "parser_name", "unavailable_reason"]

_CACHE_SIZE = 64
_cache: OrderedDict[str, PersonParse] = OrderedDict()
_cache_lock = threading.Lock()


def available() -> bool:
    """Whether the parser can run in this process (MediaPipe imports)."""
    return unavailable_reason() is None


def unavailable_reason() -> str | None:
    from vton_eval.person import mediapipe_parser

    try:
        mediapipe_parser._mediapipe()
    except ImportError as exc:
        return f"the person parser (mediapipe) cannot be imported: {exc}"
    return None


def parser_name() -> str:
    from vton_eval.person import mediapipe_parser

    return mediapipe_parser.version()


def image_key(image: Image.Image) -> str:
    """A hash of an image's pixels (mode, size, bytes): the in-process cache key."""
    digest = hashlib.sha256(f"{image.mode}{image.size}".encode())
    digest.update(image.tobytes())
    return digest.hexdigest()


def parse_image(image: Image.Image, key: str | None = None, like: PersonParse | None = None) -> PersonParse | None:
    """The parse of `image` (cached by content in this process), or None when the parser cannot run.
    `like`: the parse of the image this one is aligned with (an output's person image): where its head is,
    the face is looked for when no pose is found."""
    from vton_eval.person import mediapipe_parser

    key = key or image_key(image)
    with _cache_lock:
        hit = _cache.get(key)
        if hit is not None:
            _cache.move_to_end(key)
            return hit
    try:
        head = mediapipe_parser.head_box(like) if like is not None else None
        result = mediapipe_parser.parse(image, head)
    except ImportError:
        return None
    remember(key, result)
    return result


def remember(key: str, parse: PersonParse) -> None:
    """Keep a parse made elsewhere (the store's cache, another process) under `key`."""
    with _cache_lock:
        _cache[key] = parse
        _cache.move_to_end(key)
        while len(_cache) > _CACHE_SIZE:
            _cache.popitem(last=False)


def cached(key: str) -> PersonParse | None:
    with _cache_lock:
        return _cache.get(key)
