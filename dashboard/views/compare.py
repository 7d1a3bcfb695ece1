"""Compare: what two to four runs produced for the same inputs, side by side, and blind A/B preferences."""

from __future__ import annotations

import time
from typing import Any

import pandas as pd
import streamlit as st

from dashboard import arena_blind, auth
from dashboard import data as reads
from dashboard import side_by_side as view
from dashboard.common import artifact_file, database, db_path, empty_database, md, render
from dashboard.widgets import run_label, run_status
from vton_eval import preferences
from vton_eval.access import Action
from vton_eval.analytics.compare import CaseFilter, CompareSetup
from vton_eval.errors import VtonEvalError
from vton_eval.store import DatabaseBusy

MODES = ("Side by side", "Blind preference")
BLIND_MODES = ("Chosen for the ranking", "Two runs I pin")


def choose_runs() -> tuple[list[dict[str, Any]] | None, CompareSetup]:
    """The baseline, then one to three runs over the same dataset; None (with a reason shown) when there are none.

    The choices live in session state the page writes itself, so they survive the blind view, which
    draws its own pickers (Streamlit forgets the value of a widget that a rerun does not draw).
    """
    path, state = str(db_path()), st.session_state
    # A choice is also kept under a key of its own: a visit to another page forgets the widgets' values, and the
    # defaults would then be whatever run was launched last.
    setup = reads.compare_setup(path, state.get("cmp_base") or state.get("cmp_base_picked"))
    if setup.baseline is None:
        empty_database()
        return None, setup
    by_id = {r["run_id"]: r for r in setup.runs.to_dict("records")}
    state["cmp_base"] = setup.baseline
    blessed = set(setup.blessed)
    st.selectbox("Baseline run", list(by_id), key="cmp_base",
                 format_func=lambda i: ("★ blessed baseline · " if i in blessed else "") + run_label(by_id[i]))
    base = setup.baseline
    state["cmp_base_picked"] = base
    if base in blessed:
        st.caption(f"The baseline is the blessed baseline of {md(by_id[base]['dataset'])}: what the team ships, and "
                   "what release gates compare with.")
    else:
        dataset = by_id[base]["dataset"]
        theirs = [i for i in by_id if i in blessed and by_id[i]["dataset"] == dataset]
        st.caption(f"The blessed baseline of {md(dataset)} is {md(view.short_label(by_id[theirs[0]]))}; this baseline "
                   "is another run." if theirs else
                   f"No run of {md(dataset)} is blessed as its baseline: the default is the run before the latest "
                   "(bless one on the Runs page to compare with what you ship).")
    if setup.others.empty:
        st.warning(f"No other run over the dataset {md(by_id[base]['dataset'])} shares a case with this one. Run "
                   "the same dataset again (another endpoint or model version) and come back.")
        return None, setup
    o_by_id = {r["run_id"]: r for r in setup.others.to_dict("records")}
    key = f"cmp_others_{base}"
    kept = [i for i in state.get(f"{key}_picked", []) if i in o_by_id][:3]
    state[key] = [i for i in state[key] if i in o_by_id][:3] if key in state else (kept or list(o_by_id)[:1])
    st.multiselect("Compare with (1 to 3 runs over the same dataset)", list(o_by_id), key=key, max_selections=3,
                   format_func=lambda i: f"{run_label(o_by_id[i])} · {o_by_id[i]['shared']:,} shared cases")
    state[f"{key}_picked"] = list(state[key])
    if not state[key]:
        st.info("Pick at least one run to compare with the baseline.")
        return None, setup
    return [by_id[base], *(o_by_id[i] for i in state[key])], setup


def side_by_side(runs: list[dict[str, Any]], setup: CompareSetup) -> None:
    path, state = str(db_path()), st.session_state
    ids = tuple(r["run_id"] for r in runs)
    two = len(runs) == 2
    cols = st.columns([2, 2, 1.4, 1.4], vertical_alignment="bottom")
    workflows = cols[0].multiselect("Workflow", setup.workflows, key="cmp_wf", placeholder="all")
    tag = cols[1].selectbox("Tag", ["", *setup.tags], key="cmp_tag", format_func=lambda t: t or "any")
    sort = cols[2].selectbox("Order", list(view.SORTS), key="cmp_sort", format_func=view.SORTS.get)
    changed = cols[3].toggle("Only changed outcomes", key="cmp_changed")
    flt = CaseFilter(tuple(workflows), tag or None, changed)
    # New runs, filters or order start again at page 1 (the old page number may not exist any more).
    # Deleting the widget's key (not setting it) resets it without a "set via Session State" warning.
    if state.get("cmp_signature") != (ids, flt, sort):
        state["cmp_signature"] = (ids, flt, sort)
        state.pop("cmp_page", None)
    number = int(state.get("cmp_page") or 1)
    picks = int(state.get("cmp_picks", 0))
    started = time.time()
    data, read_at = reads.compare_view(path, ids, flt, sort, number, view.PAGE_SIZE, picks)
    if number > view.page_count(data.page.total):
        state.pop("cmp_page", None)
        number = 1
        data, read_at = reads.compare_view(path, ids, flt, sort, number, view.PAGE_SIZE, picks)
    if data.summary is not None:
        view.summary(runs[0], runs[1], data.summary)
    st.subheader("Side by side")
    page = data.page
    if page.total == 0:
        st.info("No shared case matches these filters." if flt != CaseFilter() else
                "These runs have no case in common (same pair id and repeat).")
        return
    st.pagination(view.page_count(page.total), key="cmp_page")
    first = (number - 1) * view.PAGE_SIZE + 1
    st.caption(f"Cases {first:,}–{first + len(page.rows) - 1:,} of {page.total:,} shared")
    if two and sort == "most_changed":
        view.similarity_progress(path, ids[0], ids[1], page)
    view.live_grid(path, runs, page, fresh=read_at >= started)
    if two:
        st.subheader("Blind preferences")
        st.caption(f"Candidate = {md(view.short_label(runs[1]))}, baseline = {md(view.short_label(runs[0]))}. "
                   "Judge more in the Blind preference view.")
        win_rate_table(data.win_rates)


