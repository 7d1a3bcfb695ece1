"""Endpoint profiles: what each built-in signature costs per call, what inspecting an endpoint costs, and
what planning a run with resizing (`max_megapixels`) costs.

For each built-in profile, a sandbox serving that service's signature (0 s service time, concurrency 4)
and a run of the sample dataset through the profile (concurrency 4, checks off, 2 repeats). Prints,
per profile: cases sent and refused (workflows the profile does not support), the run's wall time
(planning to the last result), the median and p95 call latency the run recorded (all of it is the
client and Gradio round trip: uploads, the ImageEditor dict, a tuple or a gallery, the download), and
the time of `endpoints inspect` (connect, view_api, the suggestion). Then planning (create_run: the
inputs copied or resized) of the sample with and without `max_megapixels = 0.1`.

Usage: .venv/bin/python bench/profiles.py [--repeats 2] [--profiles sm4ll,catvton]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
SAMPLE = REPO / "datasets" / "sample"


def _quantile(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q * (len(values) - 1))))] if values else float("nan")


def run_profile(name: str, repeats: int, root: Path) -> dict:
    from vton_eval.runner import RunSettings, create_run, execute_run
    from vton_eval.sandbox import SandboxConfig, start_sandbox
    from vton_eval.services.inspection import inspect_endpoint
    from vton_eval.store import Database

    db = Database(root / f"{name}.duckdb")
    with start_sandbox(SandboxConfig(profile=name, concurrency=4)) as sandbox:
        started = time.perf_counter()
        inspect_endpoint(sandbox.url, token=None, open_timeout_s=30)
        inspect_s = time.perf_counter() - started
        started = time.perf_counter()
        run_id = create_run(db, RunSettings(dataset=str(SAMPLE), endpoint=sandbox.url, profile=name,
                                            concurrency=4, repeats=repeats, retries=0, checks=False))
        report = execute_run(db, run_id)
        wall = time.perf_counter() - started
    with db.connect(read_only=True) as con:
        rows = con.execute("SELECT status, error_kind, latency_ms, attempts FROM results WHERE run_id = ?",
                           [run_id]).fetchall()
    sent = [r for r in rows if r[3]]
    ok = [r[2] for r in sent if r[0] == "ok" or r[1] == "silent_failure"]
    return {"profile": name, "status": report.status, "sent": len(sent), "refused": len(rows) - len(sent),
            "ok": len(ok), "wall_s": wall, "p50_ms": statistics.median(ok) if ok else float("nan"),
            "p95_ms": _quantile(ok, 0.95), "inspect_s": inspect_s}


def plan_time(root: Path, megapixels: float) -> float:
    from vton_eval.runner import RunSettings, create_run
    from vton_eval.services.profiles import built_in_text
    from vton_eval.store import Database

    text = built_in_text("catvton").replace("max_megapixels = 0", f"max_megapixels = {megapixels}")
    profile = root / f"catvton-{megapixels}.toml"
    profile.write_text(text)
    times = []
    for i in range(3):
        db = Database(root / f"plan-{megapixels}-{i}.duckdb")
        started = time.perf_counter()
        create_run(db, RunSettings(dataset=str(SAMPLE), endpoint="http://127.0.0.1:9", profile=str(profile)))
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> None:
    from vton_eval.services.profiles import BUILT_IN

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--profiles", default=",".join(BUILT_IN))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="vton-bench-profiles-") as tmp:
        root = Path(tmp)
        print(f"sample dataset x {args.repeats} repeats, sandbox service time 0 s, concurrency 4, checks off")
        print(f"{'profile':<14}{'status':<10}{'sent':>6}{'refused':>9}{'ok':>5}{'run wall':>10}{'p50 call':>10}"
              f"{'p95 call':>10}{'inspect':>9}")
        for name in args.profiles.split(","):
            r = run_profile(name.strip(), args.repeats, root)
            print(f"{r['profile']:<14}{r['status']:<10}{r['sent']:>6}{r['refused']:>9}{r['ok']:>5}"
                  f"{r['wall_s']:>9.2f}s{r['p50_ms']:>8.0f}ms{r['p95_ms']:>8.0f}ms{r['inspect_s']:>8.2f}s")
        plain, resized = plan_time(root, 0), plan_time(root, 0.1)
        print(f"planning the sample (create_run, catvton): {plain * 1000:.0f} ms as is, "
              f"{resized * 1000:.0f} ms with max_megapixels = 0.1 (inputs over it resized), median of 3")


if __name__ == "__main__":
    main()
