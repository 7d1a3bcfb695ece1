"""Try one pair: send a dataset pair or two uploaded images now and see the output beside them."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboard import auth, data
from dashboard.actions import act_here
from dashboard.common import artifact_file, database, db_path, fmt_ms, md
from dashboard.datasets_view import dataset_choice, datasets_root, thumb
from dashboard.launch_form import endpoint_choice, profile_choice, token_note
from dashboard.widgets import system_label
from vton_eval import launch, workflows
from vton_eval.datasets.authoring import Upload
from vton_eval.errors import VtonEvalError
from vton_eval.runner import RunError


def _from_dataset(key: str):
    ds = dataset_choice(key, datasets_root())
    if ds is None or not ds.pairs:
        return None, None
    by_id = {p.pair_id: p for p in ds.pairs}
    pair_id = st.selectbox("Pair", list(by_id), key=f"{key}_pair",
                           format_func=lambda i: f"{i} · {by_id[i].workflow} · {by_id[i].tags_text}")
    pair = by_id[pair_id]
    cols = st.columns(3)
    for col, path, title in ((cols[0], pair.base, "person"), (cols[1], pair.product, "product"),
                             (cols[2], pair.mask, "mask")):
        image = thumb(path)
        if image:
            col.image(image, caption=title, width="stretch")
    return ds, pair_id


def _from_upload(key: str):
    cols = st.columns(3)
    base = cols[0].file_uploader("Person image", type=["jpg", "jpeg", "png", "webp"], key=f"{key}_base")
    product = cols[1].file_uploader("Product image", type=["jpg", "jpeg", "png", "webp"], key=f"{key}_product")
    mask = cols[2].file_uploader("Mask (optional)", type=["jpg", "jpeg", "png", "webp"], key=f"{key}_mask")
    workflow = st.selectbox("Workflow", workflows.names(), key=f"{key}_workflow")
    if base is None or product is None:
        st.caption("Upload a person and a product image.")
        return None, None
    ds = act_here(lambda: launch.one_pair_dataset(database(), Upload(base.name, base.getvalue()),
                                                  Upload(product.name, product.getvalue()), workflow,
                                                  Upload(mask.name, mask.getvalue()) if mask is not None else None))
    return (ds, "upload") if ds is not None else (None, None)


def show_result(result: dict) -> None:
    st.subheader(f"Run {md(result['run_id'])}")
    cols = st.columns(4)
    for col, key, title in ((cols[0], "base_path", "person"), (cols[1], "product_path", "product"),
                            (cols[2], "mask_path", "mask")):
        image = artifact_file(result.get(key), thumb=False)
        if image:
            col.image(image, caption=title, width="stretch")
    with cols[3]:
        if result["status"] == "ok":
            image = artifact_file(result["output_path"], thumb=False)
            st.image(image, caption=f"output · {fmt_ms(result['latency_ms'])}", width="stretch")
            st.success(f"ok in {fmt_ms(result['latency_ms'])}")
        else:
            st.error(f"{md(result['error_kind'])} after {fmt_ms(result['latency_ms'])}")
            st.text(result["error_message"] or "")


def try_one_pair() -> None:
    key = "try"
    source = st.radio("Inputs", ["A pair from a dataset", "Upload images"], horizontal=True, key=f"{key}_source")
    ds, pair_id = _from_dataset(f"{key}_ds") if source == "A pair from a dataset" else _from_upload(f"{key}_up")
    endpoint = endpoint_choice(key)
    profile = profile_choice(key)
    refused = False
    if endpoint:
        use = token_note(endpoint)
        if use.refused:
            st.error(md(use.note()))
            refused = True
    timeout_s = st.number_input("Timeout (s)", min_value=1, max_value=3600, value=300, key=f"{key}_timeout")
    waiting = False
    if endpoint and not refused:
        ahead = launch.try_outlook(database(), endpoint)
        waiting = ahead.wait_s > launch.TRY_MAX_WAIT_S
        if ahead.wait_s > 0:
            (st.error if waiting else st.warning)(f"Quota: {md(ahead.describe())}.", icon=":material/hourglass_top:")
        elif ahead.rate is not None:
            st.caption(f"Quota: {md(ahead.describe())}.")
    if st.button("Try it", type="primary", disabled=ds is None or not endpoint or refused or waiting, key=f"{key}_go",
                 icon=":material/bolt:"):
        db = database()
        with st.spinner("Calling the endpoint…"):
            try:
                report = launch.try_one(db, ds, pair_id, endpoint, auth.actor(), timeout_s=float(timeout_s),
                                        token=auth.service_token(), profile=profile)
            except (RunError, VtonEvalError, ValueError) as exc:
                st.error(md(exc))
                return
        data.tries.clear()
        if report.status == "failed":
            st.error(report.message or "the run failed")
            return
        st.session_state[f"{key}_result"] = launch.case_result(db, report.run_id)
    result = st.session_state.get(f"{key}_result")
    if result:
        show_result(result)
    earlier_tries()


TRY_COLUMNS = {
    "run": st.column_config.TextColumn("Run", width=172),
    "started": st.column_config.DatetimeColumn("Started (UTC)", width=120, format="MM-DD HH:mm:ss"),
    "pair": st.column_config.TextColumn("Pair", width=110),
    "workflow": st.column_config.TextColumn("Workflow", width=80),
    "endpoint": st.column_config.TextColumn("System", width=200, help="profile @ endpoint"),
    "outcome": st.column_config.TextColumn("Outcome", width=140),
    "duration": st.column_config.NumberColumn("Duration", width=80, format="%.1f s"),
}


def earlier_tries() -> None:
    """Tries are one-pair runs: listed here, kept out of the Runs table, trends, comparisons and gates."""
    tries = data.tries(str(db_path()))
    st.subheader("Earlier tries")
    if not tries:
        st.caption("None yet.")
        return
    rows = [{"run": t["run_id"], "started": t["created_at"], "pair": t["pairs_filter"] or "",
             "workflow": t["workflows"] or "", "endpoint": system_label(t),
             "outcome": "ok" if t["ok"] else (t["error_kinds"] or t["status"]), "duration": t["duration_s"]}
            for t in tries]
    st.dataframe(pd.DataFrame(rows, columns=list(TRY_COLUMNS)), hide_index=True, column_config=TRY_COLUMNS,
                 key="tries_table")
