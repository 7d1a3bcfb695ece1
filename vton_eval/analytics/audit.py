"""Reading the audit trail: who did what to which run, and what was refused, newest first."""

from __future__ import annotations

from typing import Any

from vton_eval.store.base import Store
from vton_eval.store.reads import reading


def audit_log(db: Store, run_id: str | None = None, actor: str | None = None, action: str | None = None,
              limit: int = 200) -> list[dict[str, Any]]:
    """Audit rows (acted_at, actor, identity, role, action, outcome, run_id, subject, detail), newest first."""
    where, params = [], []
    for column, value in (("run_id", run_id), ("actor", actor), ("action", action)):
        if value:
            where.append(f"{column} = ?")
            params.append(value)
    sql = ("SELECT acted_at, actor, identity, role, action, outcome, run_id, subject, detail FROM audit"
           + (" WHERE " + " AND ".join(where) if where else "") + f" ORDER BY acted_at DESC LIMIT {int(limit)}")
    with reading(db) as read:
        return read.rows(sql, params)


def run_acts(db: Store, run_id: str) -> list[dict[str, Any]]:
    """What people did to one run (launched, resumed, cancelled, blessed), oldest first: the Runs page's line."""
    with reading(db) as read:
        return read.rows("SELECT acted_at, actor, action FROM audit WHERE run_id = ? AND outcome = 'done' "
                         "AND action IN ('launch', 'resume', 'cancel', 'bless', 'try') ORDER BY acted_at", [run_id])
