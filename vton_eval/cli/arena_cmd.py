"""`vton-eval arena` (the ranking of a dataset's runs from blind picks) and `vton-eval agreement` (do the
reviewers agree, and where do they not)."""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.table import Table

from vton_eval.cli.term import one_line, plain, safe
from vton_eval.store import open_store

_DB = click.option("--db", "db_path", default=None, metavar="PATH",
                   help="Database file or shared store URL (default: $VTON_EVAL_DB or ./results.duckdb).")
_DATASET = click.option("--dataset", default=None, metavar="NAME",
                        help="The dataset whose runs to rank (default: the one with the newest blind pick).")


def _console() -> Console:
    return Console(highlight=False, width=None if sys.stdout.isatty() else 200)


@click.command("arena")
@_DATASET
@click.option("--workflow", default=None, metavar="W", help="Only the picks of this workflow.")
@click.option("--json", "as_json", is_flag=True,
              help="Print a JSON list of {run_id, label, system, score, ci_low, ci_high, picks}, best first.")
@click.option("--by-reviewer", is_flag=True,
              help="Resample reviewers too (two-way bootstrap): wider intervals, for reviewers known to differ.")
@click.option("--picks-csv", type=click.Path(dir_okay=False), default=None,
              help="Also write every blind pick of the dataset, with who gave it, to this CSV file.")
@_DB
def arena_command(dataset: str | None, workflow: str | None, as_json: bool, by_reviewer: bool, picks_csv: str | None,
                  db_path: str | None) -> None:
    """Rank a dataset's runs (any services, any versions) from every blind pick between two of them.

    Scores are Bradley-Terry strengths on a chess-like scale: 1000 is the average run, and a run D points
    above another is expected to take 1/(1+10^(-D/400)) of the picks between them (+100: 64 %), a tie
    counting half. The interval is a 95 % bootstrap over cases (--by-reviewer: and over reviewers)."""
    from vton_eval.arena import leaderboard
    from vton_eval.arena.model import EQUIVALENCE

    db = open_store(db_path)
    board = leaderboard(db, dataset, workflow, by_reviewer=by_reviewer)
    if picks_csv:
        from vton_eval.preferences import export_picks_csv

        Path(picks_csv).write_text(export_picks_csv(db, board.dataset), encoding="utf-8")
    if as_json:
        click.echo(json.dumps(board.json_rows(), indent=2))
        return
    console = _console()
    scope = f"workflow {safe(workflow)}" if workflow else "all workflows"
    if not board.rows:
        console.print(f"dataset {safe(board.dataset)}, {scope}: no blind picks yet")
        return
    table = Table(title=f"arena: dataset {safe(board.dataset)}, {scope}: {board.picks} picks on {board.cases} cases "
                        f"by {board.reviewers} reviewer(s)")
    for name in ("rank", "score", "95 % interval", "picks", "won", "tied", "lost", "label", "system", "run"):
        table.add_column(name, justify="right" if name in ("rank", "score", "picks", "won", "tied", "lost") else "left",
                         no_wrap=name == "run")
    for r in board.rows:
        table.add_row(str(r["rank"]), f"{r['score']:.0f}", f"{r['ci_low']:.0f} to {r['ci_high']:.0f}", str(r["picks"]),
                      str(r["wins"]), str(r["ties"]), str(r["losses"]), one_line(r["label"] or "", 60),
                      one_line(r["system"], 80), r["run_id"])
    console.print(table)
    for n in board.neighbours:
        console.print(f"  {n.upper} vs {n.lower}: {n.gap:+.0f} points ({n.low:+.0f} to {n.high:+.0f}): {n.status}")
    console.print(("[green]" if board.settled else "[yellow]") + safe(board.settled_text()) + "[/]")
    resampled = "cases and reviewers" if board.reviewers_resampled else "cases (--by-reviewer: reviewers too)"
    console.print(f"[dim]95 % intervals: bootstrap over {resampled}; 'alike' means within ±{EQUIVALENCE:.0f} "
                  "points[/]")


