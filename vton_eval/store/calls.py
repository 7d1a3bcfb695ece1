"""The quota ledger's tables: the calls sent to an endpoint (`endpoint_calls`) and the waits a service asked
for (`endpoint_holds`), per quota key. What the ledger means and who honours it: `vton_eval.quota_ledger`.

A reservation reads the window and inserts the call in one transaction under the `quota` lock (on a shared
store, two machines reserving at once conflict and one runs again, seeing the other's call), so two runs
never both take the last place in a window.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from vton_eval.store.base import Writer

CALL_COLUMNS = ("call_id", "endpoint", "quota_key", "run_id", "host", "pid", "sent_at", "ends_by", "ended_at")


@dataclass(frozen=True)
class Occupant:
    """A call that holds a place in the window: until `frees_at` (its end plus the window) at the latest."""

    run_id: str | None
    sent_at: dt.datetime
    ended_at: dt.datetime | None
    ends_by: dt.datetime

    @property
    def in_flight(self) -> bool:
        return self.ended_at is None


@dataclass(frozen=True)
class Hold:
    asked_at: dt.datetime
    until: dt.datetime
    run_id: str | None
    reason: str | None


@dataclass(frozen=True)
class Window:
    """What the ledger says about one endpoint and key at `now`."""

    now: dt.datetime
    occupants: list[Occupant]  # calls in flight or ended less than a window ago, oldest end first
    hold: Hold | None  # the latest wait a service asked for that has not passed


def _end(o: Occupant) -> dt.datetime:
    return o.ended_at if o.ended_at is not None else o.ends_by


def read_window(r: Any, endpoint: str, key: str, window_s: float, now: dt.datetime) -> Window:
    """The calls that occupy the window before `now` (a Writer inside a reservation, or a Reader)."""
    since = now - dt.timedelta(seconds=window_s)
    rows = r.rows("""
        SELECT run_id, sent_at, ended_at, ends_by FROM endpoint_calls
        WHERE endpoint = ? AND quota_key = ? AND coalesce(ended_at, ends_by) > ?""", [endpoint, key, since])
    occupants = sorted((Occupant(x["run_id"], x["sent_at"], x["ended_at"], x["ends_by"]) for x in rows), key=_end)
    holds = r.rows("""
        SELECT asked_at, until, run_id, reason FROM endpoint_holds
        WHERE endpoint = ? AND quota_key = ? AND until > ? ORDER BY until DESC LIMIT 1""", [endpoint, key, now])
    hold = Hold(**holds[0]) if holds else None
    return Window(now, occupants, hold)


class Refused(Exception):  # noqa: N818 (not an error: the window had no room; the transaction rolls back)
    """Raised inside a reservation that found no room, so the store rolls it back (on a shared store, a
    refused reservation leaves no snapshot behind); carries the window that refused it."""

    def __init__(self, window: Window) -> None:
        super().__init__("no room in the window")
        self.window = window


def reserve(w: Writer, endpoint: str, key: str, count: int | None, window_s: float, call: dict[str, Any]) -> None:
    """Insert `call` if the window has room for it (fewer than `count` occupants, no hold; `count` None: only
    no hold); raise Refused with the window otherwise."""
    w.lock("quota")
    window = read_window(w, endpoint, key, window_s, call["sent_at"])
    if window.hold is not None or (count is not None and len(window.occupants) >= count):
        raise Refused(window)
    insert_calls(w, [call])


def insert_calls(w: Writer, calls: Sequence[dict[str, Any]]) -> None:
    """New calls (a call id is new by construction: a uuid; a rolled-back transaction inserted nothing)."""
    if not calls:
        return
    row = "(" + ", ".join("?" for _ in CALL_COLUMNS) + ")"
    w.execute(f"INSERT INTO endpoint_calls ({', '.join(CALL_COLUMNS)}) VALUES {', '.join(row for _ in calls)}",
              [c.get(k) for c in calls for k in CALL_COLUMNS])


def end_calls(w: Writer, ended: Sequence[tuple[str, dt.datetime]]) -> None:
    """Date the end of calls already in the ledger."""
    for call_id, at in ended:
        w.execute("UPDATE endpoint_calls SET ended_at = ? WHERE call_id = ? AND ended_at IS NULL", [at, call_id])


def add_hold(w: Writer, endpoint: str, key: str, asked_at: dt.datetime, until: dt.datetime, run_id: str | None,
             reason: str | None) -> None:
    w.execute("INSERT INTO endpoint_holds VALUES (?, ?, ?, ?, ?, ?)", [endpoint, key, asked_at, until, run_id, reason])


def clear_holds(w: Writer, endpoint: str, key: str) -> int:
    """Forget the waits services asked for on (endpoint, key); return how many there were."""
    n = w.scalar("SELECT count(*) FROM endpoint_holds WHERE endpoint = ? AND quota_key = ?", [endpoint, key]) or 0
    w.execute("DELETE FROM endpoint_holds WHERE endpoint = ? AND quota_key = ?", [endpoint, key])
    return int(n)
