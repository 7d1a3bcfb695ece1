"""The form that launches a run: dataset, pairs, endpoint and settings, checked before starting."""

from __future__ import annotations

import streamlit as st

from dashboard import auth, data
from dashboard.common import REPO, database, md
from dashboard.datasets_view import dataset_choice, pair_gallery
from vton_eval import access, launch
from vton_eval.analytics.runs import typical_latency_s
from vton_eval.errors import VtonEvalError
from vton_eval.runner import RunError, RunSettings
from vton_eval.runner.plan import SelectionError, select_pairs

RUNS_TAB_KEY = "runs_tab"  # the Runs page's tabs: the launch shows the Runs tab next
SHOW_RUNS = "launch_show_runs"


def endpoint_choice(key: str) -> str:
    options = [*launch.known_endpoints(), "Other URL or Space…"]
    names = {options[0]: f"Local sandbox ({options[0]})",
             launch.SM4LL_SPACE: f"SM4LL-VTON Space ({launch.SM4LL_SPACE})"}
    choice = st.selectbox("Endpoint", options, key=f"{key}_endpoint", format_func=lambda o: names.get(o, o))
    if choice == options[-1]:
        return st.text_input("URL or Space id", key=f"{key}_endpoint_text", placeholder="https://… or owner/name")
    return choice


def token_note(endpoint: str) -> access.TokenUse:
    """Whether the token goes to this endpoint, said before starting (a refused endpoint: said by the caller)."""
    use = access.token_use(endpoint, auth.service_token() is not None)
    if use.have_token and not use.refused:
        (st.caption if use.send else st.warning)(use.note())
    return use


def selection(ds, key: str) -> tuple[list[str] | None, list[str] | None, list[str] | None]:
    mode = st.radio("Pairs", ["All pairs", "Filter by workflow and tags", "Pick pairs by hand"], horizontal=True,
                    key=f"{key}_mode")
    if mode == "Filter by workflow and tags":
        cols = st.columns(2)
        workflows = cols[0].multiselect("Workflows", ds.workflows, default=ds.workflows, key=f"{key}_wf")
        tags = cols[1].multiselect("Tags (any of)", ds.tags, key=f"{key}_tags", placeholder="any")
        return workflows or [], tags or None, None
    if mode == "Pick pairs by hand":
        return None, None, pair_gallery(ds, key=f"{key}_pick")
    return None, None, None


def launch_form() -> None:
    key = "launch"
    ds = dataset_choice(key, REPO / "datasets")
    if ds is None:
        return
    workflows, tags, pairs = selection(ds, key)
    endpoint = endpoint_choice(key)
    cols = st.columns(3)
    concurrency = cols[0].number_input("Concurrency", min_value=0, max_value=64, value=4, key=f"{key}_concurrency")
    default_rate = "30/h" if endpoint == launch.SM4LL_SPACE else ""
    rate_limit = cols[1].text_input("Rate limit (N/h, N/min, N/s; empty for none)", value=default_rate,
                                    key=f"{key}_rate_{endpoint == launch.SM4LL_SPACE}")
    repeats = cols[2].number_input("Repeats", min_value=1, max_value=100, value=1, key=f"{key}_repeats")
    cols = st.columns(3)
    label = cols[0].text_input("Label (e.g. the model version)", key=f"{key}_label")
    retries = cols[1].number_input("Retries", min_value=0, max_value=10, value=2, key=f"{key}_retries")
    timeout_s = cols[2].number_input("Timeout per call (s)", min_value=1, max_value=3600, value=300,
                                     key=f"{key}_timeout")

    settings = RunSettings(
        dataset=str(ds.root), endpoint=endpoint or "", workflows=workflows or None, pairs=pairs, tags=tags,
        concurrency=int(concurrency), rate_limit=rate_limit.strip() or None, repeats=int(repeats),
        retries=int(retries), timeout_s=float(timeout_s), label=label.strip() or None,
    )
    problems = []
    chosen = []
    if workflows == [] or pairs == []:
        problems.append("No pair is selected.")
    else:
        try:
            chosen = select_pairs(ds, settings.workflows, settings.pairs, settings.tags)
        except SelectionError as exc:
            problems.append(str(exc))
    try:
        settings.validate()
    except VtonEvalError as exc:
        problems.append(str(exc))
    if not problems:
        use = token_note(settings.endpoint)
        if use.refused:
            problems.append(use.note())
    if not problems:
        cases = len(chosen) * settings.repeats
        latency = typical_latency_s(database(), settings.endpoint)
        st.info(launch.estimate(cases, settings.concurrency, settings.rate_limit, latency).describe())
    for problem in problems:
        st.error(problem)
    # Not a callback: a callback's arguments are the settings of the previous run of the page, which miss
    # a value typed just before the click (a text box commits on blur, in the same rerun as the click).
    if st.button("Start run", type="primary", disabled=bool(problems), key=f"{key}_start",
                 icon=":material/play_arrow:"):
        try:
            run_id = launch.start_run(database(), settings, auth.actor(), token=auth.service_token())
        except (RunError, ValueError, VtonEvalError) as exc:
            st.error(str(exc))
        else:
            data.runs.clear()
            st.session_state["launched_run"] = run_id
            st.session_state[SHOW_RUNS] = True
            st.rerun()  # the Runs tab, drawn again: the list now has the run, and polls while it goes
    if st.session_state.get("launched_run"):
        st.success(f"Run {md(st.session_state['launched_run'])} started in its own process; it is in the Runs tab.")


def show_runs_tab_if_asked() -> None:
    """Before the Runs page draws its tabs: after a launch, the Runs tab is the one shown."""
    if st.session_state.pop(SHOW_RUNS, False):
        st.session_state[RUNS_TAB_KEY] = "Runs"
