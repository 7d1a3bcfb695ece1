"""The Review page and the verdict store: saved at once, replaced, kept per reviewer, exported."""

from __future__ import annotations

import csv
import io

import pytest

from vton_eval import reviews
from vton_eval.analytics.review import ReviewFilter, case_page, progress
from vton_eval.runner import RunSettings, create_run, execute_run
from vton_eval.store import Database

from .conftest import SAMPLE
from .test_dashboard import open_page


@pytest.fixture(scope="module")
def reviewed_run(tmp_path_factory, sandbox):
    db = Database(tmp_path_factory.mktemp("review") / "results.duckdb")
    sandbox.config.error_rate, sandbox.config.seed = 0.2, 5
    try:
        run_id = create_run(db, RunSettings(dataset=str(SAMPLE), endpoint=sandbox.url, retries=0, label="r"))
        assert execute_run(db, run_id).status == "finished"
    finally:
        sandbox.config.error_rate = 0.0
    return db, run_id


def _reviews(db, run_id):
    with db.connect(read_only=True) as con:
        return con.execute('SELECT pair_id, "repeat", reviewer, verdict, reasons, note FROM reviews WHERE run_id = ? '
                           "ORDER BY pair_id, reviewer", [run_id]).fetchall()


def _signed_in(db) -> object:
    at = open_page(db.path, "review")
    assert any("Who is reviewing" in i.value for i in at.info)
    at.text_input(key="reviewer_input").set_value("ann").run()
    at.button(key="reviewer_start").click().run()
    assert not at.exception
    return at


def test_the_reviewer_is_asked_once_and_a_quick_verdict_is_saved_at_once(reviewed_run):
    db, run_id = reviewed_run
    at = _signed_in(db)
    assert len(at.image) >= 12 * 3  # person, product and output thumbnails of a page of cases
    first = next(w for w in at.get("button_group") if getattr(w, "key", "") and w.key.startswith("quick_"))
    pair = first.key.split("_")[2]
    first.set_value("fail").run()
    assert ("ann", "fail") in [(r[2], r[3]) for r in _reviews(db, run_id) if r[0] == pair]
    assert {m.label: m.value for m in at.metric}["Reviewed by you"] == "1 / 20"
    # A later verdict by the same reviewer replaces the earlier one: still one row.
    at.get("button_group")[[w.key for w in at.get("button_group")].index(first.key)].set_value("pass").run()
    rows = [r for r in _reviews(db, run_id) if r[0] == pair]
    assert [(r[2], r[3]) for r in rows] == [("ann", "pass")]


def test_detail_view_saves_a_fail_with_reasons_and_a_note(reviewed_run):
    db, run_id = reviewed_run
    at = _signed_in(db)
    opener = next(b for b in at.button if b.key and b.key.startswith("open_"))
    pair = opener.key.split("_")[2]
    opener.click().run()
    assert at.slider  # the person/output slider of the detail view
    key = next(r.key for r in at.radio if r.key and r.key.endswith("_verdict"))
    prefix = key[: -len("_verdict")]
    at.radio(key=key).set_value("fail")
    workflow = pair.split("-")[0]
    reason = reviews.reasons_for(workflow)[-1]
    at.multiselect(key=f"{prefix}_reasons").set_value(["artifacts", reason])
    at.text_area(key=f"{prefix}_note").set_value("collar <b>melts</b>")
    at.button(key=f"FormSubmitter:{prefix}_form-Save verdict").click().run()
    assert not at.exception
    row = next(r for r in _reviews(db, run_id) if r[0] == pair and r[2] == "ann")
    assert row[3] == "fail" and row[4] == f"artifacts;{reason}" and row[5] == "collar <b>melts</b>"


def test_verdicts_of_different_reviewers_stand_side_by_side_with_their_agreement(reviewed_run):
    db, run_id = reviewed_run
    reviews.save_verdict(db, run_id, "top-01", 1, "ann", "pass")
    reviews.save_verdict(db, run_id, "top-01", 1, "bob", "fail", ["artifacts"])
    reviews.save_verdict(db, run_id, "top-02", 1, "ann", "pass")
    reviews.save_verdict(db, run_id, "top-02", 1, "bob", "pass")
    by = {(r[0], r[2]): r[3] for r in _reviews(db, run_id)}
    assert by[("top-01", "ann")] == "pass" and by[("top-01", "bob")] == "fail"
    stats = reviews.agreement(db, run_id)
    assert stats["cases"] >= 2 and 0 < stats["agreement"] < 1
    page, _ = case_page(db, run_id, "ann", ReviewFilter(), "pair id", 1, 48)
    top1 = page[page["pair_id"] == "top-01"].iloc[0]
    assert top1["distinct_verdicts"] == 2 and "bob: fail" in top1["all_verdicts"]


def test_filters_paging_and_progress(reviewed_run):
    db, run_id = reviewed_run
    page, total = case_page(db, run_id, "carl", ReviewFilter(statuses=("error",)), page=1, page_size=48)
    with db.connect(read_only=True) as con:
        errors = con.execute("SELECT count(*) FROM results WHERE run_id = ? AND status = 'error'", [run_id]).fetchone()
    assert total == errors[0] == len(page) and set(page["status"]) <= {"error"}
    first, total_all = case_page(db, run_id, "carl", page=1, page_size=7)
    second, _ = case_page(db, run_id, "carl", page=2, page_size=7)
    assert total_all == 20 and len(first) == 7 and not set(first["pair_id"]) & set(second["pair_id"])
    reviews.save_verdict(db, run_id, "dress-01", 1, "carl", "fail")
    unreviewed, n = case_page(db, run_id, "carl", ReviewFilter(verdicts=("unreviewed",)), page_size=48)
    assert n == 19 and "dress-01" not in set(unreviewed["pair_id"])
    p = progress(db, run_id, "carl")
    assert (p["reviewed"], p["cases"], p["pass_rate"]) == (1, 20, 0.0)


def test_export_has_every_verdict(reviewed_run):
    db, run_id = reviewed_run
    reviews.save_verdict(db, run_id, "eyewear-01", 1, "dora", "unsure", ["frame misplaced"], "left lens, 'odd'")
    text = reviews.export_csv(db, run_id)
    rows = list(csv.DictReader(io.StringIO(text)))
    assert len(rows) == len(_reviews(db, run_id))
    mine = next(r for r in rows if r["reviewer"] == "dora")
    assert (mine["verdict"], mine["reasons"], mine["note"]) == ("unsure", "frame misplaced", "left lens, 'odd'")
    at = _signed_in(db)
    assert at.download_button(key="export_verdicts").label.startswith("Export verdicts")


def test_bad_verdicts_are_refused(reviewed_run):
    db, run_id = reviewed_run
    for args, message in [(("top-01", 1, "", "pass"), "name"), (("top-01", 1, "x", "maybe"), "verdict"),
                          (("nope", 1, "x", "pass"), "no case"), (("top-01", 1, "x", "fail", ["frame misplaced"]),
                                                                   "unknown reason")]:
        with pytest.raises(reviews.ReviewError, match=message):
            reviews.save_verdict(db, run_id, *args)


def test_fleiss_kappa():
    assert reviews.fleiss_kappa([["pass", "pass"], ["fail", "fail"]]) == pytest.approx(1.0)
    assert reviews.fleiss_kappa([["pass", "fail"], ["fail", "pass"]]) < 0
