"""`vton-eval checks RUN_ID`: recompute a run's automatic checks (after a threshold change)."""

from __future__ import annotations

import click

from vton_eval.cli.run_cmd import db_option, load_json_option
from vton_eval.recheck import RecheckError, recheck
from vton_eval.store import DatabaseBusy, open_store
from vton_eval.store.runs import resolve_run_id


@click.command("checks")
@click.argument("run_id")
@click.option("--thresholds", default=None, metavar="JSON|FILE",
              help='Threshold overrides, e.g. \'{"preservation.max_changed_share": 0.2}\'; kept for the run.')
@db_option
def checks_command(run_id: str, thresholds: str | None, db_path: str | None) -> None:
    """Judge a run's outputs again with its thresholds (or new ones) and update its results."""
    db = open_store(db_path)
    full = resolve_run_id(db, run_id)
    if full is None:
        raise click.ClickException(f"no run matches {run_id!r} in {db.location}")
    try:
        summary = recheck(db, full, load_json_option(thresholds))
    except (RecheckError, DatabaseBusy) as exc:
        raise click.ClickException(str(exc)) from None

    def counts(c: dict[str, int]) -> str:
        return ", ".join(f"{k} {v}" for k, v in sorted(c.items())) or "none"

    click.echo(f"rechecked {summary['checked']} output(s) of run {full}")
    click.echo(f"  before: {counts(summary['before'])}")
    click.echo(f"  after:  {counts(summary['after'])}; {summary['flagged']} flagged")


COMMANDS = [checks_command]
