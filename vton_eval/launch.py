"""Starting, watching and stopping runs as separate processes (what the Runs page's buttons do).

A run started from a browser executes as its own `vton-eval resume RUN_ID` process in a new
session, so a refreshed page or a closed tab does not stop it; the page only reads the database.

Each act takes the `Actor` doing it (`vton_eval.access`): it is refused unless their role allows it,
and recorded in the audit trail. The run process inherits HF_TOKEN only when the endpoint is on the
token allow-list; the token is never part of a run's settings.
"""

from __future__ import annotations

import math
import os
import shutil
import socket
import subprocess
import sys
import uuid
from dataclasses import dataclass
from pathlib import Path

from vton_eval import access, run_process, token_rules
from vton_eval.access import Action, Actor
from vton_eval.analytics.runs import Pace, try_result
from vton_eval.clock import duration_text
from vton_eval.datasets import Dataset, load_dataset
from vton_eval.datasets.authoring import Upload, add_pair, create_dataset
from vton_eval.datasets.catalog import find_dataset_folders
from vton_eval.errors import InvalidValue
from vton_eval.quota import parse_rate
from vton_eval.quota_ledger import DOCUMENTED_QUOTAS, Outlook, known_quota, ledger_endpoint, quota_outlook
from vton_eval.runner import RunSettings, create_run, execute_run
from vton_eval.runner.plan import select_pairs
from vton_eval.runner.run import RunReport
from vton_eval.secrets import get_token
from vton_eval.services import DEFAULT_PROFILE
from vton_eval.services.spaces import SM4LL_SPACE
from vton_eval.store.base import Store, Writer
from vton_eval.store.runs import TRY, get_run, update_run

SANDBOX_URL_ENV = "VTON_EVAL_SANDBOX_URL"
DEFAULT_SANDBOX_URL = "http://127.0.0.1:7860"


def known_endpoints() -> list[str]:
    """The endpoints a launch form offers first: the local sandbox and the SM4LL Space."""
    return [os.environ.get(SANDBOX_URL_ENV, DEFAULT_SANDBOX_URL), SM4LL_SPACE]


def find_datasets(root: Path) -> list[Path]:
    """Dataset folders (with a manifest.csv) directly under `root`."""
    return find_dataset_folders(root)


@dataclass(frozen=True)
class Estimate:
    """How long a run will take: `seconds` is an estimate (from how the endpoint answered lately) where the endpoint
    has answered before; `at_least_s` is a true lower bound (the rate limit and the quota's wait), 0 when none."""

    cases: int
    seconds: float | None
    at_least_s: float
    pace: Pace | None
    concurrency: int
    quota_wait_s: float = 0.0  # before the first call: the quota ledger's wait

    def describe(self) -> str:
        if self.cases == 0:
            return "no case selected"
        cases = f"{self.cases} case{'' if self.cases == 1 else 's'}"
        wait = (f", of which {duration_text(self.quota_wait_s)} before the first call (the quota, below)"
                if self.quota_wait_s > 0 else "")
        if self.pace is None or self.seconds is None:
            if self.at_least_s > 0:
                return (f"{cases}: at least {duration_text(self.at_least_s)}, set by the rate limit{wait}; how "
                        "long the calls take is not known yet (no earlier run of this endpoint)")
            return f"{cases}: how long they take is not known yet (no earlier run of this endpoint to learn from)"
        pace = self.pace
        runs = f"{pace.runs} run{'' if pace.runs == 1 else 's'}"
        capped = pace.calls_per_s(self.concurrency) < self.concurrency / pace.call_s if pace.call_s > 0 else False
        how = (f"{pace.call_s:.1f} s a call, {self.concurrency} at a time" if not capped else
               f"{pace.call_s:.1f} s a call, at most {pace.calls_per_s(self.concurrency):.1f} calls a second")
        if pace.overhead_s >= 1:
            how += f", {duration_text(pace.overhead_s)} to start and finish"
        text = (f"{cases}: about {duration_text(self.seconds)}{wait} (an estimate, not a promise: {how}, as the "
                f"endpoint answered in its latest {runs})")
        if self.at_least_s > 0 and self.at_least_s >= self.seconds - 0.5:
            text += f"; the rate limit alone makes it at least {duration_text(self.at_least_s)}"
        return text


