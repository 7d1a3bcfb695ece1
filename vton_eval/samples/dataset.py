"""The shipped sample dataset (`datasets/sample/`): 20 try-on pairs over the four workflows.

Persons are two public-domain photos shipped with scikit-image (the astronaut Eileen Collins and
the "cameraman") and drawn full-body figures; products are drawn packshots. Some pairs carry a mask
(most dresses, which the service needs in practice) and some a reference image: the expected
try-on, made by the sandbox's own compositor from the saved files, so the sandbox reproduces it.

Everything is drawn from fixed seeds and encoded by Pillow with fixed settings: regenerating gives
the same bytes on the same Pillow / libjpeg build.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from vton_eval.images import load_rgb
from vton_eval.samples.people import draw_person_with_layout, person_mask
from vton_eval.samples.products import draw_product

MANIFEST_COLUMNS = ("pair_id", "workflow", "base", "product", "mask", "reference", "tags")
_FOLDERS = ("persons", "products", "masks", "references")

# name -> (seed, size) of a drawn figure
FIGURES: dict[str, tuple[int, tuple[int, int]]] = {
    "figure_01": (0, (384, 768)),
    "figure_02": (1, (384, 768)),
    "figure_03": (2, (384, 768)),
    "figure_04": (3, (384, 768)),
    "figure_05": (4, (384, 768)),
    "figure_06": (6, (320, 640)),
}
PHOTOS = ("astronaut", "cameraman")

# file stem -> (kind, seed); names describe what draw_product draws for that seed.
PRODUCTS: dict[str, tuple[str, int]] = {
    "glasses_round_navy_tinted": ("glasses", 0),
    "glasses_rect_red": ("glasses", 1),
    "glasses_aviator_black_tinted": ("glasses", 2),
    "glasses_round_brown": ("glasses", 4),
    "glasses_cateye_gold_tinted": ("glasses", 7),
    "shoes_sneakers_red": ("shoes", 0),
    "shoes_boots_red": ("shoes", 1),
    "shoes_loafers_black": ("shoes", 2),
    "shoes_loafers_blue": ("shoes", 5),
    "shoes_sneakers_black": ("shoes", 6),
    "top_tshirt_wine_striped": ("top", 0),
    "top_tank_orange": ("top", 1),
    "top_longsleeve_teal_striped": ("top", 2),
    "top_tank_wine": ("top", 4),
    "top_tshirt_yellow": ("top", 6),
    "dress_aline_wine": ("dress", 0),
    "dress_sheath_teal": ("dress", 1),
    "dress_strappy_blue": ("dress", 2),
    "dress_aline_skyblue": ("dress", 3),
    "dress_strappy_green": ("dress", 5),
}


@dataclass(frozen=True)
class Pair:
    pair_id: str
    workflow: str
    person: str
    product: str
    mask: bool = False
    reference: bool = False


PAIRS: tuple[Pair, ...] = (
    Pair("eyewear-01", "eyewear", "astronaut", "glasses_rect_red", reference=True),
    Pair("eyewear-02", "eyewear", "astronaut", "glasses_aviator_black_tinted"),
    Pair("eyewear-03", "eyewear", "figure_01", "glasses_round_navy_tinted", reference=True),
    Pair("eyewear-04", "eyewear", "figure_03", "glasses_round_brown"),
    Pair("eyewear-05", "eyewear", "figure_05", "glasses_cateye_gold_tinted", reference=True),
    Pair("top-01", "top", "cameraman", "top_tshirt_wine_striped", mask=True, reference=True),
    Pair("top-02", "top", "figure_01", "top_tank_orange", reference=True),
    Pair("top-03", "top", "figure_02", "top_longsleeve_teal_striped"),
    Pair("top-04", "top", "figure_04", "top_tshirt_yellow", reference=True),
    Pair("top-05", "top", "astronaut", "top_tank_wine"),
    Pair("dress-01", "dress", "figure_02", "dress_aline_wine", mask=True, reference=True),
    Pair("dress-02", "dress", "figure_03", "dress_sheath_teal", mask=True),
    Pair("dress-03", "dress", "figure_04", "dress_strappy_blue", mask=True, reference=True),
    Pair("dress-04", "dress", "figure_05", "dress_aline_skyblue"),
    Pair("dress-05", "dress", "figure_06", "dress_strappy_green", mask=True, reference=True),
    Pair("footwear-01", "footwear", "figure_01", "shoes_sneakers_red", reference=True),
    Pair("footwear-02", "footwear", "figure_02", "shoes_boots_red"),
    Pair("footwear-03", "footwear", "figure_03", "shoes_loafers_black", reference=True),
    Pair("footwear-04", "footwear", "figure_04", "shoes_loafers_blue"),
    Pair("footwear-05", "footwear", "figure_06", "shoes_sneakers_black", reference=True),
)

# The cameraman's coat, traced by hand on the 512x512 photo (he is seen from the side).
_CAMERAMAN_COAT = [
    (150, 118),
    (205, 150),
    (250, 205),
    (300, 250),
    (290, 330),
    (250, 420),
    (150, 505),
    (20, 505),
    (0, 400),
    (10, 230),
    (60, 150),
]


def _jpeg(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=90, optimize=True)
    return out.getvalue()


def _png(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=True)
    return out.getvalue()


def _photo(name: str) -> Image.Image:
    from skimage import data

    if name == "astronaut":
        return Image.fromarray(data.astronaut())
    return Image.fromarray(data.camera()).convert("RGB")


class _Writer:
    """Writes files under `root` and remembers them, so stale files can be swept afterwards."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.written: set[Path] = set()

    def write(self, relative: str, data: bytes) -> str:
        path = self.root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.exists() or path.read_bytes() != data:
            path.write_bytes(data)
        self.written.add(path)
        return relative

    def sweep(self) -> None:
        for folder in _FOLDERS:
            for path in (self.root / folder).glob("*"):
                if path.is_file() and path not in self.written:
                    path.unlink()


