"""What the command line prints where nobody sees a terminal: `vton-eval runs` lists suite runs (tries on request),
`gate` never breaks a line of its verdict in a CI log, and counts read "1 error", not "1 errors"."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys

from vton_eval.access import local_actor
from vton_eval.gate import bless
from vton_eval.store.runs import update_run

from .helpers.paths import REPO, SAMPLE
from .helpers.suites import T0, seed_run, suite


def _cli(*args: str, columns: str = "80") -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "vton_eval", *args], capture_output=True, text=True, cwd=REPO,
                          timeout=180, env={**os.environ, "COLUMNS": columns})


def test_runs_lists_suite_runs_and_tries_only_when_asked(file_db):
    db = file_db  # the commands read a file as they read any store
    seed_run(db, "suite-run", suite(3))
    seed_run(db, "one-try", suite(1, workflows=("top",)), created=T0 + dt.timedelta(hours=1))
    db.write(lambda w: update_run(w, "one-try", kind="try"))
    listed = _cli("runs", "--db", db.location)
    assert listed.returncode == 0, listed.stderr
    assert "suite-run" in listed.stdout and "one-try" not in listed.stdout
    every = _cli("runs", "--kind", "all", "--db", db.location)
    assert "suite-run" in every.stdout and "one-try" in every.stdout
    tries = _cli("runs", "--kind", "try", "--db", db.location)
    assert "one-try" in tries.stdout and "suite-run" not in tries.stdout


def test_gate_in_a_ci_log_keeps_each_line_whole(file_db):
    db = file_db  # the commands read a file as they read any store
    seed_run(db, "base", suite(20, errors={"top-000": "timeout"}))
    bless(db, "base", local_actor(via="cli"))
    bad = {f"top-{i:03d}": "server_error" for i in range(10)}
    seed_run(db, "cand-with-a-long-name-as-pipelines-give", suite(20, errors=bad), created=T0 + dt.timedelta(days=1))
    proc = _cli("gate", "--candidate", "cand-with-a-long-name-as-pipelines-give", "--db", db.location)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    verdict = next(line for line in proc.stdout.splitlines() if line.startswith("GATE FAIL"))
    # The whole verdict on one line, longer than any fixed width a log could be cut at, ending where it ends.
    assert "top error_rate" in verdict and len(verdict) > 160, verdict
    assert verdict.rstrip().endswith("new error kind(s): server_error (10)"), verdict
    after = proc.stdout.splitlines()[proc.stdout.splitlines().index(verdict) + 1:]
    assert after == [] or not after[0].startswith(" "), after  # no continuation line
    warning = next(line for line in proc.stdout.splitlines() if line.startswith("warning:"))
    assert warning.rstrip().endswith("server_error (10)"), warning


def test_a_run_with_one_error_says_one_error(file_db, live_sandbox):
    db = file_db  # the commands read a file as they read any store
    live_sandbox.config.error_rate = 1.0
    proc = _cli("run", "--dataset", str(SAMPLE), "--endpoint", live_sandbox.url, "--pairs", "top-01", "--retries",
                "0", "--db", db.location)
    assert proc.returncode == 0, proc.stderr  # a finished run, errors and all
    said = " ".join(proc.stderr.split())  # rich may wrap the line on a narrow log
    assert "1 of 1 case recorded, 0 ok, 1 error; 1 request sent" in said, proc.stderr
    assert "errors;" not in said and "[0/0]" not in said
