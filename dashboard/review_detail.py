"""One case in full on the Review page, opened where its card was: images, zoom, slider, checks, verdicts.

The verdict buttons and "Next" have keyboard shortcuts (P, F, U, N), so a reviewer can go
through a page with the keyboard. Every write happens in a callback: callbacks run before the page's
body, which reads on one shared connection.
"""

from __future__ import annotations

from typing import Any

import streamlit as st

from dashboard import auth, keys
from dashboard.actions import act
from dashboard.common import artifact_file, artifacts, database, fmt_ms, md
from vton_eval import workflows
from vton_eval.analytics.review import case_detail
from vton_eval.checks import difference_image
from vton_eval.crossfade import blend
from vton_eval.images import load_rgb
from vton_eval.reviews import VERDICTS, save_verdict
from vton_eval.zoom import ZoomItem, make_zoom

SHORTCUTS = {"pass": "P", "fail": "F", "unsure": "U"}
OPENED = keys.REVIEW_CASE
OPENED_BOX = "review_opened"  # the key of the opened case's container (one at a time)
SCROLL_TO = "rv_scroll_to"  # session key: the container (its key) to bring into view on the next render


def _full(relpath: str | None) -> str | None:
    return artifact_file(relpath, thumb=False)


def _zoom(relpath: str | None, detail: dict[str, Any], box: tuple[float, float, float, float] | None = None
          ) -> str | None:
    """A crop of `relpath` (the person or the output) around the workflow's region (or a check's box), made
    now if need be."""
    if not relpath or not detail.get("base_path"):
        return None
    item = ZoomItem(relpath, detail["base_path"], detail.get("mask_path"), detail["workflow"], box)
    try:
        return str(make_zoom(artifacts(), item))
    except Exception:  # a missing or undecodable file: the view says so in text
        return None


def viewer(detail: dict[str, Any], key: str) -> None:
    person, output = _full(detail["base_path"]), _full(detail["output_path"])
    region = workflows.region_name(detail["workflow"])
    boxes = detail.get("check_boxes") or {}
    modes = ["Slider", f"Zoom on the {region}", "Side by side", "Person", "Output"]
    if boxes and output:
        modes.insert(2, "Zoom on a check")
    if detail.get("reference_path"):
        modes.append("Reference")
    if person and output:
        modes.append("Difference")
    mode = st.segmented_control("View", modes, default="Slider" if person and output else "Person",
                                key=f"{key}_mode")
    if not output and mode in ("Slider", "Output", "Difference", modes[1]):
        mode = "Person"
    if mode == "Slider":
        share = st.slider("Person ← → output", 0, 100, 100, step=5, key=f"{key}_share",
                          help="Drag to fade from the person image to the output: what moves is what changed.")
        st.image(blend(person, output, share / 100), width="stretch")
    elif mode == modes[1]:
        cols = st.columns(2)
        for col, rel, title in ((cols[0], detail["base_path"], "person"), (cols[1], detail["output_path"], "output")):
            crop = _zoom(rel, detail)
            if crop:
                col.image(crop, caption=f"{title}, {region}", width="stretch")
            else:
                col.text(f"{title}: no zoom available")
    elif mode == "Zoom on a check":
        check = st.selectbox("Check", list(boxes), key=f"{key}_zoom_check",
                             help="Where the check looked: the face for identity, the body, the product region, "
                                  "the changed background. Failed checks first.")
        cols = st.columns(2)
        for col, rel, title in ((cols[0], detail["base_path"], "person"), (cols[1], detail["output_path"], "output")):
            crop = _zoom(rel, detail, boxes.get(check))
            if crop:
                col.image(crop, caption=f"{title}, where {check} looked", width="stretch")
            else:
                col.text(f"{title}: no zoom available")
    elif mode == "Side by side":
        cols = st.columns(4)
        for col, rel, title in ((cols[0], detail["base_path"], "person"), (cols[1], detail["product_path"], "product"),
                                (cols[2], detail["mask_path"], "mask"), (cols[3], detail["output_path"], "output")):
            path = _full(rel)
            if path:
                col.image(path, caption=title, width="stretch")
    elif mode == "Difference":
        st.image(difference_image(load_rgb(person), load_rgb(output)),
                 caption="where the output differs from the person", width="stretch")
    else:
        rel = {"Person": "base_path", "Output": "output_path", "Reference": "reference_path"}[mode]
        st.image(_full(detail[rel]), caption=mode.lower(), width="stretch")


def _quick(run_id: str, detail: dict[str, Any], reviewer: str, verdict: str) -> None:
    """A verdict button's callback: the verdict with the reasons and note beside it (no reasons for a pass)."""
    mine = _mine(detail, reviewer)
    reasons_key, note_key = _words(run_id, detail)
    reasons = st.session_state.get(reasons_key)
    if reasons is None:
        reasons = [r for r in (mine.get("reasons") or "").split(";") if r]
    note = st.session_state.get(note_key)
    _save(run_id, detail, verdict, [] if verdict == "pass" else list(reasons),
          (mine.get("note") or "") if note is None else note)


def _save_words(run_id: str, detail: dict[str, Any], reviewer: str) -> None:
    """Reasons or note changed: saved at once with the verdict already given (before one, they wait for it)."""
    verdict = _mine(detail, reviewer).get("verdict")
    if verdict not in VERDICTS:
        return
    reasons_key, note_key = _words(run_id, detail)
    _save(run_id, detail, verdict, list(st.session_state.get(reasons_key) or []),
          st.session_state.get(note_key) or "")


