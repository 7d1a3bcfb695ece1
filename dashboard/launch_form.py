"""The form that launches a run: dataset, pairs, endpoint, profile and settings, checked before starting."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboard import auth, data, keys
from dashboard.actions import act_here
from dashboard.common import database, md
from dashboard.datasets_view import dataset_choice, datasets_root, pair_gallery
from vton_eval import access, launch, token_rules
from vton_eval.analytics.runs import endpoint_pace
from vton_eval.errors import VtonEvalError
from vton_eval.quota_ledger import Outlook, known_quota, quota_outlook
from vton_eval.runner import RunSettings
from vton_eval.runner.plan import SelectionError, profile_refusals, select_pairs
from vton_eval.services import Profile, load_profile
from vton_eval.services.inspection import Inspection, inspect_endpoint, tryon_score
from vton_eval.services.profiles import BUILT_IN, DEFAULT_PROFILE

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


PROFILE_FILE = "Profile file…"
INSPECT_TIMEOUT_S = 30.0


def profile_choice(key: str) -> str:
    """A built-in profile (the sm4ll one for the SM4LL Space) or a TOML file's path."""
    options = [*BUILT_IN, PROFILE_FILE]
    choice = st.selectbox("Profile (how a case becomes a call of this endpoint)", options, key=f"{key}_profile",
                          index=options.index(DEFAULT_PROFILE),
                          format_func=lambda o: o if o == PROFILE_FILE else f"{o}: {load_profile(o).description}")
    if choice == PROFILE_FILE:
        return st.text_input("Profile TOML file", key=f"{key}_profile_file", placeholder="/path/to/profile.toml")
    return choice


def _inspect(endpoint: str) -> Inspection | str:
    try:
        # The token only where the allow-list lets it go, as for the run itself.
        token = auth.service_token()
        use = access.token_use(endpoint, token is not None)
        return inspect_endpoint(endpoint, token=token if use.send else None, open_timeout_s=INSPECT_TIMEOUT_S)
    except VtonEvalError as exc:
        return str(exc)


def inspection_view(key: str, endpoint: str) -> Inspection | None:
    """An *Inspect* button for the endpoint, and what it found: every named API with its parameters, and a
    suggested profile. Returns the inspection of this endpoint, if there is one."""
    state_key = f"{key}_inspection"
    if st.button("Inspect endpoint", key=f"{key}_inspect", icon=":material/search:", disabled=not endpoint,
                 help="Read the endpoint's API: its named APIs, parameters, defaults and choices, and a suggested "
                      "profile for the one that looks like a try-on."):
        with st.spinner(f"Reading the API of {endpoint}…"):
            st.session_state[state_key] = (endpoint, _inspect(endpoint))
    found = st.session_state.get(state_key)
    if not found or found[0] != endpoint:
        return None
    result = found[1]
    if isinstance(result, str):
        st.error(md(result))
        return None
    with st.expander(f"{len(result.endpoints)} named API(s) of {endpoint}", expanded=True):
        for api in sorted(result.endpoints.values(), key=lambda e: (-tryon_score(e), e.api_name)):
            suffix = " (looks like a try-on)" if api.api_name == result.tryon else ""
            st.text(f"{api.api_name}{suffix} -> " + ", ".join(o.component or "?" for o in api.outputs))
            # Service text: a dataframe shows it as data, never as Markdown.
            st.dataframe(pd.DataFrame([{
                "parameter": p.name or p.label, "component": p.component, "type": p.python_type,
                "default": repr(p.default) if p.has_default else "(required)",
                "choices": ", ".join(str(c) for c in p.choices)} for p in api.parameters]),
                hide_index=True, width="stretch", key=f"{key}_api_{api.api_name}")
        for note in result.notes:
            st.text(note)
        if result.suggestion:
            st.caption("Suggested profile: save it as a .toml file, read it, and choose it with *Profile file…*")
            st.code(result.suggestion, language="toml")
    return result


