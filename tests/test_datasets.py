"""Manifests: every problem reported with its line and reason; one bad row never hides another."""

import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image, features

from vton_eval.datasets import DatasetError, load_dataset

REPO = Path(__file__).resolve().parents[1]


def _img(path: Path, size=(200, 300), fmt=None, colour=(200, 30, 30)):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", size, colour).save(path, fmt)
    return path


@pytest.fixture()
def bad_dataset(tmp_path: Path) -> Path:
    root = tmp_path / "bad"
    _img(root / "ok.jpg")
    _img(root / "ok2.png")
    _img(root / "anim.gif", fmt="GIF")
    _img(root / "tiny.png", size=(60, 80))
    _img(root / "huge.png", size=(3000, 3000))
    truncated = root / "cut.jpg"
    Image.new("RGB", (400, 400), (10, 120, 200)).save(truncated, quality=95)
    truncated.write_bytes(truncated.read_bytes()[:2000])
    (root / "text.png").write_text("this is not an image")
    _img(tmp_path / "outside.png")
    rows = [
        "pair_id,workflow,base,product,mask,reference,tags",
        "good1,top,ok.jpg,ok2.png,,,a;b",                 # line 2: fine
        "good1,dress,ok.jpg,ok2.png,,,",                 # line 3: duplicate pair_id
        "wf,hat,ok.jpg,ok2.png,,,",                      # line 4: unknown workflow
        "missing,top,ok.jpg,nope.png,,,",                # line 5: missing file
        "escape,top,../outside.png,ok2.png,,,",          # line 6: leaves the folder
        "gif,eyewear,anim.gif,ok2.png,,,",               # line 7: GIF (kept, invalid)
        "tiny,footwear,ok.jpg,tiny.png,,,",              # line 8: under 100x100 (kept, invalid)
        "huge,top,huge.png,ok2.png,,,",                  # line 9: over the pixel limit
        "cut,top,cut.jpg,ok2.png,,,",                    # line 10: truncated
        "text,top,ok.jpg,text.png,,,",                   # line 11: not an image
        ",top,ok.jpg,ok2.png,,,",                        # line 12: empty pair_id
        "nomask,dress,ok.jpg,ok2.png,nomask.png,,",      # line 13: missing mask file
        "good2,dress,ok.jpg,ok2.png,ok2.png,ok.jpg,c",   # line 14: fine, with mask and reference
    ]
    (root / "manifest.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    return root


def test_every_bad_row_is_reported_with_line_and_reason(bad_dataset):
    ds = load_dataset(bad_dataset, max_pixels=4_000_000)
    found = {(p.line, p.reason) for p in ds.errors}
    expected = {
        (3, "duplicate"), (4, "workflow"), (5, "missing_file"), (6, "path_escapes"), (7, "format"),
        (8, "too_small"), (9, "too_large"), (10, "truncated"), (11, "not_an_image"), (12, "pair_id"),
        (13, "missing_file"),
    }
    assert expected <= found, expected - found
    assert not any(p.line in (2, 14) for p in ds.errors)
    messages = {p.line: str(p) for p in ds.errors}
    assert "line 3 (good1), pair_id" in messages[3] and "line 2" in messages[3]
    assert "GIF" in messages[7] and "100x100" in messages[8] and "leaves the dataset folder" in messages[6]


def test_refused_images_stay_as_invalid_pairs_and_broken_rows_are_dropped(bad_dataset):
    ds = load_dataset(bad_dataset, max_pixels=4_000_000)
    by_id = {p.pair_id: p for p in ds.pairs}
    assert set(by_id) == {"good1", "gif", "tiny", "huge", "cut", "text", "good2"}
    assert by_id["good1"].invalid_reason is None and by_id["good2"].invalid_reason is None
    assert "GIF" in by_id["gif"].invalid_reason
    assert by_id["good2"].mask is not None and by_id["good2"].reference is not None
    assert by_id["good1"].tags == ("a", "b")
    dropped = {p.line for p in ds.row_errors}
    assert dropped == {3, 4, 5, 6, 12, 13}


@pytest.mark.skipif(not features.check("avif"), reason="this Pillow cannot write AVIF")
def test_avif_is_refused(tmp_path):
    root = tmp_path / "av"
    _img(root / "ok.jpg")
    _img(root / "p.avif", fmt="AVIF")
    (root / "manifest.csv").write_text("pair_id,workflow,base,product\nx,top,ok.jpg,p.avif\n")
    ds = load_dataset(root)
    assert [(p.line, p.reason) for p in ds.errors] == [(2, "format")]
    assert "AVIF" in ds.errors[0].message


def test_bad_encoding_names_the_line(tmp_path):
    root = tmp_path / "enc"
    _img(root / "ok.jpg")
    (root / "manifest.csv").write_bytes(
        b"pair_id,workflow,base,product\nx,top,ok.jpg,ok.jpg\ny,top,caf\xe9.jpg,ok.jpg\n")
    ds = load_dataset(root)
    assert [(p.line, p.reason) for p in ds.errors] == [(3, "encoding")]
    assert "UTF-8" in ds.errors[0].message


def test_missing_columns_and_missing_manifest(tmp_path):
    root = tmp_path / "cols"
    root.mkdir()
    (root / "manifest.csv").write_text("id,base\n1,a.jpg\n")
    ds = load_dataset(root)
    assert ds.errors[0].reason == "header" and "pair_id" in ds.errors[0].message
    with pytest.raises(DatasetError, match="no manifest"):
        load_dataset(tmp_path / "nowhere")


def test_validate_command_reports_all_and_exits_nonzero(bad_dataset):
    proc = subprocess.run(
        [sys.executable, "-m", "vton_eval", "datasets", "validate", str(bad_dataset), "--max-pixels", "4000000"],
        capture_output=True, text=True, cwd=REPO,
    )
    assert proc.returncode == 1
    for line in (3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13):
        assert f"manifest.csv:line {line}" in proc.stderr, line
    assert "Traceback" not in proc.stderr
    assert "7 usable pairs" in proc.stdout


def test_validate_command_passes_the_sample_dataset():
    proc = subprocess.run([sys.executable, "-m", "vton_eval", "datasets", "validate", "datasets/sample"],
                          capture_output=True, text=True, cwd=REPO)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "0 error(s)" in proc.stdout
