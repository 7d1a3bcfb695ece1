"""`vton-eval run`, `resume`, `runs` and `cancel`: recording runs from the command line."""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from vton_eval.cli.gate_cmd import gate_options, run_gate_from_options
from vton_eval.cli.progress_view import kinds_table, summary_table, watch
from vton_eval.datasets import DatasetError
from vton_eval.runner import Progress, RunError, RunReport, RunSettings, create_run, execute_run
from vton_eval.runner.plan import parse_list
from vton_eval.store import Database, DatabaseBusy
from vton_eval.store.runs import get_run, list_runs, process_alive, resolve_run_id
from vton_eval.store.summary import run_summary

EXIT_BY_STATUS = {"finished": 0, "interrupted": 130, "cancelled": 3, "failed": 1}

db_option = click.option("--db", "db_path", default=None, metavar="PATH",
                         help="Database file (default: $VTON_EVAL_DB or ./results.duckdb).")


def load_json_option(text: str | None) -> dict | None:
    """A JSON object given inline or as a file path."""
    if not text:
        return None
    source = Path(text).read_text(encoding="utf-8") if Path(text).is_file() else text
    try:
        value = json.loads(source)
    except json.JSONDecodeError as exc:
        raise click.BadParameter(f"not valid JSON ({exc.msg} at position {exc.pos})") from None
    if not isinstance(value, dict):
        raise click.BadParameter("expected a JSON object like {\"key\": value}")
    return value


def _console() -> Console:
    return Console(stderr=True, highlight=False)


def drive_run(db: Database, run_id: str, console: Console) -> RunReport:
    """Execute a run in a worker thread; the main thread draws progress and takes signals."""
    stop = threading.Event()
    reason = {"status": "interrupted", "presses": 0}
    progress = Progress()
    outcome: dict[str, Any] = {}

    def on_signal(signum: int, _frame: object) -> None:
        reason["presses"] += 1
        if reason["presses"] >= 3:
            console.print("[red]stopping immediately; received results are in the journal (resume keeps them)")
            os._exit(130)
        reason["status"] = "cancelled" if signum == signal.SIGTERM else "interrupted"
        if not stop.is_set():
            console.print(f"[yellow]{'cancel' if signum == signal.SIGTERM else 'interrupt'} received: finishing "
                          "writes and stopping (press Ctrl-C twice more to quit at once)")
        stop.set()

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}

    def work() -> None:
        try:
            outcome["report"] = execute_run(db, run_id, stop=stop, stop_reason=lambda: reason["status"],
                                            progress=progress)
        except BaseException as exc:  # handed to the main thread, which reports it
            outcome["error"] = exc

    worker = threading.Thread(target=work, name="vton-run")
    worker.start()
    try:
        watch(progress, worker, console, on_tick=lambda: None)
    finally:
        for s, h in previous.items():
            signal.signal(s, h)
    if "error" in outcome:
        raise outcome["error"]
    return outcome["report"]


def print_report(db: Database, report: RunReport, console: Console) -> None:
    summary = run_summary(db, report.run_id)
    console.print(summary_table(summary))
    kinds = kinds_table(summary)
    if kinds is not None:
        console.print(kinds)
    total = summary["total"]
    colour = {"finished": "green", "failed": "red"}.get(report.status, "yellow")
    console.print(f"[{colour}]run {report.run_id} {report.status}[/]: {total['cases']} of {report.progress.total} "
                  f"cases recorded, {total['ok']} ok, {total['errors']} errors; {report.sent} requests sent")
    if report.message:
        console.print(f"  {escape(report.message)}")
    if report.status in ("interrupted", "cancelled", "failed"):
        console.print(f"  finish it with: vton-eval resume {report.run_id}" + (f" --db {db.path}" if db.path.name !=
                      "results.duckdb" else ""))
    console.print(f"  results in {db.path}")