def estimate(cases: int, concurrency: int, rate_limit: str | None, pace: Pace | None,
             quota_wait_s: float = 0.0) -> Estimate:
    """How long a run will take: the quota ledger's wait before the first call, then the slower of the rate limit (a
    bound) and the calls at the pace the endpoint kept lately (an estimate)."""
    by_rate = parse_rate(rate_limit).min_duration_s(cases) if rate_limit else 0.0
    at_least = quota_wait_s + by_rate if (by_rate or quota_wait_s) else 0.0
    if pace is None:
        return Estimate(cases, None, at_least, None, concurrency, quota_wait_s)
    rate = pace.calls_per_s(concurrency)
    by_calls = (cases / rate if math.isfinite(rate) and rate > 0 else 0.0) + pace.overhead_s
    return Estimate(cases, quota_wait_s + max(by_rate, by_calls), at_least, pace, concurrency, quota_wait_s)


def _spawn(db: Store, run_id: str, use: token_rules.TokenUse, token: str | None) -> int:
    """Start `vton-eval resume RUN_ID` detached from this process; return its pid. It inherits the token only
    when `use` says the endpoint may receive it."""
    logs = db.artifacts.root / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    log = (logs / f"{run_id}.log").open("ab")
    env = {**token_rules.run_environment(os.environ, use, token), "GRADIO_ANALYTICS_ENABLED": "False",
           "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "vton_eval", "resume", run_id, "--db", db.location, "--audited"],
        stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True,
    )
    log.close()
    run_process.mark(db.artifacts.root, run_id, proc.pid)  # a Cancel at once finds it, before it marks itself
    return proc.pid


def _token(token: str | None) -> str | None:
    return token if token is not None else get_token()


def start_run(db: Store, settings: RunSettings, actor: Actor, token: str | None = None) -> str:
    """Check and record a run here (errors surface now), then execute it in its own process. `token`: the
    dashboard's HF_TOKEN (default: this process's environment), passed on only to an allowed endpoint."""
    access.permit(db, actor, Action.LAUNCH)
    token = _token(token)
    use = access.token_use(settings.endpoint, bool(token))
    access.check_token_use(db, actor, Action.LAUNCH, use)
    run_id = create_run(db, settings, token=token if use.send else None)
    pid = _spawn(db, run_id, use, token)

    def started(w: Writer) -> None:
        update_run(w, run_id, pid=pid, host=socket.gethostname())
        access.record(w, actor, Action.LAUNCH.value, run_id, detail={"endpoint": settings.endpoint,
                                                                     "token_sent": use.send})

    db.write(started)
    return run_id


def resume_run(db: Store, run_id: str, actor: Actor, token: str | None = None) -> int:
    access.permit(db, actor, Action.RESUME, run_id)
    run = get_run(db, run_id)
    if run is None:
        raise InvalidValue(f"no run {run_id}")
    if run["status"] == "running":
        raise InvalidValue(f"run {run_id} is still running")
    token = _token(token)
    use = access.token_use(run["endpoint"], bool(token))
    access.check_token_use(db, actor, Action.RESUME, use, run_id)
    pid = _spawn(db, run_id, use, token)

    def resumed(w: Writer) -> None:
        # Running from now on, in the process just started (its pid): a page shows it so at once instead of the
        # old status until the process claims the run. Unless the process already claimed it (its heartbeat
        # moved) and maybe finished: then what it wrote stands.
        w.execute("UPDATE runs SET status = 'running', pid = ?, host = ?, message = NULL, finished_at = NULL "
                  "WHERE run_id = ? AND updated_at IS NOT DISTINCT FROM ?",
                  [pid, socket.gethostname(), run_id, run.get("updated_at")])
        access.record(w, actor, Action.RESUME.value, run_id, detail={"endpoint": run["endpoint"],
                                                                     "token_sent": use.send})

    db.write(resumed)
    return pid


