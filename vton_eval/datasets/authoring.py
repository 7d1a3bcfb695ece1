"""Datasets made by hand: a new folder, pairs added from uploaded images (each checked as it is added), and
tags edited. Every change rewrites the manifest atomically, keeping its other rows and columns as they are.

Uploaded images are kept in the dataset's `images/` folder under their content hash (the upload's own
file name is never used as a path), so the same person added twice is stored once.

These functions only write files; they check no role. People act through `vton_eval.curation`, whose
functions of the same names take the actor, check the role (and the import roots) and keep the audit trail.
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
from dataclasses import dataclass
from pathlib import Path

from vton_eval import workflows
from vton_eval.datasets.manifest import OWN_PREFIX, resolve_manifest
from vton_eval.datasets.model import COLUMNS, DatasetError
from vton_eval.datasets.sidecar import atomic_write_text, read_declaration
from vton_eval.errors import InvalidValue
from vton_eval.images import ImageInfo, ImageProblem, inspect_image
from vton_eval.textsafe import strip_controls

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
_EXT = {"JPEG": "jpg", "PNG": "png", "WEBP": "webp"}
IMAGES_FOLDER = "images"
WHAT = {"base": "person", "product": "product", "mask": "mask", "reference": "reference"}


@dataclass(frozen=True)
class Upload:
    """An uploaded image: its bytes (its name is shown to people, never used as a path)."""

    name: str
    data: bytes


def check_name(name: str) -> str:
    name = name.strip()
    if not _NAME.match(name):
        raise InvalidValue("a dataset name is 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit")
    return name


def create_dataset(root: Path, name: str) -> Path:
    """A new, empty dataset folder under `root`; refuses a name already taken."""
    folder = root / check_name(name)
    if folder.exists():
        raise InvalidValue(f"a dataset named {name!r} already exists")
    folder.mkdir(parents=True)
    atomic_write_text(folder / "manifest.csv", ",".join(COLUMNS) + "\n")
    return folder


def check_upload(upload: Upload, what: str) -> ImageInfo:
    """The image's size and format if the service would take it; InvalidValue naming it if not."""
    try:
        return inspect_image(upload.data)
    except ImageProblem as exc:
        raise InvalidValue(f"the {what} image {strip_controls(upload.name, False)!r} cannot be used: {exc}") from None


def _read(folder: Path) -> tuple[Path, list[str], list[list[str]]]:
    manifest = resolve_manifest(folder)
    try:
        text = manifest.read_bytes().decode("utf-8-sig")
        rows = list(csv.reader(io.StringIO(text, newline="")))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise DatasetError(f"{manifest} cannot be edited: {exc}") from None
    if not rows:
        return manifest, list(COLUMNS), []
    return manifest, [h.strip().lower() for h in rows[0]], rows[1:]


def _write(manifest: Path, header: list[str], rows: list[list[str]]) -> None:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    atomic_write_text(manifest, buffer.getvalue())


def _store(folder: Path, upload: Upload, fmt: str) -> str:
    sha = hashlib.sha256(upload.data).hexdigest()
    rel = f"{IMAGES_FOLDER}/{sha[:20]}.{_EXT[fmt]}"
    target = folder / rel
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(target, upload.data)
    # A dataset whose paths point elsewhere (an imported one) names its own files with the `dataset:` prefix.
    return rel if read_declaration(folder).root in (None, folder.resolve()) else f"{OWN_PREFIX}{rel}"


def atomic_write_bytes(target: Path, data: bytes) -> None:
    tmp = target.with_name(f".tmp-{target.name}")
    tmp.write_bytes(data)
    tmp.replace(target)


def check_pair_id(pair_id: str) -> str:
    pair_id = pair_id.strip()
    if not pair_id or pair_id != strip_controls(pair_id, keep_newlines=False) or "," in pair_id or len(pair_id) > 120:
        raise InvalidValue("a pair id is 1-120 characters, with no comma and no control character")
    return pair_id


