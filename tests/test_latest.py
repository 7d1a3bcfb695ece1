"""`latest` in `vton-eval gate` and `bless`: the newest finished suite run, whatever came after it."""

from __future__ import annotations

import datetime as dt

import pytest

from vton_eval.access import local_actor
from vton_eval.gate import BlessError, bless, gate
from vton_eval.store.runs import latest_run, update_run

from .helpers.suites import T0, seed_run, suite


def test_latest_is_the_newest_finished_suite_run_in_gate_and_bless(db):
    day = dt.timedelta(days=1)
    seed_run(db, "base", suite(12))
    seed_run(db, "good", suite(12), created=T0 + day)
    seed_run(db, "broken", suite(12), status="failed", created=T0 + 2 * day)
    seed_run(db, "stopped", suite(12), status="cancelled", created=T0 + 3 * day)
    seed_run(db, "tried", suite(1, workflows=("top",)), created=T0 + 4 * day)
    seed_run(db, "going", suite(12), status="running", created=T0 + 5 * day)
    db.write(lambda w: update_run(w, "tried", kind="try"))
    assert latest_run(db) == "good"
    bless(db, "base", local_actor(via="cli"))
    result = gate(db, "latest")
    assert result.candidate_id == "good" and result.exit_code == 0, result.reasons
    assert bless(db, "latest", local_actor(via="cli"))["run_id"] == "good"


def test_latest_with_no_finished_suite_run_cannot_judge_and_says_why(db):
    seed_run(db, "broken", suite(12), status="failed")
    result = gate(db, "latest")
    assert result.exit_code == 2 and "no finished suite run" in result.reasons[0]
    with pytest.raises(BlessError, match="no finished suite run"):
        bless(db, "latest", local_actor(via="cli"))
