"""Review page speed: a page of 48 cases from a run of 10,000 (target: under 0.5 s).

Prints the first render and the median of 5 (AppTest, headless). The compare page for two such
runs is timed by bench/compare.py, which this script runs too when it exists.

Usage: .venv/bin/python bench/review.py
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

# Run as a script, Python puts bench/ first on the path, where this file would shadow the
# `dashboard` package; the repository root goes there instead.
sys.path[0] = str(Path(__file__).resolve().parents[1])

from bench.pagetime import time_page  # noqa: E402
from bench.seed import seed  # noqa: E402


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        db_path = Path(tmp) / "results.duckdb"
        seed(db_path, runs=1, cases_per_run=10_000)

        def sign_in(at) -> None:
            at.text_input(key="reviewer_input").set_value("bench").run()
            at.button(key="reviewer_start").click().run()
            at.selectbox(key="rv_page_size").set_value(48).run()

        figures = time_page(db_path, "pages/review.py", prepare=sign_in)
        print("review page, 48 cases of a 10,000-case run (AppTest):")
        print(f"  first render {figures['first']:.3f} s, median of 5 reruns {figures['median']:.3f} s "
              f"(target < 0.5 s)")
    compare = Path(__file__).with_name("compare.py")
    if compare.exists():
        subprocess.run([sys.executable, str(compare)], check=False)


if __name__ == "__main__":
    main()
