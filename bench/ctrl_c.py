"""Ctrl-C to exit: SIGINT sent to `vton-eval run` at random moments, from start-up to the last calls.

A sandbox (0.3 s latency, concurrency 8) serves the sample dataset x 6 repeats (120 cases); each try
starts a fresh run and sends SIGINT after a random delay. Printed per try: the delay, the seconds
from the signal to the process's exit, the exit code and the run's final status. Then the worst.
Target: every run stops within 2 s of the signal, with exit 130 and status 'interrupted' (or nothing
recorded, when the signal came before the run was created).

Usage: .venv/bin/python bench/ctrl_c.py [--tries 20] [--max-delay 6] [--seed 1]
"""

from __future__ import annotations

import argparse
import random
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.dispatch import free_port, start_sandbox  # noqa: E402


def one_try(url: str, db: Path, delay: float) -> tuple[float, int, str]:
    proc = subprocess.Popen([sys.executable, "-m", "vton_eval", "run", "--dataset", str(REPO / "datasets" / "sample"),
                             "--endpoint", url, "--repeats", "6", "--concurrency", "8", "--db", str(db)],
                            cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    time.sleep(delay)
    sent = time.monotonic()
    proc.send_signal(signal.SIGINT)
    try:
        _, err = proc.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        proc.kill()
        return float("inf"), -9, "did not stop"
    took = time.monotonic() - sent
    status = "nothing recorded"
    if db.exists():
        import duckdb

        con = duckdb.connect(str(db), read_only=True)
        row = con.execute("SELECT status FROM runs").fetchone()
        con.close()
        status = row[0] if row else status
    if "Traceback" in err:
        status += " (TRACEBACK)"
    return took, proc.returncode, status


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tries", type=int, default=20)
    parser.add_argument("--max-delay", type=float, default=6.0)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    import bench.dispatch as dispatch

    dispatch.LATENCY = 0.3
    port = free_port()
    sandbox = start_sandbox(port)
    worst = 0.0
    bad = 0
    try:
        with tempfile.TemporaryDirectory() as tmp:
            for i in range(args.tries):
                delay = rng.uniform(0.0, args.max_delay)
                took, code, status = one_try(f"http://127.0.0.1:{port}", Path(tmp) / f"r{i}.duckdb", delay)
                # A signal that lands after the run has finished finds nothing to stop: that is fine too.
                ok = (code == 130 and status in ("interrupted", "nothing recorded")) or status == "finished"
                if status == "finished":
                    took, status = 0.0, "finished before the signal"
                bad += not ok
                worst = max(worst, took)
                print(f"try {i + 1:2d}: SIGINT after {delay:4.2f} s -> exit {code} in {took:5.2f} s, {status}"
                      + ("" if ok else "   <-- unexpected"), flush=True)
    finally:
        sandbox.terminate()
        sandbox.wait()
    print(f"worst Ctrl-C to exit over {args.tries} tries: {worst:.2f} s (target < 2 s); unexpected outcomes: {bad}")


if __name__ == "__main__":
    main()
