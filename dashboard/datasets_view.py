"""Choosing a dataset and its pairs on a page: a folder picker and a thumbnail gallery."""

from __future__ import annotations

import os
from pathlib import Path

import streamlit as st

from dashboard import data
from dashboard.common import REPO, artifacts, md
from vton_eval import launch
from vton_eval.datasets import Dataset, DatasetError

PAGE_SIZE = 24
DATASETS_ENV = "VTON_EVAL_DATASETS"


def datasets_root() -> Path:
    """Where the pages find datasets and put new ones: $VTON_EVAL_DATASETS, else the repository's datasets/."""
    return Path(os.environ.get(DATASETS_ENV) or REPO / "datasets")


def load(path: Path) -> Dataset:
    manifest = path / "manifest.csv" if path.is_dir() else path
    return data.dataset(str(path), manifest.stat().st_mtime if manifest.exists() else 0.0)


def dataset_choice(key: str, root: Path) -> Dataset | None:
    found = launch.find_datasets(root)
    options = [str(p) for p in found] + ["Another folder…"]
    choice = st.selectbox("Dataset", options, key=f"{key}_dataset",
                          format_func=lambda o: Path(o).name if o != options[-1] else o)
    if choice == options[-1]:
        choice = st.text_input("Dataset folder (with a manifest.csv)", key=f"{key}_dataset_path")
        if not choice:
            return None
    try:
        ds = load(Path(choice))
    except DatasetError as exc:
        st.error(md(exc))
        return None
    errors = ds.row_errors
    if errors:
        st.warning(f"{len(errors)} row(s) of {md(ds.name)} have problems and are left out.")
        with st.expander("Problems"):
            st.text("\n".join(str(p) for p in ds.problems))
    invalid = sum(1 for p in ds.pairs if p.invalid_reason)
    st.caption(f"{len(ds.pairs)} pairs · workflows: {md(', '.join(ds.workflows))}"
               + (f" · {invalid} the service would refuse (recorded as invalid_input, not sent)" if invalid else ""))
    return ds


def thumb(path: Path | None) -> str | None:
    if path is None:
        return None
    try:
        return str(artifacts().thumbnail_for(path))
    except Exception:  # an undecodable input has no thumbnail; the gallery says so in text
        return None


def pair_gallery(ds: Dataset, key: str) -> list[str]:
    """Thumbnails of the pairs with a checkbox each; returns the ticked pair ids (all pages)."""
    pages = max(1, -(-len(ds.pairs) // PAGE_SIZE))
    page = st.pagination(pages, key=f"{key}_page") if pages > 1 else 1
    shown = ds.pairs[(page - 1) * PAGE_SIZE: page * PAGE_SIZE]
    for i, pair in enumerate(shown):
        if i % 4 == 0:  # row by row, so the pairs read in the dataset's order (not column by column)
            cols = st.columns(4)
        with cols[i % 4].container(border=True):
            a, b = st.columns(2)
            for col, path in ((a, pair.base), (b, pair.product)):
                image = thumb(path)
                if image:
                    col.image(image, width="stretch")
                else:
                    col.text("no preview")
            st.checkbox(f"{md(pair.pair_id)} · {pair.workflow}", key=f"{key}_{pair.pair_id}")
    return [p.pair_id for p in ds.pairs if st.session_state.get(f"{key}_{p.pair_id}")]
