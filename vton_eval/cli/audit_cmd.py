"""`vton-eval audit`: the audit trail (who launched, cancelled, resumed, blessed; who gave each verdict)."""

from __future__ import annotations

import json
import sys

import click
from rich.console import Console
from rich.table import Table

from vton_eval.access import AUDIT_ACTIONS
from vton_eval.analytics.audit import audit_log
from vton_eval.cli.term import safe
from vton_eval.store import open_store
from vton_eval.store.runs import resolve_run_id


@click.command("audit")
@click.option("--run", "run_id", default=None, metavar="RUN_ID", help="Only what was done to this run.")
@click.option("--actor", default=None, help="Only what this person did (e-mail, or name).")
@click.option("--action", default=None, type=click.Choice(AUDIT_ACTIONS), help="Only acts of this kind.")
@click.option("--limit", default=200, show_default=True, type=int, help="At most this many entries, newest first.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON lines.")
@click.option("--db", "db_path", default=None, metavar="PATH",
              help="Database (default: $VTON_EVAL_DB or ./results.duckdb).")
def audit_command(run_id: str | None, actor: str | None, action: str | None, limit: int, as_json: bool,
                  db_path: str | None) -> None:
    """Who did what, when, newest first (refused attempts too)."""
    db = open_store(db_path)
    if run_id:
        run_id = resolve_run_id(db, run_id) or run_id
    rows = audit_log(db, run_id, actor, action, limit)
    if as_json:
        for row in rows:
            click.echo(json.dumps(row, default=str))
        return
    if not rows:
        click.echo("nothing in the audit trail matches")
        return
    table = Table(box=None, header_style="bold")
    for name in ("at (UTC)", "actor", "role", "action", "outcome", "run", "subject", "detail"):
        # Times and run ids whole (they are copied into other commands); the rest folds.
        table.add_column(name, no_wrap=name in ("at (UTC)", "run", "action"), overflow="fold")
    for r in rows:
        table.add_row(str(r["acted_at"])[:19], safe(r["actor"]), safe(r["role"] or ""), r["action"], r["outcome"],
                      safe(r["run_id"] or ""), safe(r["subject"] or ""), safe(r["detail"] or ""))
    # A log or a pipe gets wide lines, as `vton-eval gate` does, not an 80-column fold.
    Console(highlight=False, width=None if sys.stdout.isatty() else 200).print(table)


COMMANDS = [audit_command]
