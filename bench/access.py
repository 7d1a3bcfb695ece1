"""What team access costs an action: a verdict saved as a signed-in reviewer, a refused one, and reading
who someone is from their ID token's claims.

A verdict is one transaction: the role check, the ownership check (nobody replaces another person's
verdict), the verdict row and its audit row. Timed on a database holding a 5,000-case run, over 200
verdicts on distinct cases (the first write to each case) and 200 replacements of them; a viewer's
refusal is timed too (it writes its own audit row). Target: a verdict well under 100 ms, so a reviewer
pressing P/F/U case after case never waits on it.

Usage: .venv/bin/python bench/access.py
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

# Run as a script, Python puts bench/ first on the path; the repository root goes there instead.
sys.path[0] = str(Path(__file__).resolve().parents[1])

from bench.seed import seed  # noqa: E402

TARGET_S = 0.1
N = 200


def _figures(times: list[float]) -> str:
    times = sorted(times)
    p95 = times[int(len(times) * 0.95) - 1]
    median = statistics.median(times)
    return f"median {median * 1000:6.1f} ms   p95 {p95 * 1000:6.1f} ms   worst {times[-1] * 1000:6.1f} ms"


def main() -> None:
    from vton_eval import access, reviews
    from vton_eval.store import Database
    from vton_eval.store.reads import reading

    config = access.parse_config({"roles": {"reviewer": ["group:vton-reviewers"], "viewer": ["@example.org"]}})
    claims = {"sub": "alice", "iss": "https://idp.example.com", "email": "alice@example.com", "email_verified": True,
              "groups": ["vton-reviewers"]}
    started = time.perf_counter()
    for _ in range(10_000):
        access.actor_from_claims(claims, config)
    per_claims = (time.perf_counter() - started) / 10_000
    alice = access.actor_from_claims(claims, config)
    vic = access.actor_from_claims({"sub": "vic", "iss": "https://idp.example.com", "email": "vic@example.org"}, config)

    with tempfile.TemporaryDirectory() as tmp:
        db_path = Path(tmp) / "results.duckdb"
        [run_id] = seed(db_path, runs=1, cases_per_run=5000)
        db = Database(db_path)
        with reading(db) as read:
            cases = read.rows('SELECT pair_id, "repeat" FROM results WHERE run_id = ? ORDER BY pair_id LIMIT ?',
                              [run_id, N])

        def timed(action) -> list[float]:
            times = []
            for case in cases:
                t0 = time.perf_counter()
                action(case)
                times.append(time.perf_counter() - t0)
            return times

        first = timed(lambda c: reviews.save_verdict(db, run_id, c["pair_id"], c["repeat"], alice, "pass"))
        again = timed(lambda c: reviews.save_verdict(db, run_id, c["pair_id"], c["repeat"], alice, "fail"))

        def refused(c) -> None:
            try:
                reviews.save_verdict(db, run_id, c["pair_id"], c["repeat"], vic, "pass")
            except access.AccessDenied:
                return
            raise AssertionError("a viewer's verdict was saved")

        denied = timed(refused)
        # The floor under these conditions: a write transaction that does nothing (open, begin, commit, close).
        floor = timed(lambda c: db.write(lambda w: w.execute("SELECT 1")))
        with reading(db) as read:
            audit_rows = read.scalar("SELECT count(*) FROM audit")
    load = os.getloadavg()[0]
    print(f"Team access, {N} verdicts on a database with a 5,000-case run (load average {load:.1f}, "
          f"{os.cpu_count()} cores):")
    print(f"  identity and role from ID-token claims      {per_claims * 1e6:6.1f} µs")
    print(f"  verdict, first on a case (check + row + audit)  {_figures(first)}")
    print(f"  verdict, replacing one's own                    {_figures(again)}")
    print(f"  verdict refused to a viewer (+ audit row)       {_figures(denied)}")
    print(f"  an empty write transaction (the floor)          {_figures(floor)}")
    print(f"  audit rows written: {audit_rows} (expected {3 * N})")
    verdict = "meets" if statistics.median(first + again) < TARGET_S else "MISSES"
    print(f"  {verdict} the {TARGET_S * 1000:.0f} ms target for a verdict")


if __name__ == "__main__":
    main()
