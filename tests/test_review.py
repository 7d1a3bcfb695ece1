"""The Review page and the verdict store: saved at once, replaced, kept per reviewer, exported."""

from __future__ import annotations

import csv
import io

import pytest
from PIL import Image

from vton_eval import reviews, workflows
from vton_eval.access import local_actor
from vton_eval.analytics.review import ReviewFilter, case_page, progress, review_options
from vton_eval.provenance import tool_version
from vton_eval.store import Database

from .helpers.seed import record_sample_run


@pytest.fixture(scope="module")
def reviewed_run(tmp_path_factory):
    """A run of the sample dataset with some server errors, written as a run through the sandbox writes it
    (tests/helpers/seed.py)."""
    db = Database(tmp_path_factory.mktemp("review") / "results.duckdb")
    run_id = record_sample_run(db, "r", error_rate=0.2, seed=5)
    return db, run_id


def _reviews(db, run_id):
    with db.connect(read_only=True) as con:
        return con.execute('SELECT pair_id, "repeat", reviewer, verdict, reasons, note FROM reviews WHERE run_id = ? '
                           "ORDER BY pair_id, reviewer", [run_id]).fetchall()


def _signed_in(open_page, db, name: str = "ann") -> object:
    """The Review page after typing a name and clicking Start, without pressing Enter in between: the
    name box and the button are one form, so the click sends what was typed."""
    at = open_page(db, "review")
    at.text_input(key="rv_reviewer_input").set_value(name)  # typed, not committed (no .run())
    at.button(key="FormSubmitter:rv_reviewer_form-Start reviewing").click().run()
    assert not at.exception
    assert at.session_state["reviewer"] == name
    return at


def test_the_reviewer_is_asked_once_and_a_quick_verdict_is_saved_at_once(reviewed_run, open_page):
    db, run_id = reviewed_run
    at = _signed_in(open_page, db)
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


def test_detail_view_judges_one_way_with_reasons_and_a_note(reviewed_run, open_page):
    """Details has one way to give a verdict, its buttons (P / F / U): the reasons and note beside them go with it,
    and a change to them later is saved at once. No second verdict picker, no form with its own Save."""
    db, run_id = reviewed_run
    at = _signed_in(open_page, db)
    opener = next(b for b in at.button if b.key and b.key.startswith("open_"))
    pair = opener.key.split("_")[2]
    opener.click().run()
    assert at.slider  # the person/output slider of the detail view
    assert not [r for r in at.radio if r.key and r.key.endswith("_verdict")]
    assert not [b for b in at.button if "Save" in b.label or b.key.startswith("FormSubmitter:")]
    assert [b.label for b in at.button if b.key in ("review_pass", "review_fail", "review_unsure")] == [
        "Pass", "Fail", "Unsure"]
    prefix = next(m.key for m in at.multiselect if m.key and m.key.endswith("_reasons"))[: -len("_reasons")]
    workflow = pair.split("-")[0]
    reason = workflows.reasons_for(workflow)[-1]
    at.multiselect(key=f"{prefix}_reasons").set_value(["artifacts", reason])
    at.text_area(key=f"{prefix}_note").set_value("collar <b>melts</b>")
    assert not [r for r in _reviews(db, run_id) if r[0] == pair and r[2] == "ann"]  # no verdict, nothing saved yet
    at.button(key="review_fail").click().run()
    assert not at.exception
    row = next(r for r in _reviews(db, run_id) if r[0] == pair and r[2] == "ann")
    assert row[3] == "fail" and row[4] == f"artifacts;{reason}" and row[5] == "collar <b>melts</b>"
    at.text_area(key=f"{prefix}_note").set_value("collar melts, and the sleeve").run()  # after the verdict: at once
    row = next(r for r in _reviews(db, run_id) if r[0] == pair and r[2] == "ann")
    assert (row[3], row[4], row[5]) == ("fail", f"artifacts;{reason}", "collar melts, and the sleeve")
    at.button(key="review_pass").click().run()  # a pass has no reasons: the box says so too
    row = next(r for r in _reviews(db, run_id) if r[0] == pair and r[2] == "ann")
    assert (row[3], row[4]) == ("pass", "") and at.multiselect(key=f"{prefix}_reasons").value == []
    with db.connect(read_only=True) as con:  # provenance: which build wrote the verdict
        stored = con.execute("SELECT DISTINCT tool_version FROM reviews WHERE reviewer = 'ann'").fetchall()
    assert stored == [(tool_version(),)] and tool_version().startswith("0.")


