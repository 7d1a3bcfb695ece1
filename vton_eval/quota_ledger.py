"""The quota ledger: every call sent to an endpoint is written in the store, and every run honours it.

A service counts calls per client (the SM4LL Space: 30 per IP per hour, whoever sends them). A limiter in
one process forgets its calls when the process stops, so a cancel and a resume, or two runs one after the
other, would spend the next window's quota at once. The ledger (`endpoint_calls`, `endpoint_holds`; SQL in
`vton_eval.store.calls`) keeps them where every run, resume and try reads them, and survives a crash.

- **Whose quota**: a call counts against its endpoint (normalised: a Space id and its `*.hf.space` URL are
  one endpoint) and its *quota key*: the name of the machine that sent it (`socket.gethostname()`), or
  `VTON_EVAL_QUOTA_KEY` when set. A service counts per network address; machines that reach it from one
  address (behind one NAT, or one account's quota) set the same key; each machine of a shared store
  otherwise keeps its own ledger in it.
- **A run with a rate limit** (`N/W`) reserves each call before sending it: in one transaction it reads
  the calls of its endpoint and key that are in flight or ended less than W ago (of any run, any process)
  and adds its own only when there are fewer than N. A call holds its place until it *ends* plus W (the
  service counts it somewhere between its send and its end); a call whose end was never written (its
  process was killed) ends at its deadline, `ends_by` (sent + timeout).
- **A wait a service asked for** ("retry in 0:09:48") is a hold: no call of that endpoint and key goes
  before it ends, in this run or any other; one longer than a run's patience stops the run at once.
- **A run without a rate limit** does not wait for the window, but its calls are written all the same (in
  batches, every second), so a rate-limited run after it counts them.

This module says what the ledger holds (whose quota, how long the next call waits and why); the limiter a
run's calls go through is `vton_eval.runner.limiter`.
"""

from __future__ import annotations

import datetime as dt
import os
import socket
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

import httpx

from vton_eval.clock import duration_text
from vton_eval.errors import VtonEvalError
from vton_eval.quota import Rate, parse_rate
from vton_eval.services.endpoints import SPACE_ID
from vton_eval.services.spaces import SM4LL_SPACE
from vton_eval.store.base import Store
from vton_eval.store.calls import (
    Window,
    clear_holds,
    read_window,
)
from vton_eval.store.reads import reading

QUOTA_KEY_ENV = "VTON_EVAL_QUOTA_KEY"


def quota_key() -> str:
    """Whose quota this machine's calls count against: VTON_EVAL_QUOTA_KEY, else the host name."""
    return (os.environ.get(QUOTA_KEY_ENV) or "").strip() or socket.gethostname()


def ledger_endpoint(endpoint: str) -> str:
    """One name per service: a Space id as the URL its app serves at, a URL with its host in lower case, no
    default port, no trailing slash, and `localhost` as 127.0.0.1."""
    text = (endpoint or "").strip()
    if SPACE_ID.match(text) and not text.startswith(("http://", "https://")):
        owner, name = text.split("/", 1)
        sub = f"{owner}-{name}".lower().replace("_", "-").replace(".", "-")
        return f"https://{sub}.hf.space"
    try:
        url = httpx.URL(text)
    except httpx.InvalidURL:
        return text.rstrip("/")
    host = url.host.lower()
    if host in ("localhost", "::1"):
        host = "127.0.0.1"
    default = {"http": 80, "https": 443}.get(url.scheme)
    port = f":{url.port}" if url.port and url.port != default else ""
    path = url.path.rstrip("/")
    return f"{url.scheme}://{host}{port}{path}"


# Quotas a service documents, for a try (which has no rate limit of its own) before any run declared one.
DOCUMENTED_QUOTAS = {ledger_endpoint(SM4LL_SPACE): "30/h"}


def margin_s(rate: Rate) -> float:
    """Slack added to the window: clock granularity, and the moments between our stamps and the service's."""
    return min(0.01 * rate.window_s, 30.0) + 0.05


