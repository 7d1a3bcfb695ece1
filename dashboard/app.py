"""The dashboard's entry point: `vton-eval dashboard` (or `streamlit run dashboard/app.py -- --db PATH`)."""

from __future__ import annotations

import streamlit as st

from dashboard.auth import gate
from dashboard.common import db_path, sidebar_status

st.set_page_config(page_title="vton-eval", page_icon=":material/checkroom:", layout="wide")
gate()  # with sign-in configured: nothing below runs, and no page shows, before a person with a role signs in

PAGES = {
    "Results": [
        st.Page("views/overview.py", title="Overview", icon=":material/monitoring:", default=True),
        st.Page("views/failures.py", title="Failures", icon=":material/error:"),
        st.Page("views/compare.py", title="Compare", icon=":material/compare:"),
        st.Page("views/leaderboard.py", title="Leaderboard", icon=":material/leaderboard:"),
    ],
    "Work": [
        st.Page("views/runs.py", title="Runs", icon=":material/play_circle:"),
        st.Page("views/review.py", title="Review", icon=":material/fact_check:"),
        st.Page("views/datasets.py", title="Datasets", icon=":material/photo_library:"),  # issue 13
    ],
}

page = st.navigation(PAGES)
db_path()
sidebar_status()
page.run()
