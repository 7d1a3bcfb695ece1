"""Datasets: import and validate time for a VITON-HD-sized test list, and for 10,000 rows of images by URL.

1. A tree shaped like VITON-HD's test split (2,032 pairs: `test_pairs.txt`, `test/image`, `test/cloth`,
   `test/agnostic-mask`) with small generated images (144x192 JPEG, masks PNG), built in a temp folder;
   then `import_layout` (what `vton-eval datasets import viton-hd` runs) and `validate_dataset` (what
   `vton-eval datasets validate` runs: every row, every image decoded), median of 3 each, and the two
   commands' wall times once (Python start-up included).
2. 10,000 rows whose person (one of 1,000) and product (one each) are URLs served by a web server on
   loopback: validate with an empty URL cache (cold: 11,000 downloads) and again with it filled (cached:
   no download), and a browse load (no image decoded) from the cache. The server
   (tests/helpers/image_host.py) runs in its own process.

    .venv/bin/python bench/datasets.py [--pairs 2032] [--url-rows 10000] [--people 1000] [--only viton-hd|urls]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from vton_eval.datasets import load_dataset  # noqa: E402
from vton_eval.datasets.layouts import import_layout  # noqa: E402
from vton_eval.datasets.urls import UrlCache  # noqa: E402
from vton_eval.datasets.validation import validate_dataset  # noqa: E402
from vton_eval.samples.trees import make_viton_hd_tree  # noqa: E402


def timed(fn) -> tuple[float, object]:
    start = time.perf_counter()
    value = fn()
    return time.perf_counter() - start, value


def command(*args: str) -> float:
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "vton_eval", "datasets", *args], capture_output=True, text=True,
                          cwd=REPO)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"vton-eval datasets {args[0]} failed:\n{proc.stdout}\n{proc.stderr}")
    return elapsed


def viton_hd(work: Path, pairs: int) -> None:
    src = work / "VITON-HD"
    elapsed, _ = timed(lambda: make_viton_hd_tree(src, pairs))
    size = sum(f.stat().st_size for f in src.rglob("*") if f.is_file())
    print(f"VITON-HD-shaped tree: {pairs:,} pairs, {3 * pairs:,} images, {size / 1e6:.1f} MB, built in {elapsed:.1f} s")
    imports, validations = [], []
    for i in range(3):
        dest = work / f"vh-{i}"
        t_import, report = timed(lambda dest=dest: import_layout("viton-hd", src, dest))
        assert report.pairs == pairs and not report.problems, report.describe()
        t_validate, result = timed(lambda dest=dest: validate_dataset(dest))
        assert result.summary["pairs"] == pairs and not result.dataset.problems
        imports.append(t_import)
        validations.append(t_validate)
    cli_import = command("import", "viton-hd", str(src), "--into", str(work / "vh-cli"))
    cli_validate = command("validate", str(work / "vh-cli"))
    print(f"  import   (import_layout, median of 3):     {statistics.median(imports) * 1000:7.0f} ms")
    print(f"  validate (validate_dataset, median of 3):  {statistics.median(validations) * 1000:7.0f} ms "
          f"({statistics.median(validations) / pairs * 1e6:.0f} µs a pair, {pairs * 3:,} images decoded)")
    print(f"  `vton-eval datasets import` wall time:     {cli_import * 1000:7.0f} ms")
    print(f"  `vton-eval datasets validate` wall time:   {cli_validate * 1000:7.0f} ms")


def _served(port: int) -> int:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/stats", timeout=10) as answer:
        return json.loads(answer.read())["hits"]


def urls(work: Path, rows: int, people: int) -> None:
    # The web server runs in its own process: serving must not share the measured interpreter's lock.
    host = subprocess.Popen([sys.executable, "-m", "tests.helpers.image_host"], stdout=subprocess.PIPE, text=True,
                            cwd=REPO)
    try:
        port = int(host.stdout.readline())
        base = f"http://127.0.0.1:{port}"
        folder = work / "by-url"
        folder.mkdir()
        lines = ["pair_id,workflow,base,product,mask,reference,tags"]
        lines += [f"u{i:05d},top,{base}/img/person{i % people}.jpg,{base}/img/product{i}.png,,,url"
                  for i in range(rows)]
        (folder / "manifest.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
        distinct = people + rows
        cache_root = work / "url-cache"
        cold_cache = UrlCache(cache_root)
        t_cold, cold = timed(lambda: validate_dataset(folder, url_cache=cold_cache))
        assert cold.summary["pairs"] == rows and not cold.dataset.problems, (cold.describe(), cold.dataset.problems[:3])
        served = _served(port)
        cached_runs = []
        for _ in range(3):
            cache = UrlCache(cache_root)
            t, result = timed(lambda cache=cache: validate_dataset(folder, url_cache=cache))
            assert result.summary["pairs"] == rows and cache.fetched == 0
            cached_runs.append(t)
        t_browse, _ = timed(lambda: load_dataset(folder, check_images=False, url_cache=UrlCache(cache_root)))
        assert _served(port) == served == distinct, (served, distinct)
        print(f"{rows:,} rows by URL ({distinct:,} distinct URLs: {people:,} people, {rows:,} products) from loopback, "
              f"{cold_cache.limits.workers} downloads at a time")
        print(f"  validate, cold (empty cache: {served:,} downloads):  {t_cold * 1000:7.0f} ms "
              f"({distinct / t_cold:,.0f} URLs/s)")
        print(f"  validate, cached (no download, median of 3):     {statistics.median(cached_runs) * 1000:7.0f} ms")
        print(f"  browse load from the cache (no image decoded):   {t_browse * 1000:7.0f} ms")
    finally:
        host.kill()
        host.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pairs", type=int, default=2032)
    parser.add_argument("--url-rows", type=int, default=10_000)
    parser.add_argument("--people", type=int, default=1000)
    parser.add_argument("--only", choices=["viton-hd", "urls"], help="measure one part only")
    args = parser.parse_args()
    print(f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}")
    work = Path(tempfile.mkdtemp(prefix="bench-datasets-"))
    try:
        if args.only in (None, "viton-hd"):
            viton_hd(work, args.pairs)
        if args.only in (None, "urls"):
            urls(work, args.url_rows, args.people)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
