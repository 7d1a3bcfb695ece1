"""One way for a page to act: a button's or a verdict's callback runs the engine's act, and leaves what happened
for the page to show on the rerun (an element drawn by a callback would land at the top of the page); a button
handled in the page's body shows a refusal where it stands (`act_here`).

The engine refuses a person's act with a `VtonEvalError` (a role that may not, a bad value, a busy store): its
message is left under the page's error key, never a traceback.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import streamlit as st

from dashboard.text import md
from vton_eval.errors import VtonEvalError

T = TypeVar("T")


def act(work: Callable[[], T], error_key: str, note_key: str | None = None,
        note: str | Callable[[T], str] | None = None) -> T | None:
    """Run `work`; on success leave `note` (text, or made from the act's result) under `note_key` and return the
    result; on a refusal leave its message under `error_key` and return None."""
    try:
        result = work()
    except VtonEvalError as exc:
        st.session_state[error_key] = str(exc)
        return None
    if note_key is not None and note is not None:
        st.session_state[note_key] = note(result) if callable(note) else note
    return result


def act_here(work: Callable[[], T], where: object = st) -> T | None:
    """Run `work` from the page's body; on a refusal show its message as an error (in `where`: the page, a column)
    and return None."""
    try:
        return work()
    except VtonEvalError as exc:
        where.error(md(exc))  # type: ignore[attr-defined]
        return None
