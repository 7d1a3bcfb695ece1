"""A case's card on the Review page: inputs, the output beside a zoom on the region the workflow changes,
and a one-click verdict.

Zoomed crops (`vton_eval.zoom`) cost ~25 ms each to make, too much for 48 cards in a page's time
budget: the missing ones are made in a background thread while the page polls for them.
"""

from __future__ import annotations

from typing import Any

import streamlit as st

from dashboard import auth, background, keys
from dashboard.actions import act
from dashboard.common import artifact_file, artifacts, database, db_path, fmt_ms, md
from vton_eval import workflows
from vton_eval.reviews import VERDICTS, clear_verdict, save_verdict
from vton_eval.zoom import ZoomItem, make_zooms, zoom_path

WIDTHS = [0.9, 0.9, 1.6, 1.6, 2.2]  # person | product (+ mask) | output | zoom | about the case


def zoom_item(case: dict[str, Any]) -> ZoomItem | None:
    if not case.get("output_path") or not case.get("base_path"):
        return None
    return ZoomItem(case["output_path"], case["base_path"], case.get("mask_path"), case["workflow"])


# Items whose crop could not be made (an output that does not decode...): not waited for again.
_NO_ZOOM: set[tuple[str, ZoomItem]] = set()


def missing_zooms(cases: list[dict[str, Any]]) -> list[ZoomItem]:
    store = artifacts()
    items = [zoom_item(c) for c in cases]
    return [i for i in items if i is not None and (db_path(), i) not in _NO_ZOOM
            and not zoom_path(store, i).exists()]


def make_later(items: list[ZoomItem]) -> None:
    """Make these crops in the background (those no other session is making)."""
    path = db_path()
    store = artifacts()

    def work(keys: list[tuple[str, ZoomItem]]) -> None:
        make_zooms(store, [item for _, item in keys])
        _NO_ZOOM.update(k for k in keys if not zoom_path(store, k[1]).exists())

    background.start_once("zoomed crops", [(path, i) for i in items], work)


def quick_verdict(run_id: str, pair_id: str, repeat: int, key: str, reasons: str, note: str) -> None:
    """Saved the moment a verdict is clicked, as the person signed in at the click; clicking the chosen one
    again clears it."""
    verdict = st.session_state.get(key)
    kept = [r for r in (reasons or "").split(";") if r] if verdict != "pass" else []

    def work() -> None:
        db, person = database(), auth.acting_reviewer()
        if verdict is None:
            clear_verdict(db, run_id, pair_id, repeat, person)
        else:
            save_verdict(db, run_id, pair_id, repeat, person, verdict, kept, note or "")

    act(work, keys.REVIEW_ERROR)
    for words in keys.detail_words(run_id, pair_id, repeat):  # the details' boxes read them again from the store
        st.session_state.pop(words, None)


def _open(run_id: str, pair_id: str, repeat: int) -> None:
    st.session_state[keys.REVIEW_CASE] = (run_id, pair_id, repeat)


def _zoom_cell(case: dict[str, Any]) -> None:
    item = zoom_item(case)
    if item is None:
        st.text("no output to zoom on")
        return
    crop = zoom_path(artifacts(), item)
    region = workflows.region_name(case["workflow"])
    if crop.exists():
        st.image(str(crop), caption=f"zoom: {region}", width="stretch")
    elif (db_path(), item) in _NO_ZOOM:
        st.text(f"no zoom on the {region}: the output could not be read")
    else:
        st.text(f"zoom on the {region}: preparing…")


def case_card(run_id: str, case: dict[str, Any], judge: bool = True) -> None:
    """`judge`: the person may give verdicts (a viewer gets no verdict control)."""
    pair, repeat = case["pair_id"], int(case["repeat"])
    with st.container(border=True, key=f"card_{pair}_{repeat}"):
        cols = st.columns(WIDTHS)
        for col, rel, title in ((cols[0], case["base_path"], "person"), (cols[1], case["product_path"], "product")):
            image = artifact_file(rel)
            if image:
                col.image(image, caption=title, width="stretch")
        mask = artifact_file(case["mask_path"])
        if mask:
            cols[1].image(mask, caption="mask", width="stretch")
        output = artifact_file(case["output_path"])
        with cols[2]:
            if output:
                st.image(output, caption="output", width="stretch")
            else:
                st.text(f"no output\n{case['error_kind'] or ''}")
        with cols[3]:
            _zoom_cell(case)
        with cols[4]:
            status = case["status"] if case["status"] == "ok" else f"{case['status']}: {case['error_kind']}"
            st.markdown(f"**{md(pair)}** · repeat {repeat} · {md(case['workflow'])} · {fmt_ms(case['latency_ms'])} · "
                        f"{md(status)}")
            if case["error_message"]:
                st.text(case["error_message"][:300])
            if case["flags"]:
                st.caption(f"flags: {md(case['flags'])}")
            key = keys.quick_verdict(run_id, pair, repeat)
            if judge:
                st.segmented_control(
                    "Verdict", VERDICTS, key=key, default=case["my_verdict"], label_visibility="collapsed",
                    on_change=quick_verdict, args=(run_id, pair, repeat, key, case["my_reasons"], case["my_note"]))
            if case["n_verdicts"] and case["all_verdicts"]:
                disagree = case["distinct_verdicts"] and case["distinct_verdicts"] > 1
                st.caption(("⚠ reviewers disagree: " if disagree else "verdicts: ") + md(case["all_verdicts"]))
            st.button("Details", key=f"open_{run_id}_{pair}_{repeat}", icon=":material/zoom_in:", on_click=_open,
                      args=(run_id, pair, repeat))
