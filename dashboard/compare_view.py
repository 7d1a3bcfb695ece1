"""The Compare page's side-by-side part: cached queries, the two-run summary and the grid of shared cases."""

from __future__ import annotations

import logging
import math
import threading
from typing import Any

import pandas as pd
import streamlit as st

from dashboard.common import artifact_file, cached, fmt_ms, fmt_pct, is_missing, md
from vton_eval.analytics import compare
from vton_eval.analytics.compare import CaseFilter, ComparePage, TwoRunSummary
from vton_eval.store import Database, DatabaseBusy

log = logging.getLogger("vton_eval.dashboard")
PAGE_SIZE = 12
SORTS = {"pair": "Pair id", "most_changed": "Most changed first"}


def _db(path: str) -> Database:
    return Database(path, busy_timeout_s=3.0)


@cached()
def comparable_runs(path: str, baseline: str) -> pd.DataFrame:
    return compare.comparable_runs(_db(path), baseline)


@cached()
def case_options(path: str, run_id: str) -> dict[str, list[str]]:
    return compare.case_options(_db(path), run_id)


@cached()
def shared_page(path: str, run_ids: tuple[str, ...], flt: CaseFilter, sort: str, page: int) -> ComparePage:
    return compare.shared_page(_db(path), run_ids, flt, sort, page, PAGE_SIZE)


@cached()
def two_run_summary(path: str, baseline: str, candidate: str, flt: CaseFilter) -> TwoRunSummary:
    return compare.two_run_summary(_db(path), baseline, candidate, flt)


def short_label(run: dict[str, Any]) -> str:
    return f"{run.get('label') or '(no label)'} · {run['run_id']}"


# --- similarities: the rows on screen at once, all of them in a background thread ---------------------------

# One fill per (database, run pair) in this server process. A thread that never calls st.* (the
# page polls the table instead), so it survives reruns and closed tabs; the table keeps its work.
_FILLS: dict[tuple[str, str, str], threading.Thread] = {}
_FILLS_LOCK = threading.Lock()


def _fill(path: str, run_a: str, run_b: str) -> None:
    try:
        compare.fill_similarities(_db(path), run_a, run_b)
    except Exception:  # a background thread has nobody to tell but the log
        log.exception("computing similarities of %s and %s failed", run_a, run_b)


def fill_running(path: str, run_a: str, run_b: str) -> bool:
    thread = _FILLS.get((path, run_a, run_b))
    return bool(thread and thread.is_alive())


def start_fill(path: str, run_a: str, run_b: str) -> None:
    with _FILLS_LOCK:
        if not fill_running(path, run_a, run_b):
            thread = threading.Thread(target=_fill, args=(path, run_a, run_b), daemon=True,
                                      name=f"similarities {run_a} {run_b}")
            _FILLS[(path, run_a, run_b)] = thread
            thread.start()


def with_similarities(path: str, rows: pd.DataFrame) -> pd.DataFrame:
    """The page's rows with the similarities they lack computed (and stored for next time)."""
    need = rows[rows["output_path_0"].notna() & rows["output_path_1"].notna() & ~rows["identical"].astype(bool)
                & rows["ssim"].isna() & rows["problem"].isna()]
    if need.empty:
        return rows
    items = [(r["output_key_0"], r["output_path_0"], r["output_key_1"], r["output_path_1"])
             for r in need.to_dict("records")]
    try:
        found = compare.ensure_similarities(_db(path), items)
    except DatabaseBusy:  # a run is writing: show the page without them rather than wait
        return rows
    rows = rows.copy()
    for index, item in zip(need.index, items, strict=True):
        hit = found.get((item[0], item[2])) or {}
        for column in ("ssim", "changed_share", "psnr", "diff_path", "problem"):
            rows.at[index, column] = hit.get(column)
    return rows


def similarity_progress(path: str, run_a: str, run_b: str, page: ComparePage) -> None:
    """For "most changed" with two runs: how much of the ranking rests on known similarities."""
    running = fill_running(path, run_a, run_b)

    @st.fragment(run_every="2s" if running else None)
    def progress() -> None:
        if running:
            _, missing = compare.missing_similarities(_db(path), run_a, run_b)
            if missing == 0 or not fill_running(path, run_a, run_b):
                shared_page.clear()
                st.rerun(scope="app")
            st.caption(f"Computing similarities in the background: {missing:,} output pair(s) to go.")
            return
        unknown = page.both_outputs - page.similarity_known
        if unknown <= 0:
            st.caption("Ordered by changed outcome, then lowest similarity (known for every case with two outputs).")
            return
        st.caption(f"Ordered by changed outcome, then lowest similarity among the {page.similarity_known:,} of "
                   f"{page.both_outputs:,} cases whose similarity is known (the others follow, by latency change). "
                   "Similarities are computed for the rows you view; compute them all for a full ranking.")
        if st.button(f"Compute similarities for all {unknown:,} cases", key="cmp_fill",
                     icon=":material/calculate:"):
            start_fill(path, run_a, run_b)
            st.rerun(scope="app")

    progress()