def test_the_pager_is_above_the_cards_and_below_and_a_turned_page_shows_its_first_card(reviewed_run, open_page):
    db, run_id = reviewed_run
    at = _signed_in(open_page, db)
    at.selectbox(key="rv_page_size").set_value(12).run()
    assert [p.key for p in at.get("pagination")] == ["rv_pager_top", "rv_pager_bottom"]
    order = [(node.type, getattr(node, "key", None) or "") for node in at.main]
    pagers = [i for i, (kind, _) in enumerate(order) if kind == "pagination"]
    cards = [i for i, (_, key) in enumerate(order) if key.startswith("open_")]
    assert len(pagers) == 2 and pagers[0] < cards[0] and cards[-1] < pagers[1]  # one above the cards, one below
    assert not _scrolls(at)  # nothing moves the view on its own
    at.get("pagination")[0].set_value(2).run()
    assert [p.value for p in at.get("pagination")] == [2, 2]  # both pagers show the page
    assert _scrolls(at) == ["rv_grid"]  # brought into view from its first card
    first = [b.key.split("_")[2] for b in at.button if b.key and b.key.startswith("open_")]
    at.get("pagination")[1].set_value(1).run()
    assert [p.value for p in at.get("pagination")] == [1, 1] and _scrolls(at) == ["rv_grid"]
    assert not set(first) & {b.key.split("_")[2] for b in at.button if b.key and b.key.startswith("open_")}
    at.button(key=next(b.key for b in at.button if b.key and b.key.startswith("open_"))).click().run()
    assert not _scrolls(at)  # Details opens where the card was clicked: in view already
    at.button(key="review_next").click().run()
    assert _scrolls(at) == ["review_opened"]  # "Next" may open a card a row lower: brought into view


def _scrolls(at) -> list[str]:
    """Which container the page asks the browser to bring into view (widgets.scroll_into_view)."""
    import re

    return [m for h in at.get("html") for m in re.findall(r'querySelector\("\.st-key-([a-z_]+)"\)', h.proto.body)]


