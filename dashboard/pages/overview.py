"""Overview: per workflow, how often the service fails, why, how slow it is, and the change since last time."""

from __future__ import annotations

import io

import pandas as pd
import plotly.express as px
import streamlit as st

from dashboard import data
from dashboard.common import db_path, empty_database, fmt_ms, fmt_pct, is_missing, render
from dashboard.widgets import filter_bar, run_picker
from vton_eval.analytics.overview import default_run

_METRICS = (  # key, label, formatter, a rise is good?
    ("cases", "Cases", lambda v: f"{int(v):,}", None),
    ("success_rate", "Success rate", fmt_pct, True),
    ("error_rate", "Error rate", fmt_pct, False),
    ("p50_ms", "p50 latency", fmt_ms, False),
    ("p95_ms", "p95 latency", fmt_ms, False),
    ("p99_ms", "p99 latency", fmt_ms, False),
)


def _delta(key: str, value) -> str | None:
    if is_missing(value):
        return None
    if key == "cases":
        return f"{int(value):+,}"
    if key.endswith("_rate"):
        return f"{value * 100:+.1f} pts"
    return f"{value:+,.0f} ms"


def headline(run_id: str, flt) -> dict:
    info = data.headline_with_change(str(db_path()), run_id, flt)
    cols = st.columns(len(_METRICS))
    for col, (key, label, fmt, rise_good) in zip(cols, _METRICS, strict=True):
        value = info["current"].get(key)
        delta = info["delta"].get(key)
        colour = "off" if rise_good is None else ("normal" if rise_good else "inverse")
        col.metric(label, "–" if is_missing(value) else fmt(value), _delta(key, delta), delta_color=colour,
                   border=True)
    if info["previous_run"]:
        st.caption(f"Change against the previous comparable run {info['previous_run']} "
                   "(same dataset and workflows).")
    else:
        st.caption("No earlier run over the same dataset and workflows to compare with.")
    return info


def charts(run_id: str, flt) -> dict[str, pd.DataFrame]:
    path = str(db_path())
    errors = data.errors_by_workflow(path, run_id, flt)
    latency = data.latency_stats(path, run_id, flt)
    pct = data.latency_percentiles(path, run_id, flt)
    trend = data.trend(path, flt)
    heat = data.tag_heatmap(path, run_id, flt)

    left, right = st.columns(2)
    with left:
        st.subheader("Error rate by workflow")
        if errors.empty:
            st.success("No errors in this run.")
        else:
            fig = px.bar(errors, x="workflow", y="rate", color="error_kind", barmode="stack",
                         labels={"rate": "error rate", "error_kind": "error kind"}, hover_data=["n", "cases"])
            fig.update_layout(yaxis_tickformat=".0%", height=340, margin=dict(t=10, b=10))
            st.plotly_chart(fig, key="errors_chart")
    with right:
        st.subheader("Latency distribution (ok calls)")
        if latency.empty:
            st.info("No successful calls, so no latency to show.")
        else:
            fig = px.bar(latency, x="bin_ms", y="n", color="workflow", barmode="overlay", opacity=0.6,
                         labels={"bin_ms": "latency (ms)", "n": "calls"})
            fig.update_layout(height=340, margin=dict(t=10, b=10), bargap=0)
            st.plotly_chart(fig, key="latency_chart")
            st.dataframe(pct, hide_index=True, column_config={
                c: st.column_config.NumberColumn(c, format="%.0f") for c in pct.columns if c.endswith("_ms")})

    left, right = st.columns(2)
    with left:
        st.subheader("Trend across runs")
        if trend.empty or trend["run_id"].nunique() < 2:
            st.info("The trend needs at least two runs matching the filters.")
        else:
            metric = st.segmented_control("Trend of", ["error rate", "p95 latency"], default="error rate",
                                          key="trend_metric")
            y = "p95_ms" if metric == "p95 latency" else "error_rate"
            fig = px.line(trend, x="created_at", y=y, color="workflow", markers=True,
                          hover_data=["run_id", "label", "cases"], labels={"created_at": "run started"})
            if y == "error_rate":
                fig.update_layout(yaxis_tickformat=".0%")
            fig.update_layout(height=340, margin=dict(t=10, b=10))
            st.plotly_chart(fig, key="trend_chart")
    with right:
        st.subheader("Error rate by workflow and tag")
        if heat.empty:
            st.info("No tagged cases in this run.")
        else:
            grid = heat.pivot(index="workflow", columns="tag", values="error_rate")
            fig = px.imshow(grid, color_continuous_scale="Reds", zmin=0, zmax=max(0.01, float(grid.max().max())),
                            aspect="auto", text_auto=".0%", labels={"color": "error rate"})
            fig.update_layout(height=340, margin=dict(t=10, b=10))
            st.plotly_chart(fig, key="heatmap_chart")
    flags = data.flag_rates(path, run_id, flt)
    st.subheader("Automatic checks by workflow")
    if flags.empty:
        st.info("No checked outputs in this run (checks were off, or every call failed).")
    else:
        st.dataframe(flags, hide_index=True, width="stretch", column_config={
            "outputs": st.column_config.NumberColumn("checked outputs"),
            "flag_rate": st.column_config.ProgressColumn("flagged (soft)", format="percent", min_value=0, max_value=1),
            "silent_failure_rate": st.column_config.ProgressColumn("silent failures (hard)", format="percent",
                                                                   min_value=0, max_value=1),
            "flags": st.column_config.TextColumn("most frequent flags", width="large"),
        })
    return {"errors_by_workflow": errors, "latency_percentiles": pct, "trend": trend, "tag_heatmap": heat,
            "flag_rates": flags}


def page_csv(run_id: str, info: dict, tables: dict[str, pd.DataFrame]) -> bytes:
    """All the page's numbers in one long CSV: section, run, workflow, key, value."""
    rows = []
    for which in ("current", "previous"):
        values = info.get(which) or {}
        rid = run_id if which == "current" else info.get("previous_run")
        for key, value in values.items():
            if key != "run_id":
                rows.append({"section": f"headline_{which}", "run_id": rid, "workflow": "", "key": key, "value": value})
    for name, df in tables.items():
        for rec in df.to_dict("records"):
            wf = rec.get("workflow", "")
            for key, value in rec.items():
                if key != "workflow":
                    rows.append({"section": name, "run_id": rec.get("run_id", run_id), "workflow": wf,
                                 "key": key if name != "tag_heatmap" else f"{rec['tag']}:{key}", "value": value})
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
    if row["status"] == "running":
        st.info(f"This run is still going ({row['done']} of {row['total_cases']} cases recorded); "
                "numbers will change.")
    info = headline(run_id, flt)
    tables = charts(run_id, flt)
    st.download_button("Download this page's numbers (CSV)", page_csv(run_id, info, tables),
                       file_name=f"overview-{run_id}.csv", mime="text/csv", icon=":material/download:")


render(body)
