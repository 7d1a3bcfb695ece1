"""Review: a run's cases as person | product | mask | output, a verdict per case, progress and export."""

from __future__ import annotations

import streamlit as st

from dashboard import data
from dashboard.common import artifact_file, cached, database, db_path, empty_database, fmt_ms, fmt_pct, md, render
from dashboard.review_detail import case_view
from dashboard.widgets import run_picker
from vton_eval.analytics.filters import RunFilter
from vton_eval.analytics.overview import default_run
from vton_eval.analytics.review import SORTS, VERDICT_FILTERS, ReviewFilter, case_page, review_options, review_status
from vton_eval.reviews import VERDICTS, ReviewError, clear_verdict, export_csv, save_verdict
from vton_eval.store import Database

PAGE_SIZES = (12, 24, 48)


def ask_reviewer() -> str | None:
    name = st.session_state.get("reviewer")
    if name:
        st.sidebar.caption(f"Reviewing as **{md(name)}**")
        if st.sidebar.button("Change reviewer", key="change_reviewer"):
            st.session_state.pop("reviewer", None)
            st.rerun()
        return name
    st.info("Verdicts are saved with your name. Who is reviewing?")
    typed = st.text_input("Your name", key="reviewer_input", max_chars=80)
    if st.button("Start reviewing", type="primary", key="reviewer_start", disabled=not typed.strip()):
        st.session_state["reviewer"] = typed.strip()
        st.rerun()
    return None


def quick_verdict(run_id: str, pair_id: str, repeat: int, reviewer: str, key: str, reasons: str, note: str) -> None:
    """Saved the moment a verdict is clicked; clicking the chosen one again clears it."""
    verdict = st.session_state.get(key)
    db = database()
    try:
        if verdict is None:
            clear_verdict(db, run_id, pair_id, repeat, reviewer)
        else:
            kept = [r for r in (reasons or "").split(";") if r] if verdict != "pass" else []
            save_verdict(db, run_id, pair_id, repeat, reviewer, verdict, kept, note or "")
    except ReviewError as exc:
        st.session_state["review_error"] = str(exc)


def header(run_id: str, reviewer: str) -> None:
    db = database()
    p, agree = review_status(db, run_id, reviewer)
    cols = st.columns(4)
    cols[0].metric("Reviewed by you", f"{p['reviewed']} / {p['cases']}", border=True)
    cols[1].metric("Your pass rate so far", fmt_pct(p["pass_rate"]), border=True)
    cols[2].metric("Reviewed by anyone", f"{p['reviewed_by_anyone']} / {p['cases']}", border=True)
    cols[3].metric("Reviewer agreement", fmt_pct(agree["agreement"]), border=True,
                   help=f"{agree['cases']} case(s) judged by two or more of {agree['reviewers']} reviewer(s); "
                        f"Fleiss' kappa {agree['kappa']:.2f}" if agree["kappa"] is not None else
                   "needs cases judged by two or more reviewers")
    st.progress(p["reviewed"] / p["cases"] if p["cases"] else 0.0)
    # Built when clicked, not on every render.
    st.download_button("Export verdicts (CSV)", lambda: export_csv(db, run_id), file_name=f"verdicts-{run_id}.csv",
                       mime="text/csv", key="export_verdicts", icon=":material/download:")


@cached(ttl=30.0)
def _options(path: str, run_id: str) -> dict[str, list[str]]:
    return review_options(Database(path), run_id)


def filters(run_id: str) -> tuple[ReviewFilter, str, int]:
    options = _options(str(db_path()), run_id)
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


def case_card(run_id: str, case: dict, reviewer: str) -> None:
    pair, repeat = case["pair_id"], int(case["repeat"])
    with st.container(border=True):
        cols = st.columns([1, 1, 1, 1, 2])
        for col, rel, title in ((cols[0], case["base_path"], "person"), (cols[1], case["product_path"], "product"),
                                (cols[2], case["mask_path"], "mask")):
            image = artifact_file(rel)
            if image:
                col.image(image, caption=title, width="stretch")
        output = artifact_file(case["output_path"])
        if output:
            cols[3].image(output, caption="output", width="stretch")
        else:
            cols[3].text(f"no output\n{case['error_kind'] or ''}")
        with cols[4]:
            status = case["status"] if case["status"] == "ok" else f"{case['status']}: {case['error_kind']}"
            st.markdown(f"**{md(pair)}** · {case['workflow']} · {fmt_ms(case['latency_ms'])} · {md(status)}")
            if case["error_message"]:
                st.text(case["error_message"][:300])
            if case["flags"]:
                st.caption(f"flags: {case['flags']}")
            key = f"quick_{run_id}_{pair}_{repeat}"
            st.segmented_control(
                "Verdict", VERDICTS, key=key, default=case["my_verdict"], label_visibility="collapsed",
                on_change=quick_verdict,
                args=(run_id, pair, repeat, reviewer, key, case["my_reasons"], case["my_note"]))
            if case["n_verdicts"] and case["all_verdicts"]:
                disagree = case["distinct_verdicts"] and case["distinct_verdicts"] > 1
                st.caption(("⚠ reviewers disagree: " if disagree else "verdicts: ") + md(case["all_verdicts"]))
            if st.button("Details", key=f"open_{run_id}_{pair}_{repeat}", icon=":material/zoom_in:"):
                st.session_state["review_case"] = (run_id, pair, repeat)
                st.rerun()


def body() -> None:
    st.title("Review")
    reviewer = ask_reviewer()
    if reviewer is None:
        return
    runs = data.pick_runs(str(db_path()), RunFilter())
    if runs.empty:
        empty_database()
        return
    run_id = run_picker(runs, key="rv_run", default=default_run(runs))
    for flash in ("review_saved", "review_error"):
        if st.session_state.get(flash):
            (st.success if flash == "review_saved" else st.error)(st.session_state.pop(flash))
    header(run_id, reviewer)
    opened = st.session_state.get("review_case")
    if opened and opened[0] == run_id:
        case_view(run_id, opened[1], opened[2], reviewer)
    flt, sort, size = filters(run_id)
    cases, total = case_page(database(), run_id, reviewer, flt, sort, st.session_state.get("rv_page", 1), size)
    if total == 0:
        st.info("No case matches these filters.")
        return
    pages = max(1, -(-total // size))
    if st.session_state.get("rv_page", 1) > pages:
        st.session_state["rv_page"] = 1
        cases, total = case_page(database(), run_id, reviewer, flt, sort, 1, size)
    st.caption(f"{total} case(s) match; page {st.session_state.get('rv_page', 1)} of {pages}")
    for case in cases.to_dict("records"):
        case_card(run_id, case, reviewer)
    cols = st.columns([3, 1])
    with cols[0]:
        if pages > 1:
            st.pagination(pages, key="rv_page")
    cols[1].selectbox("Cases per page", PAGE_SIZES, index=PAGE_SIZES.index(size), key="rv_page_size")


render(body)
