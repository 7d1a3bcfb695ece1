"""Overview: per workflow, how often the service fails, why, how slow it is, and the change since last time."""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd
import streamlit as st

from dashboard import charts, data
from dashboard.check_agreement_view import agreement_section
from dashboard.common import NO_CHANGE, db_path, empty_database, fmt_delta, fmt_ms, fmt_pct, is_missing, md, render
from dashboard.widgets import filter_bar, run_picker, run_status
from vton_eval.analytics.overview import Overview, default_run, overview_csv
from vton_eval.checks.meanings import meaning

_METRICS = (  # key, label, formatter, a rise is good?
    ("cases", "Cases", lambda v: f"{int(v):,}", None),
    ("success_rate", "Success rate", fmt_pct, True),
    ("error_rate", "Error rate", fmt_pct, False),
    ("p50_ms", "p50 latency", fmt_ms, False),
    ("p95_ms", "p95 latency", fmt_ms, False),
    ("p99_ms", "p99 latency", fmt_ms, False),
)


def headline(view: Overview, partial: bool, recorded: str | None, run_name: Callable[[str], str]) -> None:
    info = view.headline
    cols = st.columns(len(_METRICS))
    for col, (key, label, fmt, rise_good) in zip(cols, _METRICS, strict=True):
        value = info["current"].get(key)
        shown = "–" if is_missing(value) else fmt(value)
        if key == "cases" and partial and recorded:
            shown = recorded
        delta = fmt_delta(key, info["delta"].get(key))
        flat = delta == NO_CHANGE  # no arrow and no colour for a change that is not one
        colour = "off" if rise_good is None or flat else ("normal" if rise_good else "inverse")
        col.metric(label + (" (partial)" if partial else ""), shown, delta, delta_color=colour,
                   delta_arrow="off" if flat else "auto", border=True)
    other = info["previous_run"]
    if other and info.get("compared_with") == "baseline":
        st.caption(f"Change against the blessed baseline of this dataset: {md(run_name(other))} (what release gates "
                   "compare with; bless another run on the Runs page).")
    elif other:
        st.caption(f"Change against the previous comparable run {md(run_name(other))} (the latest earlier finished "
                   "suite run over the same dataset and workflows; no run of this dataset is blessed as its baseline).")
    else:
        st.caption("No blessed baseline and no earlier finished run over the same dataset and workflows to compare "
                   "with.")


# In half the page (about 460 px): every column wide enough for its text in the grid's font, in seconds (a
# five-minute call is "300.00 s", not a number wider than its column).
_LATENCY_COLUMNS = {
    "workflow": st.column_config.TextColumn("Workflow", width=76),
    "n": st.column_config.NumberColumn("OK", format="%d", width=44, help="ok calls"),
    "p50_s": st.column_config.NumberColumn("p50", format="%.2f s", width=72, help="median latency of ok calls"),
    "p95_s": st.column_config.NumberColumn("p95", format="%.2f s", width=72),
    "p99_s": st.column_config.NumberColumn("p99", format="%.2f s", width=72),
    "mean_queue_s": st.column_config.NumberColumn("Mean queue", format="%.2f s", width=88,
                                                  help="mean wait in the service's queue before processing"),
}
_FLAG_COLUMNS = {
    "workflow": st.column_config.TextColumn("Workflow"),
    "outputs": st.column_config.NumberColumn("Checked outputs", format="%d"),
    "flag_pct": st.column_config.ProgressColumn(
        "Flagged for a look", format="%.1f%%", min_value=0, max_value=100,
        help="Outputs that failed a soft check: they still count as ok; worth a reviewer's look."),
    "flags": st.column_config.TextColumn("Checks the flagged failed", width="medium",
                                         help="Each check with the number of flagged outputs that failed it."),
    "silent_failure_pct": st.column_config.ProgressColumn(
        "Silent failures", format="%.1f%%", min_value=0, max_value=100,
        help="Outputs that failed a hard check: the call succeeded but the image is not a try-on; counted as "
             "errors."),
    "silent_flags": st.column_config.TextColumn("Checks the silent failures failed", width="medium",
                                                help="Each check with the number of silent failures that failed it."),
}


def check_meanings(flags: pd.DataFrame) -> pd.DataFrame:
    """What each check named in the table says about an output, in words."""
    names = sorted({n for joined in flags.get("checks", pd.Series(dtype=object)).dropna() for n in joined.split(";")
                    if n})
    return pd.DataFrame({"check": names, "meaning": [meaning(n) or "(no description for this check)"
                                                      for n in names]})


