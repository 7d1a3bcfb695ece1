"""`vton-eval quota`: what the quota ledger holds for an endpoint from this machine, and how to clear a wait."""

from __future__ import annotations

import click
from rich.console import Console

from vton_eval.cli.run_cmd import db_option
from vton_eval.cli.term import safe
from vton_eval.errors import VtonEvalError
from vton_eval.quota_ledger import QUOTA_KEY_ENV, forget_holds, known_quota, quota_key, quota_outlook
from vton_eval.store import open_store


@click.command("quota")
@click.argument("endpoint")
@click.option("--rate-limit", default=None, metavar="N/WINDOW",
              help="The quota to measure against (default: the one the endpoint's latest run declared, or the one "
                   "its service documents).")
@click.option("--clear-holds", is_flag=True,
              help="Forget the waits the service asked for (when you know its quota is back: a new token, a paid "
                   "plan); the calls already made still count.")
@db_option
def quota_command(endpoint: str, rate_limit: str | None, clear_holds: bool, db_path: str | None) -> None:
    """Say how long the next call to ENDPOINT must wait, and why (the calls and waits the ledger holds)."""
    db = open_store(db_path)
    console = Console(highlight=False)
    try:
        if clear_holds:
            dropped = forget_holds(db, endpoint)
            console.print(f"forgot {dropped} wait(s) the service asked for")
        rate = rate_limit or known_quota(db, endpoint)
        ahead = quota_outlook(db, endpoint, rate)
    except VtonEvalError as exc:
        raise click.ClickException(str(exc)) from None
    console.print(f"quota key of this machine: {safe(quota_key())} (set {QUOTA_KEY_ENV} to share one with the "
                  "machines that reach the service from the same address)")
    console.print(safe(ahead.describe()))


COMMANDS = [quota_command]
