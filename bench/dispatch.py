"""Dispatch efficiency: `vton-eval run --concurrency 8` against the sandbox, versus the ideal and a plain loop.

Setup (as issue 2 asks): sandbox with 0.5 s latency and queue concurrency 8, 128 cases
(16 sample pairs x 8 repeats). Prints:
  - the wall time of the `vton-eval run` command (process start to exit), and the dispatch span
    inside it (first call sent to last result recorded);
  - the ideal time: cases x latency / 8;
  - their ratio (target: within 1.15x);
  - a plain sequential `Client.predict` loop over the same cases, and how much faster the run is;
  - the same run with automatic checks off, to show checks do not slow dispatch (target: < 5%);
  - plain `Client.predict` calls from 8 threads with no runner: the floor this stack allows.

Usage: .venv/bin/python bench/dispatch.py [--latency 0.5] [--skip-sequential] [--repeat N]
"""

from __future__ import annotations

import argparse
import csv
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO / "datasets" / "sample"
CONCURRENCY, PAIRS, REPEATS = 8, 16, 8
CASES = PAIRS * REPEATS
LATENCY = 0.5  # set from --latency
FAILED_CALLS: list[int] = []  # calls that failed in a timed run (a loaded machine)
FLOOR_CPU: list[float] = []  # CPU seconds of each plain thread pool's calls (no imports, no start-up)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_sandbox(port: int) -> subprocess.Popen:
    proc = subprocess.Popen(
        [sys.executable, "-m", "vton_eval", "sandbox", "--port", str(port), "--latency", str(LATENCY),
         "--concurrency", str(CONCURRENCY)], cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    import urllib.request

    deadline = time.time() + 120
    while time.time() < deadline:  # an answer over HTTP, not an open port: gradio binds a port to test it first
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/config", timeout=5) as answer:
                if answer.status == 200:
                    return proc
        except OSError:
            pass
        time.sleep(0.2)
    raise SystemExit("the sandbox did not start")


def pairs() -> list[dict[str, str]]:
    with open(SAMPLE / "manifest.csv", encoding="utf-8") as f:
        return list(csv.DictReader(f))[:PAIRS]


def _children_cpu() -> float:
    import resource

    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def timed_run(url: str, db: Path, checks: bool, profile: Path | None = None) -> tuple[float, float, float]:
    """(wall time of the command, dispatch span inside it, CPU seconds of the run process)."""
    ids = ",".join(p["pair_id"] for p in pairs())
    command = [sys.executable, "-m", "vton_eval", "run", "--dataset", str(SAMPLE), "--endpoint", url,
               "--pairs", ids, "--repeats", str(REPEATS), "--concurrency", str(CONCURRENCY), "--retries", "0",
               "--db", str(db)] + ([] if checks else ["--no-checks"])
    if profile is not None:
        command[1:3] = ["-m", "cProfile", "-o", str(profile), "-m", "vton_eval"]
    cpu_before = _children_cpu()
    started = time.perf_counter()
    # RUSAGE_CHILDREN: the run process and what it waited for (its check worker when checks are on).
    proc = subprocess.run(command, cwd=REPO, capture_output=True, text=True)
    wall = time.perf_counter() - started
    cpu = _children_cpu() - cpu_before
    if proc.returncode != 0:
        raise SystemExit(proc.stderr)
    import duckdb

    con = duckdb.connect(str(db), read_only=True)
    run_id = con.execute("SELECT run_id FROM runs ORDER BY created_at DESC LIMIT 1").fetchone()[0]
    n, ok, span = con.execute(
        "SELECT count(*), count(*) FILTER (WHERE status = 'ok'), "
        "date_diff('millisecond', min(started_at), max(finished_at)) / 1000.0 FROM results WHERE run_id = ?",
        [run_id]).fetchone()
    kinds = con.execute("SELECT error_kind, count(*), any_value(error_message) FROM results WHERE run_id = ? "
                        "AND status = 'error' GROUP BY ALL", [run_id]).fetchall()
    con.close()
    if n != CASES or ok < CASES - 2:
        raise SystemExit(f"expected {CASES} ok results, got {ok} of {n}: {kinds}")
    if ok != CASES:  # on a loaded machine a call now and then loses its stream; said, not hidden
        print(f"  note: {CASES - ok} of {CASES} calls failed in one run: {kinds}", file=sys.stderr)
        FAILED_CALLS.append(CASES - ok)
    return wall, span, cpu


def sequential_predict(url: str) -> float:
    import httpx
    from gradio_client import Client, handle_file

    client = Client(url, httpx_kwargs={"timeout": 60}, ssl_verify=httpx.create_ssl_context(), verbose=False,
                    download_files=tempfile.mkdtemp())
    chosen = pairs()
    started = time.perf_counter()
    for _ in range(REPEATS):
        for p in chosen:
            mask = handle_file(str(SAMPLE / p["mask"])) if p["mask"] else None
            client.predict(handle_file(str(SAMPLE / p["base"])), handle_file(str(SAMPLE / p["product"])),
                           p["workflow"], mask, api_name="/generate")
    return time.perf_counter() - started


def threaded_predict(url: str) -> float:
    """The floor of the stack: 8 threads calling `Client.predict` directly, no runner around them."""
    from concurrent.futures import ThreadPoolExecutor

    import httpx
    from gradio_client import Client, handle_file

    client = Client(url, httpx_kwargs={"timeout": 60}, ssl_verify=httpx.create_ssl_context(), verbose=False,
                    download_files=tempfile.mkdtemp())
    chosen = pairs() * REPEATS

    def one(p: dict[str, str]) -> None:
        mask = handle_file(str(SAMPLE / p["mask"])) if p["mask"] else None
        client.predict(handle_file(str(SAMPLE / p["base"])), handle_file(str(SAMPLE / p["product"])),
                       p["workflow"], mask, api_name="/generate")

    started, cpu = time.perf_counter(), time.process_time()
    with ThreadPoolExecutor(CONCURRENCY) as pool:
        list(pool.map(one, chosen))
    FLOOR_CPU.append(time.process_time() - cpu)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--skip-sequential", action="store_true")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each configuration (median reported)")
    parser.add_argument("--latency", type=float, default=0.5, help="the sandbox's service time per call (s)")
    parser.add_argument("--profile", type=Path, help="also run once with checks off under cProfile, stats to this file")
    args = parser.parse_args()
    global LATENCY
    LATENCY = args.latency
    ideal = CASES * LATENCY / CONCURRENCY
    os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"
    port = free_port()
    sandbox = start_sandbox(port)
    url = f"http://127.0.0.1:{port}"
    try:
        with tempfile.TemporaryDirectory() as tmp:
            timed_run(url, Path(tmp) / "warm.duckdb", checks=True)  # first renders fill the sandbox's cache
            results, cpus, floors = {}, [], []
            for checks in (True, False):
                walls, spans = [], []
                for i in range(args.repeat):
                    wall, span, cpu = timed_run(url, Path(tmp) / f"r{checks}{i}.duckdb", checks)
                    walls.append(wall)
                    spans.append(span)
                    if not checks:
                        cpus.append(cpu)
                        # The plain thread pool right after each run, against the same sandbox: the two figures
                        # of a ratio meet the same machine load.
                        floors.append(threaded_predict(url))
                results[checks] = (statistics.median(walls), statistics.median(spans))
            floor = statistics.median(floors)
            ratios = [span / f for span, f in zip(spans, floors, strict=True)]
            if args.profile:
                timed_run(url, Path(tmp) / "profiled.duckdb", False, profile=args.profile)
            sequential = None if args.skip_sequential else sequential_predict(url)
    finally:
        sandbox.terminate()
        sandbox.wait()

    wall, span = results[True]
    wall_off, span_off = results[False]
    print(f"dispatch benchmark: {CASES} cases, sandbox latency {LATENCY} s, queue concurrency {CONCURRENCY}, "
          f"`vton-eval run --concurrency {CONCURRENCY}` (median of {args.repeat})")
    print(f"  ideal (cases x latency / {CONCURRENCY}):         {ideal:6.2f} s")
    print(f"  run command wall time (checks on):    {wall:6.2f} s   ratio {wall / ideal:.2f}x ideal")
    print(f"  dispatch span inside it (checks on):  {span:6.2f} s   ratio {span / ideal:.2f}x ideal")
    print(f"  run command wall time (checks off):   {wall_off:6.2f} s   ratio {wall_off / ideal:.2f}x ideal")
    print(f"  dispatch span (checks off):           {span_off:6.2f} s   ratio {span_off / ideal:.2f}x ideal")
    print(f"  checks on vs off, dispatch span:      {(span / span_off - 1) * 100:+.1f}%   "
          f"(command wall time {(wall / wall_off - 1) * 100:+.1f}%)")
    print(f"  plain Client.predict in {CONCURRENCY} threads: {floor:6.2f} s   ratio {floor / ideal:.2f}x ideal "
          "(the stack's floor: gradio's per-call cost, no runner)")
    print(f"  dispatch overhead, checks off: span / plain thread pool right after it = "
          f"{statistics.median(ratios):.2f} (median; each {', '.join(f'{r:.2f}' for r in ratios)}; target <= 1.0)")
    cpu = statistics.median(cpus)
    print(f"  client CPU of the run process, checks off: {cpu:5.2f} s = {cpu / CASES * 1000:.1f} ms per case "
          f"(median of {len(cpus)}; imports and start-up included; target <= 40 ms)")
    if FAILED_CALLS:
        print(f"  failed calls in the timed runs: {', '.join(map(str, FAILED_CALLS))} (each of {CASES})")
    floor_cpu = statistics.median(FLOOR_CPU)
    print(f"  CPU of the plain thread pool's calls alone: {floor_cpu:5.2f} s = "
          f"{floor_cpu / CASES * 1000:.1f} ms per case "
          "(gradio_client's own cost per call; no start-up)")
    if sequential is not None:
        print(f"  sequential Client.predict loop:       {sequential:6.2f} s   "
              f"the run is {sequential / wall:.1f}x faster "
              f"({sequential / ideal:.2f}x ideal)")


if __name__ == "__main__":
    main()
