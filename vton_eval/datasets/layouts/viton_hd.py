"""The VITON-HD layout (shadow2496/VITON-HD and its re-packagings by CatVTON and IDM-VTON):

    <src>/<split>_pairs.txt          "person.jpg cloth.jpg" per line (VITON-HD's test list is unpaired)
    <src>/<split>/image/             people
    <src>/<split>/cloth/             garments, named like the person who wears them
    <src>/<split>/agnostic-mask/     (CatVTON, IDM-VTON) <person>_mask.png: where the garment goes

Every pair is workflow `top`. Unpaired pairs are the file's lines as they are; paired pairs give each
listed person their own garment (cloth/<person's file name>), and the person image is the reference
(the person already wears that garment). CatVTON's `<split>_pairs_unpaired.txt` (and a
`<split>_pairs_paired.txt`) are read when the plain list is absent.
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

NAME = "viton-hd"
WORKFLOW = "top"
CATEGORY = "upper_body"


def pairs_file(src: Path, options: ImportOptions) -> str:
    split = options.split
    names = [f"{split}_pairs.txt", f"{split}_pairs_unpaired.txt", f"{split}_pairs_paired.txt"]
    if options.pairs == "paired":
        names = [f"{split}_pairs_paired.txt", *names[:2]]
    for name in names:
        if (src / name).is_file():
            return name
    raise DatasetError(f"{src} has none of {', '.join(names)}: is it a VITON-HD folder (split {split!r})?")


def scan(src: Path, options: ImportOptions) -> Scan:
    if options.categories and set(options.categories) - {CATEGORY, "upper", "top"}:
        raise DatasetError(f"VITON-HD has upper-body garments only (--category {CATEGORY})")
    split = options.split
    if not (src / split / "image").is_dir():
        raise DatasetError(f"{src} has no {split}/image folder: is it a VITON-HD folder (split {split!r})?")
    result = Scan()
    listing = pairs_file(src, options)
    lines = read_pair_lines(src, listing, result)
    if lines is None:
        return result
    masks_dir = src / split / "agnostic-mask"
    use_masks = masks_dir.is_dir() if options.masks is None else options.masks
    if options.masks and not masks_dir.is_dir():
        raise DatasetError(f"{src} has no {split}/agnostic-mask folder (import without --masks)")
    tags = (f"source:{NAME}", f"split:{split}", f"category:{CATEGORY}", f"pairs:{options.pairs}")
    seen: dict[str, int] = {}
    for number, person, cloth in lines:
        if options.pairs == "paired":
            cloth = person
        person_stem, cloth_stem = Path(person).stem, Path(cloth).stem
        pair_id = person_stem if person_stem == cloth_stem else f"{person_stem}+{cloth_stem}"
        base, product = f"{split}/image/{person}", f"{split}/cloth/{cloth}"
        if not accept_pair(src, listing, number, pair_id, (base, product), seen, result):
            continue
        candidate = Candidate(pair_id, WORKFLOW, base, product, tags, (listing, number),
                              reference=base if options.pairs == "paired" else "")
        if use_masks:
            mask = f"{split}/agnostic-mask/{person_stem}_mask.png"
            why = file_problem(src, mask)
            if why is None:
                candidate.mask = mask
            else:
                result.problems.append(ImportProblem(listing, number, f"{why} (the pair has no mask)", "warning"))
        result.candidates.append(candidate)
    return result


LAYOUT = Layout(NAME, "VITON-HD", scan, "/data/VITON-HD",
                masks="use its agnostic masks (<split>/agnostic-mask/, CatVTON's and IDM-VTON's re-packagings)",
                masks_by_default=True)