# --- what is drawn --------------------------------------------------------------------------------------------


def summary(path: str, baseline: dict, candidate: dict, flt: CaseFilter) -> TwoRunSummary:
    info = two_run_summary(path, baseline["run_id"], candidate["run_id"], CaseFilter(flt.workflows, flt.tag))
    t = info.transitions
    st.subheader("What changed")
    st.caption(f"From the baseline {md(short_label(baseline))} to {md(short_label(candidate))}, over the "
               f"{t['shared']:,} cases both ran (workflow and tag filters apply).")
    cols = st.columns(5)
    for col, (label, key) in zip(cols, (("Shared cases", "shared"), ("ok → error", "ok_to_error"),
                                        ("error → ok", "error_to_ok"), ("Error kind changed", "kind_changed"),
                                        ("ok → ok", "ok_to_ok")), strict=True):
        col.metric(label, f"{t[key]:,}", border=True)
    left, right = st.columns(2)
    with left:
        st.caption("Error kinds (new = absent from the baseline)")
        if info.error_kinds.empty:
            st.success("No errors in either run.")
        else:
            st.dataframe(info.error_kinds, hide_index=True, width="stretch", key="cmp_kinds")
    with right:
        st.caption("Latency of ok calls per workflow: baseline, candidate and change")
        ms = {c: st.column_config.NumberColumn(c.replace("_ms", " (ms)"), format="%+.0f" if "change" in c else "%.0f")
              for c in info.latency.columns if c.endswith("_ms")}
        st.dataframe(info.latency, hide_index=True, width="stretch", column_config=ms, key="cmp_latency")
    return info


def _image(path: str | None, missing: str | None) -> None:
    image = artifact_file(path)
    if image:
        st.image(image, width="stretch")
    elif missing:
        st.text(missing)


def _output_cell(row: dict[str, Any], i: int) -> None:
    status, latency = row[f"status_{i}"], row[f"latency_ms_{i}"]
    path = row[f"output_path_{i}"]
    _image(path, "output file missing or unreadable" if path else None)
    if status == "ok":
        change = "" if i == 0 or is_missing(latency) or is_missing(row["latency_ms_0"]) \
            else f" ({latency - row['latency_ms_0']:+,.0f} ms)"
        st.caption(f"ok · {fmt_ms(latency)}{change}")
    else:
        # Server text: shown verbatim as text, never as markdown or HTML.
        message = row[f"error_message_{i}"] or ""
        st.code(f"{row[f'error_kind_{i}'] or 'error'}: {message}"[:800], language=None, wrap_lines=True)


def _diff_cell(row: dict[str, Any]) -> None:
    if is_missing(row["output_path_0"]) or is_missing(row["output_path_1"]):
        st.text("no two outputs to compare")
    elif row["identical"]:
        st.text("identical output files\nSSIM 1.000")
    elif row.get("diff_path"):
        _image(row["diff_path"], "difference image missing")
        st.caption(f"SSIM {row['ssim']:.3f} · {fmt_pct(row['changed_share'])} of pixels changed")
    elif row.get("problem"):
        st.text(row["problem"])
    else:
        st.text("similarity not computed yet")


def grid(runs: list[dict[str, Any]], page: ComparePage) -> None:
    """One row per shared case: person | product | mask | one output per run | (two runs) difference."""
    two = len(runs) == 2
    widths = [1, 1, 1, *([1.3] * len(runs)), *([1.3] if two else [])]
    titles = ["person", "product", "mask"]
    titles += [("baseline: " if i == 0 else f"run {i + 1}: ") + short_label(r) for i, r in enumerate(runs)]
    titles += ["difference (baseline → run 2)"] if two else []
    for col, title in zip(st.columns(widths), titles, strict=True):
        col.caption(md(title))
    rows = page.rows.astype(object).where(page.rows.notna(), None)
    for pos, row in enumerate(rows.to_dict("records")):
        with st.container(border=True, key=f"cmp_row_{pos}"):
            changed = int(row["n_changed"] or 0)
            tags = f" · {md(row['tags'])}" if row.get("tags") else ""
            flag = f" · :orange[outcome changed in {changed} run(s)]" if changed else ""
            st.markdown(f"**{md(row['pair_id'])}** · {md(row['workflow'])} · repeat {row['repeat']}{tags}{flag}")
            cols = st.columns(widths)
            for col, key, title in zip(cols[:3], ("base_path", "product_path", "mask_path"),
                                       ("person", "product", "mask"), strict=True):
                with col:
                    missing = "no mask" if key == "mask_path" and not row.get(key) else f"{title}: not available"
                    _image(row.get(key), missing)
            for i in range(len(runs)):
                with cols[3 + i]:
                    _output_cell(row, i)
            if two:
                with cols[-1]:
                    _diff_cell(row)


def page_count(total: int) -> int:
    return max(1, math.ceil(total / PAGE_SIZE))
