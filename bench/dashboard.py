"""Dashboard speed on a big database: 1,000,000 results over 200 runs (target: under 0.5 s a page).

Prints the render time (AppTest, headless) of the Overview and Failures pages: the first render of
a fresh session, and the median of 5 reruns (what a click costs; query results are cached for a
few seconds, as on the live dashboard). Also the first render with the query cache cleared.

Usage: .venv/bin/python bench/dashboard.py [--runs 200] [--cases 5000]
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--cases", type=int, default=5000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        db_path = Path(tmp) / "results.duckdb"
        started = time.perf_counter()
        seed(db_path, runs=args.runs, cases_per_run=args.cases)
        size = db_path.stat().st_size / 2**20
        print(f"seeded {args.runs * args.cases:,} results over {args.runs} runs in "
              f"{time.perf_counter() - started:.0f} s ({size:.0f} MiB)")
        import streamlit as st

        for name, page in (("overview", None), ("failures", "pages/failures.py")):
            st.cache_data.clear()
            figures = time_page(db_path, page)
            print(f"  {name:9s} first render {figures['first']:.3f} s, median of 5 reruns {figures['median']:.3f} s "
                  f"(target < 0.5 s)")


if __name__ == "__main__":
    main()
