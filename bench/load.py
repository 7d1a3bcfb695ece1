"""A long fast run: 1,000 cases against a sandbox with 10 ms latency, concurrency 8, checks on.

Prints the wall time of the run, the peak RSS (VmHWM) of the run's process and of its check worker,
and the largest check backlog seen (outputs waiting for their checks; bounded by the hand-off).
The check worker runs below normal priority and is slower than this dispatch, so the backlog fills
and dispatch waits for it: that is the point (the old hand-off deadlocked past ~40 waiting outputs).

Usage: .venv/bin/python bench/load.py [--repeats 50] [--latency 0.01]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.dispatch import free_port  # noqa: E402

RUN = textwrap.dedent("""
    import json, sys, time
    from vton_eval.runner import RunSettings, create_run, execute_run
    from vton_eval.store import Database
    db = Database(sys.argv[1])
    run_id = create_run(db, RunSettings(dataset=sys.argv[2], endpoint=sys.argv[3], repeats=int(sys.argv[4]),
                                        concurrency=8, retries=0))
    started = time.perf_counter()
    report = execute_run(db, run_id)
    print(json.dumps({"status": report.status, "done": report.progress.done, "backlog": report.largest_check_backlog,
                      "seconds": time.perf_counter() - started}), flush=True)
""")


def hwm_kb(pid: int) -> int | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            found += [int(c) for c in (task / "children").read_text().split()]
        except OSError:
            continue
    return found


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=50)
    parser.add_argument("--latency", type=float, default=0.01)
    args = parser.parse_args()
    port = free_port()
    sandbox = subprocess.Popen([sys.executable, "-m", "vton_eval", "sandbox", "--port", str(port), "--latency",
                                str(args.latency), "--concurrency", "8"], cwd=REPO, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    try:
        import socket

        deadline = time.time() + 60
        while socket.socket().connect_ex(("127.0.0.1", port)) != 0:
            if time.time() > deadline:
                raise SystemExit("the sandbox did not start")
            time.sleep(0.2)
        with tempfile.TemporaryDirectory() as tmp:
            started = time.perf_counter()
            proc = subprocess.Popen([sys.executable, "-c", RUN, str(Path(tmp) / "load.duckdb"),
                                     str(REPO / "datasets" / "sample"), f"http://127.0.0.1:{port}", str(args.repeats)],
                                    cwd=REPO, stdout=subprocess.PIPE, text=True)
            peak_run = peak_worker = 0
            while proc.poll() is None:
                peak_run = max(peak_run, hwm_kb(proc.pid) or 0)
                for child in children(proc.pid):
                    peak_worker = max(peak_worker, hwm_kb(child) or 0)
                time.sleep(0.2)
            wall = time.perf_counter() - started
            result = json.loads(proc.stdout.read().strip().splitlines()[-1])
    finally:
        sandbox.terminate()
        sandbox.wait()
    cases = 20 * args.repeats
    print(f"{cases} cases, sandbox latency {args.latency * 1000:.0f} ms, concurrency 8, checks on")
    print(f"  status {result['status']}, {result['done']} recorded")
    print(f"  wall time of the process: {wall:.1f} s (execute_run: {result['seconds']:.1f} s)")
    print(f"  peak RSS: run process {peak_run / 1024:.0f} MB, check worker {peak_worker / 1024:.0f} MB")
    print(f"  largest check backlog seen: {result['backlog']} (bound: 256)")


if __name__ == "__main__":
    main()
