"""`vton-eval checks ...`: judge a run's outputs again, and see how the checks agree with the reviewers.

`vton-eval checks RUN_ID [--thresholds ...]` (the same as `checks recheck RUN_ID`) recomputes a run's
checks; `checks agreement RUN...` prints each check's agreement with the verdicts; `checks calibrate
RUN... --out FILE` proposes thresholds that match them.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import click

from vton_eval.cli.run_cmd import db_option, load_json_option
from vton_eval.cli.term import plain
from vton_eval.recheck import RecheckError, recheck
from vton_eval.store import DatabaseBusy, open_store
from vton_eval.store.base import Store
from vton_eval.store.runs import resolve_run_id


class _Checks(click.Group):
    """A group whose first argument may be a run id: `checks RUN_ID` means `checks recheck RUN_ID`."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and not args[0].startswith("-"):
            args = ["recheck", *args]
        return super().parse_args(ctx, args)


@click.group("checks", cls=_Checks)
def checks_command() -> None:
    """Recheck a run's outputs (`checks RUN_ID`), or see how the checks agree with the reviewers."""


def _runs(db: Store, run_ids: tuple[str, ...]) -> list[str]:
    full = []
    for run_id in run_ids:
        resolved = resolve_run_id(db, run_id)
        if resolved is None:
            raise click.ClickException(f"no run matches {run_id!r} in {db.location}")
        full.append(resolved)
    return full


@checks_command.command("recheck")
@click.argument("run_id")
@click.option("--thresholds", default=None, metavar="JSON|FILE",
              help='Threshold overrides, e.g. \'{"preservation.max_changed_share": 0.2}\'; kept for the run.')
@db_option
def recheck_command(run_id: str, thresholds: str | None, db_path: str | None) -> None:
    """Judge a run's outputs again with its thresholds (or new ones) and update its results."""
    db = open_store(db_path)
    full = _runs(db, (run_id,))[0]
    try:
        summary = recheck(db, full, load_json_option(thresholds))
    except (RecheckError, DatabaseBusy) as exc:
        raise click.ClickException(str(exc)) from None

    def counts(c: dict[str, int]) -> str:
        return ", ".join(f"{k} {v}" for k, v in sorted(c.items())) or "none"

    click.echo(f"rechecked {summary['checked']} output(s) of run {full}")
    click.echo(f"  before: {counts(summary['before'])}")
    click.echo(f"  after:  {counts(summary['after'])}; {summary['flagged']} flagged")


def _num(value: Any, digits: int = 2) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return f"{value:.{digits}f}"


def _clean(value: Any) -> Any:
    return None if isinstance(value, float) and math.isnan(value) else value


@checks_command.command("agreement")
@click.argument("run_ids", nargs=-1, required=True, metavar="RUN...")
@click.option("--json", "as_json", is_flag=True, help="One JSON object: the table's rows.")
@db_option
def agreement_command(run_ids: tuple[str, ...], as_json: bool, db_path: str | None) -> None:
    """How each check agrees with the reviewers' verdicts (fail = positive): counts, precision, recall,
    Cohen's kappa with its 95 % interval."""
    from vton_eval.analytics.check_agreement import agreement

    db = open_store(db_path)
    full = _runs(db, run_ids)
    table = agreement(db, full)
    rows = [{k: _clean(v) for k, v in row.items()} for row in table.to_dict("records")]
    if as_json:
        click.echo(json.dumps({"runs": full, "checks": rows}, indent=2))
        return
    if not rows:
        click.echo(f"no verdicts on run(s) {', '.join(full)} yet: give some on the Review page")
        return
    click.echo(f"{'check':28} {'cases':>5} {'TP':>4} {'FP':>4} {'FN':>4} {'TN':>4} {'prec.':>6} {'recall':>6} "
               f"{'kappa':>6}  95% interval")
    for row in rows:
        interval = (f"{_num(row['kappa_low'])} .. {_num(row['kappa_high'])}" if row["kappa_low"] is not None
                    else "-")
        click.echo(f"{plain(row['check']):28} {row['cases']:>5} {row['tp']:>4} {row['fp']:>4} {row['fn']:>4} "
                   f"{row['tn']:>4} {_num(row['precision']):>6} {_num(row['recall']):>6} {_num(row['kappa']):>6}  "
                   f"{interval}")


@checks_command.command("calibrate")
@click.argument("run_ids", nargs=-1, required=True, metavar="RUN...")
@click.option("--out", "out_path", required=True, type=click.Path(dir_okay=False),
              help="Where to write the proposed threshold overrides (JSON, for --check-thresholds / --thresholds).")
@click.option("--json", "as_json", is_flag=True, help="Print the proposals as JSON.")
@db_option
def calibrate_command(run_ids: tuple[str, ...], out_path: str, as_json: bool, db_path: str | None) -> None:
    """Propose thresholds that best match the runs' verdicts, with cross-validated agreement; a hard defect
    never loses recall (the report says when a better-agreeing threshold was not taken for that)."""
    from vton_eval.calibration import calibrate
    from vton_eval.checks import Thresholds
    from vton_eval.store.runs import get_run

    db = open_store(db_path)
    full = _runs(db, run_ids)
    first = get_run(db, full[0]) or {}
    try:
        thresholds = Thresholds.from_overrides(first.get("checks_config")) if first.get("checks_config") \
            else Thresholds()
    except ValueError as exc:
        raise click.ClickException(f"run {full[0]}'s thresholds: {exc}") from None
    proposals, overrides = calibrate(db, full, thresholds)
    Path(out_path).write_text(json.dumps(overrides, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    if as_json:
        click.echo(json.dumps({"runs": full, "out": out_path, "overrides": overrides,
                               "proposals": [p.to_dict() for p in proposals]}, indent=2))
        return
    if not proposals:
        click.echo(f"no verdicts on run(s) {', '.join(full)}: nothing to calibrate against; wrote {{}} to {out_path}")
        return
    for p in proposals:
        head = f"{p.workflow:10} {plain(p.check):26} {p.key}: {p.current:g}"
        if p.proposed is None:
            click.echo(f"{head}  (kept) {'; '.join(p.notes)}")
            continue
        click.echo(f"{head} -> {p.proposed:g}  kappa {_num(p.kappa_now)} -> {_num(p.kappa_proposed)} "
                   f"(cross-validated {_num(p.kappa_cv)}), recall {_num(p.recall_now)} -> {_num(p.recall_proposed)}"
                   + (f"  NOTE: {'; '.join(p.notes)}" if p.notes else ""))
    click.echo(f"wrote {sum(len(v) for v in overrides.values())} threshold override(s) to {out_path}; "
               f"apply with `vton-eval checks RUN --thresholds {out_path}`")


COMMANDS = [checks_command]
