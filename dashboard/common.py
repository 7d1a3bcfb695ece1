"""What every page shares: the page frame (`render`: sign-in, error screens), cached queries and small formatters.

The session's store is `dashboard.db`, text for Markdown is `dashboard.text`; both are imported here for the
pages, and neither imports the sign-in (`dashboard.auth`), which this module does."""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import streamlit as st

from dashboard.auth import checkpoint
from dashboard.db import artifacts, database, db_path, store_at
from dashboard.text import md
from vton_eval.errors import VtonEvalError
from vton_eval.store import DatabaseBusy, DatabaseUnusable, NoDatabase
from vton_eval.store.reads import one_connection

log = logging.getLogger("vton_eval.dashboard")
REPO = Path(__file__).resolve().parents[1]


def sidebar_status() -> None:
    with st.sidebar:
        st.caption("Database")
        st.code(db_path(), language=None, wrap_lines=True)
        try:
            exists = database().exists()
        except VtonEvalError:  # an unreachable shared store: the page says why
            exists = True
        if not exists:
            st.caption("not created yet: it appears with the first run")


def render(body: Callable[[], None], needs_data: bool = True, shared_reads: bool = True) -> None:
    """Run a page body; turn the states that are not bugs into useful screens, never a traceback.

    `shared_reads`: the body's queries share one connection (see `one_connection`); only for a body
    that writes nothing itself (writes belong in widget callbacks, which run before the body)."""
    checkpoint()  # nobody sees a page before signing in, however the page was reached
    try:
        if needs_data and not database().exists():
            raise NoDatabase(db_path())
        if shared_reads:
            with one_connection(database()):
                body()
        else:
            body()
    except NoDatabase:
        no_database()
    except DatabaseBusy as exc:
        st.warning(f"The database is busy: {md(exc)}. A run may be writing a large batch.")
        st.button("Retry", key="retry_busy")
    except DatabaseUnusable as exc:  # a damaged file, an unreachable shared store: one clear line
        st.error("The database cannot be used.")
        st.text(str(exc))
        st.button("Retry", key="retry_unusable")
    except Exception as exc:  # the last line of defence: say what happened, keep the trace in the log
        log.exception("page failed")
        st.error("This page hit an unexpected problem. The details are in the dashboard's log.")
        st.text(f"{type(exc).__name__}: {exc}")


def no_database() -> None:
    st.info(
        f"No results yet: there is no database at {db_path()}. Start a run from the Runs page, or from a "
        "terminal: `vton-eval run --dataset datasets/sample --endpoint http://127.0.0.1:7860`."
    )
    st.page_link("views/runs.py", label="Go to Runs", icon=":material/play_arrow:")


def empty_database() -> None:
    st.info("The database has no runs yet. Launch one from the Runs page.")
    st.page_link("views/runs.py", label="Go to Runs", icon=":material/play_arrow:")


def cached(ttl: float = 5.0) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Cache a query for a few seconds: pages rerun on every click, the data changes slowly."""
    return st.cache_data(ttl=ttl, show_spinner=False, max_entries=256)


def artifact_file(relpath: str | None, thumb: bool = True) -> str | None:
    """The file to show for an artifact path from the database (its thumbnail by default)."""
    if not relpath:
        return None
    store = artifacts()
    try:
        path = store.abspath(store.thumbnail(relpath)) if thumb else store.abspath(relpath)
    except Exception:  # missing or undecodable file: the caller shows a placeholder text
        return None
    return str(path) if path.exists() else None


def fmt_ms(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    return f"{value / 1000:.2f} s" if value >= 1000 else f"{value:.0f} ms"


def fmt_pct(value: Any, digits: int = 1) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    return f"{value * 100:.{digits}f}%"


NO_CHANGE = "no change"


def fmt_delta(key: str, value: Any) -> str | None:
    """A metric's change as shown: None when unknown, NO_CHANGE when it rounds to zero where it is shown
    (a "+0.0 pts" in red with an arrow would call noise a regression)."""
    if is_missing(value):
        return None
    if key == "cases":
        shown = f"{int(value):+,}"
    elif key.endswith("_rate"):
        shown = f"{value * 100:+.1f} pts"
    else:
        shown = f"{value:+,.0f} ms"
    return shown if any(ch in "123456789" for ch in shown) else NO_CHANGE


def is_missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


__all__ = ["NO_CHANGE", "REPO", "artifact_file", "artifacts", "cached", "database", "db_path", "empty_database",
           "fmt_delta", "fmt_ms", "fmt_pct", "is_missing", "log", "md", "no_database", "render", "sidebar_status",
           "store_at"]
