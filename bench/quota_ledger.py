"""The quota ledger's cost per call: what a rate-limited run adds to each call (a reservation, then the end
dated), what a run without a rate limit adds (calls written in batches), and what saying the next call's wait
costs (the launch form, `vton-eval quota`), on a DuckDB file and on a shared store.

Starts its own PostgreSQL for the shared store (as tests do). Nothing is sent to a service: the limiter is
driven directly, with a rate far above the calls made, so nothing waits.

Usage: .venv/bin/python bench/quota_ledger.py [calls]   (default 200)
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[0] = str(REPO)  # bench/ first on the path would shadow the `dashboard` package

from tests.helpers.servers import start_postgres  # noqa: E402
from vton_eval.quota import parse_rate  # noqa: E402
from vton_eval.quota_ledger import quota_outlook  # noqa: E402
from vton_eval.runner.limiter import LedgerLimiter  # noqa: E402
from vton_eval.store import Database, open_store  # noqa: E402

ENDPOINT = "http://127.0.0.1:7999"


def _ms(samples: list[float]) -> str:
    ordered = sorted(samples)
    p95 = ordered[int(0.95 * (len(ordered) - 1))]
    return f"median {statistics.median(ordered) * 1000:.1f} ms, p95 {p95 * 1000:.1f} ms"


def measure(name: str, db, calls: int) -> None:
    db.ensure()
    limited = LedgerLimiter(db, ENDPOINT, parse_rate("1000000/h"), "bench-limited", 300.0)
    per_call = []
    for _ in range(calls):
        started = time.perf_counter()
        limited.release(limited.acquire())
        per_call.append(time.perf_counter() - started)
    free = LedgerLimiter(db, ENDPOINT, None, "bench-free", 300.0)
    unlimited = []
    for _ in range(calls):
        started = time.perf_counter()
        free.release(free.acquire())
        unlimited.append(time.perf_counter() - started)
    started = time.perf_counter()
    free.close()
    flushed = time.perf_counter() - started
    outlook = []
    for _ in range(20):
        started = time.perf_counter()
        quota_outlook(db, ENDPOINT, "1000000/h")
        outlook.append(time.perf_counter() - started)
    print(f"{name}: rate-limited call (reserve + date its end) {_ms(per_call)}; without a rate limit "
          f"{_ms(unlimited)} (+ the last batch written at close in {flushed * 1000:.0f} ms); "
          f"the next call's wait read over {2 * calls} calls {_ms(outlook)}")


def main() -> None:
    calls = int(sys.argv[1]) if len(sys.argv) > 1 else 200
    with tempfile.TemporaryDirectory() as tmp:
        measure("DuckDB file", Database(Path(tmp) / "results.duckdb"), calls)
        server = start_postgres()
        try:
            measure("shared store", open_store(server.url(Path(tmp) / "shared")), calls)
        finally:
            server.stop()


if __name__ == "__main__":
    main()
