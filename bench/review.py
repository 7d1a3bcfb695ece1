"""Review page speed: a page of 48 cases from a run of 10,000 (target: under 300 ms, cold).

Prints the render time (AppTest, headless): cold (the session open, the query cache empty; median and
worst of 5) and warm (a rerun with the cache filled). The zoomed crops beside each output are made
in the background the first time a page is viewed, so the cold figures are given both for that first
view (the crops still being prepared) and for a page whose crops exist. The Compare page for two
such runs is timed by bench/compare.py, which this script runs too.

Usage: .venv/bin/python bench/review.py
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path

# Run as a script, Python puts bench/ first on the path, where this file would shadow the
# `dashboard` package; the repository root goes there instead.
sys.path[0] = str(Path(__file__).resolve().parents[1])

from bench.pagetime import open_session, timed_run  # noqa: E402
from bench.seed import seed  # noqa: E402

TARGET_S = 0.3


def main() -> None:
    from dashboard import background

    with tempfile.TemporaryDirectory() as tmp:
        db_path = Path(tmp) / "results.duckdb"
        seed(db_path, runs=1, cases_per_run=10_000)
        print("Review page, 48 cases of a 10,000-case run (AppTest render times):")
        at = open_session(db_path, "views/review.py")
        at.session_state["rv_page_size"] = 48
        at.session_state["reviewer"] = "bench"
        first = timed_run(at, cold=True)  # the first view of the page: its crops are made meanwhile
        started = time.perf_counter()
        background.wait()
        print(f"  first view, cold, crops being prepared   {first * 1000:5.0f} ms "
              f"(crops ready {(time.perf_counter() - started) * 1000 + first * 1000:.0f} ms after the click)")
        cold = sorted(timed_run(at, cold=True) for _ in range(5))
        warm = sorted(timed_run(at, cold=False) for _ in range(5))
        verdict = "meets" if cold[2] < TARGET_S else "MISSES"
        print(f"  cold, crops made                         {cold[2] * 1000:5.0f} ms (worst {cold[-1] * 1000:.0f} ms)")
        print(f"  warm                                     {warm[2] * 1000:5.0f} ms")
        print(f"  {verdict} the {TARGET_S * 1000:.0f} ms target")
    compare = Path(__file__).with_name("compare.py")
    if compare.exists():
        subprocess.run([sys.executable, str(compare)], check=False)


if __name__ == "__main__":
    main()
