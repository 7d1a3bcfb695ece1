"""A hostile dataset: a decompression bomb and an EPS among its images, a root of `/`, rows naming files that are
not images (a password file, a database). Every image goes through the same rules (JPEG, PNG or WEBP by its
signature, the pixel limit read from the header before anything is decoded), the gallery included; nothing that
is not an accepted image is copied, uploaded or sent; and the checks depend on no process-wide warnings filter."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import threading
import warnings
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import duckdb
import pytest

from vton_eval.artifacts import ArtifactStore
from vton_eval.datasets import DatasetError, load_dataset
from vton_eval.datasets.urls import UrlCache
from vton_eval.images import ImageProblem, inspect_image, load_rgb
from vton_eval.runner import RunSettings, create_run, execute_run
from vton_eval.services.answer import BadAnswer, image_size

from .helpers.hostile import BOMB_SIDE, png_bomb
from .helpers.image_host import start_image_host
from .helpers.pages import sql
from .helpers.paths import REPO, SAMPLE

EPS = (b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 200 200\n"
       b"newpath 0 0 moveto 200 200 lineto stroke showpage\n%%EOF\n")


@pytest.fixture(scope="module")
def bomb(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("bomb") / "bomb.png"
    path.write_bytes(png_bomb())
    assert path.stat().st_size < 400_000
    return path


def test_a_bomb_and_an_eps_are_refused_from_their_header_by_every_reader(bomb, tmp_path):
    eps = tmp_path / "drawing.eps"
    eps.write_bytes(EPS)
    renamed = tmp_path / "drawing.png"  # the name says PNG, the bytes say EPS
    renamed.write_bytes(EPS)
    for reader in (inspect_image, load_rgb):
        with pytest.raises(ImageProblem) as caught:
            reader(bomb)
        assert caught.value.reason == "too_large" and f"{BOMB_SIDE}x{BOMB_SIDE}" in str(caught.value)
        for path in (eps, renamed):
            with pytest.raises(ImageProblem, match="EPS images are not accepted") as caught:
                reader(path)
            assert caught.value.reason == "format"
    with pytest.raises(ImageProblem, match="EPS images are not accepted"):
        ArtifactStore(tmp_path / "r.duckdb").thumbnail_for(renamed)
    with pytest.raises(BadAnswer, match="not decoded"):  # a service's output: the same rules
        image_size(bomb.read_bytes())
    with pytest.raises(BadAnswer, match="EPS images are not accepted"):
        image_size(EPS)


def test_the_gallerys_thumbnails_decode_no_bomb_and_never_reach_ghostscript(bomb, tmp_path):
    """In a fresh process, as the dashboard's gallery makes them: memory stays where it was (the bomb would take
    about 700 MB decoded), and Pillow's EPS reader (its Ghostscript path) is never even imported."""
    eps = tmp_path / "drawing.png"
    eps.write_bytes(EPS)
    script = f"""
import resource, sys
from pathlib import Path
from vton_eval.artifacts import ArtifactStore
store = ArtifactStore(Path({str(tmp_path / 'r.duckdb')!r}))
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
refused = 0
for source in ({str(bomb)!r}, {str(eps)!r}, {str(SAMPLE / 'persons' / 'figure_01.png')!r}):
    try:
        store.thumbnail_for(Path(source))
    except ValueError:
        refused += 1
grown = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) // 1024
print(refused, grown, "PIL.EpsImagePlugin" in sys.modules)
"""
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, cwd=REPO)
    assert out.returncode == 0, out.stderr
    refused, grown_mb, eps_reader = out.stdout.split()
    assert refused == "2" and eps_reader == "False"
    assert int(grown_mb) < 100, f"thumbnails took {grown_mb} MB"


def test_the_datasets_gallery_shows_no_preview_for_a_bomb_or_an_eps(bomb, tmp_path, open_page, monkeypatch):
    root = tmp_path / "datasets"
    folder = root / "hostile"
    folder.mkdir(parents=True)
    shutil.copy(bomb, folder / "bomb.png")
    (folder / "eps.png").write_bytes(EPS)
    shutil.copy(SAMPLE / "persons" / "figure_01.png", folder / "person.png")
    (folder / "manifest.csv").write_text("pair_id,workflow,base,product,mask,reference,tags\n"
                                         "bomb,top,bomb.png,person.png,,,\neps,top,person.png,eps.png,,,\n",
                                         encoding="utf-8")
    monkeypatch.setenv("VTON_EVAL_DATASETS", str(root))
    at = open_page(tmp_path / "results.duckdb", "datasets")
    assert [t.value for t in at.text].count("no preview") == 2 and len(at.image) == 2


# -- a root of `/`, rows that name files that are not images ------------------------------------------------------


