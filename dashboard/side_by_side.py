"""The Compare page's side-by-side part: the two-run summary and the grid of shared cases, with similarities
computed in the background."""

from __future__ import annotations

import math
import threading
from dataclasses import replace
from typing import Any

import pandas as pd
import streamlit as st

from dashboard import background, data
from dashboard.common import artifact_file, artifacts, fmt_ms, fmt_pct, is_missing, md, store_at
from dashboard.widgets import system_label
from vton_eval import similarity_cache
from vton_eval.analytics import compare
from vton_eval.analytics.compare import ComparePage, TwoRunSummary
from vton_eval.store import DatabaseBusy

PAGE_SIZE = 12
SORTS = {"pair": "Pair id", "most_changed": "Most changed first"}


def shared_text(run: dict[str, Any]) -> str:
    """How many cases a run shares with the baseline, as the pickers say it."""
    shared = run.get("shared")
    if shared is None or pd.isna(shared):
        return "an older run (shared cases counted when compared)"
    return f"{int(shared):,} shared cases"


def short_label(run: dict[str, Any]) -> str:
    return f"{run.get('label') or '(no label)'} · {run['run_id']}"


def column_title(run: dict[str, Any]) -> str:
    """A grid column names its system first (profile @ endpoint), as a comparison figure's columns do."""
    return f"{system_label(run)} · {short_label(run)}"


# --- similarities: computed in background threads, never while a page waits -------------------------------
# Comparing two outputs costs ~0.1-0.2 s, so a page of new rows would take a second or more. Threads
# (dashboard.background) compute them; the page polls the table, which keeps their work.

_FILLS: dict[tuple[str, str, str], threading.Thread] = {}  # (database, run a, run b): a whole-run fill
_FILL_LOCK = threading.Lock()


def compute_later(path: str, items: list[compare.Item]) -> None:
    """Compute these output pairs' similarities in the background (those not already being computed)."""
    by_key = {(path, i[0], i[2]): i for i in items}
    background.start_once("similarities of a page", by_key,
                          lambda keys: similarity_cache.ensure_similarities(store_at(path), [by_key[k] for k in keys]))


def wait_for_similarities(timeout: float = 60.0) -> None:
    """Wait for the background computations (tests and benchmarks: the page itself polls)."""
    background.wait(timeout)


def fill_running(path: str, run_a: str, run_b: str) -> bool:
    thread = _FILLS.get((path, run_a, run_b))
    return bool(thread and thread.is_alive())


def start_fill(path: str, run_a: str, run_b: str) -> None:
    with _FILL_LOCK:  # two clicks, two sessions: one fill
        if not fill_running(path, run_a, run_b):
            _FILLS[(path, run_a, run_b)] = background.start(f"similarities of {run_a} and {run_b}",
                                                            similarity_cache.fill_similarities, store_at(path), run_a,
                                                            run_b)


def _lacking(rows: pd.DataFrame) -> list[compare.Item]:
    """The output pairs of these rows whose similarity is not known (both outputs, different files)."""
    if rows.empty:
        return []
    need = rows[rows["output_path_0"].notna() & rows["output_path_1"].notna() & ~rows["identical"].astype(bool)
                & rows["ssim"].isna() & rows["problem"].isna()]
    return [(r["output_key_0"], r["output_path_0"], r["output_key_1"], r["output_path_1"])
            for r in need.to_dict("records")]


def _merged(path: str, rows: pd.DataFrame, items: list[compare.Item]) -> tuple[pd.DataFrame, list[compare.Item]]:
    """The rows with the similarities stored since they were read, and the items still missing."""
    try:
        found = compare.stored_similarities(store_at(path), [(i[0], i[2]) for i in items])
    except DatabaseBusy:  # a run is writing a batch: show what we have, the next poll reads it
        found = {}
    if not found:
        return rows, items
    rows = rows.copy()
    for index, r in rows.iterrows():
        hit = found.get((r["output_key_0"], r["output_key_1"]))
        if hit and not r["identical"]:
            for column in ("ssim", "changed_share", "psnr", "diff_path", "problem"):
                rows.at[index, column] = hit.get(column)
    return rows, [i for i in items if (i[0], i[2]) not in found]


def live_grid(path: str, runs: list[dict[str, Any]], page: ComparePage, fresh: bool) -> None:
    """The grid. With two runs, the similarities it lacks are computed in the background and a
    fragment polls the table until they are in. `fresh`: the rows were read in this run, not taken
    from the query cache (then no similarity can have been stored since)."""
    if len(runs) != 2:
        grid(runs, page)
        return
    rows, items = page.rows, _lacking(page.rows)
    if items and not fresh:
        rows, items = _merged(path, rows, items)
    if not items:
        grid(runs, replace(page, rows=rows))
        return
    first = [True]

    @st.fragment(run_every="1s")
    def poll() -> None:
        current, missing = (rows, items) if first[0] else _merged(path, page.rows, items)
        if not first[0]:
            if not missing:
                data.compare_view.clear()  # the cached rows predate the similarities
                st.rerun(scope="app")  # a full run draws them and stops this polling
            compute_later(path, missing)  # again, in case a computation failed (it is in the log)
        first[0] = False
        grid(runs, replace(page, rows=current))

    poll()
    # Started after drawing: the threads would compete with this run for the CPU.
    compute_later(path, items)


