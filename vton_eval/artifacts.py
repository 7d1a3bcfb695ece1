"""Content-addressed image files beside the database, and their thumbnails.

`results.duckdb` keeps its images in `results.artifacts/`: `objects/ab/<sha256>.<ext>` for outputs
and copied inputs, `thumbs/ab/<sha256>_<size>.jpg` for grids. Paths stored in the database are
relative to the database's folder, so the pair (file + folder) can be moved or shared as one.
Writes go to a temporary name first and are renamed into place, so a killed process never leaves a
half-written file under a final name.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

from PIL import Image

from vton_eval.images import load_rgb

THUMB_SIZE = 256


def artifact_root_for(db_path: Path) -> Path:
    return db_path.with_name(db_path.stem + ".artifacts")


class ArtifactStore:
    def __init__(self, db_path: Path) -> None:
        self.db_folder = db_path.parent
        self.root = artifact_root_for(db_path)

    def abspath(self, relpath: str) -> Path:
        return self.db_folder / relpath

    def _rel(self, path: Path) -> str:
        return path.relative_to(self.db_folder).as_posix()

    def put_bytes(self, data: bytes, ext: str) -> tuple[str, str]:
        """Store bytes under their hash; return (path relative to the db folder, sha256)."""
        sha = hashlib.sha256(data).hexdigest()
        target = self.root / "objects" / sha[:2] / f"{sha}.{ext.lstrip('.').lower()}"
        if not target.exists():
            _atomic_write(target, data)
        return self._rel(target), sha

    def put_file(self, source: Path) -> tuple[str, str]:
        return self.put_bytes(source.read_bytes(), source.suffix or ".bin")

    def thumbnail_path(self, relpath: str, size: int = THUMB_SIZE) -> Path:
        """Where the thumbnail of a stored image lives (made or not)."""
        name = Path(relpath).stem
        return self.root / "thumbs" / name[:2] / f"{name}_{size}.jpg"

    def thumbnail(self, relpath: str, size: int = THUMB_SIZE) -> str:
        """The thumbnail of a stored image (made on first use); its path relative to the db folder."""
        target = self.thumbnail_path(relpath, size)
        if not target.exists():
            write_thumbnail(self.abspath(relpath), target, size)
        return self._rel(target)

    def thumbnail_for(self, source: Path, size: int = THUMB_SIZE) -> Path:
        """A thumbnail of any image file (a dataset's, not yet stored), keyed by its content."""
        sha = hashlib.sha256(source.read_bytes()).hexdigest()
        target = self.root / "thumbs" / sha[:2] / f"{sha}_{size}.jpg"
        if not target.exists():
            write_thumbnail(source, target, size)
        return target


def write_thumbnail(source: Path | Image.Image, target: Path, size: int = THUMB_SIZE) -> None:
    """Write a `size` px JPEG thumbnail of an image file (or an already decoded image)."""
    # JPEG, not WebP: the dashboard hands JPEG bytes to the browser as they are, while any other
    # format is decoded and re-encoded on every page render.
    image = load_rgb(source) if isinstance(source, Path) else source.convert("RGB")
    image.thumbnail((size, size))
    tmp = _tmp_path(target)
    image.save(tmp, "JPEG", quality=85)
    os.replace(tmp, target)


def _tmp_path(target: Path) -> Path:
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".tmp-", suffix=target.suffix)
    os.close(fd)
    return Path(tmp)


def _atomic_write(target: Path, data: bytes) -> None:
    tmp = _tmp_path(target)
    tmp.write_bytes(data)
    os.replace(tmp, target)
