"""The store a dashboard session reads and writes: chosen once per session (`db_path`), opened for each unit
of work (`store_at`, the one opener; `database` for the session's own)."""

from __future__ import annotations

import argparse
import sys

import streamlit as st

from vton_eval.artifacts import ArtifactStore
from vton_eval.store import Store, open_store, resolve_location


def _flag_db() -> str | None:
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("--db")
    known, _ = parser.parse_known_args(sys.argv[1:])
    return known.db


def db_path() -> str:
    """The store, chosen once per session: --db after `--` on the streamlit command line, VTON_EVAL_DB, or the
    default; a file path or a shared store URL (a string either way: a URL is no Path)."""
    if "db_path" not in st.session_state:
        st.session_state["db_path"] = resolve_location(_flag_db())
    return st.session_state["db_path"]


def store_at(path: str) -> Store:
    """The one way a page opens a store: short lock waits, so a page says "busy" instead of hanging."""
    return open_store(path, busy_timeout_s=3.0)


def database() -> Store:
    return store_at(db_path())


def artifacts() -> ArtifactStore:
    """The store's image files (beside a file, or under a shared store's data_path)."""
    return database().artifacts
