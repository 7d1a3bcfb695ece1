"""Agreement of the checks with reviewers (`checks agreement`) and thresholds proposed from verdicts
(`checks calibrate`), on runs of the sample dataset judged by the engine's own checks, with verdicts saved
through the reviews module."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from vton_eval.access import local_actor
from vton_eval.analytics.check_agreement import ANY_HARD, agreement
from vton_eval.calibration import CALIBRATABLE, calibrate
from vton_eval.checks import Thresholds
from vton_eval.reviews import save_verdict
from vton_eval.store.reads import reading

from .helpers.seed import record_sample_run


@pytest.fixture(scope="module")
def judged(tmp_path_factory):
    """A run with silent failures (the person image sent back); two reviewers fail exactly those, except
    one case the second reviewer passes and the first fails (a tie: left out of the verdicts)."""
    from vton_eval.store import Database

    db = Database(tmp_path_factory.mktemp("agree") / "results.duckdb")
    run_id = record_sample_run(db, "judged", noop_rate=0.4, seed=5)
    with reading(db) as read:
        cases = read.rows('SELECT pair_id, "repeat", error_kind FROM results WHERE run_id = ? ORDER BY pair_id',
                          [run_id])
    ana, ben = local_actor("ana"), local_actor("ben")
    for i, case in enumerate(cases):
        verdict = "fail" if case["error_kind"] == "silent_failure" else "pass"
        save_verdict(db, run_id, case["pair_id"], case["repeat"], ana, verdict)
        if i == 0:
            save_verdict(db, run_id, case["pair_id"], case["repeat"], ben, "pass" if verdict == "fail" else "fail")
    return db, run_id, cases


def test_agreement_counts_precision_recall_and_kappa_per_check(judged):
    db, run_id, cases = judged
    table = agreement(db, [run_id]).set_index("check")
    silent = sum(c["error_kind"] == "silent_failure" for c in cases)
    assert 0 < silent < len(cases)
    hard = table.loc[ANY_HARD]
    # The tie on the first case leaves it out; every other verdict is the checks' own decision.
    assert hard["cases"] == len(cases) - 1
    assert hard["fn"] == 0 and hard["fp"] == 0
    assert hard["tp"] + hard["tn"] == len(cases) - 1
    assert hard["precision"] == 1.0 and hard["recall"] == 1.0
    assert hard["kappa"] == pytest.approx(1.0)
    assert hard["kappa_low"] <= 1.0 <= hard["kappa_high"] + 1e-9
    # The noop check made most of those silent failures (the person image sent back): it never fails a
    # case reviewers passed.
    assert table.loc["noop", "precision"] == 1.0 and table.loc["noop", "recall"] > 0.5
    # A check that fails nowhere catches none of the failed cases.
    assert table.loc["decodes", "tp"] == 0 and table.loc["decodes", "recall"] == 0.0


def test_agreement_command_prints_the_table_and_its_json(judged, tmp_path):
    db, run_id, _ = judged
    args = [sys.executable, "-m", "vton_eval", "checks", "agreement", run_id[:8], "--db", str(db.path)]
    text = subprocess.run(args, capture_output=True, text=True, timeout=120)
    assert text.returncode == 0, text.stderr
    assert ANY_HARD in text.stdout and "kappa" in text.stdout
    as_json = subprocess.run([*args, "--json"], capture_output=True, text=True, timeout=120)
    data = json.loads(as_json.stdout)
    assert data["runs"] == [run_id]
    rows = {r["check"]: r for r in data["checks"]}
    assert rows[ANY_HARD]["kappa"] == pytest.approx(1.0)
    unknown = subprocess.run([sys.executable, "-m", "vton_eval", "checks", "agreement", "nope", "--db", str(db.path)],
                             capture_output=True, text=True, timeout=120)
    assert unknown.returncode == 1 and "no run matches 'nope'" in unknown.stderr
    assert "Traceback" not in unknown.stderr


def test_agreement_without_verdicts_is_empty_and_says_so(tmp_path):
    from vton_eval.store import Database

    db = Database(tmp_path / "results.duckdb")
    run_id = record_sample_run(db, "unjudged")
    assert agreement(db, [run_id]).empty
    out = subprocess.run([sys.executable, "-m", "vton_eval", "checks", "agreement", run_id, "--db", str(db.path)],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and "no verdicts" in out.stdout


def test_calibrate_proposes_thresholds_that_keep_recall_and_writes_usable_overrides(judged, tmp_path):
    db, run_id, _ = judged
    proposals, overrides = calibrate(db, [run_id], Thresholds())
    assert proposals
    for p in proposals:
        assert p.check in CALIBRATABLE
        hard = CALIBRATABLE[p.check][2]
        if p.proposed is not None and hard and p.recall_now is not None:
            assert p.recall_proposed >= p.recall_now  # never trades away recall on a hard defect
        if p.proposed is None:
            assert p.notes  # says why nothing was proposed
    Thresholds.from_overrides(overrides)  # the file is a valid override
    out = tmp_path / "proposed.json"
    proc = subprocess.run([sys.executable, "-m", "vton_eval", "checks", "calibrate", run_id, "--out", str(out),
                           "--db", str(db.path), "--json"], capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert json.loads(out.read_text()) == report["overrides"]
    assert {p["check"] for p in report["proposals"]} == {p.check for p in proposals}


def test_recheck_still_answers_to_a_bare_run_id(judged):
    db, run_id, _ = judged
    proc = subprocess.run([sys.executable, "-m", "vton_eval", "checks", run_id, "--db", str(db.path)],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "rechecked" in proc.stdout and run_id in proc.stdout


def test_review_and_overview_show_the_agreement_table(judged, open_page):
    db, run_id, _ = judged
    expected = agreement(db, [run_id]).set_index("check")

    def table_of(at):
        frames = [d.value for d in at.dataframe if "kappa" in getattr(d.value, "columns", [])]
        assert frames, "no agreement table on the page"
        return frames[0].set_index("check")

    overview = open_page(db, "overview")
    assert not overview.exception
    shown = table_of(overview)
    assert shown.loc[ANY_HARD, "tp"] == expected.loc[ANY_HARD, "tp"]
    assert shown.loc[ANY_HARD, "kappa"] == pytest.approx(expected.loc[ANY_HARD, "kappa"])
    review = open_page(db, "review")
    review.text_input(key="rv_reviewer_input").set_value("ann")
    review.button(key="FormSubmitter:rv_reviewer_form-Start reviewing").click().run()
    assert not review.exception
    assert table_of(review).loc["noop", "precision"] == 1.0


def test_each_check_has_a_crop_for_reviews_zoom(judged):
    from PIL import Image

    from vton_eval.analytics.review import case_detail
    from vton_eval.zoom import ZoomItem, make_zoom

    db, run_id, cases = judged
    case = next(c for c in cases if c["error_kind"] is None)
    detail = case_detail(db, run_id, case["pair_id"], case["repeat"])
    boxes = detail["check_boxes"]
    assert {"change_in_region", "fidelity.colour"} <= set(boxes)
    person = Image.open(db.artifacts.abspath(detail["base_path"]))
    for check in ("change_in_region", "identity"):
        if check not in boxes:
            continue
        crop = Image.open(make_zoom(db.artifacts, ZoomItem(detail["output_path"], detail["base_path"],
                                                           detail["mask_path"], detail["workflow"], boxes[check])))
        x0, y0, x1, y1 = boxes[check]
        assert crop.width <= 320 and crop.height <= 320
        # The crop frames the check's box (padded), not the whole picture.
        assert (x1 - x0) < 1.0 or (y1 - y0) < 1.0
        assert abs(crop.width / crop.height - person.width * min(1.0, (x1 - x0) * 1.4 + 0.01) /
                   (person.height * min(1.0, (y1 - y0) * 1.4 + 0.01))) < 2.0
