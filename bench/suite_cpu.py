"""Where the test suite's time goes: each test's wall time and CPU, and the totals.

As a pytest plugin it writes one JSON line per test (the worker process's CPU and that of the children it
waited for, user + system; PostgreSQL, which runs detached, is not counted):

    PYTEST_ADDOPTS="-p bench.suite_cpu" make test

then, as a script, it prints the totals, the CPU by test file and the slowest tests:

    .venv/bin/python bench/suite_cpu.py [--top 20]
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import time
from pathlib import Path

import pytest

OUT = Path(os.environ.get("SUITE_CPU_OUT", "test-output/suite-cpu"))


def _cpu() -> float:
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item, nextitem):  # noqa: ANN001, ANN201 (pytest's hook signature)
    cpu, wall = _cpu(), time.monotonic()
    yield
    line = {"id": item.nodeid, "cpu": round(_cpu() - cpu, 2), "wall": round(time.monotonic() - wall, 2)}
    OUT.mkdir(parents=True, exist_ok=True)
    with open(OUT / f"{os.environ.get('PYTEST_XDIST_WORKER', 'main')}.jsonl", "a", encoding="utf-8") as f:
        f.write(json.dumps(line) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--top", type=int, default=20)
    args = parser.parse_args()
    rows = [json.loads(line) for path in sorted(OUT.glob("*.jsonl")) for line in path.read_text().splitlines()]
    if not rows:
        raise SystemExit(f"no figures in {OUT}: run the suite with the plugin first (see this file's docstring)")
    shared = sum(r["cpu"] for r in rows if "[lake" in r["id"] or "lake-" in r["id"])
    print(f"{len(rows)} tests: {sum(r['cpu'] for r in rows) / 60:.1f} CPU-minutes "
          f"({shared / 60:.1f} in the shared-store parameter), {sum(r['wall'] for r in rows) / 60:.1f} test-minutes")
    by_file: collections.Counter[str] = collections.Counter()
    for r in rows:
        by_file[r["id"].split("::")[0]] += r["cpu"]
    print("\nCPU by file:")
    for name, cpu in by_file.most_common(args.top):
        print(f"  {cpu:7.1f} s  {name}")
    print(f"\nthe {args.top} slowest tests (wall, CPU):")
    for r in sorted(rows, key=lambda r: -r["wall"])[:args.top]:
        print(f"  {r['wall']:6.0f} s  {r['cpu']:5.0f} s  {r['id']}")


if __name__ == "__main__":
    main()
