"""Importing VITON-HD and DressCode trees where they lie: manifests pointing into the source, tags, reproducible
samples, masks from label maps, and every problem of the source reported with its file and line."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from vton_eval.datasets import DatasetError, load_dataset
from vton_eval.datasets.layouts import ImportOptions, import_layout
from vton_eval.samples.trees import make_dresscode_tree, make_viton_hd_tree

from .helpers.paths import REPO


@pytest.fixture(scope="module")
def viton(tmp_path_factory) -> Path:
    return make_viton_hd_tree(tmp_path_factory.mktemp("viton") / "VITON-HD", 12)


@pytest.fixture(scope="module")
def dresscode(tmp_path_factory) -> Path:
    return make_dresscode_tree(tmp_path_factory.mktemp("dc") / "DressCode", 4)


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "vton_eval", "datasets", *args], capture_output=True, text=True,
                          cwd=REPO, timeout=120)


def test_viton_hd_unpaired_points_into_the_source_without_copying(viton, tmp_path):
    report = import_layout("viton-hd", viton, tmp_path / "ds")
    assert report.written and report.pairs == 12 and report.by_workflow == {"top": 12} and not report.problems
    # Only the manifest and its declaration: no image copied.
    assert sorted(p.name for p in (tmp_path / "ds").iterdir()) == ["dataset.json", "manifest.csv"]
    declared = json.loads((tmp_path / "ds" / "dataset.json").read_text())
    assert declared["root"] == str(viton.resolve()) and declared["imported"]["layout"] == "viton-hd"
    ds = load_dataset(tmp_path / "ds")
    assert not ds.problems and ds.image_root == viton.resolve() and len(ds.pairs) == 12
    lines = (viton / "test_pairs.txt").read_text().split("\n")
    first = ds.pairs[0]
    person, cloth = lines[0].split()
    assert first.pair_id == f"{Path(person).stem}+{Path(cloth).stem}"
    assert first.base == viton.resolve() / "test" / "image" / person
    assert first.product == viton.resolve() / "test" / "cloth" / cloth
    assert first.mask == viton.resolve() / "test" / "agnostic-mask" / f"{Path(person).stem}_mask.png"
    assert first.reference is None  # unpaired: nothing to compare with
    assert first.tags == ("source:viton-hd", "split:test", "category:upper_body", "pairs:unpaired")


def test_viton_hd_paired_gives_each_person_their_own_garment_and_the_person_as_reference(viton, tmp_path):
    import_layout("viton-hd", viton, tmp_path / "ds", ImportOptions(pairs="paired"), )
    ds = load_dataset(tmp_path / "ds")
    assert len(ds.pairs) == 12 and not ds.problems
    for pair in ds.pairs:
        assert pair.product.name == pair.base.name and pair.product.parent.name == "cloth"
        assert pair.reference == pair.base and "pairs:paired" in pair.tags and "+" not in pair.pair_id


def test_a_sample_is_reproducible_with_its_seed_and_keeps_the_source_order(viton, tmp_path):
    def ids(name: str, seed: int) -> list[str]:
        import_layout("viton-hd", viton, tmp_path / name, ImportOptions(limit=5, seed=seed))
        return [p.pair_id for p in load_dataset(tmp_path / name, check_images=False).pairs]

    first, again, other = ids("a", 7), ids("b", 7), ids("c", 8)
    assert first == again and len(first) == 5 and first != other
    order = [line.split()[0].split(".")[0] for line in (viton / "test_pairs.txt").read_text().splitlines()]
    assert first == sorted(first, key=lambda pid: order.index(pid.split("+")[0]))


def test_every_problem_of_the_source_is_reported_with_its_file_and_line(viton, tmp_path):
    src = tmp_path / "src"
    make_viton_hd_tree(src, 4)
    (tmp_path / "outside.jpg").write_bytes((src / "test" / "image" / "00000_00.jpg").read_bytes())
    (src / "test" / "image" / "link.jpg").symlink_to(tmp_path / "outside.jpg")
    (src / "test" / "agnostic-mask" / "00003_00_mask.png").unlink()
    good = (src / "test_pairs.txt").read_text().splitlines()
    lines = [
        good[0],                                   # 1: fine
        "00001_00.jpg",                            # 2: one name only
        "../../etc/passwd 00001_00.jpg",           # 3: a path, not a file name
        "00001_00.jpg nowhere.jpg",                # 4: missing garment
        "link.jpg 00001_00.jpg",                   # 5: a link leading out of the source
        "",                                        # (blank lines are skipped)
        good[3],                                   # 7: no agnostic mask: kept, without a mask (warning)
        good[0],                                   # 8: the same pair again (warning)
        "[red]x[/red].jpg \x1b]0;owned\x07.jpg",   # 9: markup and an escape sequence in names
    ]
    (src / "test_pairs.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    proc = _cli("import", "viton-hd", str(src), "--into", str(tmp_path / "ds"))
    assert proc.returncode == 1, proc.stderr
    found = {(line.split(": ")[0].rsplit(":", 1)[1], line.split(": ")[1]) for line in proc.stderr.splitlines()
             + proc.stdout.splitlines() if "test_pairs.txt:" in line}
    assert found == {("2", "error"), ("3", "error"), ("4", "error"), ("5", "error"), ("7", "warning"),
                     ("8", "warning"), ("9", "error")}, proc.stderr + proc.stdout
    assert "no such file: test/cloth/nowhere.jpg" in proc.stderr
    assert "leaves the source folder" in proc.stderr
    assert "\x1b" not in proc.stderr + proc.stdout and "\x07" not in proc.stderr + proc.stdout
    assert "imported 2 pairs" in proc.stdout  # the good lines are written all the same
    ds = load_dataset(tmp_path / "ds")
    assert [p.mask is None for p in ds.pairs] == [False, True] and not ds.problems


def test_no_path_of_an_imported_dataset_may_leave_its_root(viton, tmp_path):
    import_layout("viton-hd", viton, tmp_path / "ds", ImportOptions(limit=1))
    (tmp_path / "secret.png").write_bytes((viton / "test" / "cloth" / "00000_00.jpg").read_bytes())
    with (tmp_path / "ds" / "manifest.csv").open("a", encoding="utf-8") as f:
        f.write("up,top,../secret.png,test/cloth/00001_00.jpg,,,\n")
        f.write("own,top,dataset:../secret.png,test/cloth/00001_00.jpg,,,\n")
        f.write(f"abs,top,{tmp_path / 'secret.png'},test/cloth/00001_00.jpg,,,\n")
    ds = load_dataset(tmp_path / "ds")
    assert {(p.line, p.reason) for p in ds.errors} == {(3, "path_escapes"), (4, "path_escapes"), (5, "path_escapes")}
    assert [p.pair_id for p in ds.pairs] == [ds.pairs[0].pair_id] and len(ds.pairs) == 1


@pytest.mark.parametrize("content, message", [
    ("{not json", "cannot be read"),
    ('{"root": "/no/such/folder"}', "is not a folder"),
    ('["a list"]', "expected a JSON object"),
])
def test_a_broken_declaration_is_a_clear_error(tmp_path, content, message):
    (tmp_path / "manifest.csv").write_text("pair_id,workflow,base,product\n", encoding="utf-8")
    (tmp_path / "dataset.json").write_text(content, encoding="utf-8")
    with pytest.raises(DatasetError, match=message):
        load_dataset(tmp_path)


def test_import_refuses_a_folder_that_holds_a_dataset_and_bad_options(viton, tmp_path):
    import_layout("viton-hd", viton, tmp_path / "ds", ImportOptions(limit=2))
    with pytest.raises(DatasetError, match="already holds a dataset"):
        import_layout("viton-hd", viton, tmp_path / "ds")
    assert import_layout("viton-hd", viton, tmp_path / "ds", ImportOptions(limit=3), overwrite=True).pairs == 3
    for options, message in ((ImportOptions(pairs="both"), "paired or unpaired"),
                             (ImportOptions(split="../test"), "plain name"), (ImportOptions(limit=0), "at least 1"),
                             (ImportOptions(split="train"), "train/image")):
        with pytest.raises(DatasetError, match=message):
            import_layout("viton-hd", viton, tmp_path / "other", options)
    with pytest.raises(DatasetError, match="is it a DressCode folder"):
        import_layout("dresscode", viton, tmp_path / "other")
    proc = _cli("import", "viton-hd", str(tmp_path / "nowhere"), "--into", str(tmp_path / "x"))
    assert proc.returncode == 1 and "is not a folder" in proc.stderr and "Traceback" not in proc.stderr


def test_dresscode_categories_become_workflows_with_masks_from_their_label_maps(dresscode, tmp_path):
    report = import_layout("dresscode", dresscode, tmp_path / "ds", ImportOptions(pairs="paired", masks=True))
    assert report.by_workflow == {"top": 4, "bottom": 4, "dress": 4} and report.masks == 12 and not report.problems
    ds = load_dataset(tmp_path / "ds")
    assert not ds.problems and len(ds.pairs) == 12
    classes = {"top": {4}, "bottom": {5, 6}, "dress": {7}}
    for pair in ds.pairs:
        category = pair.pair_id.split("-")[0]
        assert f"category:{category}" in pair.tags and "source:dresscode" in pair.tags
        assert pair.reference == pair.base  # paired: the person wears that garment
        assert pair.mask is not None and pair.mask.is_relative_to(ds.root)  # derived into the dataset's folder
        labels = np.asarray(Image.open(dresscode / category / "label_maps" / f"{pair.pair_id.split('-')[1]}_4.png"))
        mask = np.asarray(Image.open(pair.mask)) > 127
        assert np.array_equal(mask, np.isin(labels, list(classes[pair.workflow]))) and mask.any()


def test_dresscode_unpaired_one_category_and_masks_that_cannot_be_derived(dresscode, tmp_path):
    src = tmp_path / "dc"
    make_dresscode_tree(src, 3, categories=("lower_body",))
    maps = src / "lower_body" / "label_maps"
    Image.new("RGB", (144, 192), (4, 4, 4)).save(maps / "010000_4.png")  # a colour picture, not class numbers
    (maps / "010001_4.png").unlink()
    Image.new("P", (144, 192), 4).save(maps / "010002_4.png")  # no skirt or pants pixel
    report = import_layout("dresscode", src, tmp_path / "ds", ImportOptions(categories=("lower",), masks=True))
    assert report.pairs == 3 and report.masks == 0
    assert [(p.file, p.line, p.severity) for p in report.problems] == [
        ("lower_body/test_pairs_unpaired.txt", n, "warning") for n in (1, 2, 3)]
    messages = " ".join(p.message for p in report.problems)
    assert "RGB image" in messages and "no such file" in messages
    assert "no pixel of class 5 (skirt), 6 (pants)" in messages
    ds = load_dataset(tmp_path / "ds")
    assert {p.workflow for p in ds.pairs} == {"bottom"} and all(p.mask is None and p.reference is None
                                                                 for p in ds.pairs)
    assert all("+" in p.pair_id and "pairs:unpaired" in p.tags for p in ds.pairs)
    with pytest.raises(DatasetError, match="unknown DressCode category"):
        import_layout("dresscode", src, tmp_path / "x", ImportOptions(categories=("hats",)))
    with pytest.raises(DatasetError, match="has no dresses folder"):
        import_layout("dresscode", src, tmp_path / "x", ImportOptions(categories=("dresses",)))
