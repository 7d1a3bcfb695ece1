"""One case in full on the Review page: full-resolution images, the person/output slider, checks, verdicts."""

from __future__ import annotations

import streamlit as st

from dashboard.common import artifact_file, database, fmt_ms, md
from vton_eval.analytics.review import case_detail
from vton_eval.checks import difference_image
from vton_eval.images import load_rgb
from vton_eval.imaging import blend
from vton_eval.reviews import VERDICTS, ReviewError, reasons_for, save_verdict


def _full(relpath: str | None) -> str | None:
    return artifact_file(relpath, thumb=False)


def viewer(detail: dict, key: str) -> None:
    person, output = _full(detail["base_path"]), _full(detail["output_path"])
    modes = ["Slider", "Side by side", "Person", "Output"]
    if detail.get("reference_path"):
        modes.append("Reference")
    if person and output:
        modes.append("Difference")
    mode = st.segmented_control("View", modes, default="Slider" if person and output else "Person",
                                key=f"{key}_mode")
    if not output and mode in ("Slider", "Output", "Difference"):
        mode = "Person"
    if mode == "Slider":
        share = st.slider("Person ← → output", 0, 100, 100, step=5, key=f"{key}_share",
                          help="Drag to fade from the person image to the output: what moves is what changed.")
        st.image(blend(person, output, share / 100), width="stretch")
    elif mode == "Side by side":
        cols = st.columns(4)
        for col, rel, title in ((cols[0], detail["base_path"], "person"), (cols[1], detail["product_path"], "product"),
                                (cols[2], detail["mask_path"], "mask"), (cols[3], detail["output_path"], "output")):
            path = _full(rel)
            if path:
                col.image(path, caption=title, width="stretch")
    elif mode == "Difference":
        st.image(difference_image(load_rgb(person), load_rgb(output)),
                 caption="where the output differs from the person",
                 width="stretch")
    else:
        rel = {"Person": "base_path", "Output": "output_path", "Reference": "reference_path"}[mode]
        st.image(_full(detail[rel]), caption=mode.lower(), width="stretch")


def verdict_form(run_id: str, detail: dict, reviewer: str, key: str) -> None:
    mine = detail["reviews"]
    mine = mine[mine["reviewer"] == reviewer] if not mine.empty else mine
    current = mine.iloc[0].to_dict() if not mine.empty else {}
    with st.form(f"{key}_form", border=True):
        verdict = st.radio("Verdict", VERDICTS, horizontal=True, key=f"{key}_verdict",
                           index=VERDICTS.index(current["verdict"]) if current.get("verdict") in VERDICTS else None)
        options = list(reasons_for(detail["workflow"]))
        chosen = [r for r in (current.get("reasons") or "").split(";") if r in options]
        reasons = st.multiselect("Reasons", options, default=chosen, key=f"{key}_reasons")
        note = st.text_area("Note", value=current.get("note") or "", key=f"{key}_note", max_chars=2000)
        if st.form_submit_button("Save verdict", type="primary"):
            if verdict is None:
                st.error("Choose pass, fail or unsure first.")
            else:
                try:
                    save_verdict(database(), run_id, detail["pair_id"], int(detail["repeat"]), reviewer, verdict,
                                 reasons, note)
                except ReviewError as exc:
                    st.error(str(exc))
                else:
                    st.session_state["review_saved"] = f"Saved: {detail['pair_id']} {verdict}"
                    st.rerun()


def case_view(run_id: str, pair_id: str, repeat: int, reviewer: str) -> None:
    detail = case_detail(database(), run_id, pair_id, repeat)
    if detail is None:
        st.warning("This case is not in the run any more.")
        return
    key = f"detail_{run_id}_{pair_id}_{repeat}"
    with st.container(border=True):
        top = st.columns([5, 1])
        top[0].subheader(f"{md(pair_id)} · {detail['workflow']} · repeat {repeat}")
        if top[1].button("Close", key="review_close", icon=":material/close:"):
            st.session_state.pop("review_case", None)
            st.rerun()
        left, right = st.columns([3, 2])
        with left:
            viewer(detail, key)
        with right:
            status = detail["status"]
            st.markdown(f"**{status}**" + (f" · {detail['error_kind']}" if detail.get("error_kind") else "")
                        + f" · {fmt_ms(detail.get('latency_ms'))}")
            if detail.get("error_message"):
                st.code(detail["error_message"], language=None, wrap_lines=True)
            if detail.get("tags"):
                st.caption(f"tags: {detail['tags']}")
            verdict_form(run_id, detail, reviewer, key)
            reviews = detail["reviews"]
            if not reviews.empty:
                st.caption("Verdicts on this case")
                st.dataframe(reviews, hide_index=True, width="stretch")
                if reviews["verdict"].nunique() > 1:
                    st.warning("Reviewers disagree on this case.")
            checks = detail["checks_table"]
            if not checks.empty:
                st.caption("Automatic checks")
                st.dataframe(checks, hide_index=True, width="stretch", column_config={
                    "value": st.column_config.NumberColumn(format="%.3f"),
                    "threshold": st.column_config.NumberColumn(format="%.3f")})