def charts_section(view: Overview, partial: bool) -> None:
    suffix = " (partial)" if partial else ""
    left, right = st.columns(2)
    with left:
        st.subheader("Error rate by workflow" + suffix)
        if view.errors.empty:
            st.info("This run planned no workflow the filters keep.")
        else:
            compared = view.headline.get("compared_with")
            name = "blessed baseline" if compared == "baseline" else "previous run"
            st.plotly_chart(charts.error_rates(view.errors, view.compared_errors, name), key="errors_chart")
            st.caption("Each bar stacks the run's errors by kind; the label is errors of recorded cases."
                       + (f" The grey bar beside it: the {name} the headline compares with." if
                          not view.compared_errors.empty else ""))
    with right:
        st.subheader("Latency by workflow" + suffix)
        if view.latency.empty:
            st.info("No successful calls, so no latency to show.")
        else:
            st.plotly_chart(charts.latency_boxes(view.latency), key="latency_chart")
            st.caption("Ok calls only. Box: middle half (p25–p75) with the median; whiskers: p5–p95; diamond: p99.")
            seconds = view.latency.assign(**{f"{c}_s": view.latency[f"{c}_ms"] / 1000.0
                                              for c in ("p50", "p95", "p99", "mean_queue")})
            st.dataframe(seconds[list(_LATENCY_COLUMNS)], hide_index=True, column_config=_LATENCY_COLUMNS,
                         key="latency_table")

    left, right = st.columns(2)
    with left:
        st.subheader("Trend across runs")
        if view.trend.empty or view.trend["run_id"].nunique() < 2:
            st.info("The trend needs at least two finished suite runs matching the filters.")
        else:
            metric = st.segmented_control("Trend of", ["error rate", "p95 latency"], default="error rate",
                                          key="trend_metric")
            st.plotly_chart(charts.trend(view.trend, "p95_ms" if metric == "p95 latency" else "error_rate"),
                            key="trend_chart")
            st.caption("Finished suite runs matching the filters (the latest 60); single-pair tries are left out.")
    with right:
        st.subheader("Error rate by workflow and tag" + suffix)
        if view.heatmap.empty:
            st.info("No recorded case in this run yet.")
        else:
            st.plotly_chart(charts.tag_heatmap(view.heatmap), key="heatmap_chart")
    st.subheader("Automatic checks by workflow" + suffix)
    if view.flags.empty:
        st.info("No checked outputs in this run (checks were off, or every call failed).")
    else:
        shown = view.flags.assign(flag_pct=view.flags["flag_rate"] * 100,
                                  silent_failure_pct=view.flags["silent_failure_rate"] * 100)
        st.dataframe(shown[[c for c in _FLAG_COLUMNS if c in shown]], hide_index=True, width="stretch",
                     column_config=_FLAG_COLUMNS, key="flags_table")
        meanings = check_meanings(view.flags)
        if not meanings.empty:
            st.caption("What the checks named above mean when an output fails them")
            st.dataframe(meanings, hide_index=True, width="stretch", key="check_meanings", column_config={
                "check": st.column_config.TextColumn("Check"),
                "meaning": st.column_config.TextColumn("What a failure means", width="large")})


def body() -> None:
    st.title("Overview")
    flt = filter_bar("ov")
    runs = data.pick_runs(str(db_path()), flt)
    if runs.empty:
        if flt == type(flt)():
            empty_database()
        else:
            st.info("No run matches these filters.")
        return
    run_id = run_picker(runs, key="ov_run", default=default_run(runs))
    row = runs[runs["run_id"] == run_id].iloc[0]
    partial = run_status(row)
    view = data.overview_data(str(db_path()), run_id, flt)
    recorded = f"{int(row['done']):,} of {int(row['total_cases'] or 0):,}" if not flt.workflows else None
    names = {r["run_id"]: f"{r['label'] or '(no label)'} · {r['run_id']}" for r in runs.to_dict("records")}
    headline(view, partial, recorded, lambda i: names.get(i, i))
    charts_section(view, partial)
    st.subheader("Automatic checks against reviewers' verdicts")
    agreement_section(run_id, key="ov_agreement")
    st.download_button("Download this page's numbers (CSV)", lambda: overview_csv(run_id, view),
                       file_name=f"overview-{run_id}.csv", mime="text/csv", icon=":material/download:")


render(body)