def cancel_run(db: Store, run_id: str, actor: Actor) -> None:
    """Ask the run's process to stop; it records what it has and marks the run cancelled."""
    access.permit(db, actor, Action.CANCEL, run_id)
    run = get_run(db, run_id)
    if run is None or run["status"] != "running":
        raise InvalidValue(f"run {run_id} is not running")
    # Only the live vton-eval process executing this run (the row alone could name any process).
    run_process.stop(db.artifacts.root, run)
    db.write(lambda w: access.record(w, actor, Action.CANCEL.value, run_id))


def log_tail(db: Store, run_id: str, lines: int = 20) -> str:
    path = db.artifacts.root / "logs" / f"{run_id}.log"
    if not path.exists():
        return ""
    text = path.read_text(encoding="utf-8", errors="replace")
    return "\n".join(text.splitlines()[-lines:])


def one_pair_dataset(db: Store, base: Upload, product: Upload, workflow: str, mask: Upload | None = None) -> Dataset:
    """A one-pair dataset from uploaded images (each checked as a dataset's images are), kept beside the database
    (uploads/try-<id>/): the same path as any dataset made by hand (`datasets.authoring`)."""
    root = db.artifacts.root / "uploads"
    root.mkdir(parents=True, exist_ok=True)
    folder = create_dataset(root, f"try-{uuid.uuid4().hex[:12]}")
    try:
        add_pair(folder, workflow, base, product, mask, pair_id="upload", tags="upload")
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    return load_dataset(folder)


# A try is waited for on the page: it waits this long for the quota at most, else it is refused with the reason.
TRY_MAX_WAIT_S = 30.0


def try_outlook(db: Store, endpoint: str) -> Outlook:
    """What the quota ledger says about a try of `endpoint` now: under the endpoint's known quota (the rate
    limit its runs declared, or the one its service documents), and any wait a service asked for."""
    return quota_outlook(db, endpoint, known_quota(db, endpoint) if db.exists() else DOCUMENTED_QUOTAS.get(
        ledger_endpoint(endpoint)))


def try_one(db: Store, dataset: Dataset, pair_id: str, endpoint: str, actor: Actor, timeout_s: float = 300.0,
            label: str | None = "try one pair", token: str | None = None, profile: str = DEFAULT_PROFILE) -> RunReport:
    """Send one pair now and wait for it; recorded as a one-case run of kind "try" (listed apart, kept out
    of defaults, trends, comparisons and `latest`). The token goes only to an allowed endpoint. The call
    honours the quota ledger like a run (under the endpoint's known quota); a wait longer than
    TRY_MAX_WAIT_S refuses the try, saying how long and why."""
    access.permit(db, actor, Action.TRY)
    token = _token(token)
    use = access.token_use(endpoint, bool(token))
    access.check_token_use(db, actor, Action.TRY, use)
    select_pairs(dataset, pair_ids=[pair_id])
    ahead = try_outlook(db, endpoint)
    if ahead.wait_s > TRY_MAX_WAIT_S:
        raise InvalidValue(f"not sent: {ahead.describe()}")
    settings = RunSettings(dataset=str(dataset.root), endpoint=endpoint, pairs=[pair_id], concurrency=1,
                           retries=0, timeout_s=timeout_s, label=label, kind=TRY, profile=profile or DEFAULT_PROFILE,
                           rate_limit=str(ahead.rate) if ahead.rate else None, patience_s=TRY_MAX_WAIT_S)
    run_id = create_run(db, settings, dataset=dataset, token=token if use.send else None)
    db.write(lambda w: access.record(w, actor, Action.TRY.value, run_id, subject=pair_id,
                                     detail={"endpoint": endpoint, "token_sent": use.send}))
    return execute_run(db, run_id, token=token if use.send else None)


__all__ = [
    "SM4LL_SPACE", "Estimate", "cancel_run", "estimate", "find_datasets", "known_endpoints", "log_tail",
    "case_result", "one_pair_dataset", "resume_run", "start_run", "try_one",
]


def case_result(db: Store, run_id: str) -> dict | None:
    """The single result of a one-case run, joined with its inputs."""
    return try_result(db, run_id)