def similarity_progress(path: str, run_a: str, run_b: str, page: ComparePage) -> None:
    """For "most changed" with two runs: whether the order uses similarity yet, and a way to get there."""
    running = fill_running(path, run_a, run_b)

    @st.fragment(run_every="2s" if running else None)
    def progress() -> None:
        if running:
            _, missing = compare.missing_similarities(store_at(path), run_a, run_b)
            if missing == 0 or not fill_running(path, run_a, run_b):
                data.compare_view.clear()
                st.rerun(scope="app")
            st.caption(f"Computing similarities in the background: {missing:,} output pair(s) to go.")
            return
        if page.similarity_known >= page.both_outputs:
            st.caption("Ordered by changed outcome, then lowest similarity, then largest latency change.")
            return
        st.caption(f"Ordered by changed outcome, then largest latency change. Similarity joins the order once it "
                   f"is known for all {page.both_outputs:,} cases with two outputs (known for "
                   f"{page.similarity_known:,}: those you viewed, and identical files).")
        unknown = page.both_outputs - page.similarity_known
        if st.button(f"Compute similarities for the other {unknown:,} cases", key="cmp_fill",
                     icon=":material/calculate:"):
            start_fill(path, run_a, run_b)
            st.rerun(scope="app")

    progress()


# --- what is drawn --------------------------------------------------------------------------------------------


def summary(baseline: dict, candidate: dict, info: TwoRunSummary) -> None:
    t = info.transitions
    st.subheader("What changed")
    st.caption(f"From the baseline {md(short_label(baseline))} to {md(short_label(candidate))}, over the "
               f"{t['shared']:,} cases both ran (workflow and tag filters apply).")
    cols = st.columns(5)
    for col, (label, key) in zip(cols, (("Shared cases", "shared"), ("ok → error", "ok_to_error"),
                                        ("error → ok", "error_to_ok"), ("Error kind changed", "kind_changed"),
                                        ("ok → ok", "ok_to_ok")), strict=True):
        col.metric(label, f"{t[key]:,}", border=True)
    st.caption("Latency of ok calls per workflow: the change first, then the baseline (before) and the candidate "
               "(after)")
    st.dataframe(info.latency[[c for c in LATENCY_COLUMNS if c in info.latency]], hide_index=True,
                 column_config=LATENCY_COLUMNS, key="cmp_latency")
    st.caption("Error kinds (new = absent from the baseline)")
    if info.error_kinds.empty:
        st.success("No errors in either run.")
    else:
        st.dataframe(info.error_kinds, hide_index=True, key="cmp_kinds")


# The answer (how much slower or faster) first, on the page's whole width; each column fits its text. The workflow
# and the changes are pinned: on a narrow window the grid scrolls sideways and they stay in view.
LATENCY_COLUMNS = {
    "workflow": st.column_config.TextColumn("Workflow", width=76, pinned=True),
    "p95_change_ms": st.column_config.NumberColumn("p95 change", format="%+.0f ms", width=96, pinned=True,
                                                   help="candidate minus baseline, ok calls"),
    "p50_change_ms": st.column_config.NumberColumn("p50 change", format="%+.0f ms", width=96, pinned=True),
    "p95_baseline_ms": st.column_config.NumberColumn("p95 before", format="%.0f ms", width=84),
    "p95_candidate_ms": st.column_config.NumberColumn("p95 after", format="%.0f ms", width=84),
    "p50_baseline_ms": st.column_config.NumberColumn("p50 before", format="%.0f ms", width=84),
    "p50_candidate_ms": st.column_config.NumberColumn("p50 after", format="%.0f ms", width=84),
    "n_baseline": st.column_config.NumberColumn("OK before", format="%d", width=76),
    "n_candidate": st.column_config.NumberColumn("OK after", format="%d", width=68),
}


def large_file(relpath: str | None, side: int = 768) -> str | None:
    """A JPEG copy of an image, long side at most `side` (made once): big enough to judge, and sent to
    the browser as it is (any other format is re-encoded on every render)."""
    if not relpath:
        return None
    store = artifacts()
    try:
        path = store.abspath(store.thumbnail(relpath, side))
    except Exception:  # missing or undecodable: the caller says so in text
        return None
    return str(path) if path.exists() else None


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
        image = artifact_file(row["diff_path"], thumb=False)  # already a small JPEG
        if image:
            st.image(image, width="stretch")
        else:
            st.text("difference image missing")
        st.caption(f"SSIM {row['ssim']:.3f} · {fmt_pct(row['changed_share'])} of pixels changed")
    elif row.get("problem"):
        st.text(row["problem"])
    else:
        st.text("computing the similarity…")


def grid(runs: list[dict[str, Any]], page: ComparePage) -> None:
    """One row per shared case: person | product | mask | one output per run | (two runs) difference."""
    two = len(runs) == 2
    widths = [1, 1, 1, *([1.3] * len(runs)), *([1.3] if two else [])]
    titles = ["person", "product", "mask"]
    titles += [("baseline: " if i == 0 else f"run {i + 1}: ") + column_title(r) for i, r in enumerate(runs)]
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