def test_a_dataset_may_not_declare_the_whole_disk_or_a_home_folder_as_its_root(tmp_path):
    folder = tmp_path / "ds"
    folder.mkdir()
    (folder / "manifest.csv").write_text("pair_id,workflow,base,product,mask,reference,tags\n"
                                         "p,top,etc/passwd,etc/hostname,,,\n", encoding="utf-8")
    for root, says in (("/", "the whole file system"), (str(Path.home()), "a home folder"),
                       ("../../../../../../../../..", "the whole file system")):
        (folder / "dataset.json").write_text(json.dumps({"root": root}), encoding="utf-8")
        with pytest.raises(DatasetError, match=says):
            load_dataset(folder)


def test_rows_naming_files_that_are_not_images_are_invalid_input_and_nothing_of_them_is_copied_or_sent(
        db, tmp_path, live_sandbox):
    folder = tmp_path / "ds"
    folder.mkdir()
    shutil.copy(SAMPLE / "persons" / "figure_01.png", folder / "person.png")
    shutil.copy(SAMPLE / "products" / "top_tank_orange.png", folder / "top.png")
    secret = b"root:x:0:0:root:/root:/bin/bash\nsecret-line-4711\n"
    (folder / "passwd").write_bytes(secret)
    con = duckdb.connect(str(folder / "store.duckdb"))
    con.execute("CREATE TABLE secrets AS SELECT 'secret-line-4711' AS s")
    con.close()
    (folder / "eps.png").write_bytes(EPS)
    (folder / "manifest.csv").write_text(
        "pair_id,workflow,base,product,mask,reference,tags\n"
        "fine,top,person.png,top.png,,,\n"
        "passwd,top,person.png,passwd,,,\n"
        "db,top,store.duckdb,top.png,,,\n"
        "eps,top,person.png,eps.png,,,\n"
        "mask,top,person.png,top.png,passwd,,\n", encoding="utf-8")
    before = len(live_sandbox.calls)
    run_id = create_run(db, RunSettings(dataset=str(folder), endpoint=live_sandbox.url, retries=0, checks=False))
    assert execute_run(db, run_id).status == "finished"
    rows = dict(sql(db, "SELECT pair_id, error_kind FROM results WHERE run_id = ?", [run_id]))
    assert rows == {"fine": None, "passwd": "invalid_input", "db": "invalid_input", "eps": "invalid_input",
                    "mask": "invalid_input"}
    assert len(live_sandbox.calls) - before == 1  # only the fine pair was sent
    cases = dict(sql(db, "SELECT pair_id, product_path FROM cases WHERE run_id = ?", [run_id]))
    assert cases["passwd"] is None and cases["eps"] is None and cases["fine"]
    stored = [p.read_bytes() for p in db.artifacts.root.rglob("*") if p.is_file()]
    assert stored and not any(b"secret-line-4711" in data or data == EPS for data in stored)


# -- the URL cache keeps only accepted images ------------------------------------------------------------------------


def test_the_url_cache_keeps_only_accepted_images(tmp_path):
    host = start_image_host()
    try:
        cache = UrlCache(tmp_path / "cache")
        got = cache.resolve([host.url("/img/anim.gif"), host.url("/html"), host.url("/img/fine.png")])
    finally:
        host.close()
    reasons = {url.rsplit("/", 1)[1]: getattr(v, "message", v) for url, v in got.items()}
    assert "GIF images are not accepted" in reasons["anim.gif"] and "not an image" in reasons["html"]
    kept = [p for p in (tmp_path / "cache" / "objects").rglob("*") if p.is_file()]
    assert [p.suffix for p in kept] == [".png"]


# -- no process-wide warnings filter -----------------------------------------------------------------------------


def test_the_image_checks_leave_the_process_wide_warnings_filter_alone(bomb, tmp_path):
    """`warnings.catch_warnings` is process-wide and not thread-safe: image checks in threads that use it leave a
    filter behind (it did in 20 of 20 rounds). The checks use none, and still refuse the bombs in every thread."""
    person = SAMPLE / "persons" / "figure_01.png"
    data = person.read_bytes()
    big = tmp_path / "big.png"
    big.write_bytes(png_bomb(9750))  # 95 MP: past Pillow's own bomb warning, under its error
    before = list(warnings.filters)
    refused = []
    lock = threading.Lock()

    def one(_: int) -> None:
        for source in (bomb, big):
            try:
                inspect_image(source)
            except ImageProblem as exc:
                with lock:
                    refused.append(exc.reason)
        inspect_image(person)
        image_size(data)

    for _ in range(20):
        with ThreadPoolExecutor(max_workers=8) as pool:
            list(pool.map(one, range(16)))
        assert warnings.filters == before
    assert refused == ["too_large"] * (20 * 16 * 2)
