"""Writing the similarity cache (`pair_similarity`): derived data, replaced by key when recomputed."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from vton_eval.store.base import Writer

SIMILARITY_COLUMNS = ("output_a", "output_b", "ssim", "changed_share", "psnr", "diff_path", "problem", "computed_at")
SIMILARITY_KEY = ("output_a", "output_b")


def save_similarities(w: Writer, rows: Iterable[dict[str, Any]], now: dt.datetime) -> None:
    for row in rows:
        values = {**row, "computed_at": now}
        w.replace("pair_similarity", SIMILARITY_COLUMNS, tuple(values.get(c) for c in SIMILARITY_COLUMNS),
                  SIMILARITY_KEY)
