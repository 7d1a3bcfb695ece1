"""Runs: every suite run with its progress; launch a run, cancel or resume one; try a single pair now."""

from __future__ import annotations

from typing import Any

import pandas as pd
import streamlit as st

from dashboard import auth, data
from dashboard.actions import act
from dashboard.common import database, db_path, md, render
from dashboard.keys import RUNS_ERROR, RUNS_FOLLOW, RUNS_NOTE
from dashboard.launch_form import RUNS_TAB_KEY, launch_form, show_runs_tab_if_asked
from dashboard.try_one import earlier_tries, try_one_pair
from dashboard.widgets import system_label
from vton_eval import launch
from vton_eval.access import Action
from vton_eval.analytics.audit import run_acts
from vton_eval.gate import bless, list_baselines

TABS = ("Runs", "Launch a run", "Try one pair")
READ_ONLY_TABS = ("Runs", "Tries")  # for a role that may not launch: no form, no Try button
POLL_S = 2.0

# Sized to fit a 1400 px window beside the sidebar, without scrolling sideways; progress is one column. The
# columns that carry the answer (the run id, its status, how much it recorded, which system and port it called)
# are wide enough for their text in the grid's font (tests/helpers/grid.py measures them).
RUN_COLUMNS = {
    "run": st.column_config.TextColumn("Run", width=152),
    "label": st.column_config.TextColumn("Label", width=84),
    "status": st.column_config.TextColumn("Status", width=84),
    "recorded": st.column_config.TextColumn("Recorded", width=76, help="cases with a result, of those planned "
                                                                      "(the ok ones: recorded less errors)"),
    "errors": st.column_config.NumberColumn("Errors", width=52),
    "dataset": st.column_config.TextColumn("Dataset", width=64),
    "endpoint": st.column_config.TextColumn("System", width=172, help="the run's profile @ its endpoint"),
    "duration": st.column_config.NumberColumn("Duration", width=68, format="%.0f s"),
    "started": st.column_config.DatetimeColumn("Started", width=84, format="MM-DD HH:mm", help="UTC"),
    "baseline": st.column_config.CheckboxColumn("Baseline", width=66),
}


def runs_frame(runs: list[dict[str, Any]], blessed: set[str]) -> pd.DataFrame:
    rows = [{
        "run": r["run_id"], "label": r["label"] or "", "status": r["status"],
        "recorded": f"{r['done']} of {r['total_cases'] or 0}", "errors": r["errors"],
        "dataset": r["dataset"], "endpoint": system_label(r, compact=True), "duration": r["duration_s"],
        "started": r["created_at"],
        "baseline": r["run_id"] in blessed,
    } for r in runs]
    return pd.DataFrame(rows, columns=list(RUN_COLUMNS))


def blessed_ids() -> set[str]:
    return {b["run_id"] for b in list_baselines(database())}


# The buttons' callbacks run in the polling fragment's reruns: they leave a note for the fragment to show
# (an element drawn by a callback would land at the top of the page).
def _cancel(run_id: str) -> None:
    act(lambda: launch.cancel_run(database(), run_id, auth.actor()), RUNS_ERROR, RUNS_NOTE,
        f"Asked run {run_id} to stop.")
    data.runs.clear()


def _resume(run_id: str) -> None:
    if act(lambda: launch.resume_run(database(), run_id, auth.actor(), token=auth.service_token()), RUNS_ERROR,
           RUNS_NOTE, f"Resuming run {run_id} in its own process.") is not None:
        follow(run_id)
    data.runs.clear()


FOLLOW = RUNS_FOLLOW


def follow(run_id: str) -> None:
    st.session_state[FOLLOW] = run_id


def _bless(run_id: str) -> None:
    act(lambda: bless(database(), run_id, auth.actor()), RUNS_ERROR, RUNS_NOTE,
        lambda row: f"Run {run_id} is now the baseline for {row['dataset']}.")


ACTED = {"launch": "launched", "resume": "resumed", "cancel": "cancelled", "bless": "blessed", "try": "tried"}


