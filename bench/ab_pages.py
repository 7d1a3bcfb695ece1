"""A page's CPU in two trees of this repository, alternating, on the same seeded store: an A/B of a change.

    git worktree add /tmp/before <commit>
    .venv/bin/python bench/ab_pages.py --before /tmp/before --keep /tmp/scale [--page Review] [--rounds 3]

Takes the file `bench/scale.py --keep DIR --seed-only` seeded in DIR (seeds one of 200,000 results when there
is none), copies it into a fresh shared store (its own PostgreSQL on loopback) and compacts it, then measures
the page's engine reads (`bench/scale.py`'s, in one connection as a render makes them) in a new process per
tree, store and round: the CPU time of that process and of PostgreSQL's, which a loaded machine moves far
less than wall time. Prints each tree's median per store and the shared store's ratio to the file.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[0] = str(REPO)  # bench/ first on the path would shadow the `dashboard` package
sys.path.insert(1, str(REPO / "bench"))

CHILD = """
import json, sys
repo, where, postmaster, n, page = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
sys.path[0] = repo
sys.path.insert(1, repo + "/bench")
import scale
from vton_eval.store import open_store
from vton_eval.store.reads import one_connection
store = open_store(where)
store.exists()
work = scale._pages(store)[page]
server = postmaster if "://" in where else None
cpus = []
for _ in range(n + 1):  # the first is the page after opening: left out
    c0 = scale._cpu(server)
    with one_connection(store):
        work()
    cpus.append((scale._cpu(server) - c0) * 1000)
print(json.dumps(cpus[1:]))
"""


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--before", type=Path, required=True, help="a worktree of the code to compare against")
    parser.add_argument("--keep", type=Path, required=True, help="the folder of bench/scale.py's seeded file")
    parser.add_argument("--page", default="Review")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()

    import scale

    from tests.helpers.servers import start_postgres
    from vton_eval.store import open_store
    from vton_eval.store.maintenance import compact

    source = args.keep / "results.duckdb"
    if not source.exists():
        args.keep.mkdir(parents=True, exist_ok=True)
        scale.seed_file(source, 20, 10_000)
    pg = start_postgres()
    try:
        shutil.rmtree(args.keep / "lake", ignore_errors=True)
        url = pg.url(args.keep / "lake")
        scale.copy_to_lake(source, url)
        compact(open_store(url), keep_hours=0)
        postmaster = int((pg.data / "postmaster.pid").read_text().split()[0])
        cpu: dict[tuple[str, str], list[float]] = {}
        for _ in range(args.rounds):
            for tree in ("before", "after"):
                repo = str(args.before.resolve() if tree == "before" else REPO)
                for store, where in (("file", str(source)), ("shared store", url)):
                    out = subprocess.run([sys.executable, "-c", CHILD, repo, where, str(postmaster), str(args.repeat),
                                          args.page], capture_output=True, text=True, timeout=1800)
                    if out.returncode:
                        raise SystemExit(f"measuring {tree} on the {store} failed:\n{out.stderr[-2000:]}")
                    cpu.setdefault((tree, store), []).extend(json.loads(out.stdout.strip().splitlines()[-1]))
    finally:
        pg.stop()
    print(f"{args.page}: CPU per render, median of {args.rounds} x {args.repeat} (this process and PostgreSQL's)")
    for tree in ("before", "after"):
        file, shared = (statistics.median(cpu[(tree, s)]) for s in ("file", "shared store"))
        print(f"  {tree:7s} file {file:6.1f} ms   shared store {shared:6.1f} ms   ratio {shared / file:.2f}x")


if __name__ == "__main__":
    main()
