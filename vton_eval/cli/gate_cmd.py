"""`vton-eval bless`, `baselines`, `gate`, `merge` and `export`: what release pipelines call.

`gate` exits 0 (pass), 1 (regression) or 2 (cannot judge), so a CI step fails on both of the
latter. `run --gate` reuses `gate_options` and `run_gate_from_options` from here.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
from rich.console import Console
from rich.table import Table

from vton_eval.cli.term import one_line, plain
from vton_eval.cli.term import safe as escape
from vton_eval.store import DatabaseBusy, Store, open_store

if TYPE_CHECKING:
    from vton_eval.gate import GateResult, GateThresholds

# The gate, merge and export engines (numpy, pandas) load inside the functions that use them:
# `vton-eval run` imports this module for its --gate options and should start fast.

db_option = click.option("--db", "db_path", default=None, metavar="PATH",
                         help="Database file or shared store URL (default: $VTON_EVAL_DB or ./results.duckdb).")

_GATE_OPTIONS = [
    click.option("--baseline", default="blessed", show_default=True, metavar="RUN_ID|blessed",
                 help="The run to compare with; 'blessed' = the blessed run of the candidate's dataset/endpoint."),
    click.option("--max-error-rate-increase", default=0.02, show_default=True, type=float,
                 help="Allowed error-rate increase (absolute: 0.02 = +2 points)."),
    click.option("--max-p95-increase", default=0.20, show_default=True, type=float,
                 help="Allowed p95 latency increase (relative: 0.20 = +20 %)."),
    click.option("--max-flag-rate-increase", default=0.05, show_default=True, type=float,
                 help="Allowed increase of the share of flagged outputs (absolute)."),
    click.option("--min-cases", default=10, show_default=True, type=int,
                 help="Fewer shared cases: cannot judge (exit 2); in a workflow: its rates are not judged."),
    click.option("--min-ok-calls", default=10, show_default=True, type=int,
                 help="Fewer ok calls in a run's workflow: its p95 is not judged."),
    click.option("--preference", is_flag=True,
                 help="Ask people too: fail when the baseline wins the blind picks between the two runs beyond "
                      "the interval; too few picks: cannot judge (exit 2)."),
    click.option("--min-picks", default=20, show_default=True, type=int,
                 help="With --preference: fewer blind picks between the runs (in a workflow: that workflow's) "
                      "cannot be judged."),
    click.option("--max-preference-loss", default=0.0, show_default=True, type=float,
                 help="With --preference: allowed loss in (candidate share - baseline share) of the picks."),
    click.option("--junit", type=click.Path(dir_okay=False), default=None, help="Write a JUnit XML report here."),
    click.option("--markdown", type=click.Path(dir_okay=False), default=None,
                 help="Write a Markdown report here (thumbnails in <name>_files/ beside it)."),
    click.option("--report-cases", default=10, show_default=True, type=int,
                 help="Cases listed per section of the Markdown report."),
]


def gate_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """Add the gate's options to a click command (used by `gate` and `run --gate`)."""
    for option in reversed(_GATE_OPTIONS):
        func = option(func)
    return func


def gate_table(result: GateResult) -> Table:
    from vton_eval.gate.text import VERDICT_TEXT, change_text, interval_text, threshold_text, value_text

    table = Table(title=f"gate: candidate {result.candidate_id} vs baseline {result.baseline_id} "
                        f"({result.baseline_source})")
    for name in ("workflow", "criterion", "baseline", "candidate", "change", "95 % interval", "allowed", "verdict"):
        table.add_column(name, justify="right" if name in ("baseline", "candidate", "change") else "left")
    colour = {"pass": "green", "regression": "bold red", "not_judged": "dim"}
    for wc in result.workflows:
        for c in wc.criteria:
            table.add_row(escape(wc.workflow), c.name, value_text(c, "baseline"), value_text(c, "candidate"),
                          change_text(c), interval_text(c), threshold_text(c),
                          f"[{colour[c.verdict]}]{VERDICT_TEXT[c.verdict]}[/]")
        table.add_section()
    return table


