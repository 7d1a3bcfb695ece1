"""Zoomed crops of the region a workflow changes (the face for eyewear, the feet for footwear...).

A 256 px thumbnail of a full-body shot shows glasses as a few pixels: a reviewer cannot judge them.
The crop is cut from the full-resolution output around the product region the automatic checks use
(`vton_eval.checks.regions`: the mask's box, else body geometry), padded, and stored as a JPEG
beside the thumbnails (`<db>.artifacts/zoom/`), keyed by the output and the inputs that decide the
box, so it is made once. The region is found on the person's thumbnail (body geometry works on a
small copy anyway) and scaled to the output.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from vton_eval import workflows
from vton_eval.artifacts import ArtifactStore, write_thumbnail
from vton_eval.errors import VtonEvalError
from vton_eval.images import decoded, load_rgb

ZOOM_SIDE = 320
PADDING = 0.2  # of the region's size, on each side: the product and a little of what surrounds it
MIN_SHARE = 0.18  # the crop spans at least this share of the image's long side (a face is small, not a pixel)


@dataclass(frozen=True)
class ZoomItem:
    """One output to crop: its path and the inputs that decide the region (paths relative to the db folder)."""

    output_path: str
    base_path: str
    mask_path: str | None
    workflow: str
    # Where to look instead of the workflow's region: a check's box (fractions of the image: the face for
    # identity, the changed background...), as the checks recorded it.
    box: tuple[float, float, float, float] | None = None


def zoom_path(store: ArtifactStore, item: ZoomItem) -> Path:
    """Where the crop of `item` lives (made or not)."""
    key = "\x00".join((Path(item.output_path).stem, Path(item.base_path).stem,
                       Path(item.mask_path).stem if item.mask_path else "", item.workflow,
                       ",".join(f"{v:.4f}" for v in item.box) if item.box else ""))
    name = hashlib.sha256(key.encode()).hexdigest()[:32]
    return store.root / "zoom" / name[:2] / f"{name}_{ZOOM_SIDE}.jpg"


def region_fractions(store: ArtifactStore, item: ZoomItem) -> tuple[float, float, float, float]:
    """The product region (or the item's check box) as fractions (x0, y0, x1, y1) of the person image,
    padded for viewing."""
    from vton_eval.checks.regions import locate_box

    person = decoded(store.abspath(store.thumbnail(item.base_path))).convert("RGB")
    w, h = person.size
    if item.box is not None:
        x0, y0, x1, y1 = item.box
    else:
        mask = None
        if item.mask_path:
            mask = decoded(store.abspath(store.thumbnail(item.mask_path)))
        box, _, _ = locate_box(person, item.workflow, mask)
        x0, y0, x1, y1 = box[0] / w, box[1] / h, box[2] / w, box[3] / h
    pad_x, pad_y = PADDING * (x1 - x0), PADDING * (y1 - y0)
    x0, y0, x1, y1 = x0 - pad_x, y0 - pad_y, x1 + pad_x, y1 + pad_y
    # Widen a tiny region around its centre, keeping the image's proportions.
    grow_x = max(0.0, MIN_SHARE * max(1.0, h / w) - (x1 - x0)) / 2
    grow_y = max(0.0, MIN_SHARE * max(1.0, w / h) - (y1 - y0)) / 2
    return max(0.0, x0 - grow_x), max(0.0, y0 - grow_y), min(1.0, x1 + grow_x), min(1.0, y1 + grow_y)


def make_zoom(store: ArtifactStore, item: ZoomItem) -> Path:
    """The crop of `item` (made now if missing). Raises on a missing or undecodable file."""
    target = zoom_path(store, item)
    if target.exists():
        return target
    fx0, fy0, fx1, fy1 = region_fractions(store, item)
    output = load_rgb(store.abspath(item.output_path))
    w, h = output.size
    crop = output.crop((int(fx0 * w), int(fy0 * h), max(int(fx0 * w) + 1, round(fx1 * w)),
                        max(int(fy0 * h) + 1, round(fy1 * h))))
    # Never enlarged here: the browser scales it up as well, and the file stays small.
    write_thumbnail(crop, target, ZOOM_SIDE)
    store.publish(target)  # a shared store on S3 keeps the crop too
    return target


def make_zooms(store: ArtifactStore | Path, items: list[ZoomItem]) -> int:
    """Make the crops of these items that are missing; a bad file is skipped. Returns how many were made."""
    store = store if isinstance(store, ArtifactStore) else ArtifactStore(store)
    made = 0
    # Recorded workflows a service offered that this process has not met: their generic entries, while the crops
    # are made (a name that cannot be a workflow has no region; its crop is skipped below).
    names = {item.workflow for item in items if workflows.is_known(item.workflow) or _can_be(item.workflow)}
    with workflows.offered(names):
        for item in items:
            if zoom_path(store, item).exists():
                continue
            try:
                make_zoom(store, item)
                made += 1
            except Exception:  # a missing or undecodable output has no crop; the card says so
                continue
    return made


def _can_be(name: str) -> bool:
    try:
        workflows.generic(name)
    except VtonEvalError:
        return False
    return True
