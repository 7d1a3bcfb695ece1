"""The blind view's arena mode: among several runs of one dataset, the comparison that narrows the ranking
most comes next (`vton_eval.arena.schedule`), never a case this reviewer already judged for those two runs,
and no run is named before the pick. Says when the ranking is settled."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import streamlit as st

from dashboard import data
from dashboard.common import database, db_path, md
from vton_eval import preferences

MAX_RUNS = 12


def _runs(path: str) -> tuple[str, dict[str, dict[str, Any]]] | None:
    """The dataset and the runs chosen for the arena (at least two), or None with the reason shown."""
    known = data.arena_datasets(path)
    if known.empty:
        st.info("The arena needs two or more suite runs of one dataset (different services, or versions of one).")
        return None
    dataset = st.selectbox("Dataset", known["dataset"].tolist(), key="cmp_arena_ds")
    runs = data.arena_runs(path, dataset)
    runs = runs[runs["outputs"] > 0]
    by_id = {r["run_id"]: r for r in runs.to_dict("records")}
    key = f"cmp_arena_runs_{dataset}"
    state = st.session_state
    state[key] = [i for i in state[key] if i in by_id] if key in state else list(by_id)[:MAX_RUNS]
    st.multiselect("Runs in the ranking", list(by_id), key=key, max_selections=MAX_RUNS,
                   format_func=lambda i: f"{by_id[i]['label'] or '(no label)'} · {by_id[i]['profile']} · {i}")
    if len(state[key]) < 2:
        st.info("Choose two or more runs: the next comparison is chosen among them.")
        return None
    return dataset, {i: by_id[i] for i in state[key]}


def arena(person: Any, draw_case: Callable[..., None], reveal: Callable[[dict[str, str]], None]) -> None:
    """`draw_case(person, run_a, run_b, case)` and `reveal(names)` are the blind view's own (views/compare.py)."""
    path = str(db_path())
    chosen = _runs(path)
    if chosen is None:
        return
    dataset, runs = chosen
    names = {i: f"{r['label'] or '(no label)'} · {r['profile']} · {i}" for i, r in runs.items()}
    st.caption("Each case shows two of these runs' outputs for the same inputs in random order, without saying "
               "which run is which; the two runs are the pair whose order in the ranking is least certain. Pick the "
               "better one (or a tie, keys ← T →): it is stored at once, then the runs are named.")
    if error := st.session_state.pop("cmp_pick_error", None):
        st.error(f"The pick was not stored: {md(error)}")
    reveal(names)
    workflows = st.multiselect("Workflow", data.arena_workflows(path, dataset) or [], key="cmp_arena_wf",
                               placeholder="all")
    target = st.session_state.get("cmp_rejudge")
    if target and target[2] in runs and target[3] in runs:
        a, b = target[2], target[3]
        case, _, _ = preferences.blind_state(database(), a, b, person.name, workflows, case=(target[0], int(target[1])))
        if case is not None:
            draw_case(person, a, b, case)
            return
    board = data.arena_board(path, dataset, None, int(st.session_state.get("cmp_picks", 0)))
    case, choice, left = preferences.arena_state(database(), list(runs), person.name, board, workflows)
    if board.settled:
        st.success("The ranking is settled: every two neighbours are apart or alike with confidence, so more picks "
                   "would not change the order. You can go on judging; the Leaderboard shows it.")
    elif board.rows:
        st.caption(f"Not settled yet: {len(board.open_pairs)} neighbouring pair(s) in the ranking could still swap.")
    if case is None or choice is None:
        st.success("You have judged every case of every pair of these runs (for this selection).")
    else:
        st.caption(f"Why this comparison: {choice.why} · {left:,} comparison(s) left for you")
        draw_case(person, case["baseline"], case["candidate"], case)
    st.page_link("views/leaderboard.py", label="Leaderboard", icon=":material/leaderboard:")
