"""Failures: one row per cause (error kind + folded message), and the cases behind each cause."""

from __future__ import annotations

import streamlit as st

from dashboard import data
from dashboard.common import artifact_file, db_path, empty_database, fmt_ms, md, render
from dashboard.widgets import filter_bar, run_picker, run_status
from vton_eval.analytics.failures import failed_checks, readable_cause
from vton_eval.analytics.overview import default_run

# 788 px in all: fits the page beside the sidebar in a 1280 px window (tests/test_failures_browser.py); the times
# are to the minute (the year is in the filters), a cause's whole text is in the cases below.
FAILURE_COLUMNS = {
    "error_kind": st.column_config.TextColumn("kind", width=96),
    "cause": st.column_config.TextColumn("cause", width=220, help="The error message with its numbers (N), ids "
                                         "(ID), addresses (URL) and file paths (PATH) folded, so alike failures count "
                                         "as one"),
    "count": st.column_config.NumberColumn("count", width=52),
    "share": st.column_config.ProgressColumn("share", format="percent", min_value=0, max_value=1, width=80),
    "workflows": st.column_config.TextColumn("workflows", width=112),
    "runs": st.column_config.NumberColumn("runs", width=44),
    "first_seen": st.column_config.DatetimeColumn("first seen", format="MM-DD HH:mm", width=92, help="UTC"),
    "last_seen": st.column_config.DatetimeColumn("last seen", format="MM-DD HH:mm", width=92, help="UTC"),
}


def scope(runs) -> tuple[tuple[str, ...], bool]:
    """Failures of one run, or of every run matching the filters; and whether the numbers are partial."""
    mode = st.segmented_control("Scope", ["One run", "All matching runs"], default="One run", key="fl_scope")
    if mode == "All matching runs":
        unfinished = runs[runs["status"] != "finished"]
        if not unfinished.empty:
            st.caption(f"{len(unfinished)} of these {len(runs)} runs did not finish "
                       f"({md(', '.join(sorted(set(unfinished['status']))))}): their failures are those recorded.")
        return tuple(runs["run_id"].tolist()), not unfinished.empty
    chosen = run_picker(runs, key="fl_run", default=default_run(runs))
    return (chosen,), run_status(runs[runs["run_id"] == chosen].iloc[0])


def drill_down(run_ids: tuple[str, ...], groups, flt) -> None:
    labels = [f"{g['error_kind']} · {g['count']} · {readable_cause(g['cause'], 90)}" for g in groups.to_dict("records")]
    choice = st.selectbox("Cases of a cause", range(len(labels)), format_func=lambda i: labels[i], key="fl_group")
    group = groups.iloc[choice]
    st.caption("Full message of the first case")
    st.code(group["example"] or "(no message)", language=None, wrap_lines=True)
    cases = data.failure_cases(str(db_path()), run_ids, group["error_kind"], group["cause"], flt)
    st.caption(f"{len(cases)} case(s) shown (newest first)")
    for case in cases.head(50).to_dict("records"):
        failure_card(case)


def failure_card(case: dict) -> None:
    """One failed case: its inputs and, when an image came back (a silent failure), that image, the evidence,
    with the checks it failed and what each means."""
    output = artifact_file(case.get("output_path"))
    with st.container(border=True):
        cols = st.columns([1, 1, 1, 1, 3] if output else [1, 1, 1, 3])
        shown = [("base_path", "person"), ("product_path", "product"), ("mask_path", "mask")]
        for col, (key, title) in zip(cols, shown, strict=False):
            image = artifact_file(case.get(key))
            if image:
                col.image(image, caption=title, width="stretch")
            elif key != "mask_path":
                col.text(f"{title}: not available")
        if output:
            cols[3].image(output, caption="output (what came back)", width="stretch")
        with cols[-1]:
            st.markdown(f"**{md(case['pair_id'])}** · {md(case['workflow'])} · repeat {case['repeat']} · "
                        f"run `{case['run_id']}`")
            st.text(f"{case['error_kind']} after {case['attempts']} attempt(s), {fmt_ms(case['latency_ms'])}")
            failed = failed_checks(case.get("failed_checks"), case.get("error_message"))
            if failed:
                st.caption("Why the checks rejected the output")
                for check in failed:
                    st.text(f"{check['name']}: {check['meaning'] or check['detail']}")
                    if check["meaning"] and check["detail"]:
                        st.text(f"  measured: {check['detail']}")
            else:
                st.code(case["error_message"] or "", language=None, wrap_lines=True)


def body() -> None:
    st.title("Failures")
    flt = filter_bar("fl")
    runs = data.pick_runs(str(db_path()), flt)
    if runs.empty:
        empty_database() if flt == type(flt)() else st.info("No run matches these filters.")
        return
    run_ids, partial = scope(runs)
    groups = data.failure_groups(str(db_path()), run_ids, flt)
    if groups.empty:
        if partial:
            st.info("No failure among the cases recorded so far; the run did not record every case.")
        else:
            st.success("No failures in this selection.")
        return
    total = int(groups["count"].sum())
    st.metric("Failed cases" + (" (partial)" if partial else ""), f"{total:,}", border=True)
    shown = groups.drop(columns=["example"]).assign(cause=[readable_cause(c) for c in groups["cause"]])
    st.dataframe(shown, hide_index=True, width="stretch", column_config=FAILURE_COLUMNS)
    drill_down(run_ids, groups, flt)


render(body)