def win_rate_table(rates: pd.DataFrame | None) -> None:
    if rates is None or rates.empty:
        st.caption("No blind judgements for these two runs yet.")
        return
    percent = st.column_config.NumberColumn(format="percent")
    st.dataframe(
        rates[["workflow", "judgements", "candidate_wins", "baseline_wins", "ties", "win_share", "ci_low", "ci_high",
               "left_share", "reviewers"]],
        hide_index=True, width="stretch", key="cmp_win_rates",
        column_config={"win_share": st.column_config.NumberColumn("candidate win share", format="percent"),
                       "ci_low": percent, "ci_high": percent, "left_share": percent})
    st.caption("Win share = the candidate's share of decisive picks (ties excluded, counted apart); ci_low–ci_high "
               "is its 95% Wilson interval. left_share = share of decisive picks that went left (position bias).")


PICK_LABELS = {"left": "Left is better", "tie": "Tie", "right": "Right is better"}  # in the order shown
PICK_KEYS = {"left": "Left", "tie": "T", "right": "Right"}  # keyboard shortcuts
assert set(PICK_LABELS) == set(preferences.CHOICES)


def _pick(baseline: str, candidate: str, case: dict[str, Any], choice: str) -> None:
    """A pick button's callback: store the pick at once (as the person signed in at the click), then the rerun
    shows the next case."""
    try:
        preferences.record_preference(database(), baseline, candidate, case["pair_id"], case["repeat"],
                                      case["workflow"], auth.acting_reviewer(), choice, case["left_run"])
    except (DatabaseBusy, VtonEvalError) as exc:
        st.session_state["cmp_pick_error"] = str(exc)
        return
    st.session_state["cmp_last_pick"] = {"runs": (baseline, candidate), "pair_id": case["pair_id"],
                                         "repeat": case["repeat"], "choice": choice, "left_run": case["left_run"]}
    st.session_state.pop("cmp_rejudge", None)
    st.session_state["cmp_picks"] = int(st.session_state.get("cmp_picks", 0)) + 1


def _rejudge(pair_id: str, repeat: int, runs: tuple[str, str]) -> None:
    st.session_state["cmp_rejudge"] = (pair_id, repeat, *runs)
    st.session_state.pop("cmp_last_pick", None)


def _reveal(names: dict[str, str]) -> None:
    """After a pick, and only then, which run was on which side. `names`: run id -> how the page names it."""
    last = st.session_state.get("cmp_last_pick")
    if not last or not set(last["runs"]) <= set(names):
        return
    right = last["runs"][1] if last["left_run"] == last["runs"][0] else last["runs"][0]
    left_col, right_col = st.columns([5, 1], vertical_alignment="center")
    left_col.success(f"You picked **{PICK_LABELS[last['choice']].lower()}** for {md(last['pair_id'])} (repeat "
                     f"{last['repeat']}). Left was {md(names[last['left_run']])}; right was {md(names[right])}.")
    right_col.button("Change this pick", key="cmp_rejudge_btn", on_click=_rejudge,
                     args=(last["pair_id"], last["repeat"], last["runs"]))


def blind_runs() -> list[dict[str, Any]] | None:
    """The blind view's own pickers: run A (the reference) and run B over the same dataset."""
    path, state = str(db_path()), st.session_state
    setup = reads.compare_setup(path, state.get("cmp_blind_a"))
    if setup.baseline is None:
        empty_database()
        return None
    by_id = {r["run_id"]: r for r in setup.runs.to_dict("records")}
    state["cmp_blind_a"] = setup.baseline
    cols = st.columns(2)
    cols[0].selectbox("Run A", list(by_id), key="cmp_blind_a", format_func=lambda i: run_label(by_id[i]))
    others = {r["run_id"]: r for r in setup.others.to_dict("records")}
    if not others:
        st.warning(f"No other run over the dataset {md(by_id[setup.baseline]['dataset'])} shares a case with run A.")
        return None
    if state.get("cmp_blind_b") not in others:
        state["cmp_blind_b"] = next(iter(others))
    cols[1].selectbox("Run B", list(others), key="cmp_blind_b",
                      format_func=lambda i: f"{run_label(others[i])} · {others[i]['shared']:,} shared cases")
    return [by_id[setup.baseline], others[state["cmp_blind_b"]]]