def _save(run_id: str, detail: dict[str, Any], verdict: str, reasons: list[str], note: str) -> None:
    # As the person signed in at the click (`reviewer` names whose verdicts the page showed).
    if act(lambda: save_verdict(database(), run_id, detail["pair_id"], int(detail["repeat"]), auth.acting_reviewer(),
                                verdict, reasons, note), keys.REVIEW_ERROR) is None:
        return
    st.session_state.pop(keys.quick_verdict(run_id, detail["pair_id"], detail["repeat"]), None)
    if not reasons:  # a pass keeps none: the box says so
        st.session_state[_words(run_id, detail)[0]] = []
    st.toast(f"Saved: {detail['pair_id']} {verdict}")


def _words(run_id: str, detail: dict[str, Any]) -> tuple[str, str]:
    return keys.detail_words(run_id, detail["pair_id"], detail["repeat"])


def _mine(detail: dict[str, Any], reviewer: str) -> dict[str, Any]:
    reviews = detail["reviews"]
    mine = reviews[reviews["reviewer"] == reviewer] if not reviews.empty else reviews
    return mine.iloc[0].to_dict() if not mine.empty else {}


def verdict_words(run_id: str, detail: dict[str, Any], reviewer: str) -> None:
    """Reasons and a note beside the verdict buttons: the one way to judge here is a button; these go with it."""
    current = _mine(detail, reviewer)
    options = list(workflows.reasons_for(detail["workflow"]))
    reasons_key, note_key = _words(run_id, detail)
    if reasons_key not in st.session_state:
        st.session_state[reasons_key] = [r for r in (current.get("reasons") or "").split(";") if r in options]
    if note_key not in st.session_state:
        st.session_state[note_key] = current.get("note") or ""
    args = (run_id, detail, reviewer)
    st.multiselect("Reasons", options, key=reasons_key, on_change=_save_words, args=args,
                   help="Saved with the verdict (a pass keeps none); changed after it, saved at once.")
    st.text_area("Note", key=note_key, max_chars=2000, on_change=_save_words, args=args,
                 help="Saved with the verdict; changed after it, saved when you leave the box.")


def _open_next(page_keys: list[tuple[str, str, int]], here: tuple[str, str, int], pages: int) -> None:
    """"Next": the following case on this page, else the first of the next page, else close."""
    position = page_keys.index(here) if here in page_keys else -1
    if position + 1 < len(page_keys):
        st.session_state[OPENED] = page_keys[position + 1]
        st.session_state[SCROLL_TO] = OPENED_BOX  # the next card may be a row lower, below the fold
        return
    st.session_state.pop(OPENED, None)
    page = int(st.session_state.get("rv_page") or 1)
    if page < pages:
        st.session_state["rv_page"] = page + 1
        st.session_state["rv_open_first"] = True
        st.session_state[SCROLL_TO] = OPENED_BOX


def _close() -> None:
    st.session_state.pop(OPENED, None)


def case_view(run_id: str, pair_id: str, repeat: int, reviewer: str, page_keys: list[tuple[str, str, int]],
              pages: int, judge: bool = True) -> None:
    """`judge`: the person may give verdicts (a viewer sees the case and everyone's verdicts, no buttons)."""
    detail = case_detail(database(), run_id, pair_id, repeat)
    if detail is None:
        st.warning("This case is not in the run any more.")
        return
    key = keys.detail(run_id, pair_id, repeat)
    with st.container(border=True, key=OPENED_BOX):
        top = st.columns([4, 1, 1], vertical_alignment="center")
        top[0].subheader(f"{md(pair_id)} · {detail['workflow']} · repeat {repeat}")
        top[1].button("Next case", key="review_next", icon=":material/skip_next:", shortcut="N", width="stretch",
                      on_click=_open_next, args=(page_keys, (run_id, pair_id, repeat), pages))
        # No shortcut: Esc also closes the reasons' dropdown, and must not close the case with it.
        top[2].button("Close", key="review_close", icon=":material/close:", width="stretch", on_click=_close)
        left, right = st.columns([3, 2])
        with left:
            viewer(detail, key)
        with right:
            status = detail["status"]
            st.markdown(f"**{status}**" + (f" · {md(detail['error_kind'])}" if detail.get("error_kind") else "")
                        + f" · {fmt_ms(detail.get('latency_ms'))}")
            if detail.get("error_message"):
                st.code(detail["error_message"], language=None, wrap_lines=True)
            if detail.get("tags"):
                st.caption(f"tags: {md(detail['tags'])}")
            if judge:
                mine = _mine(detail, reviewer).get("verdict")
                buttons = st.columns(3)
                for col, verdict in zip(buttons, VERDICTS, strict=True):
                    col.button(verdict.capitalize(), key=f"review_{verdict}", shortcut=SHORTCUTS[verdict],
                               width="stretch", type="primary" if verdict == mine else "secondary", on_click=_quick,
                               args=(run_id, detail, reviewer, verdict))
                st.caption("Keys: P pass · F fail · U unsure · N next case. The reasons and note below go with the "
                           "verdict.")
                verdict_words(run_id, detail, reviewer)
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
