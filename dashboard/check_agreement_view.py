"""The checks' agreement with the reviewers' verdicts, as a table (Review and Overview show it)."""

from __future__ import annotations

import streamlit as st

from dashboard import data
from dashboard.db import db_path

_COLUMNS = {
    "check": st.column_config.TextColumn("check"),
    "cases": st.column_config.NumberColumn("cases", help="Cases with a verdict (reviewers' majority; ties left out)"),
    "tp": st.column_config.NumberColumn("TP", help="The check failed it; reviewers failed it"),
    "fp": st.column_config.NumberColumn("FP", help="The check failed it; reviewers passed it"),
    "fn": st.column_config.NumberColumn("FN", help="The check passed it; reviewers failed it"),
    "tn": st.column_config.NumberColumn("TN", help="Both passed it"),
    "precision": st.column_config.NumberColumn("precision", format="%.2f"),
    "recall": st.column_config.NumberColumn("recall", format="%.2f"),
    "kappa": st.column_config.NumberColumn("Cohen's kappa", format="%.2f"),
    "kappa_low": st.column_config.NumberColumn("95% low", format="%.2f"),
    "kappa_high": st.column_config.NumberColumn("95% high", format="%.2f"),
}


def agreement_section(run_id: str, key: str) -> None:
    """The table, or a line saying there are no verdicts yet."""
    table = data.check_agreement_table(str(db_path()), run_id)
    if table.empty:
        st.text("No verdicts on this run yet: the checks' agreement with reviewers shows once cases are judged.")
        return
    st.caption("How each automatic check agrees with the reviewers (a failed verdict is the positive class). "
               "`vton-eval checks agreement RUN` prints the same; `checks calibrate` proposes thresholds.")
    st.dataframe(table, hide_index=True, width="stretch", column_config=_COLUMNS, key=key)