def print_gate(result: GateResult, console: Console) -> None:
    """The terminal summary: the table, notes on what was not judged, warnings, the verdict line."""
    from vton_eval.gate import CANNOT_JUDGE, PASS

    # Off a terminal (a CI log) a line is never broken: the log viewer wraps it at its own width, and a line cut
    # at a fixed column breaks a phrase (and a run id) in two. On a terminal rich wraps at word boundaries.
    whole = not console.is_terminal
    if result.workflows:
        console.print(gate_table(result))
        for c in result.criteria:
            if c.verdict == "not_judged":
                console.print(f"  [dim]{escape(c.workflow)} {c.name} not judged: {escape(c.reason)}[/]",
                              soft_wrap=whole)
    for w in result.warnings:
        console.print(f"[yellow]warning:[/] {escape(w)}", soft_wrap=whole)
    colour = {PASS: "green", CANNOT_JUDGE: "yellow"}.get(result.verdict, "red")
    console.print(f"[bold {colour}]{escape(result.summary())}[/]", soft_wrap=whole)


def run_gate(db: Store, candidate: str, baseline: str = "blessed", thresholds: GateThresholds | None = None,
             junit: str | None = None, markdown: str | None = None, console: Console | None = None,
             report_cases: int = 10) -> GateResult:
    """Gate, print, write the requested reports; return the result (its exit_code is the CLI's)."""
    from vton_eval.gate import gate, write_junit, write_markdown

    console = console or Console(highlight=False)
    result = gate(db, candidate, baseline, thresholds)
    print_gate(result, console)
    if junit:
        console.print(f"JUnit report: {write_junit(result, junit)}")
    if markdown:
        console.print(f"Markdown report: {write_markdown(result, markdown, db, top_n=report_cases)}")
    return result


def run_gate_from_options(db: Store, candidate: str, console: Console | None = None, **options: Any) -> int:
    """`run_gate` from the keyword arguments `gate_options` adds; return the exit code."""
    from vton_eval.gate import GateThresholds

    try:
        thresholds = GateThresholds(
            max_error_rate_increase=options["max_error_rate_increase"], max_p95_increase=options["max_p95_increase"],
            max_flag_rate_increase=options["max_flag_rate_increase"], min_cases=options["min_cases"],
            min_ok_calls=options["min_ok_calls"], preference=bool(options.get("preference")),
            min_picks=options.get("min_picks", 20), max_preference_loss=options.get("max_preference_loss", 0.0),
        ).validate()
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None  # a usage error exits 2, like cannot judge
    try:
        result = run_gate(db, candidate, options["baseline"], thresholds, options["junit"], options["markdown"],
                          console, options["report_cases"])
    except OSError as exc:
        (console or Console(stderr=True)).print(f"[red]cannot write a report: {escape(str(exc))}")
        return 2
    return result.exit_code


@click.command("gate")
@click.option("--candidate", required=True, metavar="RUN_ID|latest",
              help="The run under test; 'latest' = the newest finished suite run (tries and stopped runs left out).")
@gate_options
@db_option
def gate_command(candidate: str, db_path: str | None, **options: Any) -> None:
    """Compare a run with a baseline; exit 0 pass, 1 regression, 2 cannot judge."""
    # CI logs are not terminals (rich would assume 80 columns and cut the table): print wide there.
    console = Console(highlight=False, width=None if sys.stdout.isatty() else 160)
    sys.exit(run_gate_from_options(open_store(db_path), candidate, console, **options))


def _baselines_table(rows: list[dict[str, Any]]) -> Table:
    """A run id is what people copy into the next command: never cut or wrapped (the other columns fold)."""
    table = Table()
    widest = max(len(r["run_id"]) for r in rows)
    for name in ("dataset", "endpoint", "run", "label", "status", "results", "run finished", "blessed"):
        if name == "run":
            table.add_column(name, no_wrap=True, min_width=widest, overflow="ignore")
        else:
            table.add_column(name, overflow="fold")
    for r in rows:
        table.add_row(escape(r["dataset"]), escape(r["endpoint"]), r["run_id"], escape(r["label"] or ""),
                      r["status"] or "[red]deleted[/]", str(r["results"]),
                      str(r["finished_at"] or "-")[:16], str(r["blessed_at"])[:16])
    return table


def _baseline_lines(rows: list[dict[str, Any]], console: Console) -> None:
    """A narrow terminal: two lines a blessing, the run id first and whole."""
    for r in rows:
        console.print(f"{r['run_id']}  {r['status'] or 'deleted'}  {r['results']} results  blessed "
                      f"{str(r['blessed_at'])[:16]}", soft_wrap=True)
        console.print(f"  {one_line(r['dataset'])} · {one_line(r['endpoint'])} · "
                      f"{one_line(r['label'] or '(no label)')}", soft_wrap=True)