def _fmt(value: Any, pct: bool = False) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return f"{value * 100:.0f} %" if pct else f"{value:.2f}"


def _table(title: str, frame: Any, key: str) -> Table:
    table = Table(title=title)
    columns = [key, *(c for c in ("label", "reviewers", "judged", "units", "multi", "at_target", "shared_pairs",
                                  "agreement", "alpha") if c in frame.columns)]
    for c in columns:
        table.add_column(c.replace("_", " "), no_wrap=c == "run_id")
    for row in frame.to_dict("records"):
        table.add_row(*[_fmt(row[c], pct=True) if c == "agreement" else _fmt(row[c]) if c == "alpha"
                        else one_line(row[c] if row[c] is not None else "", 60) for c in columns])
    return table


def _records(frame: Any) -> list[dict[str, Any]]:
    if frame is None or frame.empty:
        return []
    return json.loads(frame.to_json(orient="records", date_format="iso"))


@click.command("agreement")
@_DATASET
@click.option("--queue", is_flag=True, help="List the cases where reviewers disagree that no lead has settled.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@_DB
def agreement_command(dataset: str | None, queue: bool, as_json: bool, db_path: str | None) -> None:
    """How far reviewers agree: Krippendorff's alpha and agreement for verdicts and for blind picks, per run
    and per reviewer; with --queue, the cases where they disagree, for a lead to settle on the Leaderboard page."""
    from vton_eval.agreement import agreement
    from vton_eval.arena.board import resolve_dataset
    from vton_eval.settlements import disagreements
    from vton_eval.store.reads import reading

    db = open_store(db_path)
    with reading(db) as read:
        name = resolve_dataset(read, dataset)
    if queue:
        rows = disagreements(db, name)
        if as_json:
            click.echo(json.dumps(_records(rows), indent=2))
        elif rows.empty:
            click.echo(plain(f"dataset {name}: no open disagreement"))
        else:
            table = Table(title=f"disagreements in dataset {safe(name)}: {len(rows)} to settle")
            for c in ("kind", "run", "case", "workflow", "answers", "strong"):
                table.add_column(c)
            for r in rows.to_dict("records"):
                runs = r["run_a"] + (f" / {r['run_b']}" if r["run_b"] else "")
                table.add_row(r["kind"], runs, safe(f"{r['pair_id']}#{r['repeat']}"), safe(r["workflow"]),
                              one_line(r["answers"], 200), "yes" if r["strong"] else "")
            _console().print(table)
        return
    result = agreement(db, name)
    if as_json:
        click.echo(json.dumps({"dataset": name, "overlap_target": result.overlap,
                               "verdicts": {"overall": result.verdicts_overall, "runs": _records(result.verdict_runs),
                                            "reviewers": _records(result.verdict_reviewers)},
                               "picks": {"overall": result.picks_overall, "runs": _records(result.pick_runs),
                                         "reviewers": _records(result.pick_reviewers)}}, indent=2, default=str))
        return
    console = _console()
    console.print(f"dataset {safe(name)}: overlap target {result.overlap} reviewer(s) per case")
    for what, overall, runs, people in (("verdicts", result.verdicts_overall, result.verdict_runs,
                                         result.verdict_reviewers),
                                        ("picks", result.picks_overall, result.pick_runs, result.pick_reviewers)):
        console.print(f"[bold]{what}[/]: {overall['multi']} of {overall['units']} judged by two or more, "
                      f"{overall['at_target']} at the target; agreement {_fmt(overall['agreement'], pct=True)}, "
                      f"Krippendorff's alpha {_fmt(overall['alpha'])}")
        if not runs.empty:
            console.print(_table(f"{what} per run", runs, "run_id"))
        if not people.empty:
            console.print(_table(f"{what} per reviewer", people, "reviewer"))


COMMANDS = [arena_command, agreement_command]