@click.command("run")
@click.option("--dataset", required=True, metavar="PATH", help="Dataset folder (or its manifest.csv).")
@click.option("--endpoint", required=True, metavar="URL|SPACE", help="http(s) URL or Space id (owner/name).")
@click.option("--workflows", default=None, metavar="LIST", help="Only these workflows, e.g. top,dress.")
@click.option("--pairs", default=None, metavar="IDS", help="Only these pair ids, comma-separated.")
@click.option("--tags", default=None, metavar="TAGS", help="Only pairs with any of these tags, ';'-separated.")
@click.option("--concurrency", default=4, show_default=True, type=int, help="Calls in flight at once.")
@click.option("--rate-limit", default=None, metavar="N/WINDOW",
              help="Never send more than N calls in any window: 30/h, 10/min, 2/s.")
@click.option("--repeats", default=1, show_default=True, type=int, help="Times each pair is sent.")
@click.option("--retries", default=2, show_default=True, type=int, help="Retries for transient errors.")
@click.option("--timeout", "timeout_s", default=300.0, show_default=True, type=float, help="Seconds per call.")
@click.option("--label", default=None, help="A name for the run, e.g. the model version (v1.3).")
@click.option("--shard", default=None, metavar="K/N", help="Run only the K-th of N deterministic shards.")
@click.option("--skip-bad-rows", is_flag=True, help="Run the valid rows of a manifest that has broken ones.")
@click.option("--checks/--no-checks", default=True, show_default=True, help="Automatic quality checks on outputs.")
@click.option("--check-thresholds", default=None, metavar="JSON|FILE",
              help='Override check thresholds, e.g. \'{"preservation.max_changed_share": 0.2}\' or a JSON file.')
@click.option("--detach", is_flag=True, hidden=True, help="Print the run id at once (used by the dashboard).")
@click.option("--gate", "with_gate", is_flag=True,
              help="After the run, gate it against the baseline; exit with the gate's code (0/1/2).")
@gate_options
@db_option
def run_command(dataset: str, endpoint: str, workflows: str | None, pairs: str | None, tags: str | None,
                concurrency: int, rate_limit: str | None, repeats: int, retries: int, timeout_s: float,
                label: str | None, shard: str | None, skip_bad_rows: bool, checks: bool, check_thresholds: str | None,
                detach: bool, with_gate: bool, db_path: str | None, **gate_settings: Any) -> None:
    """Send every case of a dataset to an endpoint and record the outcomes."""
    console = _console()
    db = Database(db_path)
    settings = RunSettings(
        dataset=dataset, endpoint=endpoint, workflows=parse_list(workflows), pairs=parse_list(pairs),
        tags=parse_list(tags, sep=";"), concurrency=concurrency, rate_limit=rate_limit, repeats=repeats,
        retries=retries, timeout_s=timeout_s, label=label, shard=shard, skip_bad_rows=skip_bad_rows,
        checks=checks, check_thresholds=load_json_option(check_thresholds),
    )
    try:
        run_id = create_run(db, settings)
    except (RunError, DatasetError, DatabaseBusy) as exc:
        raise click.ClickException(str(exc)) from None
    print(run_id if detach else f"run {run_id}: dataset {dataset} -> {settings.endpoint}", flush=True)
    report = _execute(db, run_id, console)
    if with_gate:
        if report.status != "finished":
            console.print(f"[red]not gating: the run is {report.status}")
            sys.exit(2)
        sys.exit(run_gate_from_options(db, run_id, Console(highlight=False, width=160), **gate_settings))
    sys.exit(EXIT_BY_STATUS.get(report.status, 1))


def _execute(db: Database, run_id: str, console: Console) -> RunReport:
    try:
        report = drive_run(db, run_id, console)
    except (RunError, DatabaseBusy) as exc:
        raise click.ClickException(str(exc)) from None
    print_report(db, report, console)
    return report