def blind_case(person: Any, base: str, cand: str, case: dict[str, Any]) -> None:
    """One case: the inputs, the three buttons (not for a viewer), the two outputs, no run named."""
    note = f" · your earlier pick: {PICK_LABELS[case['choice']].lower()}" if case["choice"] else ""
    st.markdown(f"**{md(case['pair_id'])}** · {md(case['workflow'])} · repeat {case['repeat']} · "
                f"{case['judged']:,} of {case['total']:,} judged{note}")
    inputs = st.columns(6)
    for col, key, title in zip(inputs[:3], ("base_path", "product_path", "mask_path"),
                               ("person", "product", "mask"), strict=True):
        image = artifact_file(case[key])
        if image:
            col.image(image, caption=title, width="stretch")
    # The buttons above the outputs: in view with the images, however tall they are. Not for a viewer.
    buttons = st.columns(3)
    for col, (choice, label) in zip(buttons, PICK_LABELS.items(), strict=True):
        if person.may(Action.PICK):
            col.button(label, key=f"cmp_pick_{choice}", width="stretch", shortcut=PICK_KEYS[choice],
                       on_click=_pick, args=(base, cand, case, choice))
    sides = st.columns(2)
    for col, side in zip(sides, ("left", "right"), strict=True):
        with col:
            st.caption(side.capitalize())
            image = view.large_file(case[f"{side}_output"])
            if image:
                st.image(image, width="stretch")
            else:
                st.text("output file missing or unreadable")


def _rejudging(runs: tuple[str, str]) -> tuple[str, int] | None:
    """The case the reviewer asked to judge again, when it is of these two runs."""
    target = st.session_state.get("cmp_rejudge")
    if target and set(target[2:]) == set(runs):
        return target[0], int(target[1])
    return None


def pinned(person: Any) -> None:
    """Two runs the reviewer pins: every case they share, in a stable random order."""
    reviewer = person.name
    runs = blind_runs()
    if runs is None:
        return
    base, cand = runs[0]["run_id"], runs[1]["run_id"]
    for letter, run in zip("AB", runs, strict=True):
        run_status(run, f"Run {letter}")
    st.caption(f"Comparing run A ({md(view.short_label(runs[0]))}) with run B ({md(view.short_label(runs[1]))}). "
               "Each case shows their two outputs for the same inputs in random order, without saying which is "
               "which: pick the better one (or a tie, keys ← T →). Your pick is stored at once, then the sides are "
               "revealed and the next case follows.")
    if error := st.session_state.pop("cmp_pick_error", None):
        st.error(f"The pick was not stored: {md(error)}")
    _reveal({base: f"run A ({view.short_label(runs[0])})", cand: f"run B ({view.short_label(runs[1])})"})
    workflows = st.multiselect("Workflow", reads.compare_setup(str(db_path()), base).workflows, key="cmp_blind_wf",
                               placeholder="all")
    target = _rejudging((base, cand))
    case, rates, counts = preferences.blind_state(database(), base, cand, reviewer, workflows, case=target)
    if counts["identical"]:
        st.caption(f"{counts['identical']:,} case(s) where both runs returned the very same file are not offered: "
                   "there is nothing to prefer.")
    if case is None:
        st.session_state.pop("cmp_rejudge", None)
        if counts["total"]:
            st.success(f"You have judged all {counts['total']:,} cases these two runs share with two different "
                       "outputs (for this selection).")
        else:
            st.info("These runs share no case where both returned an output and the outputs differ.")
    else:
        blind_case(person, base, cand, case)
    st.subheader("Win rates so far")
    st.caption(f"Candidate = run B ({md(view.short_label(runs[1]))}), baseline = run A.")
    win_rate_table(rates)


def blind() -> None:
    """Blind preference: the next comparison chosen for the ranking among several runs, or two runs pinned."""
    person = auth.reviewer("cmp", "Start judging")
    if person is None:
        return
    how = st.segmented_control("Which runs", BLIND_MODES, default=BLIND_MODES[0], key="cmp_blind_how") \
        or BLIND_MODES[0]
    if how == BLIND_MODES[1]:
        pinned(person)
    else:
        arena_blind.arena(person, blind_case, _reveal)


def body() -> None:
    st.title("Compare runs")
    st.caption("What several runs of one dataset produced for the same inputs, one column per run (per system, "
               "when the runs called different services).")
    mode = st.segmented_control("View", MODES, default=MODES[0], key="cmp_mode") or MODES[0]
    if mode == MODES[1]:
        blind()
        return
    runs, setup = choose_runs()
    if runs is None:
        return
    for i, run in enumerate(runs):
        if run["status"] != "finished":
            run_status(run, "The baseline" if i == 0 else f"Run {i + 1}")
    side_by_side(runs, setup)


render(body)
