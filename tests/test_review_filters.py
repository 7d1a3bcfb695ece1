"""The Review page under every filter and every sort: verdicts, Details, Next and paging keep working.

A filter narrows the grid; after that, every click (a verdict, Details, Next, the next page) draws the
page again with the cards it pinned. Each combination is driven through the page on both stores, and
what the grid shows is checked against the database."""

from __future__ import annotations

import pytest

from vton_eval import reviews
from vton_eval.access import local_actor
from vton_eval.analytics.review import SORTS, ReviewFilter, case_page

from .conftest import STORES, make_store
from .helpers.pages import sql
from .helpers.seed import record_sample_run

# One filter at a time (its widget key and value), then two together.
FILTERS = {
    "workflow": {"rv_workflows": ["top", "dress"]},
    "status": {"rv_status": ["error"]},
    "error kind": {"rv_kinds": ["server_error"]},
    "tag": {"rv_tags": ["drawn"]},
    "verdict": {"rv_verdicts": ["unreviewed", "fail"]},
    "flagged": {"rv_flagged": True},
    "workflow and tag": {"rv_workflows": ["dress", "footwear"], "rv_tags": ["masked", "photo"]},
}


@pytest.fixture(scope="module", params=STORES)
def filtered(request, tmp_path_factory):
    """A run with server errors and silent failures, on a file and on a shared store."""
    db = make_store(request.param, tmp_path_factory.mktemp("review-filters"), request)
    run_id = record_sample_run(db, "filters", error_rate=0.3, noop_rate=0.3, seed=5)
    return db, run_id


def _flt(state: dict) -> ReviewFilter:
    return ReviewFilter(tuple(state.get("rv_workflows", ())), tuple(state.get("rv_status", ())),
                        tuple(state.get("rv_kinds", ())), tuple(state.get("rv_tags", ())),
                        tuple(state.get("rv_verdicts", ())), bool(state.get("rv_flagged", False)))


def _shown(at) -> list[str]:
    """The pair ids of the cards and the opened case, in page order."""
    keys = [getattr(n, "key", None) or "" for n in at.main]
    opened = at.session_state["review_case"][1] if "review_case" in at.session_state else None
    return [k.removeprefix("card_").rsplit("_", 1)[0] if k.startswith("card_") else opened
            for k in keys if k.startswith("card_") or k == "review_opened"]


def _clean(at, what: str) -> None:
    assert not at.exception, (what, [e.value for e in at.exception])
    assert not any("unexpected problem" in str(e.value) for e in at.error), (what, [e.value for e in at.error])


def test_every_filter_and_sort_pages_and_pins_in_the_query(filtered):
    """Every combination, in the query the page calls: each page as the filter gives it, and a page's cards
    drawn again in the order they were pinned (as after a verdict)."""
    db, run_id = filtered
    reviewer = "querier"
    for pair, verdict in (("top-01", "fail"), ("dress-02", "pass"), ("footwear-03", "unsure"), ("eyewear-01", "fail")):
        reviews.save_verdict(db, run_id, pair, 1, local_actor(reviewer), verdict)
    for name, state in FILTERS.items():
        flt = _flt(state)
        for sort in SORTS:
            what = f"{name} / {sort}"
            first, total = case_page(db, run_id, reviewer, flt, sort, 1, 10)
            pages = [first] + [case_page(db, run_id, reviewer, flt, sort, page, 10)[0]
                               for page in range(2, -(-total // 10) + 1)]
            seen = [p for page in pages for p in page["pair_id"]]
            assert len(seen) == len(set(seen)) == total, what
            if not seen:
                continue
            keys = list(zip(first["pair_id"], first["repeat"].astype(int), strict=True))[::-1]
            pinned, n = case_page(db, run_id, reviewer, flt, sort, 1, 10, pinned=keys)
            assert list(pinned["pair_id"]) == [k[0] for k in keys] and n == total, what


# Each filter with one of the sorts, every sort at least once.
WALK = [(name, list(SORTS)[i % len(SORTS)]) for i, name in enumerate(FILTERS)]


def test_every_filter_on_the_page_takes_verdicts_details_next_and_pages(filtered, open_page):
    db, run_id = filtered
    reviewer = "walker"
    at = open_page(db, "review")
    at.text_input(key="rv_reviewer_input").set_value(reviewer)
    at.button(key="FormSubmitter:rv_reviewer_form-Start reviewing").click().run()
    at.selectbox(key="rv_page_size").set_value(12).run()
    for name, sort in WALK:
        state = FILTERS[name]
        what = f"{name} / {sort}"
        at.selectbox(key="rv_sort").set_value(sort)
        for key in ("rv_workflows", "rv_status", "rv_kinds", "rv_tags", "rv_verdicts"):
            at.multiselect(key=key).set_value(state.get(key, []))
        at.toggle(key="rv_flagged").set_value(state.get("rv_flagged", False)).run()
        _clean(at, what)
        expected, total = case_page(db, run_id, reviewer, _flt(state), sort, 1, 12)
        shown = _shown(at)
        assert shown == list(expected["pair_id"]), what
        if not shown:
            assert total == 0 and "No case matches these filters." in [i.value for i in at.info], what
            continue
        # A verdict on the first card: saved, and the cards stay where they are.
        quick = next(w for w in at.get("button_group") if w.key == f"quick_{run_id}_{shown[0]}_1")
        quick.set_value("fail").run()
        _clean(at, f"{what}: a verdict")
        assert _shown(at) == shown, what
        assert _verdict(db, run_id, shown[0], reviewer) == "fail", what
        # Details, a verdict there, then Next.
        at.button(key=f"open_{run_id}_{shown[0]}_1").click().run()
        _clean(at, f"{what}: Details")
        at.button(key="review_pass").click().run()
        _clean(at, f"{what}: Pass in Details")
        assert _verdict(db, run_id, shown[0], reviewer) == "pass", what
        at.button(key="review_next").click().run()
        _clean(at, f"{what}: Next")
        if len(shown) > 1:
            assert at.session_state["review_case"] == (run_id, shown[1], 1), what
            at.button(key="review_close").click().run()
        # The next page, when there is one: the cases the filter and sort give there now.
        if total > 12:
            at.session_state["rv_page"] = 2
            at.run()
            _clean(at, f"{what}: page 2")
            page2, _ = case_page(db, run_id, reviewer, _flt(state), sort, 2, 12)
            assert _shown(at) == list(page2["pair_id"]) and len(page2), what
            at.session_state["rv_page"] = 1
    rows = sql(db, "SELECT pair_id, count(*) FROM reviews WHERE run_id = ? AND reviewer = ? GROUP BY ALL",
               [run_id, reviewer])
    assert rows and all(n == 1 for _, n in rows)  # once per case and reviewer, the latest verdict


def _verdict(db, run_id: str, pair: str, reviewer: str) -> str | None:
    rows = sql(db, "SELECT verdict FROM reviews WHERE run_id = ? AND pair_id = ? AND reviewer = ?",
               [run_id, pair, reviewer])
    return rows[0][0] if rows else None
