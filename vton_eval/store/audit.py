"""Writing the audit trail: one row per act of a person (or a refusal of one), appended, never changed.

Who launched, cancelled, resumed, tried, blessed; who gave, replaced or cleared a verdict or a pick;
and what was refused to whom. The acting function writes its row in the same transaction as the act
when the act is a write (a verdict, a blessing), so one is never stored without the other.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from vton_eval.store.base import Writer

AUDIT_COLUMNS = ("acted_at", "actor", "identity", "role", "action", "outcome", "run_id", "subject", "detail",
                 "tool_version")
DONE, REFUSED = "done", "refused"


@dataclass(frozen=True)
class AuditEntry:
    acted_at: dt.datetime
    actor: str
    identity: str | None
    role: str | None
    action: str
    outcome: str
    run_id: str | None = None
    subject: str | None = None
    detail: str | None = None
    tool_version: str | None = None


def record(w: Writer, entry: AuditEntry) -> None:
    """Append one row (a plain insert: rows have no key, and a retried transaction is all or nothing)."""
    w.execute(f"INSERT INTO audit ({', '.join(AUDIT_COLUMNS)}) VALUES ({', '.join('?' for _ in AUDIT_COLUMNS)})",
              [getattr(entry, c) for c in AUDIT_COLUMNS])
