"""Datasets: the datasets found (pairs per workflow, paired or not, last validation), a gallery, the validation
report and tags; a dataset made from uploaded images; a VITON-HD or DressCode folder imported where it lies."""

from __future__ import annotations

import streamlit as st

from dashboard import auth
from dashboard.common import render
from dashboard.datasets_browse import browse
from dashboard.datasets_create import create_section
from dashboard.datasets_import import import_section
from vton_eval.access import Action

TABS = ("Datasets", "Create from images", "Import a test set")
TAB_KEY = "ds_tab"


def body() -> None:
    st.title("Datasets")
    if not auth.may(Action.CREATE_DATASET):  # changing datasets is an operator's (the engine refuses it too)
        st.caption("Creating datasets, adding pairs, editing tags and importing test sets need the operator role.")
        browse()
        return
    # Only the open tab runs: browsing loads a dataset, the other two do not need to.
    tab_browse, tab_create, tab_import = st.tabs(TABS, key=TAB_KEY, on_change="rerun")
    if tab_browse.open:
        with tab_browse:
            browse()
    if tab_create.open:
        with tab_create:
            create_section()
    if tab_import.open:
        with tab_import:
            import_section()


render(body, needs_data=False, shared_reads=False)
