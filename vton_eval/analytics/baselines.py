"""Which blessed run a run is compared with: the one rule the gate, Overview and Compare share."""

from __future__ import annotations

from vton_eval.store.base import Store
from vton_eval.store.reads import Reader, reading


def blessed_on(read: Reader, dataset: str, endpoint: str) -> str | None:
    """The blessed run for (dataset, endpoint); else the latest blessing for the dataset on any endpoint (a
    candidate served from a new URL compares with the last release); else None."""
    return (read.scalar("SELECT run_id FROM baselines WHERE dataset = ? AND endpoint = ?", [dataset, endpoint])
            or read.scalar("SELECT run_id FROM baselines WHERE dataset = ? ORDER BY blessed_at DESC LIMIT 1",
                           [dataset]))


def blessed_run(db: Store, dataset: str, endpoint: str) -> str | None:
    """`blessed_on`, on its own connection."""
    with reading(db) as read:
        return blessed_on(read, dataset, endpoint)