def test_verdicts_of_different_reviewers_stand_side_by_side_with_their_agreement(reviewed_run):
    db, run_id = reviewed_run
    reviews.save_verdict(db, run_id, "top-01", 1, local_actor("ann"), "pass")
    reviews.save_verdict(db, run_id, "top-01", 1, local_actor("bob"), "fail", ["artifacts"])
    reviews.save_verdict(db, run_id, "top-02", 1, local_actor("ann"), "pass")
    reviews.save_verdict(db, run_id, "top-02", 1, local_actor("bob"), "pass")
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
    past, n_past = case_page(db, run_id, "carl", page=4, page_size=7)  # 20 cases: pages 1 to 3
    assert past.empty and n_past == 20 and "pair_id" in past.columns
    with db.connect(read_only=True) as con:
        expected = [sorted(r[0] for r in con.execute(sql, [run_id]).fetchall()) for sql in (
            "SELECT DISTINCT workflow FROM results WHERE run_id = ?",
            "SELECT DISTINCT error_kind FROM results WHERE run_id = ? AND error_kind IS NOT NULL",
            "SELECT DISTINCT trim(unnest(string_split(tags, ';'))) FROM cases WHERE run_id = ? AND tags <> ''")]
    options = review_options(db, run_id)
    assert [options["workflows"], options["error_kinds"], options["tags"]] == expected and all(expected[:2])
    reviews.save_verdict(db, run_id, "dress-01", 1, local_actor("carl"), "fail")
    unreviewed, n = case_page(db, run_id, "carl", ReviewFilter(verdicts=("unreviewed",)), page_size=48)
    assert n == 19 and "dress-01" not in set(unreviewed["pair_id"])
    p = progress(db, run_id, "carl")
    assert (p["reviewed"], p["cases"], p["pass_rate"]) == (1, 20, 0.0)
    # "unsure" is no verdict on quality: it stays out of the pass rate.
    for pair, verdict in (("dress-02", "pass"), ("dress-03", "unsure"), ("dress-04", "unsure")):
        reviews.save_verdict(db, run_id, pair, 1, local_actor("carl"), verdict)
    p = progress(db, run_id, "carl")
    assert (p["reviewed"], p["passed"], p["failed"], p["unsure"], p["pass_rate"]) == (4, 1, 1, 2, 0.5)
    reviews.save_verdict(db, run_id, "dress-01", 1, local_actor("erin"), "pass")  # a second reviewer, same case
    reviews.save_verdict(db, run_id, "top-01", 1, local_actor("erin"), "pass")
    p = progress(db, run_id, "carl")
    with db.connect(read_only=True) as con:  # the fixture's run is shared: other tests' reviewers count too
        judged = con.execute('SELECT count(DISTINCT (pair_id, "repeat")) FROM reviews WHERE run_id = ?',
                             [run_id]).fetchone()[0]
    assert (p["reviewed"], p["reviewed_by_anyone"]) == (4, judged) and judged >= 5


def test_export_has_every_verdict(reviewed_run, open_page):
    db, run_id = reviewed_run
    reviews.save_verdict(db, run_id, "eyewear-01", 1, local_actor("dora"), "unsure", ["frame misplaced"],
                         "left lens, 'odd'")
    text = reviews.export_csv(db, run_id)
    rows = list(csv.DictReader(io.StringIO(text)))
    assert len(rows) == len(_reviews(db, run_id))
    mine = next(r for r in rows if r["reviewer"] == "dora")
    assert (mine["verdict"], mine["reasons"], mine["note"]) == ("unsure", "frame misplaced", "left lens, 'odd'")
    at = _signed_in(open_page, db)
    assert at.download_button(key="export_verdicts").label.startswith("Export verdicts")


def test_bad_verdicts_are_refused(reviewed_run):
    db, run_id = reviewed_run
    x = local_actor("x")
    for args, message in [(("top-01", 1, x, "maybe"), "verdict"), (("nope", 1, x, "pass"), "no case"),
                          (("top-01", 1, x, "fail", ["frame misplaced"]), "unknown reason")]:
        with pytest.raises(reviews.ReviewError, match=message):
            reviews.save_verdict(db, run_id, *args)
    with pytest.raises(ValueError, match="name"):
        local_actor("  ")


def test_fleiss_kappa():
    assert reviews.fleiss_kappa([["pass", "pass"], ["fail", "fail"]]) == pytest.approx(1.0)
    assert reviews.fleiss_kappa([["pass", "fail"], ["fail", "pass"]]) < 0


def _card_keys(at) -> list[str]:
    """Cards and the opened case's box, in page order (their container keys)."""
    keys = [getattr(n, "key", None) or "" for n in at.main]
    return [k for k in keys if k.startswith("card_") or k == "review_opened"]


def _opened(at) -> str:
    """The heading of the opened case, as it reads (Markdown's escapes taken out)."""
    return next(h.value for h in at.subheader if " · repeat " in h.value).replace("\\", "")


