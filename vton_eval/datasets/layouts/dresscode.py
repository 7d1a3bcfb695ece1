"""The DressCode layout (aimagelab/dress-code):

    <src>/<category>/images/           NNNNNN_0.jpg person, NNNNNN_1.jpg garment
    <src>/<category>/label_maps/       NNNNNN_4.png: the person parsed into 18 ATR classes
    <src>/<category>/test_pairs_paired.txt, test_pairs_unpaired.txt, train_pairs.txt
                                       "NNNNNN_0.jpg MMMMMM_1.jpg" per line

with categories `upper_body` (workflow `top`), `lower_body` (`bottom`) and `dresses` (`dress`), read as
the dataset's own loader reads them (one pair file per category). Paired pairs have the person image as
their reference. With masks asked for, each pair's mask is derived from its label map: the classes of
the garment being replaced (upper_body: 4 upper clothes; lower_body: 5 skirt, 6 pants; dresses: 7 dress).
"""

from __future__ import annotations

from pathlib import Path

from vton_eval.datasets.layouts.common import (
    Candidate,
    ImportOptions,
    ImportProblem,
    Layout,
    Scan,
    accept_pair,
    file_problem,
    read_pair_lines,
)
from vton_eval.datasets.model import DatasetError

NAME = "dresscode"
CATEGORIES: dict[str, str] = {"upper_body": "top", "lower_body": "bottom", "dresses": "dress"}
ALIASES = {"upper": "upper_body", "top": "upper_body", "lower": "lower_body", "bottom": "lower_body",
           "dress": "dresses"}
# ATR classes of the garment each category replaces.
GARMENT_CLASSES: dict[str, tuple[int, ...]] = {"upper_body": (4,), "lower_body": (5, 6), "dresses": (7,)}


def chosen_categories(src: Path, options: ImportOptions) -> list[str]:
    if options.categories:
        names = []
        for given in options.categories:
            name = ALIASES.get(given, given)
            if name not in CATEGORIES:
                raise DatasetError(f"unknown DressCode category {given!r} (use {', '.join(CATEGORIES)})")
            if not (src / name).is_dir():
                raise DatasetError(f"{src} has no {name} folder")
            if name not in names:
                names.append(name)
        return names
    found = [name for name in CATEGORIES if (src / name).is_dir()]
    if not found:
        raise DatasetError(f"{src} has none of the folders {', '.join(CATEGORIES)}: is it a DressCode folder?")
    return found


def pairs_file_name(options: ImportOptions) -> str:
    return "train_pairs.txt" if options.split == "train" else f"{options.split}_pairs_{options.pairs}.txt"


def _stem(name: str, suffix: str) -> str:
    stem = Path(name).stem
    return stem[: -len(suffix)] if stem.endswith(suffix) else stem


def scan(src: Path, options: ImportOptions) -> Scan:
    result = Scan()
    masks = bool(options.masks)
    pairs_kind = "paired" if options.split == "train" else options.pairs
    for category in chosen_categories(src, options):
        listing = f"{category}/{pairs_file_name(options)}"
        if not (src / listing).is_file():
            result.problems.append(ImportProblem(listing, 0, "no such pair file (the category is left out)"))
            continue
        lines = read_pair_lines(src, listing, result)
        if lines is None:
            continue
        tags = (f"source:{NAME}", f"split:{options.split}", f"category:{category}", f"pairs:{pairs_kind}")
        seen: dict[str, int] = {}
        for number, person, garment in lines:
            person_id, garment_id = _stem(person, "_0"), _stem(garment, "_1")
            pair_id = f"{category}-{person_id}" + ("" if person_id == garment_id else f"+{garment_id}")
            base, product = f"{category}/images/{person}", f"{category}/images/{garment}"
            if not accept_pair(src, listing, number, pair_id, (base, product), seen, result):
                continue
            candidate = Candidate(pair_id, CATEGORIES[category], base, product, tags, (listing, number),
                                  reference=base if pairs_kind == "paired" else "")
            if masks:
                label_map = f"{category}/label_maps/{person_id}_4.png"
                why = file_problem(src, label_map)
                if why is None:
                    candidate.mask_from = (label_map, GARMENT_CLASSES[category], f"{category}/{person_id}.png")
                else:
                    result.problems.append(ImportProblem(listing, number, f"{why} (the pair has no mask)", "warning"))
            result.candidates.append(candidate)
    return result


LAYOUT = Layout(NAME, "DressCode", scan, "/data/DressCode",
                categories=tuple(CATEGORIES), masks="derive garment masks from the label maps", masks_by_default=False)
