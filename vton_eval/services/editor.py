"""The files an ImageEditor value is made of, as a browser's editor sends them.

A person uploading into a Gradio ImageEditor never sends the file they picked: the editor draws it on a
canvas and uploads the canvas as `background.png`, and each layer as a PNG too. Apps are written (and
work) for that. Gradio's editor preprocessing converts the background to RGBA and re-saves it in the
uploaded file's own format, so a JPEG sent as it is fails inside Gradio before the app runs ("cannot
write mode RGBA as JPEG", seen with CatVTON on Gradio 4.16, 4.41 and 6.x). So an editor's background and
layers are sent as PNG: a lossless copy of the case's file (same pixels, its EXIF orientation and colour
profile kept), made for the call and removed after it. A PNG is sent as it is.

An empty layer (what the editor sends when nothing is drawn) is one transparent PNG per image size,
kept for the service's lifetime.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import threading
import uuid
from pathlib import Path

from PIL import Image

# Modes a PNG holds as they are; any other (CMYK, YCbCr...) is converted to RGB.
_PNG_MODES = frozenset({"1", "L", "LA", "I", "I;16", "P", "RGB", "RGBA"})


class EditorFiles:
    """PNG files for ImageEditor values, in a temporary folder of the service's. Thread-safe."""

    def __init__(self) -> None:
        self._dir: Path | None = None
        self._blanks: dict[tuple[int, int], str] = {}
        self._lock = threading.Lock()

    def _folder(self) -> Path:
        with self._lock:
            if self._dir is None:
                self._dir = Path(tempfile.mkdtemp(prefix="vton-editor-"))
            return self._dir

    def blank_layer(self, person: Path) -> str:
        """A transparent layer of the person image's size."""
        with Image.open(person) as image:
            size = image.size
        folder = self._folder()
        with self._lock:
            if size in self._blanks:
                return self._blanks[size]
            path = folder / f"blank-{size[0]}x{size[1]}.png"
            Image.new("RGBA", size, (0, 0, 0, 0)).save(path)
            self._blanks[size] = str(path)
            return str(path)

    def png(self, source: Path) -> tuple[str, bool]:
        """(the file to send, whether it is a copy made for this call: `release` it when the call ends)."""
        with Image.open(source) as image:
            if image.format == "PNG":
                return str(source), False
            kept = {key: image.info[key] for key in ("exif", "icc_profile") if image.info.get(key)}
            picture = image if image.mode in _PNG_MODES else image.convert("RGB")
            target = self._folder() / f"{Path(source).stem[:60]}-{uuid.uuid4().hex[:12]}.png"
            tmp = target.with_suffix(".tmp")
            # compress_level 1: a lossless file either way; the fastest to write (about 40 ms at 768x1024).
            picture.save(tmp, format="PNG", compress_level=1, **kept)
        os.replace(tmp, target)
        return str(target), True

    @staticmethod
    def release(paths: list[str]) -> None:
        for path in paths:
            Path(path).unlink(missing_ok=True)

    def close(self) -> None:
        with self._lock:
            folder, self._dir = self._dir, None
            self._blanks = {}
        if folder is not None:
            shutil.rmtree(folder, ignore_errors=True)