def _show_baselines(db: Store, as_json: bool) -> None:
    from vton_eval.gate import list_baselines

    rows = list_baselines(db)
    if as_json:
        click.echo(json.dumps([{k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in r.items()}
                               for r in rows], indent=2))
    elif not rows:
        click.echo(f"no blessed baseline in {db.location} yet (vton-eval bless RUN_ID)")
    else:
        console = Console(highlight=False)
        if console.width >= BASELINES_MIN_WIDTH:
            console.print(_baselines_table(rows))
        else:
            _baseline_lines(rows, console)


BASELINES_MIN_WIDTH = 100  # narrower, the table's columns fold into slivers


@click.command("bless")
@click.argument("run_id", required=False, metavar="RUN_ID|latest")
@click.option("--list", "show", is_flag=True, help="List the blessed baselines instead.")
@click.option("--json", "as_json", is_flag=True, help="With --list: print JSON.")
@db_option
def bless_command(run_id: str | None, show: bool, as_json: bool, db_path: str | None) -> None:
    """Make a finished run the baseline of its dataset and endpoint (for `gate --baseline blessed`).

    'latest' is the newest finished suite run (single-pair tries and stopped runs are left out)."""
    from vton_eval.access import local_actor
    from vton_eval.gate import BlessError, bless

    db = open_store(db_path)
    if show or not run_id:
        if not show:
            raise click.UsageError("give a RUN_ID to bless, or --list")
        _show_baselines(db, as_json)
        return
    try:
        row = bless(db, run_id, local_actor(via="cli"))
    except (BlessError, DatabaseBusy) as exc:
        raise click.ClickException(str(exc)) from None
    was = f" (replacing {row['previous_run_id']})" if row["previous_run_id"] not in (None, row["run_id"]) else ""
    click.echo(plain(f"blessed run {row['run_id']} as the baseline of dataset {row['dataset']} on "
                     f"{row['endpoint']}{was}"))


@click.command("baselines")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@db_option
def baselines_command(as_json: bool, db_path: str | None) -> None:
    """List the blessed baselines (dataset, endpoint -> run)."""
    _show_baselines(open_store(db_path), as_json)


@click.command("merge")
@click.argument("sources", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False))
@click.option("--into", required=True, type=click.Path(dir_okay=False),
              help="Target database file, or shared store URL (created if needed).")
@click.option("--allow-partial", is_flag=True,
              help="Merge a suite with missing or unfinished shards anyway (the run is marked interrupted).")
def merge_command(sources: tuple[str, ...], into: str, allow_partial: bool) -> None:
    """Join shard databases: the shards of one suite become one run. Prints merged run ids on stdout."""
    from vton_eval.store.merge import MergeError, merge

    err = Console(stderr=True, highlight=False)
    try:
        report = merge(sources, into, allow_partial=allow_partial)
    except (MergeError, DatabaseBusy) as exc:
        raise click.ClickException(str(exc)) from None
    for m in report.merged:
        state = "already there, refreshed" if m.existed else "new"
        err.print(f"run {m.run_id} ({state}, {m.status}) <- {len(m.sources)} shard run(s): {', '.join(m.sources)}")
        if m.message:
            err.print(f"  [yellow]{escape(m.message)}")
    for run_id in report.copied_runs:
        err.print(f"run {run_id} copied as is (not a shard)")
    if report.blessings_added:
        err.print(f"{report.blessings_added} blessing(s) of copied runs carried over")
    for run_id in report.superseded:
        err.print(f"run {run_id} removed: an earlier partial merge of the same shards")
    added = ", ".join(f"{n} {t}" for t, n in report.rows_added.items() if n)
    err.print(f"into {report.target}: {added or 'no new rows'}; {report.files_copied} artifact file(s) copied")
    for m in report.merged:
        click.echo(m.run_id)


@click.command("export")
@click.argument("run_id")
@click.option("--parquet", "directory", required=True, type=click.Path(file_okay=False),
              help="Folder to write run/cases/results/checks/reviews .parquet files into.")
@db_option
def export_command(run_id: str, directory: str, db_path: str | None) -> None:
    """Write a run's tables as Parquet files (readable by DuckDB, pandas, Spark...)."""
    from vton_eval.store.export import ExportError, export_run

    try:
        paths = export_run(open_store(db_path), run_id, Path(directory))
    except (ExportError, DatabaseBusy) as exc:
        raise click.ClickException(str(exc)) from None
    for path in paths.values():
        click.echo(str(path))


COMMANDS = [bless_command, baselines_command, gate_command, merge_command, export_command]
