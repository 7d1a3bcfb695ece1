"""The Datasets page's third tab: import a VITON-HD or DressCode folder on the server (the importer of
`vton-eval datasets import`), then validate it."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboard import auth, data
from dashboard.actions import act_here
from dashboard.common import database, md
from dashboard.datasets_browse import PICK
from dashboard.datasets_view import datasets_root
from vton_eval import access
from vton_eval.curation import import_layout
from vton_eval.datasets.authoring import check_name
from vton_eval.datasets.layouts import LAYOUTS, ImportOptions, ImportReport
from vton_eval.datasets.layouts.common import PAIRS_CHOICES
from vton_eval.datasets.validation import validate_dataset
from vton_eval.errors import VtonEvalError

REPORT = "dsi_report"


def import_section() -> None:
    st.caption("Write a dataset for a test set on this server, where it lies: its images are not copied, the new "
               f"dataset (in {md(datasets_root())}) points into the folder.")
    roots_note()
    cols = st.columns([1, 3])
    layout = cols[0].selectbox("Layout", list(LAYOUTS), key="dsi_layout", format_func=lambda n: LAYOUTS[n].title)
    chosen = LAYOUTS[layout]
    source = cols[1].text_input("Folder on the server", key="dsi_source", placeholder=chosen.example)
    cols = st.columns(4)
    name = cols[0].text_input("New dataset's name", key="dsi_name", placeholder=f"{layout}-test")
    split = cols[1].text_input("Split", value="test", key="dsi_split")
    pairs = cols[2].radio("Pairs", sorted(PAIRS_CHOICES, reverse=True), key="dsi_pairs", horizontal=True,
                          help="paired: each person with the garment they wear; the person image is the reference")
    limit = cols[3].number_input("Sample of (0 = all pairs)", min_value=0, value=0, step=100, key="dsi_limit")
    cols = st.columns(4)
    seed = cols[0].number_input("Seed", min_value=0, value=0, key="dsi_seed", help="same seed, same sample")
    categories: list[str] = []
    if chosen.categories:
        categories = cols[1].multiselect("Categories", list(chosen.categories), key="dsi_categories",
                                         placeholder="all")
    if chosen.masks_by_default:
        # Ticked: the importer's default, masks where the folder has them (a folder without is no error).
        masks = None if cols[2].checkbox(f"{chosen.masks[:1].upper()}{chosen.masks[1:]} (when present)", value=True,
                                         key=f"dsi_masks_{layout}") else False
    else:
        masks = cols[2].checkbox(f"{chosen.masks[:1].upper()}{chosen.masks[1:]}", key=f"dsi_masks_{layout}")
    validate = cols[3].checkbox("Validate after importing", value=True, key="dsi_validate")
    problems = []
    if not source.strip():
        problems.append("Name the folder to import.")
    try:
        check_name(name or "")
    except VtonEvalError as exc:
        problems.append(str(exc) if name else "Name the new dataset.")
    for problem in problems:
        st.caption(md(problem))
    if st.button("Import", type="primary", disabled=bool(problems), key="dsi_go", icon=":material/download:"):
        options = ImportOptions(split=split.strip(), pairs=pairs, categories=tuple(categories) or None,
                                limit=int(limit) or None, seed=int(seed), masks=masks)
        run_import(layout, source.strip(), name.strip(), options, validate)
    show_report()


def roots_note() -> None:
    """Which server folders may be imported from (the roles file's [datasets] import_roots)."""
    try:
        config = access.load_config()
    except VtonEvalError as exc:
        st.error(md(exc))
        return
    if config.import_roots:
        st.caption("Folders test sets may be imported from (the roles file's `[datasets] import_roots`):")
        st.code("\n".join(str(r) for r in config.import_roots), language=None)
    elif auth.sign_in_configured():
        st.warning("No folder of this server may be imported from yet: an administrator lists the folders that "
                   "hold test sets in `[datasets] import_roots` of the roles file.", icon=":material/folder_off:")


def run_import(layout: str, source: str, name: str, options: ImportOptions, validate: bool) -> None:
    folder = datasets_root() / name
    bar = st.progress(0.0, text="Reading the pair files…")

    def work() -> tuple[ImportReport, str | None]:
        report = import_layout(layout, source, folder, options, actor=auth.actor(), db=database(),
                               progress=lambda done, total: bar.progress(done / max(total, 1),
                                                                         text=f"Masks: {done} of {total}"))
        if not (validate and report.written):
            return report, None
        bar.progress(0.0, text="Validating every image…")
        return report, validate_dataset(folder).describe()

    done = act_here(work)
    bar.empty()
    if done is None:
        return
    report, summary = done
    data.dataset_to_browse.clear()
    problems = [p.to_dict() for p in report.problems]
    st.session_state[REPORT] = {"describe": report.describe(), "written": report.written, "problems": problems,
                                "validation": summary, "errors": len(report.errors)}
    if report.written:
        st.session_state[PICK] = str(folder)


def show_report() -> None:
    report = st.session_state.get(REPORT)
    if not report:
        return
    (st.success if report["written"] and not report["errors"] else st.warning)(md(report["describe"]))
    if report["validation"]:
        st.text(f"Validation: {report['validation']}")
    if report["written"]:
        st.caption("It is listed in the Datasets tab.")
    if report["problems"]:
        st.caption("Problems of the source, with their file and line")
        st.dataframe(pd.DataFrame(report["problems"], columns=["file", "line", "severity", "message"]),
                     hide_index=True, key="dsi_problems",
                     column_config={"message": st.column_config.TextColumn(width=600)})
