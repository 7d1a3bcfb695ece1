"""Folder trees shaped like the public try-on test sets, with small generated images (tests, benchmarks).

`make_viton_hd_tree(root, n)` lays out `test_pairs.txt`, `test/image`, `test/cloth` and
`test/agnostic-mask` for n people, each listed with another person's garment (VITON-HD's test list is
unpaired); `make_dresscode_tree(root, n)` lays out n people per category with `images/`, `label_maps/`
(palette PNGs of ATR class numbers) and both test pair files. Images are solid figures on a plain
background: enough to decode, thumbnail and mask, cheap to make by the thousand.
"""

from __future__ import annotations

from pathlib import Path

from PIL import Image, ImageDraw

SIZE = (144, 192)  # width, height: VITON-HD's 3:4, small


def _person(i: int, size: tuple[int, int], garment: tuple[int, int, int]) -> Image.Image:
    w, h = size
    img = Image.new("RGB", size, (235, 232, 228))
    draw = ImageDraw.Draw(img)
    skin = (200 - i % 40, 160 - i % 30, 130)
    draw.ellipse((w * 0.38, h * 0.04, w * 0.62, h * 0.2), fill=skin)
    draw.rectangle((w * 0.3, h * 0.22, w * 0.7, h * 0.5), fill=garment)
    draw.rectangle((w * 0.33, h * 0.5, w * 0.67, h * 0.95), fill=(40, 50, 90))
    return img


def _garment(i: int, size: tuple[int, int]) -> tuple[Image.Image, tuple[int, int, int]]:
    colour = ((i * 37) % 200 + 30, (i * 91) % 200 + 30, (i * 53) % 200 + 30)
    img = Image.new("RGB", size, (255, 255, 255))
    w, h = size
    ImageDraw.Draw(img).rectangle((w * 0.15, h * 0.15, w * 0.85, h * 0.85), fill=colour)
    return img, colour


def make_viton_hd_tree(root: Path, n: int, size: tuple[int, int] = SIZE, masks: bool = True,
                       split: str = "test") -> Path:
    """A VITON-HD-shaped tree of `n` people and garments; returns `root`."""
    for folder in ("image", "cloth") + (("agnostic-mask",) if masks else ()):
        (root / split / folder).mkdir(parents=True, exist_ok=True)
    lines = []
    for i in range(n):
        name = f"{i:05d}_00"
        garment, colour = _garment(i, size)
        _person(i, size, colour).save(root / split / "image" / f"{name}.jpg", quality=85)
        garment.save(root / split / "cloth" / f"{name}.jpg", quality=85)
        if masks:
            mask = Image.new("L", size, 0)
            w, h = size
            ImageDraw.Draw(mask).rectangle((w * 0.25, h * 0.2, w * 0.75, h * 0.55), fill=255)
            mask.save(root / split / "agnostic-mask" / f"{name}_mask.png")
        lines.append(f"{name}.jpg {(i + 7) % n:05d}_00.jpg")
    (root / f"{split}_pairs.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return root


# ATR classes drawn into the label maps: background 0, head 11, upper clothes 4, skirt 5, pants 6, dress 7.
_CATEGORY_LABELS = {"upper_body": (4, 6), "lower_body": (4, 6), "dresses": (7, 7)}


def _label_map(size: tuple[int, int], upper: int, lower: int, skirt: bool) -> Image.Image:
    w, h = size
    img = Image.new("P", size, 0)
    img.putpalette([c for i in range(256) for c in ((i * 47) % 256, (i * 97) % 256, (i * 151) % 256)])
    draw = ImageDraw.Draw(img)
    draw.ellipse((w * 0.38, h * 0.04, w * 0.62, h * 0.2), fill=11)
    draw.rectangle((w * 0.3, h * 0.22, w * 0.7, h * 0.5), fill=upper)
    draw.rectangle((w * 0.33, h * 0.5, w * 0.67, h * 0.95), fill=5 if skirt and lower == 6 else lower)
    return img


def make_dresscode_tree(root: Path, n: int, size: tuple[int, int] = SIZE,
                        categories: tuple[str, ...] = ("upper_body", "lower_body", "dresses")) -> Path:
    """A DressCode-shaped tree with `n` people per category; returns `root`."""
    for category in categories:
        c_index = tuple(_CATEGORY_LABELS).index(category)  # ids by category, whichever categories are made
        for folder in ("images", "label_maps"):
            (root / category / folder).mkdir(parents=True, exist_ok=True)
        upper, lower = _CATEGORY_LABELS[category]
        ids = [f"{c_index * 10000 + i:06d}" for i in range(n)]
        for i, ident in enumerate(ids):
            garment, colour = _garment(i + c_index * 7, size)
            _person(i, size, colour).save(root / category / "images" / f"{ident}_0.jpg", quality=85)
            garment.save(root / category / "images" / f"{ident}_1.jpg", quality=85)
            _label_map(size, upper, lower, skirt=i % 2 == 1).save(root / category / "label_maps" / f"{ident}_4.png")
        paired = [f"{ident}_0.jpg {ident}_1.jpg" for ident in ids]
        unpaired = [f"{ident}_0.jpg {ids[(i + 1) % n]}_1.jpg" for i, ident in enumerate(ids)]
        (root / category / "test_pairs_paired.txt").write_text("\n".join(paired) + "\n", encoding="utf-8")
        (root / category / "test_pairs_unpaired.txt").write_text("\n".join(unpaired) + "\n", encoding="utf-8")
    return root
