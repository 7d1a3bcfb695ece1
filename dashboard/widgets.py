"""Widgets more than one page uses: the filter bar, the run picker, a run's status line, bringing a part of a page
into view (who reviews: auth.py)."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from typing import Any

import pandas as pd
import streamlit as st

from dashboard import data
from dashboard.common import db_path, md
from vton_eval.analytics.filters import RunFilter
from vton_eval.analytics.overview import is_partial


def filter_bar(key: str, workflows: bool = True) -> RunFilter:
    options = data.filter_options(str(db_path()))
    cols = st.columns(4 if workflows else 3)
    datasets = cols[0].multiselect("Dataset", options["datasets"], key=f"{key}_datasets", placeholder="all")
    chosen_wf = cols[1].multiselect("Workflow", options["workflows"], key=f"{key}_workflows",
                                    placeholder="all") if workflows else []
    labels = cols[-2].multiselect("Label", options["labels"], key=f"{key}_labels", placeholder="all",
                                  format_func=lambda v: v or "(no label)")
    dates = cols[-1].date_input("Date range", value=(), key=f"{key}_dates", format="YYYY-MM-DD")
    since = until = None
    if isinstance(dates, tuple | list) and dates:
        since = dates[0]
        until = dates[1] if len(dates) > 1 else dates[0]
    elif isinstance(dates, dt.date):
        since = until = dates
    return RunFilter(tuple(datasets), tuple(chosen_wf), tuple(labels), since, until)


def system_label(row: pd.Series | Mapping[str, Any], compact: bool = False) -> str:
    """Which system a run called: its profile and endpoint ("catvton @ http://127.0.0.1:7861"); `compact` leaves
    the http(s):// out, for a table column: the host and port are what tell two systems apart."""
    profile = row.get("profile")
    profile = profile if isinstance(profile, str) and profile else "sm4ll"
    endpoint = str(row.get("endpoint") or "?")
    if compact:
        endpoint = endpoint.removeprefix("http://").removeprefix("https://")
    return f"{profile} @ {endpoint}"


def run_label(row: pd.Series | Mapping[str, Any]) -> str:
    created = row["created_at"]
    when = created.strftime("%Y-%m-%d %H:%M") if hasattr(created, "strftime") else str(created)
    label = row.get("label") or "(no label)"
    return f"{label} · {system_label(row)} · {row['dataset']} · {when} · {row['status']} · {row['run_id']}"


def run_picker(runs: pd.DataFrame, key: str, label: str = "Run", default: str | None = None,
               exclude: tuple[str, ...] = ()) -> str | None:
    runs = runs[~runs["run_id"].isin(exclude)] if exclude else runs
    if runs.empty:
        return None
    ids = runs["run_id"].tolist()
    by_id = {r["run_id"]: r for r in runs.to_dict("records")}
    # The run a person picked stays picked, also after a visit to another page (Streamlit forgets the value of a
    # widget a page run does not draw, and the default would then be whatever run was launched last): it is kept
    # under a key of its own, and only a vanished one falls back to the default.
    state, kept = st.session_state, f"{key}_picked"
    if state.get(key) not in ids:
        state[key] = next(i for i in (state.get(kept), default, ids[0]) if i in ids)
    chosen = st.selectbox(label, ids, key=key, format_func=lambda i: run_label(by_id[i]))
    state[kept] = chosen
    return chosen


def _count(value: Any) -> int:
    return 0 if value is None or pd.isna(value) else int(value)


def run_status(run: pd.Series | Mapping[str, Any], what: str = "This run") -> bool:
    """The run's status, first, before any of its numbers; returns whether those numbers are partial.

    A finished run gets a quiet line; one that failed, stopped or is still going gets a coloured box
    that says the numbers below cover only what was recorded."""
    status, done, total = run["status"], _count(run.get("done")), _count(run.get("total_cases"))
    partial = is_partial({"status": status, "done": done, "total_cases": total})
    counts = f"{done:,} of {total:,} cases recorded"
    what, shown_status = md(what), md(status)
    if not partial:
        st.caption(f"{what} finished · {counts}.")
        return False
    message = run.get("message")
    why = f" {md(message)}." if isinstance(message, str) and message else ""
    note = "The numbers below are partial: they cover only the recorded cases."
    if status == "running":
        st.info(f"**{what} is still running** ({counts}); the numbers below will change.", icon=":material/sync:")
    elif status == "failed":
        st.error(f"**{what} failed** ({counts}).{why} {note}", icon=":material/error:")
    elif status in ("cancelled", "interrupted"):
        st.warning(f"**{what} was {shown_status}** ({counts}).{why} {note} Resume it from the Runs page.",
                   icon=":material/pause_circle:")
    else:  # finished, but fewer results than planned (e.g. a partial merge)
        st.warning(f"**{what} finished with {counts}.**{why} {note}", icon=":material/warning:")
    return True


_KEY = re.compile(r"^[a-z_]+$")
# Streamlit scrolls its own container, not the window: the element is brought to the top of whatever scrolls it.
# Polled, because the script runs while the page is still being drawn (an element of the last render is marked
# stale until this one reaches it, which takes seconds on a loaded machine); once more a moment later, for images
# that finish loading above it.
_SCROLL = """<script>
(() => {{
  const until = Date.now() + 30000;
  let again = true;
  const tick = () => {{
    const el = document.querySelector(".st-key-{key}");
    if (el && !el.closest('[data-stale="true"]')) {{
      el.scrollIntoView({{block: "start"}});
      if (again) {{ again = false; setTimeout(tick, 400); }}
      return;
    }}
    if (Date.now() < until) setTimeout(tick, 100);
  }};
  tick();
}})();
</script><!-- {nonce} -->"""


def scroll_into_view(key: str) -> None:
    """Brings the container with this `key` (one of the page's own, never data) into view once, in the browser."""
    if not _KEY.match(key):
        raise ValueError(f"not a container key this can scroll to: {key!r}")
    nonce = st.session_state["_scroll_nonce"] = st.session_state.get("_scroll_nonce", 0) + 1
    st.html(_SCROLL.format(key=key, nonce=nonce), unsafe_allow_javascript=True)