def offered_by(inspection: Inspection | None, profile: Profile) -> list[str] | None:
    """What an inspected endpoint's workflow argument offers, for a profile that reads its workflows from it."""
    if inspection is None or not profile.workflows_from_endpoint or profile.call.api_name not in inspection.endpoints:
        return None
    params, index = inspection.endpoints[profile.call.api_name].parameters, profile.call.workflow_arg
    if index is None or index >= len(params) or not params[index].choices:
        return None
    return [str(c) for c in params[index].choices]


def quota_note(ahead: Outlook, known: str | None) -> None:
    """What the quota ledger holds for this endpoint from this machine: how long the first call waits, and why."""
    if ahead.wait_s > 0:
        st.warning(f"Quota: {md(ahead.describe())}.", icon=":material/hourglass_top:")
    elif ahead.rate is not None:
        st.caption(f"Quota: {md(ahead.describe())}.")
    if ahead.rate is None and known:
        st.caption(f"Earlier runs of this endpoint used the rate limit {md(known)}; this run has none, so it does not "
                   "wait for the quota (only for a wait the service asks for).")


def token_note(endpoint: str) -> token_rules.TokenUse:
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
    ds = dataset_choice(key, datasets_root())
    if ds is None:
        return
    workflows, tags, pairs = selection(ds, key)
    endpoint = endpoint_choice(key)
    profile_name = profile_choice(key)
    inspection = inspection_view(key, endpoint or "")
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
    checks = st.checkbox("Automatic quality checks on outputs", value=True, key=f"{key}_checks",
                         help="Off: outputs are recorded as they come, unchecked (faster on a busy machine); "
                              "`vton-eval checks RUN_ID` can check them later.")

    settings = RunSettings(
        dataset=str(ds.root), endpoint=endpoint or "", workflows=workflows or None, pairs=pairs, tags=tags,
        concurrency=int(concurrency), rate_limit=rate_limit.strip() or None, repeats=int(repeats),
        retries=int(retries), timeout_s=float(timeout_s), label=label.strip() or None,
        profile=(profile_name or "").strip(), checks=bool(checks),
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
        pace = endpoint_pace(database(), settings.endpoint)
        ahead = quota_outlook(database(), settings.endpoint, settings.rate_limit)
        st.info(launch.estimate(cases, settings.concurrency, settings.rate_limit, pace, ahead.wait_s).describe(),
                icon=":material/schedule:")
        quota_note(ahead, known_quota(database(), settings.endpoint))
        profile = load_profile(settings.profile)
        # Before the start, as the command line says it: what will not be sent, and why.
        offered = offered_by(inspection, profile)
        if profile.workflows_from_endpoint and offered is None:
            st.caption(f"The profile {md(profile.name)} reads the workflows the endpoint offers when the run starts; "
                       "*Inspect endpoint* shows them now.")
        refusals = profile_refusals(profile, chosen, offered) if offered or not profile.workflows_from_endpoint \
            else {}
        for reason, n in sorted(refusals.items(), key=lambda item: -item[1]):
            st.warning(f"{n * settings.repeats} of {cases} case(s) will not be sent (recorded invalid_input): "
                       f"{md(reason)}")
    for problem in problems:
        st.error(md(problem))
    # Not a callback: a callback's arguments are the settings of the previous run of the page, which miss
    # a value typed just before the click (a text box commits on blur, in the same rerun as the click).
    if st.button("Start run", type="primary", disabled=bool(problems), key=f"{key}_start",
                 icon=":material/play_arrow:"):
        run_id = act_here(lambda: launch.start_run(database(), settings, auth.actor(), token=auth.service_token()))
        if run_id is not None:
            data.runs.clear()
            st.session_state["launched_run"] = run_id
            st.session_state[keys.RUNS_FOLLOW] = run_id  # the Runs tab selects it: Cancel at hand
            st.session_state[SHOW_RUNS] = True
            st.rerun()  # the Runs tab, drawn again: the list now has the run, and polls while it goes
    if st.session_state.get("launched_run"):
        st.success(f"Run {md(st.session_state['launched_run'])} started in its own process; it is in the Runs tab.")


def show_runs_tab_if_asked() -> None:
    """Before the Runs page draws its tabs: after a launch, the Runs tab is the one shown."""
    if st.session_state.pop(SHOW_RUNS, False):
        st.session_state[RUNS_TAB_KEY] = "Runs"
