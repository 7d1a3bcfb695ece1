"""Content-addressed image files beside the database, and their thumbnails.

`results.duckdb` keeps its images in `results.artifacts/`: `objects/ab/<sha256>.<ext>` for outputs
and copied inputs, `thumbs/ab/<sha256>_<size>.jpg` for grids. Paths stored in the database are
relative to the database's folder, so the pair (file + folder) can be moved or shared as one.
Writes go to a temporary name first and are renamed into place, so a killed process never leaves a
half-written file under a final name.

A shared store keeps them in `<data_path>/artifacts/`, paths relative to `data_path`
(`ArtifactStore.under`). On S3 (`remote`), this machine keeps a local copy (a cache folder) that
every caller reads as files: a file missing here is fetched on first use, and what is written here is
uploaded (names are content hashes, so a copy never goes stale). Journals, logs and uploads stay
local to the machine that made them.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from PIL import Image

from vton_eval.images import load_rgb

if TYPE_CHECKING:
    from vton_eval.object_store import RemoteObjects

THUMB_SIZE = 256


def artifact_root_for(db_path: Path) -> Path:
    return db_path.with_name(db_path.stem + ".artifacts")


class ArtifactStore:
    def __init__(self, db_path: Path, remote: RemoteObjects | None = None) -> None:
        self.db_folder = db_path.parent
        self.root = artifact_root_for(db_path)
        self.remote = remote
        self._published: set[str] = set()

    @classmethod
    def under(cls, base: Path, remote: RemoteObjects | None = None) -> ArtifactStore:
        """The artifacts of a shared store: `<base>/artifacts/`, paths relative to `base`."""
        store = cls(base / "artifacts.duckdb", remote)  # the folder a file named so would have
        store.root = base / "artifacts"
        return store

    @property
    def prefix(self) -> str:
        """What every stored path starts with (`results.artifacts/`, or `artifacts/` in a shared store)."""
        return self._rel(self.root) + "/"

    def abspath(self, relpath: str) -> Path:
        """The local file of a stored path (fetched first from S3 when this machine has no copy)."""
        path = self.db_folder / relpath
        if self.remote is not None and not path.exists():
            data = self.remote.get(Path(relpath).as_posix())
            if data is not None:
                _atomic_write(path, data)
                self._published.add(relpath)
        return path

    def _rel(self, path: Path) -> str:
        return path.relative_to(self.db_folder).as_posix()

    def publish(self, path: Path) -> None:
        """Upload a file written under the root by other means (a crop, a worker's thumbnail) to S3."""
        if self.remote is None:
            return
        rel = self._rel(path)
        if rel not in self._published and path.exists():
            self.remote.put(rel, path.read_bytes())
            self._published.add(rel)

    def put_bytes(self, data: bytes, ext: str) -> tuple[str, str]:
        """Store bytes under their hash; return (path relative to the db folder, sha256)."""
        sha = hashlib.sha256(data).hexdigest()
        target = self.root / "objects" / sha[:2] / f"{sha}.{ext.lstrip('.').lower()}"
        if not target.exists():
            _atomic_write(target, data)
        rel = self._rel(target)
        if self.remote is not None and rel not in self._published:
            self.remote.put(rel, data)
            self._published.add(rel)
        return rel, sha

    def write_file(self, target: Path, data: bytes) -> None:
        """Write a file under the root atomically (publish it to reach S3)."""
        _atomic_write(target, data)

    def put_file(self, source: Path) -> tuple[str, str]:
        return self.put_bytes(source.read_bytes(), source.suffix or ".bin")

    def thumbnail_path(self, relpath: str, size: int = THUMB_SIZE) -> Path:
        """Where the thumbnail of a stored image lives (made or not)."""
        name = Path(relpath).stem
        return self.root / "thumbs" / name[:2] / f"{name}_{size}.jpg"

    def thumbnail(self, relpath: str, size: int = THUMB_SIZE, publish: bool = False) -> str:
        """The thumbnail of a stored image (made on first use); its path relative to the db folder.

        On S3 a thumbnail made here is uploaded; one found here (made by the check worker) is uploaded
        when `publish` says so (the recorder does, once per output)."""
        target = self.thumbnail_path(relpath, size)
        rel = self._rel(target)
        if not target.exists() and not self.abspath(rel).exists():
            write_thumbnail(self.abspath(relpath), target, size)
            publish = True
        if publish:
            self.publish(target)
        return rel

    def thumbnail_for(self, source: Path, size: int = THUMB_SIZE) -> Path:
        """A thumbnail of any image file (a dataset's, not yet stored), keyed by its content; kept local."""
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
