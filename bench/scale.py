"""The store at team scale: five million results over a few hundred runs, on a DuckDB file and on the shared
store (DuckLake over PostgreSQL), read the way the pages read them.

    .venv/bin/python bench/scale.py [--runs 500] [--cases 10000] [--repeat 5] [--compact] [--keep DIR]

Seeds the file in bulk SQL (`INSERT ... SELECT FROM range(...)`: no row goes through Python), rebuilds
the per-run summaries once, and copies every table into a fresh shared store (its own PostgreSQL on a
free loopback port, data path in a temporary folder) with one ordered INSERT per table. Then, in a new
process per store, times the engine reads each page makes (`vton_eval.analytics.*`, `dashboard/data.py`'s
engine calls: no Streamlit, no query cache), each repetition on a new connection, in one shared
connection per page as `dashboard.common.render` does:

- Overview: filter options, the run picker, the whole Overview of the latest run.
- Failures: the run picker, the failure groups of the latest run, the cases of its largest group.
- Runs: the suite runs' table (500 newest) and the tries, the blessed baselines.
- Review: the run picker, the reviewer's progress and agreement, the filter options, a page of 48 cases.
- Compare: the setup (pickers, runs sharing cases with the baseline), the side-by-side view of two runs of
  10,000 cases (summary, first page, win rates).
- a verdict (`reviews.save_verdict`) and a blind pick (`preferences.record_preference`), median of 30.

Targets: pages under 300 ms (Compare 400 ms) on both, the shared store at most 1.5x the file; a verdict and
a pick under 100 ms median. The newest two runs reach the shared store in small batches, as live runs write
them; `--compact` then runs `store compact` and measures the shared store again ("compacted").
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[0] = str(REPO)  # bench/ first on the path would shadow the `dashboard` package

TARGETS_MS = {"Overview": 300, "Failures": 300, "Runs": 300, "Review": 300, "Compare": 400,
              "verdict": 100, "blind pick": 100}
REVIEWER = "bench"
# Run ids as `vton_eval.runner.create.new_run_id` makes them: the creation time, then 4 hex digits (DuckDB keeps the
# first 8 bytes of a text column's min/max per row group, so the date prefix is what lets a scan skip other runs).
RUN_ID = "strftime(TIMESTAMP '2026-01-01' + INTERVAL (6 * {r}) HOUR, '%Y%m%d-%H%M%S-') || printf('%04x', {r})"
KINDS = ["server_error", "timeout", "rate_limited", "nsfw_rejected", "bad_output", "silent_failure", "connection"]


def seed_file(path: Path, runs: int, cases: int) -> float:
    """`runs` finished suite runs of `cases` cases each over one dataset, all in SQL; returns seconds."""
    from vton_eval.store import Database
    from vton_eval.store.summaries import rebuild_all_summaries

    started = time.perf_counter()
    db = Database(path)
    db.ensure()
    kinds = "[" + ", ".join(f"'{k}'" for k in KINDS) + "]"
    with db.connect() as con:
        con.execute("SELECT setseed(0.42)")
        con.execute(f"""
            INSERT INTO runs (run_id, label, endpoint, dataset, status, created_at, started_at, finished_at, updated_at,
                              workflows, concurrency, repeats, retries, timeout_s, total_cases, settings, kind)
            SELECT {RUN_ID.format(r="r")}, printf('v%d.%d', r // 20, r % 20), 'http://127.0.0.1:7860', 'bench',
                   'finished', TIMESTAMP '2026-01-01' + INTERVAL (6 * r) HOUR,
                   TIMESTAMP '2026-01-01' + INTERVAL (6 * r) HOUR,
                   TIMESTAMP '2026-01-01' + INTERVAL (6 * r) HOUR + INTERVAL 30 MINUTE,
                   TIMESTAMP '2026-01-01' + INTERVAL (6 * r) HOUR + INTERVAL 30 MINUTE,
                   'dress,eyewear,footwear,top', 8, 1, 2, 300.0, {cases}, '{{}}', 'suite'
            FROM range({runs}) t(r)""")
        con.execute(f"""
            INSERT INTO cases (run_id, pair_id, workflow, tags, base_path, product_path, base_source, product_source)
            SELECT {RUN_ID.format(r=f"(i // {cases})")}, printf('p%06d', i % {cases}),
                   ['eyewear', 'footwear', 'dress', 'top'][(i % {cases}) % 4 + 1],
                   ['photo;portrait', 'drawn;full-body', 'drawn;full-body;masked',
                    'photo;side-view'][(i % {cases}) % 4 + 1],
                   printf('results.artifacts/objects/p/person-%02d.png', (i % {cases}) % 24),
                   printf('results.artifacts/objects/p/product-%02d.png', (i % {cases}) % 24),
                   printf('datasets/bench/person-%02d.png', (i % {cases}) % 24),
                   printf('datasets/bench/product-%02d.png', (i % {cases}) % 24)
            FROM range({runs * cases}) t(i) ORDER BY i""")
        # An error rate between 3 and 7 % per run; lognormal latencies (dress slower), 5 % of outputs flagged.
        con.execute(f"""
            INSERT INTO results (run_id, pair_id, workflow, "repeat", status, error_kind, error_message, latency_ms,
                                 queue_ms, attempts, output_path, output_width, output_height, started_at, finished_at,
                                 flags)
            WITH g AS (
                SELECT i, i // {cases} AS r, i % {cases} AS p, random() AS u, random() AS u1, random() AS u2,
                       random() AS uf, (random() * 7)::INTEGER % 7 + 1 AS k, (random() * 500)::INTEGER AS n
                FROM range({runs * cases}) t(i)),
            h AS (SELECT *, u < 0.03 + 0.04 * ((hash(r) % 1000) / 1000.0) AS err,
                         ['eyewear', 'footwear', 'dress', 'top'][p % 4 + 1] AS wf,
                         TIMESTAMP '2026-01-01' + INTERVAL (6 * r) HOUR + INTERVAL (p * 400) MILLISECOND AS ts,
                         exp(ln(1500) + 0.35 * sqrt(-2 * ln(greatest(u1, 1e-12))) * cos(2 * pi() * u2)) AS lat
                  FROM g)
            SELECT {RUN_ID.format(r="r")}, printf('p%06d', p), wf, 1, CASE WHEN err THEN 'error' ELSE 'ok' END,
                   CASE WHEN err THEN {kinds}[k] END,
                   CASE WHEN NOT err THEN NULL
                        WHEN k = 1 THEN printf('Internal server error: worker crashed on node %d', n)
                        WHEN k = 2 THEN printf('no answer within %d s', n)
                        WHEN k = 3 THEN printf('Rate limit exceeded: 30 requests per hour per IP. '
                                               || 'Try again in %d s.', n)
                        WHEN k = 4 THEN 'Product image contains inappropriate content. Please use a different image.'
                        WHEN k = 5 THEN printf('the output is not a decodable image '
                                               || '(%d bytes: cannot identify image file)', n)
                        WHEN k = 6 THEN 'noop: the output is the person image unchanged'
                        ELSE 'connection failed: [Errno 111] Connection refused' END,
                   lat * CASE WHEN wf = 'dress' THEN 1.5 ELSE 1.0 END,
                   lat * 0.1, 1,
                   CASE WHEN NOT err OR k = 6 THEN printf('results.artifacts/objects/o/out-%02d.webp', p % 24) END,
                   384, 768, ts, ts, CASE WHEN uf < 0.05 THEN 'preservation.changed_share' END
            FROM h ORDER BY i""")
        rebuild_all_summaries(con)
        # Some history of judgements: verdicts by three reviewers on the latest runs, picks between two of them.
        con.execute(f"""
            INSERT INTO reviews (run_id, pair_id, workflow, "repeat", reviewer, verdict, reasons, note, created_at)
            SELECT run_id, pair_id, workflow, 1, 'rev' || (hash(pair_id) % 3),
                   ['pass', 'fail', 'unsure'][(hash(pair_id, run_id) % 3)::BIGINT + 1],
                   '', '', finished_at
            FROM results WHERE run_id >= {RUN_ID.format(r=runs - 20)} AND pair_id < 'p002000'""")
        con.execute(f"""
            INSERT INTO preferences (run_a, run_b, pair_id, "repeat", workflow, reviewer, choice, left_run, created_at)
            SELECT {RUN_ID.format(r=runs - 2)}, {RUN_ID.format(r=runs - 1)}, pair_id, 1, workflow,
                   'rev' || (hash(pair_id) % 3), ['left', 'right', 'tie'][(hash(pair_id) % 3)::BIGINT + 1],
                   {RUN_ID.format(r=runs - 2)}, finished_at
            FROM results WHERE run_id = {RUN_ID.format(r=runs - 1)} AND pair_id < 'p001000'""")
        con.execute("CHECKPOINT")
    return time.perf_counter() - started


TABLES = ("runs", "cases", "results", "run_summary", "run_error_kinds", "reviews", "preferences")


def copy_to_lake(source: Path, url: str, live_runs: int = 2, batch: int = 250) -> float:
    """Every table of the seeded file into the shared store: the older runs one ordered INSERT per table (one
    Parquet file per insert and thread, as `store copy` of a big file or a compaction leaves them); the
    newest `live_runs` runs' cases and results in batches of `batch` rows, as a run writes them (each batch
    under the inlining limit: rows in the catalog's tables until `store compact`)."""
    from vton_eval.store import open_store

    started = time.perf_counter()
    store = open_store(url)
    store.ensure()
    with store.connect() as cur:
        cur.execute(f"ATTACH '{source}' AS src (READ_ONLY)")
        newest = [r[0] for r in cur.execute(
            f"SELECT run_id FROM src.main.runs ORDER BY created_at DESC LIMIT {live_runs}").fetchall()]
        live = f"run_id IN ({', '.join('?' for _ in newest)})" if newest else "false"
        for table in TABLES:
            if table in ("cases", "results"):
                cur.execute(f"INSERT INTO {table} BY NAME SELECT * FROM src.main.{table} "
                            f"WHERE NOT ({live}) ORDER BY run_id", newest)
                for run_id in reversed(newest):
                    rows = cur.execute(f"SELECT count(*) FROM src.main.{table} WHERE run_id = ?",
                                       [run_id]).fetchone()[0]
                    for offset in range(0, rows, batch):
                        cur.execute(f"INSERT INTO {table} BY NAME SELECT * FROM src.main.{table} WHERE run_id = ? "
                                    f"ORDER BY ALL LIMIT {batch} OFFSET {offset}", [run_id])
            else:
                order = " ORDER BY run_id" if table not in ("preferences",) else ""
                cur.execute(f"INSERT INTO {table} BY NAME SELECT * FROM src.main.{table}{order}")
        cur.execute("DETACH src")
    return time.perf_counter() - started


# --- what each page reads (run in a new process per store) -------------------------------------------

def _pages(store) -> dict:
    from vton_eval.analytics import compare, failures, filters, overview, review
    from vton_eval.analytics.filters import RunFilter
    from vton_eval.gate import list_baselines
    from vton_eval.preferences import blind_state
    from vton_eval.reviews import review_status
    from vton_eval.store.runs import SUITE, TRY, list_runs

    def overview_page() -> None:
        filters.filter_options(store)
        runs = overview.pick_runs(store, RunFilter())
        overview.overview(store, overview.default_run(runs), RunFilter())

    def failures_page() -> None:
        runs = overview.pick_runs(store, RunFilter())
        run_ids = [overview.default_run(runs)]
        groups = failures.failure_groups(store, run_ids, RunFilter())
        top = groups.iloc[0]
        failures.failure_cases(store, run_ids, top["error_kind"], top["cause"], RunFilter())

    def runs_page() -> None:
        list_runs(store, limit=500, kind=SUITE)
        list_runs(store, limit=50, kind=TRY)
        list_baselines(store)

    def review_page() -> None:
        runs = overview.pick_runs(store, RunFilter())
        run_id = overview.default_run(runs)
        review_status(store, run_id, REVIEWER)
        review.review_options(store, run_id)
        cases, total = review.case_page(store, run_id, REVIEWER, page_size=48)
        assert len(cases) == 48, len(cases)

    def compare_page() -> None:
        setup = compare.compare_setup(store, None)
        candidate = setup.runs.iloc[0]["run_id"]
        baseline = setup.baseline if setup.baseline != candidate else setup.runs.iloc[1]["run_id"]
        shown = compare.compare_view(store, [baseline, candidate], compare.CaseFilter(), "pair", 1, 12)
        assert shown.page.total > 0 and shown.summary is not None

    def blind_view() -> None:
        runs = overview.pick_runs(store, RunFilter())
        blind_state(store, runs.iloc[1]["run_id"], runs.iloc[0]["run_id"], REVIEWER)

    return {"Overview": overview_page, "Failures": failures_page, "Runs": runs_page, "Review": review_page,
            "Compare": compare_page, "blind view": blind_view}


def _ticks(pid: int) -> int:
    """User + system clock ticks of a process, with those of its children it has waited for."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return sum(int(f) for f in fields[11:15])


def _server_cpu(postmaster: int | None) -> float:
    """CPU seconds PostgreSQL has spent so far: the postmaster, its finished children, its live ones."""
    if postmaster is None:
        return 0.0
    ticks = _ticks(postmaster)
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text().rsplit(")", 1)[1].split()
                if int(stat[1]) == postmaster:
                    ticks += sum(int(f) for f in stat[11:13])
            except (OSError, IndexError, ValueError):
                continue
    return ticks / os.sysconf("SC_CLK_TCK")


def _cpu(postmaster: int | None) -> float:
    return time.process_time() + _server_cpu(postmaster)


def measure(location: str, repeat: int, postmaster: int | None = None) -> dict:
    """Time each page's reads `repeat` times on new connections; then verdicts and picks. Prints JSON.
    Beside wall time, the CPU time the work took (this process's threads, and PostgreSQL's processes for the
    shared store): on a loaded machine wall time measures the queue for the cores, CPU time the work."""
    from vton_eval.access import local_actor
    from vton_eval.preferences import left_run_for, record_preference
    from vton_eval.reviews import save_verdict
    from vton_eval.store import open_store
    from vton_eval.store.reads import one_connection

    store = open_store(location)
    started = time.perf_counter()
    store.exists()  # a dashboard server has the store open (a shared store attached) before anyone asks
    figures: dict[str, dict[str, float]] = {"open": {"first": (time.perf_counter() - started) * 1000}}
    for name, page in _pages(store).items():
        times, cpus = [], []
        for _ in range(repeat + 1):
            t0, c0 = time.perf_counter(), _cpu(postmaster)
            with one_connection(store):
                page()
            times.append((time.perf_counter() - t0) * 1000)
            cpus.append((_cpu(postmaster) - c0) * 1000)
        figures[name] = {"first": times[0], "median": statistics.median(times[1:]), "worst": max(times[1:]),
                         "cpu": statistics.median(cpus[1:])}
    actor = local_actor(REVIEWER)
    runs, pairs = _latest_two(store)
    verdicts, picks, verdict_cpu, pick_cpu = [], [], [], []
    for i in range(30):
        pair = pairs[i * 7 % len(pairs)]
        t0, c0 = time.perf_counter(), _cpu(postmaster)
        save_verdict(store, runs[0], pair, 1, actor, ("pass", "fail")[i % 2], [], "")
        verdicts.append((time.perf_counter() - t0) * 1000)
        verdict_cpu.append((_cpu(postmaster) - c0) * 1000)
        t0, c0 = time.perf_counter(), _cpu(postmaster)
        record_preference(store, runs[1], runs[0], pair, 1, ["eyewear", "footwear", "dress", "top"][(i * 7) % 4],
                          actor, ("left", "right")[i % 2], left_run_for(runs[1], runs[0], pair, 1, REVIEWER))
        picks.append((time.perf_counter() - t0) * 1000)
        pick_cpu.append((_cpu(postmaster) - c0) * 1000)
    figures["verdict"] = {"first": verdicts[0], "median": statistics.median(verdicts), "worst": max(verdicts),
                          "cpu": statistics.median(verdict_cpu)}
    figures["blind pick"] = {"first": picks[0], "median": statistics.median(picks), "worst": max(picks),
                             "cpu": statistics.median(pick_cpu)}
    return figures


def _latest_two(store) -> tuple[list[str], list[str]]:
    """The two newest runs, and the pairs of the newest."""
    from vton_eval.store.reads import reading

    with reading(store) as read:
        runs = [r["run_id"] for r in read.rows("SELECT run_id FROM runs ORDER BY created_at DESC LIMIT 2")]
        pairs = [r["pair_id"] for r in read.rows("SELECT pair_id FROM cases WHERE run_id = ? ORDER BY pair_id",
                                                 [runs[0]])]
    return runs, pairs


def _measure_in_new_process(location: str, repeat: int, postmaster: int | None) -> dict:
    extra = ["--postmaster", str(postmaster)] if postmaster else []
    out = subprocess.run([sys.executable, __file__, "--measure", location, "--repeat", str(repeat), *extra],
                         cwd=REPO, capture_output=True, text=True, timeout=3600)
    if out.returncode != 0:
        raise SystemExit(f"measuring {location} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=500)
    parser.add_argument("--cases", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--compact", action="store_true",
                        help="then run `store compact` on the shared store and measure it again")
    parser.add_argument("--keep", type=Path, help="keep the seeded file and store in this folder (reused when there)")
    parser.add_argument("--only", choices=("file", "lake"))
    parser.add_argument("--seed-only", action="store_true", help="seed the file (into --keep) and stop")
    parser.add_argument("--measure", help=argparse.SUPPRESS)
    parser.add_argument("--postmaster", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(measure(args.measure, args.repeat, args.postmaster)))
        return
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    from tests.helpers.servers import start_postgres

    tmp = tempfile.TemporaryDirectory() if args.keep is None else None
    folder = Path(tmp.name) if tmp else args.keep
    folder.mkdir(parents=True, exist_ok=True)
    pg = start_postgres() if args.only != "file" else None
    try:
        source = folder / "results.duckdb"
        if not source.exists():
            seconds = seed_file(source, args.runs, args.cases)
            size = source.stat().st_size / 2**20
            print(f"seeded {args.runs * args.cases:,} results over {args.runs} runs into a file in {seconds:.0f} s "
                  f"({size:.0f} MiB)")
        if args.seed_only:
            return
        locations = {}
        if args.only != "lake":
            locations["file"] = str(source)
        if pg is not None:
            shutil.rmtree(folder / "lake", ignore_errors=True)  # a kept folder's files belong to an older catalog
            url = pg.url(folder / "lake")
            print(f"copied into the shared store in {copy_to_lake(source, url):.0f} s (the newest 2 runs in "
                  "batches of 250 rows, as runs write them)")
            locations["lake"] = url
        postmaster = int((pg.data / "postmaster.pid").read_text().split()[0]) if pg is not None else None
        load = os.getloadavg()[0]
        results = {name: _measure_in_new_process(where, args.repeat, postmaster if name != "file" else None)
                   for name, where in locations.items()}
        if args.compact and pg is not None:
            from vton_eval.store import open_store
            from vton_eval.store.maintenance import compact

            done = compact(open_store(locations["lake"]), keep_hours=0)
            print(f"store compact: {done.files_before} -> {done.files_after} data files, {done.snapshots_before} -> "
                  f"{done.snapshots_after} snapshots, {done.seconds:.1f} s")
            results["compacted"] = _measure_in_new_process(locations["lake"], args.repeat, postmaster)
        print(f"load average (1 min) before measuring {load:.1f}, after {os.getloadavg()[0]:.1f} "
              f"on {os.cpu_count()} cores")
        _report(results, args)
    finally:
        if pg is not None:
            pg.stop()
        if tmp is not None:
            tmp.cleanup()


def _report(results: dict, args: argparse.Namespace) -> None:
    names = [n for n in next(iter(results.values())) if n != "open"]
    shared = [w for w in results if w != "file"]
    print(f"\n{args.runs * args.cases:,} results, {args.runs} runs; engine reads on a new connection, median of "
          f"{args.repeat} (worst); verdict and pick median of 30")
    header = "".join(f"{w:>24s}" for w in results) + "".join(f"{w + '/file':>16s}" for w in shared)
    print(f"{'':14s}{header}  target")
    for name in names:
        cells = "".join(f"{results[w][name]['median']:10.0f} ms ({results[w][name]['worst']:5.0f})    "
                        for w in results)
        ratios = [results[w][name]["median"] / results["file"][name]["median"] for w in shared if "file" in results]
        target = TARGETS_MS.get(name)
        ok = all(results[w][name]["median"] < target for w in results) if target else True
        ok = ok and (all(r <= 1.5 for r in ratios) or name in ("verdict", "blind pick"))
        print(f"{name:14s}{cells}" + "".join(f"{r:15.2f}x" for r in ratios) + "  " +
              (f"{target} ms " + ("met" if ok else "MISSED") if target else ""))
    print("\nCPU time of the same work, median (ms; the shared store's includes PostgreSQL's processes):")
    print(f"{'':14s}" + "".join(f"{w:>12s}" for w in results) + "".join(f"{w + '/file':>16s}" for w in shared))
    for name in names:
        cpu = {w: results[w][name]["cpu"] for w in results}
        ratios = [cpu[w] / cpu["file"] for w in shared if cpu.get("file")]
        print(f"{name:14s}" + "".join(f"{c:12.0f}" for c in cpu.values()) + "".join(f"{r:15.2f}x" for r in ratios))
    for where, figures in results.items():
        print(f"first page after opening ({where}): " + ", ".join(
            f"{n} {figures[n]['first']:.0f} ms" for n in names) + f"; opening {figures['open']['first']:.0f} ms")


if __name__ == "__main__":
    main()