def make_sample_dataset(dest: Path) -> Path:
    """Write the sample dataset into `dest` (created if needed) and return its manifest path.

    Files of the dataset's own folders that the current version no longer produces are removed.
    """
    from vton_eval.sandbox.composite import tryon_composite

    dest = Path(dest)
    writer = _Writer(dest)
    persons: dict[str, str] = {}
    layouts = {}
    for name in PHOTOS:
        persons[name] = writer.write(f"persons/{name}.jpg", _jpeg(_photo(name)))
    for name, (seed, size) in FIGURES.items():
        image, layouts[name] = draw_person_with_layout(seed, size)
        persons[name] = writer.write(f"persons/{name}.png", _png(image))
    products = {
        stem: writer.write(f"products/{stem}.png", _png(draw_product(kind, seed)))
        for stem, (kind, seed) in PRODUCTS.items()
    }

    rows = []
    for pair in PAIRS:
        mask_rel = reference_rel = ""
        if pair.mask:
            if pair.person == "cameraman":
                mask = Image.new("L", (512, 512), 0)
                ImageDraw.Draw(mask).polygon(_CAMERAMAN_COAT, fill=255)
            else:
                mask = person_mask(layouts[pair.person], "dress" if pair.workflow == "dress" else "top")
            mask_rel = writer.write(f"masks/{pair.pair_id}.png", _png(mask))
        if pair.reference:
            # Composite from the files as saved (JPEG artefacts included), as the sandbox will.
            base = load_rgb((dest / persons[pair.person]).read_bytes())
            product = load_rgb((dest / products[pair.product]).read_bytes())
            mask_image = Image.open(dest / mask_rel) if mask_rel else None
            result = tryon_composite(base, product, pair.workflow, mask_image)
            photo = pair.person in PHOTOS
            reference_rel = writer.write(
                f"references/{pair.pair_id}.{'jpg' if photo else 'png'}",
                _jpeg(result) if photo else _png(result),
            )
        source = "photo" if pair.person in PHOTOS else "drawn"
        framing = (
            "full-body"
            if pair.person in FIGURES
            else ("side-view" if pair.person == "cameraman" else "portrait")
        )
        tags = (
            [source, framing]
            + (["grayscale"] if pair.person == "cameraman" else [])
            + (["masked"] if pair.mask else [])
        )
        rows.append(
            {
                "pair_id": pair.pair_id,
                "workflow": pair.workflow,
                "base": persons[pair.person],
                "product": products[pair.product],
                "mask": mask_rel,
                "reference": reference_rel,
                "tags": ";".join(tags),
            }
        )

    manifest = io.StringIO()
    out = csv.DictWriter(manifest, fieldnames=MANIFEST_COLUMNS, lineterminator="\n")
    out.writeheader()
    out.writerows(rows)
    manifest_path = dest / "manifest.csv"
    writer.write("manifest.csv", manifest.getvalue().encode("utf-8"))
    writer.sweep()
    return manifest_path


def dataset_bytes(root: Path) -> int:
    """Total size of the files under `root`."""
    return int(np.sum([p.stat().st_size for p in Path(root).rglob("*") if p.is_file()]))
