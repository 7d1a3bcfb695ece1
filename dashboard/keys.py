"""The session-state keys more than one module of the pages reads or writes, built in one place.

A widget's key is also where Streamlit keeps its value: two modules that spell the same key differently lose
a verdict or show a stale one, so such keys are built here and nowhere else.
"""

from __future__ import annotations

# What an act left for its page to show after the rerun (see `dashboard.actions.act`).
RUNS_NOTE, RUNS_ERROR = "runs_note", "runs_error"
REVIEW_ERROR = "review_error"
RUNS_FOLLOW = "runs_follow"  # the run this session started or resumed last: the Runs page selects and follows it
REVIEW_CASE = "review_case"  # (run_id, pair_id, repeat) of the case the Review page shows in full


def quick_verdict(run_id: str, pair_id: str, repeat: int) -> str:
    """A grid card's verdict buttons."""
    return f"quick_{run_id}_{pair_id}_{int(repeat)}"


def detail(run_id: str, pair_id: str, repeat: int) -> str:
    """The prefix of the full case view's widgets (`…_reasons`, `…_note`)."""
    return f"detail_{run_id}_{pair_id}_{int(repeat)}"


def detail_words(run_id: str, pair_id: str, repeat: int) -> tuple[str, str]:
    """The full case view's reasons and note boxes, which go with the verdict buttons."""
    prefix = detail(run_id, pair_id, repeat)
    return f"{prefix}_reasons", f"{prefix}_note"
