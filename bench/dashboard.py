"""Dashboard speed on a big database: 1,000,000 results over 200 runs (target: under 300 ms a page, cold).

Prints the render time (AppTest, headless) of the Overview and Failures pages: cold (the session is
open, the query cache is empty: every query goes to the database; median and worst of 5) and warm
(a rerun with the cache filled, what a click that changes no query costs; median of 5).

Usage: .venv/bin/python bench/dashboard.py [--runs 200] [--cases 5000] [--keep DIR]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

# Run as a script, Python puts bench/ first on the path, where this file would shadow the
# `dashboard` package; the repository root goes there instead.
sys.path[0] = str(Path(__file__).resolve().parents[1])

from bench.pagetime import time_page  # noqa: E402
from bench.seed import seed  # noqa: E402

TARGET_S = 0.3


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--cases", type=int, default=5000)
    parser.add_argument("--keep", help="seed (once) and keep the database in this folder")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        db_path = Path(args.keep or tmp) / "results.duckdb"
        db_path.parent.mkdir(parents=True, exist_ok=True)
        if not db_path.exists():
            started = time.perf_counter()
            seed(db_path, runs=args.runs, cases_per_run=args.cases)
            print(f"seeded {args.runs * args.cases:,} results over {args.runs} runs in "
                  f"{time.perf_counter() - started:.0f} s")
        print(f"{db_path} ({db_path.stat().st_size / 2**20:.0f} MiB); AppTest render times, 5 of each:")
        for name, page in (("Overview", None), ("Failures", "views/failures.py")):
            f = time_page(db_path, page)
            verdict = "meets" if f["cold"] < TARGET_S else "MISSES"
            print(f"  {name:9s} cold {f['cold'] * 1000:4.0f} ms (worst {f['cold_max'] * 1000:4.0f} ms), "
                  f"warm {f['warm'] * 1000:4.0f} ms: {verdict} the {TARGET_S * 1000:.0f} ms target")


if __name__ == "__main__":
    main()
