"""The Leaderboard page's parts: cached boards, the ranking drawn with its intervals, and the Reviewers tab
(agreement, the overlap target, the queue of disagreements a lead settles)."""

from __future__ import annotations

from typing import Any

import pandas as pd
import streamlit as st

from dashboard import auth, charts, data
from dashboard.common import database, fmt_pct, md
from vton_eval import settlements
from vton_eval.access import Action
from vton_eval.arena import Board
from vton_eval.arena.model import EQUIVALENCE
from vton_eval.errors import VtonEvalError
from vton_eval.preferences import export_picks_csv
from vton_eval.store import DatabaseBusy

QUEUE_SHOWN = 20


def ranking(b: Board) -> None:
    if not b.rows:
        st.info("No blind picks between two runs of this dataset yet (for this selection). Judge some in the Compare "
                "page's blind preference view.")
        return
    cols = st.columns(4)
    cols[0].metric("Runs ranked", len(b.rows), border=True)
    cols[1].metric("Blind picks", f"{b.picks:,}", border=True)
    cols[2].metric("Cases judged", f"{b.cases:,}", border=True)
    cols[3].metric("Reviewers", b.reviewers, border=True)
    (st.success if b.settled else st.info)(md(b.settled_text().capitalize() + "."))
    st.plotly_chart(charts.arena(b.rows), key="lb_chart", config={"displayModeBar": False})
    table = pd.DataFrame(b.rows)[["rank", "label", "system", "score", "ci_low", "ci_high", "picks", "wins", "ties",
                                  "losses", "run_id"]]
    st.dataframe(table, hide_index=True, width="stretch", key="lb_table",
                 column_config={"score": st.column_config.NumberColumn(format="%.0f"),
                                "ci_low": st.column_config.NumberColumn("95% low", format="%.0f"),
                                "ci_high": st.column_config.NumberColumn("95% high", format="%.0f"),
                                "wins": "won", "ties": "tied", "losses": "lost"})
    resampled = "cases and reviewers" if b.reviewers_resampled else "cases (every pick on a case together)"
    st.caption(f"Bradley-Terry scores from every blind pick between two of these runs, a tie counting half: 1000 is "
               f"the average run, and a run 100 points above another is expected to be preferred in 64 % of their "
               f"picks (200: 76 %). Intervals: 95 %, bootstrap over {resampled}.")
    if b.neighbours:
        st.subheader("Neighbours in the ranking")
        st.dataframe(pd.DataFrame([n.__dict__ for n in b.neighbours]), hide_index=True, width="stretch",
                     key="lb_neighbours")
        st.caption(f"separated: the interval of their difference excludes 0; alike: it lies within ±{EQUIVALENCE:.0f} "
                   "points; open: more picks could still swap them. The blind view offers open pairs first.")


def _settle_verdict(dataset: str, item: dict[str, Any], verdict: str) -> None:
    try:
        settlements.settle_verdict(database(), item["run_a"], item["pair_id"], item["repeat"], auth.acting_reviewer(),
                                   verdict)
    except (DatabaseBusy, VtonEvalError) as exc:
        st.session_state["lb_error"] = str(exc)
        return
    st.session_state["lb_settled"] = int(st.session_state.get("lb_settled", 0)) + 1


def _settle_pick(dataset: str, item: dict[str, Any], decision: str) -> None:
    try:
        settlements.settle_pick(database(), item["run_a"], item["run_b"], item["pair_id"], item["repeat"],
                                auth.acting_reviewer(), decision)
    except (DatabaseBusy, VtonEvalError) as exc:
        st.session_state["lb_error"] = str(exc)
        return
    st.session_state["lb_settled"] = int(st.session_state.get("lb_settled", 0)) + 1


def _set_target(dataset: str) -> None:
    try:
        settlements.set_overlap_target(database(), dataset, int(st.session_state["lb_overlap"]),
                                       auth.acting_reviewer())
    except (DatabaseBusy, VtonEvalError) as exc:
        st.session_state["lb_error"] = str(exc)
        return
    st.session_state["lb_settled"] = int(st.session_state.get("lb_settled", 0)) + 1


