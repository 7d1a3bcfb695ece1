"""The shared store's figures: concurrent runs, a cold Overview over a million results, a verdict click.

Starts its own PostgreSQL (as tests do: a temporary folder, a free loopback port) and, for the runs,
a sandbox in this process; the data path is a local folder. Prints:

- runs: 4 `vton-eval run` processes started together, 256 cases each (16 sample pairs x 16 repeats,
  sandbox latency 0.1 s, --concurrency 4, checks on), into ONE shared store: wall time, rows, lost and
  duplicated; against the same 4 runs into 4 DuckDB files followed by `vton-eval merge`.
- overview: 1,000,000 results over 200 runs (bench/seed.py, copied into the store with `store copy`'s
  engine), Overview rendered by AppTest cold (query cache empty) and warm, as bench/dashboard.py does
  for a file. The dashboard process keeps the store attached (as a dashboard server does).
- verdict: what a verdict click writes (`reviews.save_verdict`, lock row + replace), median of 30,
  on the shared store and on a file.

Usage: .venv/bin/python bench/shared_store.py [runs] [overview] [verdict]   (default: all three)
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[0] = str(REPO)  # bench/ first on the path would shadow the `dashboard` package

from tests.helpers.servers import start_postgres  # noqa: E402

RUNS, PAIRS, REPEATS = 4, 16, 16


def _pairs() -> str:
    from vton_eval.datasets import load_dataset

    return ",".join(p.pair_id for p in load_dataset(REPO / "datasets" / "sample").pairs[:PAIRS])


def _run_all(locations: list[str], url: str) -> float:
    pairs = _pairs()
    started = time.perf_counter()
    procs = [subprocess.Popen([sys.executable, "-m", "vton_eval", "run", "--dataset", "datasets/sample",
                               "--endpoint", url, "--pairs", pairs, "--repeats", str(REPEATS), "--concurrency", "4",
                               "--label", f"bench-{k}", "--db", where], cwd=REPO, stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE, text=True) for k, where in enumerate(locations)]
    for proc in procs:
        _, err = proc.communicate(timeout=1800)
        if proc.returncode != 0:
            raise SystemExit(f"a run failed: {err[-2000:]}")
    return time.perf_counter() - started


def _counts(location: str) -> tuple[int, int, int]:
    from vton_eval.store import open_store
    from vton_eval.store.reads import reading

    with reading(open_store(location)) as read:
        row = read.one("""SELECT count(*) AS n, count(DISTINCT run_id || '/' || pair_id || '/' || "repeat") AS keys,
                                 (SELECT count(*) FROM runs WHERE status = 'finished') AS finished FROM results""")
    return row["n"], row["keys"], row["finished"]


def bench_runs(pg, folder: Path) -> None:
    from vton_eval.sandbox import SandboxConfig, start_sandbox

    sandbox = start_sandbox(SandboxConfig(concurrency=16, latency=0.1))
    try:
        expected = RUNS * PAIRS * REPEATS
        url = pg.url(folder / "shared")
        subprocess.run([sys.executable, "-m", "vton_eval", "store", "init", url], cwd=REPO, check=True,
                       capture_output=True)
        wall = _run_all([url] * RUNS, sandbox.url)
        n, keys, finished = _counts(url)
        print(f"  one shared store: {wall:6.1f} s for {RUNS} x {expected // RUNS} cases; {n} rows, "
              f"{expected - keys} lost, {n - keys} duplicated, {finished} of {RUNS} runs finished")
        files = [str(folder / f"job-{k}" / "results.duckdb") for k in range(RUNS)]
        wall_runs = _run_all(files, sandbox.url)
        started = time.perf_counter()
        merged = str(folder / "merged.duckdb")
        subprocess.run([sys.executable, "-m", "vton_eval", "merge", *files, "--into", merged], cwd=REPO, check=True,
                       capture_output=True)
        wall_merge = time.perf_counter() - started
        n, keys, finished = _counts(merged)
        print(f"  4 files + merge:  {wall_runs + wall_merge:6.1f} s ({wall_runs:.1f} s of runs, then "
              f"{wall_merge:.1f} s of `vton-eval merge`); {n} rows, {expected - keys} lost, {n - keys} duplicated")
    finally:
        sandbox.close()


def bench_overview(pg, folder: Path) -> None:
    from bench.pagetime import time_page
    from bench.seed import seed
    from vton_eval.store import open_store
    from vton_eval.store.merge import merge

    source = folder / "big" / "results.duckdb"
    source.parent.mkdir(parents=True)
    started = time.perf_counter()
    seed(source, runs=200, cases_per_run=5000)
    url = pg.url(folder / "big-shared")
    store = open_store(url)
    merge([source], store, combine_shards=False)
    print(f"  seeded 1,000,000 results over 200 runs and copied them into the store in "
          f"{time.perf_counter() - started:.0f} s")
    for name, location in (("shared store", url), ("file", str(source))):
        f = time_page(location, None)
        print(f"  Overview on the {name:12s}: cold {f['cold'] * 1000:4.0f} ms (worst {f['cold_max'] * 1000:4.0f} ms),"
              f" warm {f['warm'] * 1000:4.0f} ms")


def bench_verdict(pg, folder: Path) -> None:
    from tests.helpers.seed import record_sample_run
    from vton_eval.access import local_actor
    from vton_eval.reviews import save_verdict
    from vton_eval.store import Database, open_store
    from vton_eval.store.reads import reading

    for name, store in (("shared store", open_store(pg.url(folder / "verdicts"))),
                        ("file", Database(folder / "verdicts.duckdb"))):
        run_id = record_sample_run(store, "verdicts")
        with reading(store) as read:
            cases = read.rows("SELECT pair_id FROM cases WHERE run_id = ?", [run_id])
        times = []
        for i in range(30):
            started = time.perf_counter()
            save_verdict(store, run_id, cases[i % len(cases)]["pair_id"], 1, local_actor("bench"),
                         ("pass", "fail")[i % 2], [], "")
            times.append(time.perf_counter() - started)
        print(f"  verdict click on the {name:12s}: median {statistics.median(times) * 1000:5.1f} ms, "
              f"worst {max(times) * 1000:5.1f} ms (30 clicks)")


def main() -> None:
    wanted = sys.argv[1:] or ["runs", "overview", "verdict"]
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    pg = start_postgres()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            for what in wanted:
                print(f"{what}:")
                {"runs": bench_runs, "overview": bench_overview, "verdict": bench_verdict}[what](pg, Path(tmp) / what)
    finally:
        pg.stop()


if __name__ == "__main__":
    main()
