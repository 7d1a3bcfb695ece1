"""Overview: per workflow, how often the service fails, why, how slow it is, and the change since last time."""

from __future__ import annotations

import io
import math

import pandas as pd
import streamlit as st

from dashboard import charts, data
from dashboard.agreement_view import agreement_section
from dashboard.common import NO_CHANGE, db_path, empty_database, fmt_delta, fmt_ms, fmt_pct, is_missing, md, render
from dashboard.widgets import filter_bar, run_picker, run_status
from vton_eval.analytics.overview import Overview, default_run

_METRICS = (  # key, label, formatter, a rise is good?
    ("cases", "Cases", lambda v: f"{int(v):,}", None),
    ("success_rate", "Success rate", fmt_pct, True),
    ("error_rate", "Error rate", fmt_pct, False),
    ("p50_ms", "p50 latency", fmt_ms, False),
    ("p95_ms", "p95 latency", fmt_ms, False),
    ("p99_ms", "p99 latency", fmt_ms, False),
)


def headline(view: Overview, partial: bool, recorded: str | None) -> None:
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
    if info["previous_run"]:
        st.caption(f"Change against the previous comparable run {md(info['previous_run'])} (the latest earlier "
                   "finished suite run over the same dataset and workflows).")
    else:
        st.caption("No earlier finished run over the same dataset and workflows to compare with.")


_LATENCY_COLUMNS = {
    "workflow": st.column_config.TextColumn("Workflow"),
    "n": st.column_config.NumberColumn("OK calls", format="%d"),
    "p50_ms": st.column_config.NumberColumn("Median (p50)", format="%.0f ms"),
    "p95_ms": st.column_config.NumberColumn("p95", format="%.0f ms"),
    "p99_ms": st.column_config.NumberColumn("p99", format="%.0f ms"),
    "mean_queue_ms": st.column_config.NumberColumn("Mean queue wait", format="%.0f ms"),
}
_FLAG_COLUMNS = {
    "workflow": st.column_config.TextColumn("Workflow"),
    "outputs": st.column_config.NumberColumn("Checked outputs", format="%d"),
    "flag_rate": st.column_config.ProgressColumn("Flagged (soft check failed)", format="percent", min_value=0,
                                                 max_value=1),
    "silent_failure_rate": st.column_config.ProgressColumn("Silent failures (hard check failed)", format="percent",
                                                           min_value=0, max_value=1),
    "flags": st.column_config.TextColumn("Most frequent flags", width="large"),
}


def charts_section(view: Overview, partial: bool) -> None:
    suffix = " (partial)" if partial else ""
    left, right = st.columns(2)
    with left:
        st.subheader("Error rate by workflow" + suffix)
        if view.errors.empty:
            st.info("This run planned no workflow the filters keep.")
        else:
            st.plotly_chart(charts.error_rates(view.errors), key="errors_chart")
            st.caption("Each bar stacks the run's errors by kind; the label is errors of recorded cases.")
    with right:
        st.subheader("Latency by workflow" + suffix)
        if view.latency.empty:
            st.info("No successful calls, so no latency to show.")
        else:
            st.plotly_chart(charts.latency_boxes(view.latency), key="latency_chart")
            st.caption("Ok calls only. Box: middle half (p25–p75) with the median; whiskers: p5–p95; diamond: p99.")
            st.dataframe(view.latency[list(_LATENCY_COLUMNS)], hide_index=True, column_config=_LATENCY_COLUMNS,
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
        st.dataframe(view.flags[[c for c in _FLAG_COLUMNS if c in view.flags]], hide_index=True, width="stretch",
                     column_config=_FLAG_COLUMNS, key="flags_table")


def page_csv(run_id: str, view: Overview) -> bytes:
    """All the page's numbers in one long CSV: section, run, workflow, key, value."""
    info = view.headline
    rows = []
    for which in ("current", "previous"):
        values = info.get(which) or {}
        rid = run_id if which == "current" else info.get("previous_run")
        for key, value in values.items():
            if key != "run_id":
                rows.append({"section": f"headline_{which}", "run_id": rid, "workflow": "", "key": key, "value": value})
    tables = {"errors_by_workflow": view.errors, "latency": view.latency, "trend": view.trend,
              "tag_heatmap": view.heatmap, "flag_rates": view.flags}
    for name, df in tables.items():
        for rec in df.to_dict("records"):
            wf = rec.get("workflow", "")
            for key, value in rec.items():
                if key == "workflow" or (isinstance(value, float) and math.isnan(value)):
                    continue
                if name == "tag_heatmap":
                    key = f"{rec['tag']}:{key}"
                elif name == "errors_by_workflow":
                    key = f"{rec['error_kind'] or 'none'}:{key}"
                rows.append({"section": name, "run_id": rec.get("run_id", run_id), "workflow": wf, "key": key,
                             "value": value})
    buf = io.StringIO()
    pd.DataFrame(rows).to_csv(buf, index=False)
    return buf.getvalue().encode("utf-8")


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
    headline(view, partial, recorded)
    charts_section(view, partial)
    st.subheader("Automatic checks against reviewers' verdicts")
    agreement_section(run_id, key="ov_agreement")
    st.download_button("Download this page's numbers (CSV)", lambda: page_csv(run_id, view),
                       file_name=f"overview-{run_id}.csv", mime="text/csv", icon=":material/download:")


render(body)
