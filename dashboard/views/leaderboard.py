"""Leaderboard: a dataset's runs (any services, any versions) ranked from every blind pick, with intervals; and
whether the reviewers agree, with the disagreements a lead settles."""

from __future__ import annotations

import streamlit as st

from dashboard import data
from dashboard import leaderboard_view as view
from dashboard.common import db_path, md, render

ALL = "(all workflows)"


def body() -> None:
    st.title("Leaderboard")
    path = str(db_path())
    known = data.arena_datasets(path)
    if known.empty:
        st.info("A ranking needs two or more suite runs of one dataset (different services, or versions of one), "
                "then blind picks between their outputs in the Compare page's blind view.")
        return
    names = known["dataset"].tolist()
    cols = st.columns([2, 2, 1], vertical_alignment="bottom")
    dataset = cols[0].selectbox("Dataset", names, key="lb_dataset",
                                format_func=lambda d: f"{d} · {int(known.set_index('dataset').at[d, 'picks']):,} picks")
    workflow = cols[1].selectbox("Workflow", [ALL, *data.arena_workflows(path, dataset)], key="lb_workflow")
    with cols[2]:
        view.picks_download(dataset)
    runs = data.arena_runs(path, dataset)
    labels = {r["run_id"]: f"{r['label'] or '(no label)'} · {r['run_id']}" for r in runs.to_dict("records")}
    ranking, reviewers = st.tabs(["Ranking", "Reviewers"])
    with ranking:
        board = data.arena_board(path, dataset, None if workflow == ALL else workflow,
                           int(st.session_state.get("cmp_picks", 0)))
        view.ranking(board)
        unranked = [labels[r] for r in runs["run_id"] if r not in board.index]
        if board.rows and unranked:
            st.caption(f"Not ranked yet (no blind pick): {md(', '.join(unranked))}.")
    with reviewers:
        view.reviewers_tab(path, dataset, labels)


# Each read closes its connection at once: the bootstrap computes for a few hundred ms after reading, and a
# shared connection would hold the file from the writers (a run) all that time.
render(body, shared_reads=False)