def _agreement_tables(title: str, overall: dict[str, Any], per_run: pd.DataFrame, per_reviewer: pd.DataFrame,
                      key: str) -> None:
    st.subheader(title)
    cols = st.columns(4)
    cols[0].metric("Judged by two or more", f"{overall['multi']:,} of {overall['units']:,}", border=True)
    cols[1].metric("At the overlap target", f"{overall['at_target']:,}", border=True)
    cols[2].metric("Agreement", fmt_pct(overall["agreement"]), border=True,
                   help="Share of pairs of reviewers on the same case who gave the same answer.")
    cols[3].metric("Krippendorff's alpha", "–" if overall["alpha"] is None else f"{overall['alpha']:.2f}",
                   border=True, help="1 = perfect, 0 = chance level; – when undefined (no case judged twice, or one "
                                     "answer throughout).")
    percent = st.column_config.NumberColumn(format="percent")
    alpha = st.column_config.NumberColumn(format="%.2f")
    for frame, what in ((per_run, "run"), (per_reviewer, "reviewer")):
        if frame is not None and not frame.empty:
            st.caption(f"Per {what}")
            st.dataframe(frame, hide_index=True, width="stretch", key=f"{key}_{what}",
                         column_config={"agreement": percent, "alpha": alpha})


def reviewers_tab(path: str, dataset: str, names: dict[str, str]) -> None:
    """Agreement, the overlap target and the disagreement queue of one dataset."""
    person = auth.reviewer("lb", "Start")
    if error := st.session_state.pop("lb_error", None):
        st.error(md(error))
    settled = int(st.session_state.get("lb_settled", 0))
    result = data.arena_agreement(path, dataset, settled)
    lead = person is not None and person.may(Action.SETTLE)
    cols = st.columns([1, 1, 3], vertical_alignment="bottom")
    cols[0].number_input("Overlap target (reviewers per case)", min_value=1, max_value=settlements.MAX_OVERLAP,
                         value=result.overlap, key="lb_overlap", disabled=not lead)
    if lead:
        cols[1].button("Save target", key="lb_overlap_save", on_click=_set_target, args=(dataset,))
    cols[2].caption("The blind view brings cases to this many reviewers' picks before offering new ones. Setting it "
                    "and settling disagreements are a lead's acts (the operator role).")
    _agreement_tables("Verdicts", result.verdicts_overall, result.verdict_runs, result.verdict_reviewers, "lb_v")
    _agreement_tables("Blind picks", result.picks_overall, result.pick_runs, result.pick_reviewers, "lb_p")
    items = data.arena_queue(path, dataset, settled)
    st.subheader(f"Disagreements to settle ({len(items):,})")
    if items.empty:
        st.caption("No open disagreement: every case judged by two or more reviewers got one answer, or a lead "
                   "settled it.")
        return
    for pos, item in enumerate(items.head(QUEUE_SHOWN).to_dict("records")):
        with st.container(border=True, key=f"lb_queue_{pos}"):
            strong = " · :red[strong]" if item["strong"] else ""
            runs = names.get(item["run_a"], item["run_a"])
            if item["kind"] == "pick":
                runs += " vs " + names.get(item["run_b"], item["run_b"])
            st.markdown(f"**{md(item['pair_id'])}** · repeat {item['repeat']} · {md(item['workflow'])} · "
                        f"{item['kind']} · {md(runs)}{strong}")
            st.text(item["answers"])
            if not lead:
                continue
            buttons = st.columns(3)
            if item["kind"] == "verdict":
                for col, verdict in zip(buttons, ("pass", "fail", "unsure"), strict=True):
                    col.button(f"Settle: {verdict}", key=f"lb_settle_{pos}_{verdict}", on_click=_settle_verdict,
                               args=(dataset, item, verdict))
            else:
                for col, (decision, label) in zip(buttons, ((item["run_a"], names.get(item["run_a"], item["run_a"])),
                                                            ("tie", "tie"),
                                                            (item["run_b"], names.get(item["run_b"], item["run_b"]))),
                                                  strict=True):
                    col.button(f"Settle: {label}", key=f"lb_settle_{pos}_{'tie' if decision == 'tie' else decision}",
                               on_click=_settle_pick, args=(dataset, item, decision))
    if len(items) > QUEUE_SHOWN:
        st.caption(f"The first {QUEUE_SHOWN} of {len(items):,} (strong disagreements first); `vton-eval agreement "
                   "--queue` lists them all.")


def picks_download(dataset: str) -> None:
    st.download_button("Export picks (CSV)", lambda: export_picks_csv(database(), dataset),
                       file_name=f"picks-{dataset}.csv", mime="text/csv", key="lb_export_picks",
                       icon=":material/download:")
