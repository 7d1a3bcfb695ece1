"""The files an ImageEditor value is made of, as a browser's editor sends them: PNG, one set per call.

A person uploading into a Gradio ImageEditor never sends the file they picked: the editor draws it on a
canvas and uploads the canvas as `background.png`, and each layer as a PNG too. Apps are written (and
work) for that. Gradio's editor preprocessing converts the background to RGBA and re-saves it in the
uploaded file's own format, so a JPEG sent as it is fails inside Gradio before the app runs ("cannot
write mode RGBA as JPEG", seen with CatVTON on Gradio 4.16, 4.41 and 6.x). So an editor's background and
layers are sent as PNG: a lossless copy of the case's file (same pixels, its EXIF orientation and colour
profile kept). An empty layer (what the editor sends when nothing is drawn) is a transparent PNG of the
person image's size.

Every call gets files of its own, marked with a PNG text chunk unique to the call (pixels untouched).
Gradio names what it re-saves after the bytes' hash and writes it in place, not atomically, so two calls
in flight with byte-identical editor images (the same person twice, repeats, the same empty layer) share
one path that one call rewrites while the other's app reads it: CatVTON's `Image.open(layer)` then fails
("cannot identify image file"; seen on Gradio 6.31 with four calls in flight). The text
chunk survives Gradio's re-save (it keeps text metadata), so each call's files hash apart. The copies are
removed when the call ends.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import threading
import uuid
from pathlib import Path

from PIL import Image, PngImagePlugin

from vton_eval.images import opened

# Modes a PNG holds as they are; any other (CMYK, YCbCr...) is converted to RGB.
_PNG_MODES = frozenset({"1", "L", "LA", "I", "I;16", "P", "RGB", "RGBA"})


class EditorFiles:
    """PNG files for ImageEditor values, made per call in a temporary folder of the service's. Thread-safe."""

    def __init__(self) -> None:
        self._dir: Path | None = None
        self._lock = threading.Lock()

    def _target(self, stem: str) -> tuple[Path, PngImagePlugin.PngInfo]:
        with self._lock:
            if self._dir is None:
                self._dir = Path(tempfile.mkdtemp(prefix="vton-editor-"))
            folder = self._dir
        call = uuid.uuid4().hex
        info = PngImagePlugin.PngInfo()
        info.add_text("vton-eval-call", call)
        return folder / f"{stem[:60]}-{call[:12]}.png", info

    @staticmethod
    def _write(picture: Image.Image, target: Path, **options: object) -> str:
        tmp = target.with_suffix(".tmp")
        # compress_level 1: lossless either way, and the fastest to write (about 40 ms at 768x1024).
        picture.save(tmp, format="PNG", compress_level=1, **options)
        os.replace(tmp, target)
        return str(target)

    def blank_layer(self, person: Path) -> str:
        """A transparent layer of the person image's size, for one call."""
        with opened(person) as image:
            size = image.size
        target, info = self._target(f"blank-{size[0]}x{size[1]}")
        return self._write(Image.new("RGBA", size, (0, 0, 0, 0)), target, pnginfo=info)

    def png(self, source: Path) -> str:
        """A PNG copy of `source` for one call (same pixels; EXIF and colour profile kept)."""
        with opened(source) as image:
            kept = {key: image.info[key] for key in ("exif", "icc_profile") if image.info.get(key)}
            picture = image if image.mode in _PNG_MODES else image.convert("RGB")
            target, info = self._target(Path(source).stem)
            return self._write(picture, target, pnginfo=info, **kept)

    @staticmethod
    def release(paths: list[str]) -> None:
        """Remove a call's files (the call ended; its uploads are done)."""
        for path in paths:
            Path(path).unlink(missing_ok=True)

    def close(self) -> None:
        with self._lock:
            folder, self._dir = self._dir, None
        if folder is not None:
            shutil.rmtree(folder, ignore_errors=True)