def test_the_pass_rate_on_the_page_leaves_unsure_out(reviewed_run, open_page):
    db, run_id = reviewed_run
    for pair, verdict in (("top-01", "pass"), ("top-02", "fail"), ("top-03", "unsure"), ("top-04", "pass"),
                          ("top-05", "unsure")):
        reviews.save_verdict(db, run_id, pair, 1, local_actor("ivy"), verdict)
    at = _signed_in(open_page, db, "ivy")
    metric = next(m for m in at.metric if m.label == "Your pass rate so far")
    assert metric.value == "66.7%"  # 2 passes of 3 judged pass or fail; 2 unsure left out (not 40 %)
    assert "2 unsure" in metric.help


def test_details_open_in_the_cards_place_and_the_keys_judge_and_move_on(reviewed_run, open_page):
    db, run_id = reviewed_run
    at = _signed_in(open_page, db, "kim")
    before = _card_keys(at)
    fifth = before[4]
    pair = fifth.removeprefix("card_").rsplit("_", 1)[0]
    at.button(key=f"open_{run_id}_{pair}_1").click().run()
    after = _card_keys(at)
    assert after[4] == "review_opened" and _opened(at).startswith(pair)  # where the card was, not at the top
    assert after[:4] == before[:4] and after[5:] == before[5:]
    shortcuts = {b.key: b.proto.shortcut for b in at.button if b.key in ("review_pass", "review_fail",
                                                                        "review_unsure", "review_next")}
    assert shortcuts == {"review_pass": "p", "review_fail": "f", "review_unsure": "u", "review_next": "n"}
    at.button(key="review_fail").click().run()
    assert ("kim", "fail") in [(r[2], r[3]) for r in _reviews(db, run_id) if r[0] == pair]
    assert _card_keys(at) == after  # judged: nothing moved
    at.button(key="review_next").click().run()
    following = before[5].removeprefix("card_").rsplit("_", 1)[0]
    assert at.session_state["review_case"] == (run_id, following, 1)
    assert _card_keys(at)[5] == "review_opened" and _opened(at).startswith(following)
    assert _card_keys(at)[4] == fifth  # the judged case is a card again, in its place


def test_a_quick_verdict_does_not_move_the_cards(reviewed_run, open_page):
    db, run_id = reviewed_run
    at = _signed_in(open_page, db, "lou")
    before = _card_keys(at)
    first = next(w for w in at.get("button_group") if getattr(w, "key", "") and w.key.startswith("quick_"))
    first.set_value("pass").run()
    assert _card_keys(at) == before  # "unreviewed first" would have sent it to the end
    at.selectbox(key="rv_sort").set_value("pair id").run()  # a new order: a new page
    at.selectbox(key="rv_sort").set_value("unreviewed first").run()
    assert _card_keys(at)[-1] == before[0]  # now it sorts last: reviewed


def test_zoomed_crops_of_the_workflows_region_beside_each_output(reviewed_run, open_page):
    from dashboard import background
    from vton_eval.zoom import ZoomItem, region_fractions, zoom_path

    db, run_id = reviewed_run
    at = _signed_in(open_page, db, "max")
    background.wait()  # the page made its missing crops in the background, then polls for them
    at.run()
    with db.connect(read_only=True) as con:
        shown = con.execute("""SELECT r.pair_id, r.workflow, r.output_path, c.base_path, c.mask_path FROM results r
                               JOIN cases c USING (run_id, pair_id) WHERE r.run_id = ?""", [run_id]).fetchall()
    store = db.artifacts
    captions = [c for img in at.image for c in img.captions]
    with_output = [row for row in shown if row[2]]
    assert sum(1 for c in captions if c.startswith("zoom: ")) == min(24, len(with_output))
    for pair, workflow, output, base, mask in with_output:
        item = ZoomItem(output, base, mask, workflow)
        crop = Image.open(zoom_path(store, item))
        full = Image.open(store.abspath(output))
        x0, y0, x1, y1 = region_fractions(store, item)
        if workflow == "eyewear":
            assert y1 < 0.6 and crop.width * crop.height < 0.6 * full.width * full.height, pair  # the face
        if workflow == "footwear":
            assert y0 > 0.6, pair  # the feet
