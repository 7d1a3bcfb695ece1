"""The Datasets page's first tab: the datasets found, and for one of them a gallery, its validation report and
its tags. Everything a dataset says (names, tags, messages) is shown as text."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import streamlit as st

from dashboard import auth, data
from dashboard.actions import act_here
from dashboard.common import database, md
from dashboard.datasets_view import PAGE_SIZE, datasets_root, thumb
from vton_eval.access import Action
from vton_eval.curation import set_tags
from vton_eval.datasets import Dataset, DatasetError
from vton_eval.datasets.catalog import DatasetSummary, catalog
from vton_eval.datasets.sidecar import read_validation
from vton_eval.datasets.validation import validate_dataset

PICK = "ds_pick"  # the chosen dataset's folder (other tabs set it after creating or importing one)
CATALOG_COLUMNS = {
    "dataset": st.column_config.TextColumn("Dataset", width=100),
    "pairs": st.column_config.NumberColumn("Pairs", width=50),
    "workflows": st.column_config.TextColumn("Per workflow", width=150),
    "paired": st.column_config.NumberColumn("Paired", width=55, help="with a reference: the person wears the product"),
    "unpaired": st.column_config.NumberColumn("Unpaired", width=65),
    "urls": st.column_config.NumberColumn("By URL", width=55, help="pairs with an image named by URL"),
    "source": st.column_config.TextColumn("Source", width=75),
    "validated": st.column_config.TextColumn("Last validated", width=320),
}


def load(folder: Path) -> Dataset:
    manifest = folder / "manifest.csv"
    return data.dataset_to_browse(str(folder), manifest.stat().st_mtime_ns if manifest.exists() else 0)


def validated_text(summary: DatasetSummary) -> str:
    v = summary.validation
    if summary.problem:
        return f"cannot be read: {summary.problem}"
    if not v:
        return "never"
    when = str(v.get("validated_at", "?"))[:16].replace("T", " ")
    text = f"{when} UTC · {v.get('errors', 0)} error(s), {v.get('warnings', 0)} warning(s)"
    return text + (" · manifest changed since" if summary.stale else "")


def catalog_frame(summaries: list[DatasetSummary]) -> pd.DataFrame:
    rows = [{"dataset": s.name, "pairs": s.pairs,
             "workflows": " · ".join(f"{w} {n}" for w, n in s.by_workflow.items()),
             "paired": s.paired, "unpaired": s.unpaired, "urls": s.by_url, "source": s.layout or "by hand",
             "validated": validated_text(s)} for s in summaries]
    return pd.DataFrame(rows, columns=list(CATALOG_COLUMNS))


def browse() -> None:
    root = datasets_root()
    summaries = catalog(root)
    st.caption(f"Datasets in {md(root)} (a folder with a manifest.csv each)")
    if not summaries:
        st.info("No dataset here yet: create one from images in the next tab, or import a VITON-HD or DressCode "
                "folder.")
        return
    st.dataframe(catalog_frame(summaries), hide_index=True, column_config=CATALOG_COLUMNS, key="ds_catalog")
    by_folder = {str(s.folder): s for s in summaries}
    if st.session_state.get(PICK) not in by_folder:
        st.session_state[PICK] = next(iter(by_folder))
    chosen = st.selectbox("Dataset", list(by_folder), key=PICK, format_func=lambda f: Path(f).name)
    one_dataset(by_folder[chosen])


def one_dataset(summary: DatasetSummary) -> None:
    if summary.root is not None and summary.root != summary.folder.resolve():
        st.caption("Its paths point into (the root its dataset.json declares):")
        st.code(str(summary.root), language=None)
    try:
        ds = load(summary.folder)
    except DatasetError as exc:
        st.error(md(exc))
        return
    view = st.segmented_control("Show", ["Gallery", "Validation", "Tags"], default="Gallery", key="ds_view")
    pairs = filtered(ds)
    if view == "Validation":
        validation(ds)
    elif view == "Tags":
        tags_editor(ds, pairs)
    else:
        gallery(ds, pairs)


def filtered(ds: Dataset) -> list:
    for key, options in (("ds_wf", ds.workflows), ("ds_tags", ds.tags)):  # a choice the dataset no longer has
        if key in st.session_state:
            st.session_state[key] = [v for v in st.session_state[key] if v in options]
    cols = st.columns(2)
    workflows = cols[0].multiselect("Workflows", ds.workflows, key="ds_wf", placeholder="all")
    tags = cols[1].multiselect("Tags (any of)", ds.tags, key="ds_tags", placeholder="any")
    pairs = [p for p in ds.pairs
             if (not workflows or p.workflow in workflows) and (not tags or set(p.tags) & set(tags))]
    dropped = len(ds.row_errors)
    st.caption(f"{len(pairs)} of {len(ds.pairs)} pairs" + (f" · {dropped} row(s) with problems left out: see "
                                                           "Validation" if dropped else ""))
    return pairs


def gallery(ds: Dataset, pairs: list) -> None:
    if not pairs:
        st.info("No pair matches these filters.")
        return
    pages = max(1, -(-len(pairs) // PAGE_SIZE))
    page = st.pagination(pages, key="ds_page") if pages > 1 else 1
    for i, pair in enumerate(pairs[(page - 1) * PAGE_SIZE: page * PAGE_SIZE]):
        if i % 4 == 0:  # a row of four at a time: read left to right, top to bottom, in the dataset's order
            cols = st.columns(4)
        with cols[i % 4].container(border=True):
            images = st.columns(3 if pair.mask is not None else 2)
            for col, path in zip(images, (pair.base, pair.product, pair.mask), strict=False):
                image = thumb(path)
                if image:
                    col.image(image, width="stretch")
                else:
                    col.text("no preview")
            st.text(f"{pair.pair_id} · {pair.workflow}" + (" · with reference" if pair.reference else ""))
            if pair.tags:
                st.text(" · ".join(pair.tags))


def validation(ds: Dataset) -> None:
    record = read_validation(ds.root)
    if st.button("Validate now", key="ds_validate", icon=":material/rule:",
                 help="Checks every row and image (fetching images named by URL); keeps the outcome beside the "
                      "manifest."):
        bar = st.progress(0.0, text="Fetching images named by URL…")

        def progress(done: int, total: int) -> None:
            bar.progress(done / max(total, 1), text=f"Images named by URL: {done} of {total}")

        with st.spinner("Checking every image…"):
            result = act_here(lambda: validate_dataset(ds.root, progress=progress))
        if result is None:
            return
        bar.empty()
        data.dataset_to_browse.clear()
        if not result.recorded:
            st.warning("The dataset's folder cannot be written: this report is not kept.")
        record = read_validation(ds.root) or {**result.summary, "problems": [p.to_dict() for p in
                                                                             result.dataset.problems]}
        st.session_state["ds_validated"] = result.describe()
    if note := st.session_state.pop("ds_validated", None):
        st.success(md(note))
    if not record:
        st.info("Not validated yet.")
        return
    cols = st.columns(4)
    cols[0].metric("Usable pairs", record.get("pairs", 0))
    cols[1].metric("Refused by the service", record.get("invalid", 0), help="kept; recorded as invalid_input")
    cols[2].metric("Errors", record.get("errors", 0))
    cols[3].metric("Warnings", record.get("warnings", 0))
    st.caption(f"Validated {md(record.get('validated_at', 'just now'))}")
    problems = pd.DataFrame(record.get("problems", []),
                            columns=["line", "pair_id", "column", "severity", "reason", "message"])
    if problems.empty:
        st.success("No problem found.")
        return
    severity = st.segmented_control("Problems", ["errors", "warnings", "all"], default="all", key="ds_severity")
    if severity in ("errors", "warnings"):
        problems = problems[problems["severity"] == severity[:-1]]
    st.dataframe(problems, hide_index=True, key="ds_problems", column_config={
        "line": st.column_config.NumberColumn("Line", width=50), "message": st.column_config.TextColumn(width=600)})
    total = record.get("problems_total", len(problems))
    if total > len(record.get("problems", [])):
        st.caption(f"The first {len(record['problems'])} of {total} problems are kept; "
                   "`vton-eval datasets validate` lists them all.")


def tags_editor(ds: Dataset, pairs: list) -> None:
    if not pairs:
        st.info("No pair matches these filters.")
        return
    frame = pd.DataFrame([{"pair_id": p.pair_id, "workflow": p.workflow, "tags": p.tags_text} for p in pairs])
    if not auth.may(Action.SET_TAGS):
        st.dataframe(frame, hide_index=True, key="ds_tags_read_only",
                     column_config={"tags": st.column_config.TextColumn("Tags", width=400)})
        return
    # A new key after each save: the editor's pending edits belong to the table as it was.
    nonce = st.session_state.setdefault("ds_tag_nonce", 0)
    edited = st.data_editor(frame, hide_index=True, key=f"ds_tag_editor_{nonce}", disabled=["pair_id", "workflow"],
                            column_config={"tags": st.column_config.TextColumn("Tags (;-separated)", width=400)})
    changes = {row["pair_id"]: row["tags"] or "" for row, old in zip(edited.to_dict("records"),
                                                                      frame.to_dict("records"), strict=True)
               if (row["tags"] or "") != old["tags"]}
    cols = st.columns([2, 1, 1, 1])
    tag = cols[0].text_input("A tag for every pair shown", key="ds_bulk_tag", placeholder="e.g. hard-case")
    action = None
    if cols[1].button("Save edits", key="ds_save_tags", disabled=not changes, type="primary"):
        action = changes
    if cols[2].button("Add to all shown", key="ds_add_tag", disabled=not tag.strip()):
        action = {p.pair_id: [*p.tags, tag] for p in pairs}
    if cols[3].button("Remove from all shown", key="ds_remove_tag", disabled=not tag.strip()):
        action = {p.pair_id: [t for t in p.tags if t != tag.strip()] for p in pairs}
    if action is not None:
        changed = act_here(lambda: set_tags(ds.root, action, actor=auth.actor(), db=database()))
        if changed is None:
            return
        data.dataset_to_browse.clear()
        st.session_state["ds_tag_nonce"] = nonce + 1
        st.session_state["ds_tags_note"] = f"Tags of {changed} pair(s) changed."
        st.rerun()
    if note := st.session_state.pop("ds_tags_note", None):
        st.success(note)
