"""Time the person parser and the checks with parsing, on 1-megapixel photos, on one core.

    .venv/bin/python bench/person.py [--runs 20]

Prints, per real photo (scikit-image's astronaut and cameraman, matplotlib's Grace Hopper, each scaled
to 816x1224, about 1 MP):

- parse: the person parser (MediaPipe pose with segmentation, then the face mesh on the head) on one
  image, median of `--runs` calls on new pixels each time (the in-process cache is bypassed).
  Target: at most 80 ms.
- checks: every check of one output (a clean try-on of a top, as JPEG bytes), the output parsed each time
  and the person image's parse known (as in a run, where each person is parsed once per store).
  Target: median at most 150 ms.

The process is pinned to one core (os.sched_setaffinity) and BLAS/OpenMP threads to one.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import io  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.helpers.composites import composite_at  # noqa: E402
from tests.helpers.photos import PHOTOS, load  # noqa: E402
from vton_eval.checks import run_checks  # noqa: E402
from vton_eval.person import mediapipe_parser  # noqa: E402
from vton_eval.samples import draw_product  # noqa: E402

SIZE = (816, 1224)
PARSE_TARGET_MS, CHECKS_TARGET_MS = 80.0, 150.0


def _frame(image: Image.Image) -> tuple[int, int, float]:
    """Where the photo sits on a 2:3 canvas (left, top) and the canvas's scale to SIZE."""
    w, h = image.size
    cw, ch = max(w, round(h * SIZE[0] / SIZE[1])), max(h, round(w * SIZE[1] / SIZE[0]))
    return (cw - w) // 2, (ch - h) // 2, SIZE[0] / cw


def _fit(image: Image.Image) -> Image.Image:
    """The photo padded to 2:3 with its top row's colour and scaled to SIZE (aspect kept)."""
    left, top, scale = _frame(image)
    size = (round(SIZE[0] / scale), round(SIZE[1] / scale))
    canvas = Image.new("RGB", size, tuple(int(v) for v in np.median(np.asarray(image)[0], axis=0)))
    canvas.paste(image, (left, top))
    return canvas.resize(SIZE, Image.LANCZOS)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
    t0 = time.perf_counter()
    mediapipe_parser.warm_up()
    print(f"parser {mediapipe_parser.version()}: graphs loaded in {(time.perf_counter() - t0) * 1000:.0f} ms; "
          f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    print(f"{'photo':10} {'parse median':>12} {'p90':>6} {'checks median':>14} {'p90':>6}  found")
    all_parse, all_checks = [], []
    product = draw_product("top", 1)
    for name, photo in PHOTOS.items():
        base = _fit(load(name))
        # Placed where the photo's torso was measured by hand, moved and scaled with the photo.
        left, top, s = _frame(load(name))
        x0, y0, x1, y1 = photo.torso
        box = ((x0 + left) * s, (y0 + top) * s, (x1 + left) * s, (y1 + top) * s)
        buf = io.BytesIO()
        composite_at(base, product, "top", box).save(buf, "JPEG", quality=90)
        output = buf.getvalue()
        parse_ms, checks_ms = [], []
        base_parse = mediapipe_parser.parse(base)
        for i in range(args.runs):
            # New pixels each time (one value nudged), so nothing is served from a cache.
            arr = np.asarray(base).copy()
            arr[0, 0, 0] = i % 256
            start = time.perf_counter()
            mediapipe_parser.parse(Image.fromarray(arr))
            parse_ms.append((time.perf_counter() - start) * 1000)
            from vton_eval import person

            person._cache.clear()  # the output is parsed afresh each time, as each output is new
            start = time.perf_counter()
            report = run_checks(output, base, product, "top", person=base_parse)
            checks_ms.append((time.perf_counter() - start) * 1000)
        all_parse += parse_ms
        all_checks += checks_ms
        p90 = lambda v: sorted(v)[int(0.9 * (len(v) - 1))]  # noqa: E731
        print(f"{name:10} {statistics.median(parse_ms):>9.0f} ms {p90(parse_ms):>4.0f} ms "
              f"{statistics.median(checks_ms):>11.0f} ms {p90(checks_ms):>4.0f} ms  {base_parse.found} "
              f"({len(report.results)} checks, region {report.region_source})")
    print(f"all photos: parse median {statistics.median(all_parse):.0f} ms (target <= {PARSE_TARGET_MS:.0f}), "
          f"checks with parsing median {statistics.median(all_checks):.0f} ms (target <= {CHECKS_TARGET_MS:.0f})")


if __name__ == "__main__":
    main()
