"""Blessed baselines: the run a release gate compares against, one per (dataset, endpoint).

Blessing is an explicit act (a person or a pipeline decides "this is what good looks like"), so it
refuses runs that cannot serve as a reference: still running, stopped early, or with no results.
"""

from __future__ import annotations

from typing import Any

from vton_eval import access
from vton_eval.access import Action, Actor
from vton_eval.clock import utcnow
from vton_eval.gate.model import GateError
from vton_eval.store import baselines
from vton_eval.store.base import Store, Writer
from vton_eval.store.reads import reading
from vton_eval.store.runs import get_run, latest_run, resolve_run_id


class BlessError(GateError):
    """The run cannot be blessed; the message says why and what to do."""


def bless(db: Store, run_id: str, actor: Actor) -> dict[str, Any]:
    """Make `run_id` (a unique prefix of one, or 'latest': the newest finished suite run) the baseline of
    its (dataset, endpoint), as `actor` (an operator; the blessing is in the audit trail).

    Replaces a previous blessing for the same pair. Returns the baseline row
    {dataset, endpoint, run_id, blessed_at, previous_run_id}. Raises BlessError, or AccessDenied.
    """
    access.permit(db, actor, Action.BLESS, None if run_id == "latest" else run_id)
    if run_id == "latest":
        full = latest_run(db)
        if full is None:
            raise BlessError(f"no finished suite run in {db.location} to bless ('latest' leaves out single-pair tries "
                             "and runs that failed or were stopped)")
    else:
        full = resolve_run_id(db, run_id)
    run = get_run(db, full) if full else None
    if run is None:
        raise BlessError(f"no run matches {run_id!r} in {db.location}")
    if run["status"] != "finished":
        hint = "wait for it to finish" if run["status"] == "running" else f"resume it (vton-eval resume {full})"
        raise BlessError(f"run {full} is {run['status']}, not finished: only a finished run can be a baseline; {hint}")
    if not run["done"]:
        raise BlessError(f"run {full} has no results: there is nothing to compare against")
    now = utcnow()

    def blessing(w: Writer) -> str | None:
        previous = baselines.bless(w, run["dataset"], run["endpoint"], full, now)
        access.record(w, actor, Action.BLESS.value, full, detail={"dataset": run["dataset"],
                                                                   "endpoint": run["endpoint"], "replaced": previous})
        return previous

    previous = db.write(blessing)
    return {"dataset": run["dataset"], "endpoint": run["endpoint"], "run_id": full, "blessed_at": now,
            "previous_run_id": previous}


def unbless(db: Store, dataset: str, endpoint: str) -> bool:
    """Remove the blessing of (dataset, endpoint); True when there was one."""
    return db.write(lambda w: baselines.unbless(w, dataset, endpoint))


def list_baselines(db: Store) -> list[dict[str, Any]]:
    """Every blessing, newest first, with the blessed run's label, status and dates (None if the
    run was deleted since)."""
    with reading(db) as read:
        return read.rows(
            """SELECT b.dataset, b.endpoint, b.run_id, b.blessed_at, r.label, r.status, r.created_at,
                      r.finished_at, (SELECT count(*) FROM results x WHERE x.run_id = b.run_id) AS results
               FROM baselines b LEFT JOIN runs r USING (run_id)
               ORDER BY b.blessed_at DESC""")
