"""The files beside a manifest: `dataset.json` (what the dataset declares) and `validation.json` (its last
validation).

`dataset.json` is optional. Its `root` says where the manifest's relative paths point: an imported
VITON-HD or DressCode tree is used where it lies, not copied, so its dataset declares that tree as its
root (absolute, or relative to the dataset's folder), and no path may leave it. A root of `/`, or of a
home folder (or one holding it), is refused: the manifest could then name any file there. `imported` records how
the dataset was made (layout, source, split, pairs, categories, sample). A dataset.json is data from
outside like the manifest: it is size-capped, and a broken one is a clear DatasetError.

`validation.json` is written by `vton-eval datasets validate` and the Datasets page: when, what was
found, and the manifest's hash then (a report of an older manifest says so). A dataset folder that
cannot be written (read-only media) simply keeps no record.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from vton_eval.datasets.model import DatasetError

DECLARATION = "dataset.json"
VALIDATION = "validation.json"
MAX_SIDECAR_BYTES = 1_000_000
# A validation record keeps this many problems (the counts are always whole).
MAX_RECORDED_PROBLEMS = 2000


@dataclass(frozen=True)
class Declaration:
    root: Path | None = None
    imported: dict[str, Any] | None = None


def read_declaration(folder: Path) -> Declaration:
    """The dataset.json of a dataset folder (an empty declaration when there is none)."""
    path = folder / DECLARATION
    if not path.exists():
        return Declaration()
    data = _read_json(path)
    if not isinstance(data, dict):
        raise DatasetError(f"{path}: expected a JSON object")
    root = data.get("root")
    resolved = None
    if root is not None:
        if not isinstance(root, str) or not root.strip():
            raise DatasetError(f"{path}: 'root' must be a folder path")
        resolved = (folder / root).resolve()
        if not resolved.is_dir():
            raise DatasetError(f"{path}: the declared root {root!r} is not a folder (moved? edit 'root')")
        too_wide = _too_wide(resolved)
        if too_wide:
            raise DatasetError(f"{path}: the declared root {root!r} is {too_wide}: the manifest could name any file "
                               "there; declare the folder of the test set itself")
    imported = data.get("imported")
    return Declaration(resolved, imported if isinstance(imported, dict) else None)


def _too_wide(root: Path) -> str | None:
    """Why a folder cannot be a dataset's root (None when it can): the whole file system, or a home folder (or a
    folder holding one), whose files are a person's own, not a test set's."""
    if root == root.parent:
        return "the whole file system"
    try:
        home = Path.home().resolve()
    except (OSError, RuntimeError, KeyError):  # no home for this user (a container): nothing to protect there
        return None
    if home.is_relative_to(root):
        return "a home folder" if home == root else f"a folder holding the home folder {home}"
    return None


def write_declaration(folder: Path, root: Path | None, imported: dict[str, Any] | None = None) -> Path:
    body: dict[str, Any] = {"vton_eval_dataset": 1}
    if root is not None:
        body["root"] = str(root)
    if imported is not None:
        body["imported"] = imported
    path = folder / DECLARATION
    atomic_write_text(path, json.dumps(body, indent=2, ensure_ascii=False) + "\n")
    return path


def manifest_digest(manifest: Path) -> str:
    return hashlib.sha256(manifest.read_bytes()).hexdigest()


def record_validation(folder: Path, summary: dict[str, Any], problems: list[dict[str, Any]],
                      manifest_sha256: str) -> bool:
    """Keep the outcome of a validation beside the manifest; False when the folder cannot be written."""
    body = {"validated_at": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "manifest_sha256": manifest_sha256, **summary,
            "problems": problems[:MAX_RECORDED_PROBLEMS], "problems_total": len(problems)}
    try:
        atomic_write_text(folder / VALIDATION, json.dumps(body, ensure_ascii=False) + "\n")
    except OSError:
        return False
    return True


def read_validation(folder: Path) -> dict[str, Any] | None:
    """The last validation record, or None (none, or unreadable: it is only a record)."""
    path = folder / VALIDATION
    if not path.is_file():
        return None
    try:
        data = _read_json(path)
    except DatasetError:
        return None
    return data if isinstance(data, dict) else None


def _read_json(path: Path) -> Any:
    try:
        size = path.stat().st_size
        if size > MAX_SIDECAR_BYTES:
            raise DatasetError(f"{path} is {size:,} bytes (at most {MAX_SIDECAR_BYTES:,})")
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise DatasetError(f"{path} cannot be read: {exc}") from None
    except RecursionError:
        raise DatasetError(f"{path} cannot be read: it is nested too deeply") from None


def atomic_write_text(path: Path, text: str) -> None:
    """Write through a temporary file and a rename: a reader never sees half a file."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=path.suffix)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            handle.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
