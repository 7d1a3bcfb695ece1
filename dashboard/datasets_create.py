"""The Datasets page's second tab: a dataset made in the browser from uploaded images, each image checked the
moment it is added (as a run would check it: format, size, a GIF renamed .png...)."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from dashboard import auth, data
from dashboard.actions import act_here
from dashboard.common import database, md
from dashboard.datasets_browse import PICK
from dashboard.datasets_view import datasets_root
from vton_eval import workflows
from vton_eval.curation import add_pair, create_dataset
from vton_eval.datasets.authoring import Upload, check_upload, dataset_images
from vton_eval.datasets.catalog import find_dataset_folders
from vton_eval.errors import VtonEvalError

TYPES = ["jpg", "jpeg", "png", "webp"]
WHAT = {"base": "person", "product": "product", "mask": "mask", "reference": "reference"}


def _nonce() -> int:
    """Part of every uploader's key: bumped after pairs are added, so the uploaders start empty again."""
    return st.session_state.setdefault("dsc_nonce", 0)


def _checked(file, what: str, where=st) -> Upload | None:
    """The upload if the service would take it; a line under it says so either way."""
    if file is None:
        return None
    upload = Upload(file.name, file.getvalue())
    try:
        info = check_upload(upload, what)
    except VtonEvalError as exc:
        where.error(md(exc))
        return None
    where.caption(f"✓ {md(file.name)}: {info.width}×{info.height} {info.format}")
    return upload


def new_dataset() -> None:
    with st.form("dsc_new", border=True):
        name = st.text_input("New dataset's name", key="dsc_name", placeholder="e.g. spring-catalogue")
        if st.form_submit_button("Create dataset", icon=":material/create_new_folder:"):
            folder = act_here(lambda: create_dataset(datasets_root(), name, actor=auth.actor(), db=database()))
            if folder is not None:
                st.session_state["dsc_target"] = str(folder)
                st.session_state[PICK] = str(folder)
                st.success(f"Dataset {md(folder.name)} created: add its pairs below.")


def create_section() -> None:
    st.caption("Pair uploaded person and product images into a dataset (a folder of "
               f"{md(datasets_root())}); each image is checked as it is added.")
    new_dataset()
    folders = [str(f) for f in find_dataset_folders(datasets_root())]
    if not folders:
        return
    if st.session_state.get("dsc_target") not in folders:
        st.session_state["dsc_target"] = folders[0]
    target = Path(st.selectbox("Add pairs to", folders, key="dsc_target", format_func=lambda f: Path(f).name))
    mode = st.radio("Add", ["One pair", "Many pairs at once"], horizontal=True, key="dsc_mode")
    workflow = st.selectbox("Workflow", workflows.names(), key="dsc_workflow")
    tags = st.text_input("Tags (;-separated)", key="dsc_tags", placeholder="e.g. catalogue;spring")
    if mode == "One pair":
        one_pair(target, workflow, tags)
    else:
        many_pairs(target, workflow, tags)
    if note := st.session_state.pop("dsc_note", None):
        st.success(md(note))


def _image_or_existing(target: Path, column: str, col) -> Upload | str | None:
    """An uploaded image, or one the dataset already has (the same person with another product)."""
    existing = dataset_images(target, column)
    source = "Upload"
    if existing:
        source = col.radio(WHAT[column].capitalize(), ["Upload", "Already in the dataset"], horizontal=True,
                           key=f"dsc_{column}_source")
    if source == "Upload":
        file = col.file_uploader(f"{WHAT[column].capitalize()} image", type=TYPES, key=f"dsc_{column}_{_nonce()}")
        return _checked(file, WHAT[column], col)
    return col.selectbox(f"{WHAT[column].capitalize()} in the dataset", existing, key=f"dsc_{column}_pick")


def one_pair(target: Path, workflow: str, tags: str) -> None:
    cols = st.columns(2)
    base = _image_or_existing(target, "base", cols[0])
    product = _image_or_existing(target, "product", cols[1])
    cols = st.columns(2)
    mask = _checked(cols[0].file_uploader("Mask (optional: white where the product goes)", type=TYPES,
                                          key=f"dsc_mask_{_nonce()}"), "mask", cols[0])
    reference = _checked(cols[1].file_uploader("Reference (optional: the expected try-on)", type=TYPES,
                                               key=f"dsc_reference_{_nonce()}"), "reference", cols[1])
    pair_id = st.text_input("Pair id (optional)", key="dsc_pair_id", placeholder="pair-001, pair-002… when empty")
    ready = base is not None and product is not None
    if not ready:
        st.caption("A person and a product image are needed.")
    if st.button("Add pair", type="primary", disabled=not ready, key="dsc_add", icon=":material/add:"):
        added = act_here(lambda: add_pair(target, workflow, base, product, mask, reference, pair_id or None, tags,
                                          actor=auth.actor(), db=database()))
        if added is None:
            return
        _added(f"Pair {added} added to {target.name}.")


def many_pairs(target: Path, workflow: str, tags: str) -> None:
    cols = st.columns(2)
    people = cols[0].file_uploader("Person images", type=TYPES, accept_multiple_files=True,
                                   key=f"dsc_people_{_nonce()}")
    products = cols[1].file_uploader("Product images", type=TYPES, accept_multiple_files=True,
                                     key=f"dsc_products_{_nonce()}")
    checked_people = [_checked(f, "person", cols[0]) for f in people or []]
    checked_products = [_checked(f, "product", cols[1]) for f in products or []]
    pairing = st.radio("Pairing", ["In order (1st person with 1st product…)", "Every person with every product"],
                       key="dsc_pairing")
    problems = []
    if not checked_people or not checked_products:
        problems.append("Add person and product images.")
    if None in checked_people or None in checked_products:
        problems.append("Remove the images that cannot be used (marked above).")
    in_order = pairing.startswith("In order")
    if in_order and checked_people and len(checked_people) != len(checked_products):
        problems.append(f"In order needs as many products as people ({len(checked_people)} people, "
                        f"{len(checked_products)} products).")
    pairs = (list(zip(checked_people, checked_products, strict=False)) if in_order
             else [(p, q) for p in checked_people for q in checked_products])
    for problem in problems:
        st.caption(md(problem))
    label = "Add pairs" if problems else f"Add {len(pairs)} pair(s)"
    if st.button(label, type="primary", disabled=bool(problems), key="dsc_add_many", icon=":material/add:"):
        added = []
        try:
            person, db = auth.actor(), database()
            for base, product in pairs:
                added.append(add_pair(target, workflow, base, product, tags=tags, actor=person, db=db))
        except VtonEvalError as exc:
            st.error(md(exc))
        if added:
            _added(f"{len(added)} pair(s) added to {target.name} ({added[0]} to {added[-1]}).")


def _added(note: str) -> None:
    data.dataset_to_browse.clear()
    st.session_state["dsc_nonce"] = _nonce() + 1
    st.session_state["dsc_note"] = note
    st.rerun()