def utc(t: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(t, dt.UTC).replace(tzinfo=None)


class QuotaWaitTooLong(VtonEvalError):
    """The ledger holds the endpoint for longer than the run's patience (a service asked for a long wait)."""


def _window_words(rate: Rate) -> str:
    """'hour', 'minute', '3 s', '2 h': the window, after "in the last"."""
    unit = {3600.0: "hour", 60.0: "minute", 1.0: "second"}.get(rate.window_s)
    return unit or duration_text(rate.window_s)


@dataclass(frozen=True)
class Outlook:
    """How long the next call to an endpoint must wait, and why, as the ledger says now."""

    endpoint: str
    key: str
    rate: Rate | None
    window: Window
    wait_s: float
    by_hold: bool  # the wait is a service's request, not the rate limit

    @property
    def used(self) -> int:
        return len(self.window.occupants)

    @property
    def in_flight(self) -> int:
        return sum(1 for o in self.window.occupants if o.in_flight)

    def runs(self) -> str:
        counts = Counter(o.run_id or "?" for o in self.window.occupants)
        return ", ".join(f"run {run}: {n}" for run, n in counts.most_common(4)) + (
            ", …" if len(counts) > 4 else "")

    def describe(self) -> str:
        """One sentence: what the ledger holds for this endpoint from this machine, and the wait it makes."""
        where = f"{self.endpoint} from this machine (quota key {self.key})"
        if self.by_hold and self.window.hold is not None:
            hold = self.window.hold
            said = f" ({' '.join((hold.reason or '').split())[:200]})" if hold.reason else ""
            return (f"the service asked at {hold.asked_at:%H:%M:%S} UTC (run {hold.run_id or '?'}) to wait until "
                    f"{hold.until:%H:%M:%S} UTC{said}: the next call to {where} waits {duration_text(self.wait_s)}")
        if self.rate is None:
            return f"nothing holds {where}: the next call goes at once"
        used = (f"{self.used} call(s) to {where} in the last {_window_words(self.rate)}"
                + (f" ({self.runs()})" if self.used else ""))
        flying = f", {self.in_flight} still in flight" if self.in_flight else ""
        if self.wait_s <= 0:
            return f"{used}{flying}; the rate limit {self.rate} leaves room: the next call goes at once"
        return (f"{used}{flying}; the rate limit {self.rate} is used up: the next call waits "
                f"{duration_text(self.wait_s)}" + (" at most (a call in flight may free its place sooner)"
                                               if self.in_flight else ""))


def outlook_of(window: Window, endpoint: str, key: str, rate: Rate | None) -> Outlook:
    """The wait a window makes: the longer of a service's hold and the rate limit's."""
    now = window.now
    hold_wait = (window.hold.until - now).total_seconds() if window.hold is not None else 0.0
    rate_wait = 0.0
    if rate is not None and len(window.occupants) >= rate.count:
        span = dt.timedelta(seconds=rate.window_s + margin_s(rate))
        frees = sorted((o.ended_at or o.ends_by) + span for o in window.occupants)
        rate_wait = (frees[len(frees) - rate.count] - now).total_seconds()
    wait = max(hold_wait, rate_wait, 0.0)
    return Outlook(endpoint, key, rate, window, wait, hold_wait > 0 and hold_wait >= rate_wait)


def quota_outlook(db: Store, endpoint: str, rate_limit: str | Rate | None, key: str | None = None,
                  clock: Callable[[], float] = time.time) -> Outlook:
    """What the ledger says now about the next call to `endpoint` under `rate_limit` (None: holds only)."""
    rate = parse_rate(rate_limit) if isinstance(rate_limit, str) else rate_limit
    ep, key = ledger_endpoint(endpoint), key or quota_key()
    span = rate.window_s + margin_s(rate) if rate else 0.0
    with reading(db) as read:
        window = read_window(read, ep, key, span, utc(clock())) if db.exists() else Window(utc(clock()), [], None)
    return outlook_of(window, ep, key, rate)


def known_quota(db: Store, endpoint: str) -> str | None:
    """The rate limit an endpoint is known to need: the latest one a run of it declared, else the one its
    service documents (the SM4LL Space: 30/h), else None."""
    target = ledger_endpoint(endpoint)
    with reading(db) as read:
        rows = read.rows("SELECT endpoint, rate_limit FROM runs WHERE rate_limit IS NOT NULL AND rate_limit <> '' "
                         "ORDER BY created_at DESC LIMIT 200")
    for row in rows:
        if ledger_endpoint(row["endpoint"]) == target:
            return row["rate_limit"]
    return DOCUMENTED_QUOTAS.get(target)


def forget_holds(db: Store, endpoint: str, key: str | None = None) -> int:
    """Drop the waits services asked for on `endpoint` from this machine (someone knows the quota is back: a
    new token, a paid plan); return how many were dropped. Calls already made still count."""
    if not db.exists():
        return 0
    return db.write(lambda w: clear_holds(w, ledger_endpoint(endpoint), key or quota_key()))