def actions(runs: list[dict[str, Any]], blessed: set[str]) -> None:
    by_id = {r["run_id"]: r for r in runs}
    followed = st.session_state.pop(FOLLOW, None)
    if followed in by_id:  # just started or resumed here: its buttons (Cancel) are the ones at hand
        st.session_state["runs_action_run"] = followed
    # The status is in the table: a label that changes under a selectbox is not redrawn by the browser.
    chosen = st.selectbox("Run", list(by_id), key="runs_action_run",
                          format_func=lambda i: f"{i} · {by_id[i]['label'] or '(no label)'}")
    run = by_id[chosen]
    if error := st.session_state.pop(RUNS_ERROR, None):
        st.error(md(error))
    if note := st.session_state.pop(RUNS_NOTE, None):
        st.success(md(note))
    row = st.container(horizontal=True, vertical_alignment="center")
    # The buttons of an operator's acts are offered to operators only (the engine refuses them to others too).
    operator = auth.may(Action.LAUNCH)
    if not operator:
        row.caption("Cancelling, resuming and blessing runs need the operator role.")
    elif run["status"] == "running":
        row.button("Cancel run", key="cancel_run", icon=":material/stop:", on_click=_cancel, args=(chosen,))
    elif run["done"] < (run["total_cases"] or 0) or run["status"] in ("interrupted", "cancelled", "failed"):
        row.button("Resume run", key="resume_run", icon=":material/play_arrow:", on_click=_resume, args=(chosen,))
    if run["status"] == "finished":
        if chosen in blessed:
            row.caption(f"The baseline for {md(run['dataset'])} at {md(run['endpoint'])}")
        elif operator:
            row.button("Bless as baseline", key="bless_run", icon=":material/verified:", on_click=_bless,
                       args=(chosen,),
                       help="Release gates compare new runs of this dataset and endpoint with this one.")
    acts = run_acts(database(), chosen)
    if acts:
        st.caption(" · ".join(f"{ACTED[a['action']]} by {md(a['actor'])} at {a['acted_at']:%Y-%m-%d %H:%M} UTC"
                              for a in acts))
    if run.get("error_kinds"):
        st.caption(f"Error kinds: {md(run['error_kinds'].replace(',', ', '))}")
    if run.get("message"):
        st.caption("Message")
        st.text(run["message"])
    tail = launch.log_tail(database(), chosen, lines=60)
    if tail:
        with st.expander("Log of the run's process"):
            st.code(tail, language=None)


def runs_section() -> None:
    running = any(r["status"] == "running" for r in data.runs(str(db_path())))

    @st.fragment(run_every=POLL_S if running else None)
    def live() -> None:
        current = data.runs(str(db_path()))
        still_running = any(r["status"] == "running" for r in current)
        if running != still_running:
            # The last run ended (redraw everything once, and stop polling), or one started or was resumed
            # while nothing was running (poll from now on).
            st.rerun(scope="app")
        if not current:
            st.info("No runs yet. Launch one in the next tab, or from a terminal with `vton-eval run`.")
            return
        blessed = blessed_ids()
        st.dataframe(runs_frame(current, blessed), hide_index=True, column_config=RUN_COLUMNS, key="runs_table")
        if still_running:
            st.caption(f"Updating every {POLL_S:.0f} s while a run is going.")
        actions(current, blessed)

    live()


def body() -> None:
    st.title("Runs")
    show_runs_tab_if_asked()
    if not auth.may(Action.LAUNCH):
        tab_runs, tab_tries = st.tabs(READ_ONLY_TABS, key=f"{RUNS_TAB_KEY}_read_only")
        with tab_runs:
            runs_section()
        with tab_tries:
            st.caption("Launching a run and trying one pair need the operator role.")
            earlier_tries()
        return
    tab_runs, tab_launch, tab_try = st.tabs(TABS, key=RUNS_TAB_KEY, on_change="rerun")
    with tab_runs:
        runs_section()
    with tab_launch:
        launch_form()
    with tab_try:
        try_one_pair()


render(body, needs_data=False, shared_reads=False)
