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
from rich.table import Table

from vton_eval import access, run_process
from vton_eval.analytics.runs import planned_summary, run_summary
from vton_eval.cli import tokens
from vton_eval.cli.gate_cmd import gate_options, run_gate_from_options
from vton_eval.cli.progress_view import kinds_table, summary_table, watch
from vton_eval.cli.term import counted, one_line, plain, safe
from vton_eval.errors import InvalidValue, VtonEvalError
from vton_eval.quota_ledger import quota_outlook
from vton_eval.run_process import process_alive
from vton_eval.runner import Progress, RunReport, RunSettings, create_run, execute_run
from vton_eval.runner.create import RunStopped
from vton_eval.runner.plan import parse_list
from vton_eval.runner.settings import DEFAULT_PATIENCE_S, parse_duration
from vton_eval.secrets import FROM_ENVIRONMENT, get_token
from vton_eval.services.profiles import BUILT_IN, DEFAULT_PROFILE
from vton_eval.store import DatabaseBusy, Store, open_store, resolve_location
from vton_eval.store.runs import get_run, list_runs, resolve_run_id

EXIT_BY_STATUS = {"finished": 0, "interrupted": 130, "cancelled": 3, "failed": 1}

db_option = click.option("--db", "db_path", default=None, metavar="PATH",
                         help="Database file or shared store URL (default: $VTON_EVAL_DB or ./results.duckdb).")
access_option = click.option(
    "--access", "access_file", default=None, type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help=f"Roles file whose [token] rules decide where HF_TOKEN goes (default: ${access.ACCESS_ENV}, else "
         f"{access.DEFAULT_ACCESS_FILE} when it exists; with none, the token goes to the endpoint named).")


def token_for(endpoint: str, access_file: Path | None, console: Console, db: Store | None = None,
              action: access.Action = access.Action.LAUNCH, run_id: str | None = None) -> str | None:
    """HF_TOKEN as the roles file's token rules allow it for `endpoint` (said on the terminal when withheld)."""
    rules = tokens.command_line_rules(access_file)
    token, note = tokens.command_line_token(endpoint, get_token(), rules, db, access.local_actor(via="cli"),
                                                 action, run_id)
    if note:
        console.print(f"[yellow]{safe(note)}")
    return token


def load_json_option(text: str | None) -> dict | None:
    """A JSON object given inline or as a file path."""
    if not text:
        return None
    source = Path(text).read_text(encoding="utf-8") if Path(text).is_file() else text
    try:
        value = json.loads(source)
    except json.JSONDecodeError as exc:
        raise click.BadParameter(f"not valid JSON ({exc.msg} at position {exc.pos})") from None
    except RecursionError:
        raise click.BadParameter("not usable JSON: it is nested too deeply") from None
    if not isinstance(value, dict):
        raise click.BadParameter("expected a JSON object like {\"key\": value}")
    return value


def _console() -> Console:
    # Into a log (CI, the dashboard's log view) a line is not broken at 80 columns: its reader's viewer wraps it.
    return Console(stderr=True, highlight=False, soft_wrap=not sys.stderr.isatty())


