"""Review: a run's cases as person | product | output | zoom, a verdict per case, progress and export."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboard import auth, data, keys
from dashboard.check_agreement_view import agreement_section
from dashboard.common import database, db_path, empty_database, fmt_pct, md, render
from dashboard.review_card import case_card, make_later, missing_zooms
from dashboard.review_detail import OPENED, OPENED_BOX, SCROLL_TO, case_view
from dashboard.widgets import run_picker, run_status, scroll_into_view
from vton_eval.access import Action
from vton_eval.analytics.filters import RunFilter
from vton_eval.analytics.overview import default_run
from vton_eval.analytics.review import SORTS, VERDICT_FILTERS, ReviewFilter, case_page
from vton_eval.reviews import export_csv, review_status

PAGE_SIZES = (12, 24, 48)


def header(run_id: str, reviewer: str) -> None:
    db = database()
    p, agree = review_status(db, run_id, reviewer)
    cols = st.columns(4)
    cols[0].metric("Reviewed by you", f"{p['reviewed']} / {p['cases']}", border=True)
    cols[1].metric("Your pass rate so far", fmt_pct(p["pass_rate"]), border=True,
                   help=f"Passes among the cases you judged pass or fail ({p['passed']} of "
                        f"{p['passed'] + p['failed']}); your {p['unsure']} unsure case(s) are left out.")
    cols[2].metric("Reviewed by anyone", f"{p['reviewed_by_anyone']} / {p['cases']}", border=True)
    cols[3].metric("Reviewer agreement", fmt_pct(agree["agreement"]), border=True,
                   help=f"{agree['cases']} case(s) judged by two or more of {agree['reviewers']} reviewer(s); "
                        + (f"Krippendorff's alpha {agree['alpha']:.2f}, " if agree["alpha"] is not None else "")
                        + f"Fleiss' kappa {agree['kappa']:.2f}. Per reviewer, and the disagreements to settle: "
                        "Leaderboard, Reviewers tab." if agree["kappa"] is not None else
                   "needs cases judged by two or more reviewers")
    st.progress(p["reviewed"] / p["cases"] if p["cases"] else 0.0)
    # Built when clicked, not on every render.
    st.download_button("Export verdicts (CSV)", lambda: export_csv(db, run_id), file_name=f"verdicts-{run_id}.csv",
                       mime="text/csv", key="export_verdicts", icon=":material/download:")


def filters(run_id: str) -> tuple[ReviewFilter, str, int]:
    options = data.review_options(str(db_path()), run_id)
    cols = st.columns(6)
    workflows = cols[0].multiselect("Workflow", options["workflows"], key="rv_workflows", placeholder="all")
    statuses = cols[1].multiselect("Status", ["ok", "error"], key="rv_status", placeholder="all")
    kinds = cols[2].multiselect("Error kind", options["error_kinds"], key="rv_kinds", placeholder="all")
    tags = cols[3].multiselect("Tag", options["tags"], key="rv_tags", placeholder="all")
    verdicts = cols[4].multiselect("Your verdict", VERDICT_FILTERS, key="rv_verdicts", placeholder="all")
    sort = cols[5].selectbox("Sort", list(SORTS), key="rv_sort")
    flagged = st.toggle("Only flagged or silent failures", key="rv_flagged")
    size = st.session_state.get("rv_page_size", 24)
    flt = ReviewFilter(tuple(workflows), tuple(statuses), tuple(kinds), tuple(tags), tuple(verdicts), flagged)
    return flt, sort, size


def page_cases(run_id: str, reviewer: str, flt: ReviewFilter, sort: str,
               size: int) -> tuple[pd.DataFrame, int, int, int]:
    """This page's cases, in the order they had when the page was first shown.

    A verdict must not move the cards: "unreviewed first" would send a judged card to the end and
    pull the next one under the reviewer's pointer. New filters, order or page: a new order."""
    state = st.session_state
    page = int(state.get("rv_page") or 1)
    signature = (run_id, reviewer, flt, sort, page, size)
    pinned = state.get("rv_pinned")
    keys = pinned["keys"] if pinned and pinned["signature"] == signature else None
    cases, total = case_page(database(), run_id, reviewer, flt, sort, page, size, pinned=keys)
    pages = max(1, -(-total // size))
    if page > pages:
        state.pop("rv_page", None)
        page, signature = 1, (run_id, reviewer, flt, sort, 1, size)
        cases, total = case_page(database(), run_id, reviewer, flt, sort, 1, size)
    if keys is None:
        state["rv_pinned"] = {"signature": signature, "keys": list(zip(cases["pair_id"], cases["repeat"].astype(int),
                                                                         strict=True))}
    return cases, total, page, pages  # the cases, how many match, this page's number, the number of pages


GRID = "rv_grid"  # the cards' container: a turned page shows from its first card


def _turn(key: str) -> None:
    """A pager (top or bottom) was clicked: the page it names, seen from its first card."""
    st.session_state["rv_page"] = st.session_state[key]
    st.session_state[SCROLL_TO] = GRID


def pager(pages: int, page: int, where: str) -> None:
    """One of the two pagers (above the cards and below them), both showing this page."""
    key = f"rv_pager_{where}"
    st.session_state[key] = page  # the other pager, or "Next case", may have turned the page
    st.pagination(pages, key=key, on_change=_turn, args=(key,))


def grid(run_id: str, reviewer: str, cases: list[dict], pages: int, judge: bool = True) -> None:
    """The cards; an opened case shows in full in its card's place."""
    page_keys = [(run_id, c["pair_id"], int(c["repeat"])) for c in cases]
    if st.session_state.pop("rv_open_first", False) and page_keys:
        st.session_state[OPENED] = page_keys[0]
    opened = st.session_state.get(OPENED)
    with st.container(key=GRID):
        for case, key in zip(cases, page_keys, strict=True):
            if opened == key:
                case_view(run_id, key[1], key[2], reviewer, page_keys, pages, judge)
            else:
                case_card(run_id, case, judge)
    if target := st.session_state.pop(SCROLL_TO, None):
        if target != OPENED_BOX or opened in page_keys:
            scroll_into_view(target)
    missing = missing_zooms(cases)
    if not missing:
        return

    # The cards are drawn by the page, not in this fragment: a click on them reruns the whole page (its
    # progress too), and nothing under the reviewer's pointer is redrawn every second.
    @st.fragment(run_every="1s")
    def wait_for_zooms() -> None:
        if not missing_zooms(cases):
            st.rerun(scope="app")  # all crops are in: draw them (and stop polling)
        st.caption(f"Preparing {len(missing_zooms(cases))} zoomed crop(s)…")

    wait_for_zooms()
    make_later(missing)  # after drawing: the thread would compete with this run for the CPU


def body() -> None:
    st.title("Review")
    person = auth.reviewer("rv", "Start reviewing")
    if person is None:
        return
    reviewer = person.name
    runs = data.pick_runs(str(db_path()), RunFilter())
    if runs.empty:
        empty_database()
        return
    run_id = run_picker(runs, key="rv_run", default=default_run(runs))
    run_status(runs[runs["run_id"] == run_id].iloc[0])
    if error := st.session_state.pop(keys.REVIEW_ERROR, None):
        st.error(md(error))
    header(run_id, reviewer)
    with st.expander("Automatic checks against the verdicts"):
        agreement_section(run_id, key="rv_agreement")
    flt, sort, size = filters(run_id)
    cases, total, page, pages = page_cases(run_id, reviewer, flt, sort, size)
    if total == 0:
        st.info("No case matches these filters.")
        return
    st.caption(f"{total} case(s) match; page {page} of {pages}. Details opens a case in its card's place; "
               "there, P / F / U judge it and N goes to the next.")
    if pages > 1:
        pager(pages, page, "top")
    grid(run_id, reviewer, cases.to_dict("records"), pages, judge=person.may(Action.VERDICT))
    cols = st.columns([3, 1])
    with cols[0]:
        if pages > 1:
            pager(pages, page, "bottom")
    cols[1].selectbox("Cases per page", PAGE_SIZES, index=PAGE_SIZES.index(size), key="rv_page_size")


render(body)
