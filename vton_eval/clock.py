"""The one clock the engine records times with (naive UTC, as every timestamp column of the store holds), and
the one way a length of time is written for people."""

from __future__ import annotations

import datetime as dt


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def duration_text(seconds: float) -> str:
    """A length of time as people read it: 45 s, 12 min, 23 h 51 min."""
    if seconds < 120:
        return f"{max(seconds, 0):.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{int(seconds // 3600)} h {int(seconds % 3600 // 60):02d} min"


__all__ = ["duration_text", "utcnow"]