class StopSignals:
    """Ctrl-C (SIGINT) stops a run as 'interrupted', SIGTERM as 'cancelled'; a third signal quits at once.

    Installed before the run is even created, and takes over a Ctrl-C that came while the program
    was still starting (see `vton_eval.entry`), so no signal is lost.
    """

    def __init__(self, console: Console) -> None:
        self.console = console
        self.stop = threading.Event()
        self.status = "interrupted"
        self.presses = 0
        self._previous: dict[int, Any] = {}

    def __enter__(self) -> StopSignals:
        from vton_eval.entry import early_signal

        self._previous = {s: signal.signal(s, self._on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
        early = early_signal()
        if early is not None:
            self._on_signal(early, None)
        return self

    def __exit__(self, *exc: object) -> None:
        for s, h in self._previous.items():
            signal.signal(s, h)

    def _on_signal(self, signum: int, _frame: object) -> None:
        self.presses += 1
        if self.presses >= 3:
            self.console.print("[red]stopping immediately; received results are in the journal (resume keeps them)")
            os._exit(130)
        self.status = "cancelled" if signum == signal.SIGTERM else "interrupted"
        if not self.stop.is_set() and signum == signal.SIGTERM:
            # A cancel comes from the Runs page or `vton-eval cancel`: whoever reads this log pressed no key.
            self.console.print("[yellow]cancel requested: no new calls are sent; writing what was received and "
                               "stopping (resume the run to send the rest)")
        elif not self.stop.is_set():
            self.console.print("[yellow]interrupt received: finishing writes and stopping (press Ctrl-C twice more to "
                               "quit at once)")
        self.stop.set()


def drive_run(db: Store, run_id: str, console: Console, signals: StopSignals | None = None,
              token: object = FROM_ENVIRONMENT) -> RunReport:
    """Execute a run in a worker thread; the main thread draws progress and takes signals. `token`: what the
    run sends (default: HF_TOKEN of this process's environment)."""
    if signals is None:
        with StopSignals(console) as own:
            return drive_run(db, run_id, console, own, token)
    progress = Progress()
    outcome: dict[str, Any] = {}

    def work() -> None:
        try:
            outcome["report"] = execute_run(db, run_id, stop=signals.stop, stop_reason=lambda: signals.status,
                                            progress=progress, token=token)
        except BaseException as exc:  # handed to the main thread, which reports it
            outcome["error"] = exc

    worker = threading.Thread(target=work, name="vton-run")
    worker.start()
    watch(progress, worker, console, on_tick=lambda: None)
    if "error" in outcome:
        raise outcome["error"]
    return outcome["report"]


def print_report(db: Store, report: RunReport, console: Console) -> None:
    summary = run_summary(db, report.run_id)
    console.print(summary_table(summary))
    kinds = kinds_table(summary)
    if kinds is not None:
        console.print(kinds)
    total = summary["total"]
    colour = {"finished": "green", "failed": "red"}.get(report.status, "yellow")
    console.print(f"[{colour}]run {report.run_id} {report.status}[/]: {total['cases']:,} of "
                  f"{counted(report.progress.total, 'case')} recorded, {total['ok']:,} ok, "
                  f"{counted(total['errors'], 'error')}; {counted(report.sent, 'request')} sent")
    if report.message:
        console.print(f"  {safe(report.message)}")
    if report.status in ("interrupted", "cancelled", "failed"):
        where = "" if db.location == resolve_location() else f" --db {db.location}"
        console.print(f"  finish it with: vton-eval resume {report.run_id}{where}")
    console.print(f"  results in {safe(db.location)}")


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
@click.option("--profile", default=DEFAULT_PROFILE, show_default=True, metavar="NAME|FILE.toml",
              help=f"How cases become calls of the endpoint: a built-in profile ({', '.join(BUILT_IN)}) or a TOML "
                   "file (see `vton-eval endpoints inspect`).")
@click.option("--patience", "patience", default=f"{DEFAULT_PATIENCE_S:g}", show_default=True, metavar="SECONDS|15m|2h",
              help="The longest wait a service may ask for (quota: 'retry in 0:09:48') that the run sits out; a "
                   "longer one ends the run interrupted, to resume later.")
@click.option("--gate", "with_gate", is_flag=True,
              help="After the run, gate it against the baseline; exit with the gate's code (0/1/2).")
@gate_options
@db_option
@access_option
def run_command(dataset: str, endpoint: str, workflows: str | None, pairs: str | None, tags: str | None,
                concurrency: int, rate_limit: str | None, repeats: int, retries: int, timeout_s: float,
                label: str | None, shard: str | None, skip_bad_rows: bool, checks: bool, check_thresholds: str | None,
                profile: str, patience: str, with_gate: bool, db_path: str | None, access_file: Path | None,
                **gate_settings: Any) -> None:
    """Send every case of a dataset to an endpoint and record the outcomes."""
    console = _console()
    db = open_store(db_path)
    try:
        patience_s = parse_duration(patience)
    except InvalidValue as exc:
        raise click.BadParameter(str(exc), param_hint="--patience") from None
    settings = RunSettings(
        dataset=dataset, endpoint=endpoint, workflows=parse_list(workflows), pairs=parse_list(pairs),
        tags=parse_list(tags, sep=";"), concurrency=concurrency, rate_limit=rate_limit, repeats=repeats,
        retries=retries, timeout_s=timeout_s, label=label, shard=shard, skip_bad_rows=skip_bad_rows,
        checks=checks, check_thresholds=load_json_option(check_thresholds), profile=profile, patience_s=patience_s,
    )
    token = token_for(endpoint, access_file, console, db)  # refused here, before anything is recorded
    with StopSignals(console) as signals:
        if signals.stop.is_set():
            console.print("interrupted before the run started; nothing was recorded")
            sys.exit(EXIT_BY_STATUS[signals.status])
        try:
            run_id = create_run(db, settings, stop=signals.stop,
                                on_note=lambda text: console.print(f"[dim]{safe(text)}"), token=token)
        except RunStopped:
            console.print("interrupted before the run started; nothing was recorded")
            sys.exit(EXIT_BY_STATUS[signals.status])
        _audit(db, "launch", run_id, {"endpoint": settings.endpoint, "profile": settings.profile})
        print(f"run {run_id}: dataset {plain(dataset)} -> {plain(settings.endpoint)} (profile "
              f"{plain(settings.profile)})", flush=True)
        print_plan(db, run_id, console)
        print_quota(db, run_id, console)
        report = _execute(db, run_id, console, signals, token)
    if with_gate:
        if report.status != "finished":
            console.print(f"[red]not gating: the run is {report.status}")
            sys.exit(2)
        sys.exit(run_gate_from_options(db, run_id, Console(highlight=False, width=160), **gate_settings))
    sys.exit(EXIT_BY_STATUS.get(report.status, 1))


def print_quota(db: Store, run_id: str, console: Console) -> None:
    """Before the first call: what the quota ledger holds for the endpoint from this machine, and how long
    the next call must wait (a rate-limited run always says it; any run when a service asked for a wait)."""
    run = get_run(db, run_id) or {}
    try:
        ahead = quota_outlook(db, run.get("endpoint") or "", run.get("rate_limit") or None)
    except VtonEvalError:
        return
    if ahead.rate is not None or ahead.wait_s > 0:
        colour = "yellow" if ahead.wait_s > 0 else "dim"
        console.print(f"[{colour}]quota: {safe(ahead.describe())}")


def print_plan(db: Store, run_id: str, console: Console) -> None:
    """Up front: the cases that will not be sent (and why), and what is sent differently from the dataset."""
    plan = planned_summary(db, run_id)
    for reason, n in plan["refused"][:8]:
        console.print(f"[yellow]{n} of {plan['cases']} case(s) not sent[/] (recorded invalid_input): {safe(reason)}")
    for note, n in plan["notes"][:8]:
        console.print(f"[dim]{n} case(s) sent differently: {safe(note)}")


def _audit(db: Store, action: str, run_id: str, detail: dict[str, Any] | None = None) -> None:
    """The audit trail names the person at the terminal (unverified: whoever runs the command)."""
    actor = access.local_actor(via="cli")
    db.write(lambda w: access.record(w, actor, action, run_id, detail=detail))


def _execute(db: Store, run_id: str, console: Console, signals: StopSignals, token: str | None) -> RunReport:
    report = drive_run(db, run_id, console, signals, token)
    print_report(db, report, console)
    return report


@click.command("resume")
@click.argument("run_id")
@db_option
@access_option
# The dashboard starts its runs as `resume --audited`: it has recorded who launched or resumed them.
@click.option("--audited", is_flag=True, hidden=True)
def resume_command(run_id: str, db_path: str | None, access_file: Path | None, audited: bool) -> None:
    """Finish an interrupted run: send only the cases without a recorded result."""
    console = _console()
    # Signals first: a Cancel that comes while the store is being opened (seconds, for a shared one) stops
    # the run as cancelled instead of killing the process with its run left "running".
    with StopSignals(console) as signals:
        db = open_store(db_path)
        full = resolve_run_id(db, run_id)
        if full is None:
            raise click.ClickException(f"no run matches {run_id!r} in {db.location}")
        run = get_run(db, full) or {}
        token = token_for(run.get("endpoint") or "", access_file, console, db, access.Action.RESUME, full)
        if not audited:
            _audit(db, "resume", full)
        console.print(_resume_line(full, run))
        print_quota(db, full, console)
        report = _execute(db, full, console, signals, token)
    sys.exit(EXIT_BY_STATUS.get(report.status, 1))


def _resume_line(run_id: str, run: dict[str, Any]) -> str:
    """What a run's process says first: "starting" for a run launched from the dashboard (nothing recorded yet,
    the dashboard spawns it through `resume`), "resuming" with what is left for one that stopped."""
    where = f"{safe(run.get('endpoint') or '')}, profile {safe(run.get('profile') or 'sm4ll')}"
    done, total = int(run.get("done") or 0), int(run.get("total_cases") or 0)
    if done == 0:
        return f"starting run {run_id} ({where}): {counted(total, 'case')} to send"
    return f"resuming run {run_id} ({where}): {done:,} of {counted(total, 'case')} already recorded, sending the rest"


@click.command("cancel")
@click.argument("run_id")
@db_option
def cancel_command(run_id: str, db_path: str | None) -> None:
    """Ask a running run (on this machine) to stop; its status becomes 'cancelled'."""
    db = open_store(db_path)
    full = resolve_run_id(db, run_id)
    run = get_run(db, full) if full else None
    if run is None:
        raise click.ClickException(f"no run matches {run_id!r} in {db.location}")
    if run["status"] != "running" or not process_alive(run.get("pid"), run.get("host")):
        raise click.ClickException(f"run {full} is not running (status {run['status']})")
    pid = run_process.stop(db.artifacts.root, run)  # the run's own process, or an error saying why not
    _audit(db, "cancel", full)
    click.echo(f"asked run {full} (process {pid}) to stop")


def _jsonable(run: dict[str, Any]) -> dict[str, Any]:
    return {k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in run.items()
            if k not in ("settings", "profile_text")}


@click.command("runs")
@click.option("--json", "as_json", is_flag=True, help="Print JSON (one array) instead of a table.")
@click.option("--limit", default=50, show_default=True, type=int, help="At most this many runs, newest first.")
@click.option("--kind", type=click.Choice(["suite", "try", "all"]), default="suite", show_default=True,
              help="Suite runs, single-pair tries (from the dashboard's Runs page), or both. Tries are left out "
                   "by default, as everywhere else.")
@db_option
def runs_command(as_json: bool, limit: int, kind: str, db_path: str | None) -> None:
    """List recorded runs, newest first."""
    db = open_store(db_path)
    try:
        runs = list_runs(db, limit=limit, kind=None if kind == "all" else kind)
    except DatabaseBusy as exc:
        raise click.ClickException(str(exc)) from None
    if as_json:
        click.echo(json.dumps([_jsonable(r) for r in runs], indent=2))
        return
    if not runs:
        what = {"suite": "suite runs", "try": "tries"}.get(kind, "runs")
        hint = "; tries of one pair: --kind try" if kind == "suite" else ""
        click.echo(f"no {what} in {plain(db.location)} yet (start one with `vton-eval run`{hint})")
        return
    console = Console(highlight=False)
    if console.width >= TABLE_MIN_WIDTH:
        console.print(runs_table(runs))
        return
    for r in runs:  # a narrow terminal: two lines a run, the id first and whole
        console.print(f"{r['run_id']}  {r['status']}  {r['done']}/{r['total_cases']}  ok {r['ok']}  "
                      f"errors {r['errors']}  {_duration(r)}", soft_wrap=True)
        console.print(f"  {one_line(r['label'] or '(no label)')} · {r.get('kind') or 'suite'} · "
                      f"{one_line(r['dataset'])} · {one_line(r['endpoint'])} · {one_line(r.get('profile') or '')}")


TABLE_MIN_WIDTH = 120  # narrower, the table's columns fold into unreadable slivers


def _duration(run: dict[str, Any]) -> str:
    return f"{run['duration_s']:.0f} s" if run["duration_s"] is not None else "-"


def runs_table(runs: list[dict[str, Any]]) -> Table:
    """The `runs` table. A run id is what people copy into the next command: it is never cut or wrapped
    (the other columns fold instead)."""
    table = Table()
    widest = max(len(r["run_id"]) for r in runs)
    table.add_column("run", no_wrap=True, min_width=widest, overflow="ignore")
    for name in ("kind", "label", "status", "dataset", "endpoint", "profile", "progress", "ok", "errors", "duration"):
        table.add_column(name, overflow="fold")
    for r in runs:
        table.add_row(r["run_id"], r.get("kind") or "suite", one_line(r["label"] or ""), r["status"],
                      one_line(r["dataset"]), one_line(r["endpoint"]), one_line(r.get("profile") or ""),
                      f"{r['done']}/{r['total_cases']}", str(r["ok"]), str(r["errors"]), _duration(r))
    return table


COMMANDS = [run_command, resume_command, cancel_command, runs_command]
