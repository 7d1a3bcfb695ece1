"""Runs: every run with its progress; launch a run, cancel or resume one; try a single pair now."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboard import data
from dashboard.common import database, db_path, render
from dashboard.launch_form import launch_form
from dashboard.try_one import try_one_pair
from vton_eval import launch
from vton_eval.gate import BlessError, bless, list_baselines


def runs_frame(runs: list[dict], blessed: set[str]) -> pd.DataFrame:
    rows = []
    for r in runs:
        total = r["total_cases"] or 0
        rows.append({
            "run": r["run_id"], "baseline": "✓" if r["run_id"] in blessed else "", "label": r["label"] or "",
            "status": r["status"], "dataset": r["dataset"],
            "endpoint": r["endpoint"], "progress": (r["done"] / total) if total else 0.0,
            "cases": f"{r['done']}/{total}", "ok": r["ok"], "errors": r["errors"],
            "error kinds": r["error_kinds"] or "", "duration (s)": r["duration_s"], "started": r["created_at"],
        })
    return pd.DataFrame(rows)


def actions(runs: list[dict]) -> None:
    by_id = {r["run_id"]: r for r in runs}
    chosen = st.selectbox("Run", list(by_id), key="runs_action_run",
                          format_func=lambda i: f"{i} · {by_id[i]['label'] or '(no label)'} · {by_id[i]['status']}")
    run = by_id[chosen]
    cols = st.columns(4)
    db = database()
    if run["status"] == "running":
        if cols[0].button("Cancel run", key="cancel_run", icon=":material/stop:"):
            try:
                launch.cancel_run(db, chosen)
                st.toast(f"Asked run {chosen} to stop")
            except ValueError as exc:
                st.error(str(exc))
    elif run["done"] < (run["total_cases"] or 0) or run["status"] in ("interrupted", "cancelled", "failed"):
        if cols[0].button("Resume run", key="resume_run", icon=":material/play_arrow:"):
            try:
                launch.resume_run(db, chosen)
                st.toast(f"Resuming run {chosen}")
                data.runs.clear()
            except ValueError as exc:
                st.error(str(exc))
    if run["status"] == "finished":
        if chosen in blessed_ids(db):
            cols[1].caption(f"Baseline for {run['dataset']} at {run['endpoint']}")
        elif cols[1].button("Bless as baseline", key="bless_run", icon=":material/verified:",
                            help="Release gates compare new runs of this dataset and endpoint with this one."):
            try:
                bless(db, chosen)
                st.toast(f"Run {chosen} is now the baseline for {run['dataset']}")
                st.rerun()
            except BlessError as exc:
                st.error(str(exc))
    if run.get("message"):
        st.caption("Message")
        st.text(run["message"])
    tail = launch.log_tail(db, chosen)
    if tail:
        with st.expander("Log of the run's process"):
            st.code(tail, language=None)


def blessed_ids(db) -> set[str]:
    return {b["run_id"] for b in list_baselines(db)}


def runs_section() -> None:
    runs = data.runs(str(db_path()))
    running = any(r["status"] == "running" for r in runs)

    @st.fragment(run_every=2.0 if running else None)
    def live() -> None:
        current = data.runs(str(db_path()))
        if not current:
            st.info("No runs yet. Launch one in the next tab, or from a terminal with `vton-eval run`.")
            return
        st.dataframe(runs_frame(current, blessed_ids(database())), hide_index=True, width="stretch", column_config={
            "progress": st.column_config.ProgressColumn("progress", format="percent", min_value=0, max_value=1),
            "duration (s)": st.column_config.NumberColumn(format="%.0f"),
            "started": st.column_config.DatetimeColumn(format="YYYY-MM-DD HH:mm:ss"),
        })
        if any(r["status"] == "running" for r in current):
            st.caption("Refreshing every 2 s while a run is going.")
        actions(current)

    live()


def body() -> None:
    st.title("Runs")
    tab_runs, tab_launch, tab_try = st.tabs(["Runs", "Launch a run", "Try one pair"])
    with tab_runs:
        runs_section()
    with tab_launch:
        launch_form()
    with tab_try:
        try_one_pair()


render(body, needs_data=False, shared_reads=False)
