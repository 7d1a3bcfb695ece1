"""What Gradio hands a signature's handler, made into files the sandbox's service reads.

The signatures let Gradio preprocess their inputs as the services' own apps do (`gr.Image(type="pil")`,
`type="numpy"`, an ImageEditor dict), so what reaches a handler is what reaches the real app: a path, a
PIL image, a NumPy array, or an editor dict of those. `SandboxService.generate` reads files; an image
object is written once as a PNG (named by its content, so the same picture is one file, and the call log
hashes the same bytes for it every time) in a folder of the service's, kept to a bounded number of files.
"""

from __future__ import annotations

import hashlib
import io
import os
import threading
from pathlib import Path
from typing import Any

from vton_eval.sandbox.lru import LRU
from vton_eval.sandbox.rules import upload_path

_KEPT = 256


class HandedFiles:
    """Image objects a handler received, as PNG files under `folder`."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._files = LRU(_KEPT, on_evict=lambda path: Path(path).unlink(missing_ok=True))

    def path(self, value: Any) -> str | None:
        """The file behind `value`: a path as it is, an image object written as PNG; None for nothing."""
        if value is None:
            return None
        if isinstance(value, str | dict) or hasattr(value, "path"):
            return upload_path(value)
        from PIL import Image

        image = value if isinstance(value, Image.Image) else Image.fromarray(value)
        buffer = io.BytesIO()
        image.save(buffer, format="PNG", compress_level=1)
        data = buffer.getvalue()
        digest = hashlib.sha256(data).hexdigest()[:40]
        known = self._files.get(digest)
        if known is not None and Path(known).exists():
            return known
        self.folder.mkdir(parents=True, exist_ok=True)
        target = self.folder / f"{digest}.png"
        tmp = target.with_suffix(f".{threading.get_ident()}.tmp")
        tmp.write_bytes(data)
        os.replace(tmp, target)
        self._files.put(digest, str(target))
        return str(target)