def clean_tags(tags: str | list[str] | tuple[str, ...]) -> list[str]:
    items = tags.split(";") if isinstance(tags, str) else list(tags)
    out = []
    for tag in items:
        tag = strip_controls(tag, keep_newlines=False).strip()
        if tag and tag not in out:
            out.append(tag)
    return out


def add_pair(folder: Path, workflow: str, base: Upload | str, product: Upload | str, mask: Upload | None = None,
             reference: Upload | None = None, pair_id: str | None = None, tags: str | list[str] = "") -> str:
    """Check the images and append a pair; returns its id. `base` / `product` may name an image already in
    the dataset (its manifest cell) instead of an upload. Raises InvalidValue saying what is wrong."""
    if not workflows.is_known(workflow):
        raise InvalidValue(f"unknown workflow {workflow!r} (use {', '.join(workflows.names())})")
    manifest, header, rows = _read(folder)
    known_cells = {row[header.index(c)] for row in rows for c in ("base", "product")
                   if c in header and header.index(c) < len(row)}
    uploads = {"base": base, "product": product, "mask": mask, "reference": reference}
    formats: dict[str, str] = {}
    for column, value in uploads.items():  # every image checked before anything is written
        if isinstance(value, Upload):
            formats[column] = check_upload(value, WHAT[column]).format
        elif isinstance(value, str) and value not in known_cells:
            raise InvalidValue(f"the {WHAT[column]} {value!r} is not an image of this dataset")
    id_col = header.index("pair_id") if "pair_id" in header else 0
    ids = {row[id_col].strip() for row in rows if id_col < len(row)}
    if pair_id:
        pair_id = check_pair_id(pair_id)
        if pair_id in ids:
            raise InvalidValue(f"pair id {pair_id!r} is already used in this dataset")
    else:
        n = len(ids) + 1
        while f"pair-{n:03d}" in ids:
            n += 1
        pair_id = f"pair-{n:03d}"
    cells = {"pair_id": pair_id, "workflow": workflow, "tags": ";".join(clean_tags(tags))}
    for column, value in uploads.items():
        cells[column] = _store(folder, value, formats[column]) if isinstance(value, Upload) else (value or "")
    for column in COLUMNS:
        if column not in header:
            header.append(column)
            rows = [row + [""] * (len(header) - len(row)) for row in rows]
    rows.append([cells.get(h, "") for h in header])
    _write(manifest, header, rows)
    return pair_id


def dataset_images(folder: Path, column: str) -> list[str]:
    """The cells of a column already in the manifest (people or products to pair again), in first-seen order."""
    _, header, rows = _read(folder)
    if column not in header:
        return []
    i = header.index(column)
    return list(dict.fromkeys(row[i].strip() for row in rows if i < len(row) and row[i].strip()))


def set_tags(folder: Path, changes: dict[str, str | list[str]]) -> int:
    """Replace the tags of the named pairs; returns how many rows changed. Unknown ids are refused."""
    manifest, header, rows = _read(folder)
    if "pair_id" not in header:
        raise DatasetError(f"{manifest} has no pair_id column")
    if "tags" not in header:
        header.append("tags")
    id_col, tag_col = header.index("pair_id"), header.index("tags")
    present = {row[id_col].strip() for row in rows if id_col < len(row)}
    unknown = [p for p in changes if p not in present]
    if unknown:
        raise InvalidValue(f"no pair {unknown[0]!r} in this dataset")
    changed = 0
    for row in rows:
        if id_col >= len(row) or row[id_col].strip() not in changes:
            continue
        row.extend([""] * (len(header) - len(row)))
        new = ";".join(clean_tags(changes[row[id_col].strip()]))
        if row[tag_col] != new:
            row[tag_col] = new
            changed += 1
    if changed:
        _write(manifest, header, rows)
    return changed
