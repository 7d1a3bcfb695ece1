"""The similarity cache, computed and stored: how alike two outputs are (SSIM, changed share, PSNR, a difference
image). Its reads are analytics' (`analytics.compare`); this module computes what is missing and writes it.

Comparing two outputs costs ~0.1 s, too slow to repeat on every page view of a big comparison,
so results are kept in the `pair_similarity` table (schema migration 2), keyed by the two
outputs' content (sha256): the same two images compare the same whoever produced them, and
outputs with the same sha256 are identical, so SQL gives them SSIM 1 without computing anything.
It is derived data: deleting its rows loses nothing but time.
"""

from __future__ import annotations

import io
import threading
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from vton_eval.analytics.compare import Item, missing_similarities, stored_similarities
from vton_eval.artifacts import ArtifactStore
from vton_eval.checks.likeness import difference_image, similarity
from vton_eval.clock import utcnow
from vton_eval.images import load_rgb
from vton_eval.store.base import Store
from vton_eval.store.reads import frame
from vton_eval.store.similarity import save_similarities

DIFF_SIDE = 512


def _compute(store: ArtifactStore, item: Item) -> dict[str, Any]:
    key_a, path_a, key_b, path_b = item
    row: dict[str, Any] = {"output_a": key_a, "output_b": key_b, "ssim": None, "changed_share": None,
                           "psnr": None, "diff_path": None, "problem": None}
    try:
        a, b = load_rgb(store.abspath(path_a)), load_rgb(store.abspath(path_b))
        row.update(similarity(a, b))
        diff = difference_image(a, b)
        diff.thumbnail((DIFF_SIDE, DIFF_SIDE))
        buf = io.BytesIO()
        diff.save(buf, "JPEG", quality=85)  # JPEG: the dashboard sends it to the browser as is
        row["diff_path"] = store.put_bytes(buf.getvalue(), "jpg")[0]
    except (OSError, ValueError, SyntaxError) as exc:  # missing or undecodable output: say so, do not retry
        row["problem"] = f"cannot compare: {type(exc).__name__}: {exc}"[:300]
    return row


def ensure_similarities(db: Store, items: Iterable[Item], workers: int = 4) -> dict[tuple[str, str], dict]:
    """Similarity rows (ssim, changed_share, psnr, diff_path, problem) for the given output pairs,
    keyed by (key_a, key_b): read from the table, the missing ones computed (in threads: Pillow and
    numpy release the GIL) and stored."""
    wanted = {(i[0], i[2]): i for i in items}
    found = stored_similarities(db, list(wanted))
    missing = [item for key, item in wanted.items() if key not in found]
    if missing:
        with ThreadPoolExecutor(max_workers=max(1, min(workers, len(missing)))) as pool:
            rows = list(pool.map(lambda item: _compute(db.artifacts, item), missing))
        now = utcnow()
        db.write(lambda w: save_similarities(w, rows, now))
        found.update({(r["output_a"], r["output_b"]): {**r, "computed_at": now} for r in rows})
    return found


def case_similarity(db: Store, run_a: str, run_b: str, pair_id: str, repeat: int = 1) -> dict[str, Any] | None:
    """How alike two runs' outputs for one case are ({"ssim", "changed_share", "psnr", "diff_path",
    "problem", "identical"}); None when either run has no output for it."""
    df = frame(db, """
        SELECT coalesce(a.output_sha256, a.output_path) AS ka, a.output_path AS pa,
               coalesce(b.output_sha256, b.output_path) AS kb, b.output_path AS pb
        FROM results a JOIN results b ON b.run_id = ? AND b.pair_id = a.pair_id AND b."repeat" = a."repeat"
        WHERE a.run_id = ? AND a.pair_id = ? AND a."repeat" = ?
          AND a.output_path IS NOT NULL AND b.output_path IS NOT NULL""",
               [run_b, run_a, pair_id, int(repeat)])
    if df.empty:
        return None
    ka, pa, kb, pb = df.iloc[0][["ka", "pa", "kb", "pb"]]
    if ka == kb:  # the same file: identical by definition
        return {"ssim": 1.0, "changed_share": 0.0, "psnr": 100.0, "diff_path": None, "problem": None,
                "identical": True}
    row = ensure_similarities(db, [(ka, pa, kb, pb)])[(ka, kb)]
    return {k: row.get(k) for k in ("ssim", "changed_share", "psnr", "diff_path", "problem")} | {"identical": False}


def fill_similarities(db: Store, run_a: str, run_b: str, batch: int = 32,
                      stop: threading.Event | None = None) -> int:
    """Compute every missing similarity of two runs, `batch` at a time (each batch stored before the
    next, so a reader sees progress and a stopped fill keeps its work). Returns how many were computed."""
    done = 0
    while not (stop and stop.is_set()):
        items, _ = missing_similarities(db, run_a, run_b, limit=batch)
        if not items:
            break
        ensure_similarities(db, items)
        done += len(items)
    return done