@click.command("resume")
@click.argument("run_id")
@db_option
def resume_command(run_id: str, db_path: str | None) -> None:
    """Finish an interrupted run: send only the cases without a recorded result."""
    console = _console()
    db = Database(db_path)
    full = resolve_run_id(db, run_id)
    if full is None:
        raise click.ClickException(f"no run matches {run_id!r} in {db.path}")
    console.print(f"resuming run {full}")
    report = _execute(db, full, console)
    sys.exit(EXIT_BY_STATUS.get(report.status, 1))


@click.command("cancel")
@click.argument("run_id")
@db_option
def cancel_command(run_id: str, db_path: str | None) -> None:
    """Ask a running run (on this machine) to stop; its status becomes 'cancelled'."""
    db = Database(db_path)
    full = resolve_run_id(db, run_id)
    run = get_run(db, full) if full else None
    if run is None:
        raise click.ClickException(f"no run matches {run_id!r} in {db.path}")
    if run["status"] != "running" or not process_alive(run.get("pid"), run.get("host")):
        raise click.ClickException(f"run {full} is not running (status {run['status']})")
    os.kill(run["pid"], signal.SIGTERM)
    click.echo(f"asked run {full} (process {run['pid']}) to stop")


def _jsonable(run: dict[str, Any]) -> dict[str, Any]:
    return {k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in run.items() if k != "settings"}


@click.command("runs")
@click.option("--json", "as_json", is_flag=True, help="Print JSON (one array) instead of a table.")
@click.option("--limit", default=50, show_default=True, type=int)
@click.option("--kind", type=click.Choice(["suite", "try", "all"]), default="all", show_default=True,
              help="Suite runs, single-pair tries (from the dashboard's Runs page), or both.")
@db_option
def runs_command(as_json: bool, limit: int, kind: str, db_path: str | None) -> None:
    """List recorded runs, newest first."""
    db = Database(db_path)
    try:
        runs = list_runs(db, limit=limit, kind=None if kind == "all" else kind)
    except DatabaseBusy as exc:
        raise click.ClickException(str(exc)) from None
    if as_json:
        click.echo(json.dumps([_jsonable(r) for r in runs], indent=2))
        return
    if not runs:
        click.echo(f"no runs in {db.path} yet (start one with `vton-eval run`)")
        return
    console = Console(highlight=False)
    if console.width >= TABLE_MIN_WIDTH:
        console.print(runs_table(runs))
        return
    for r in runs:  # a narrow terminal: two lines a run, the id first and whole
        console.print(f"{r['run_id']}  {r['status']}  {r['done']}/{r['total_cases']}  ok {r['ok']}  "
                      f"errors {r['errors']}  {_duration(r)}", soft_wrap=True)
        console.print(f"  {escape(r['label'] or '(no label)')} · {r.get('kind') or 'suite'} · {escape(r['dataset'])} "
                      f"· {escape(r['endpoint'])}")


TABLE_MIN_WIDTH = 120  # narrower, the table's columns fold into unreadable slivers


def _duration(run: dict[str, Any]) -> str:
    return f"{run['duration_s']:.0f} s" if run["duration_s"] is not None else "-"


def runs_table(runs: list[dict[str, Any]]) -> Table:
    """The `runs` table. A run id is what people copy into the next command: it is never cut or wrapped
    (the other columns fold instead)."""
    table = Table()
    widest = max(len(r["run_id"]) for r in runs)
    table.add_column("run", no_wrap=True, min_width=widest, overflow="ignore")
    for name in ("kind", "label", "status", "dataset", "endpoint", "progress", "ok", "errors", "duration"):
        table.add_column(name, overflow="fold")
    for r in runs:
        table.add_row(r["run_id"], r.get("kind") or "suite", escape(r["label"] or ""), r["status"],
                      escape(r["dataset"]), escape(r["endpoint"]), f"{r['done']}/{r['total_cases']}", str(r["ok"]),
                      str(r["errors"]), _duration(r))
    return table


COMMANDS = [run_command, resume_command, cancel_command, runs_command]
