"""The cases that changed most between two runs, for the Markdown report, with thumbnails.

Status changes come first (ok -> error, then a changed error kind, then error -> ok); among cases
that are ok in both runs, the outputs least similar to each other (`checks.similarity`, ranked by
`dissimilarity`).
Comparing images costs tens of milliseconds each, so at most `max_compare` ok/ok cases with
different output bytes are compared (a deterministic sample, ordered by a hash of the case); the
report says how many were.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vton_eval.images import decoded, load_rgb
from vton_eval.store.base import Store
from vton_eval.store.reads import reading

_ROWS = """
SELECT c.pair_id, c."repeat", c.workflow, count(*) OVER () AS total,
       b.status AS b_status, b.error_kind AS b_kind, b.error_message AS b_message, b.latency_ms AS b_latency,
       b.output_path AS b_output, b.output_sha256 AS b_sha,
       c.status AS c_status, c.error_kind AS c_kind, c.error_message AS c_message, c.latency_ms AS c_latency,
       c.output_path AS c_output, c.output_sha256 AS c_sha,
       k.base_path AS person
FROM results c
JOIN results b ON b.pair_id = c.pair_id AND b."repeat" = c."repeat" AND b.workflow = c.workflow
LEFT JOIN cases k ON k.run_id = c.run_id AND k.pair_id = c.pair_id
WHERE c.run_id = ? AND b.run_id = ?
"""

_STATUS_CHANGES = _ROWS + """
  AND (c.status <> b.status OR (c.status = 'error' AND coalesce(c.error_kind, '') <> coalesce(b.error_kind, '')))
ORDER BY CASE WHEN b.status = 'ok' THEN 0 WHEN c.status = 'error' THEN 1 ELSE 2 END, c.workflow, c.pair_id, c."repeat"
LIMIT ?
"""

_OK_OK = _ROWS + """
  AND c.status = 'ok' AND b.status = 'ok' AND c.output_path IS NOT NULL AND b.output_path IS NOT NULL
  AND (c.output_sha256 IS NULL OR b.output_sha256 IS NULL OR c.output_sha256 <> b.output_sha256)
ORDER BY md5(c.pair_id || ':' || c."repeat")
LIMIT ?
"""

_KIND_EXAMPLES = """
SELECT workflow, error_kind, count(*) AS n, min(error_message) AS example
FROM results WHERE run_id = ? AND status = 'error' GROUP BY ALL ORDER BY workflow, error_kind
"""


@dataclass
class CaseChange:
    """One case both runs recorded; `change` is 'ok -> error', 'error kind changed', 'error -> ok' or
    'output changed'; `similarity` (ssim, changed_share, psnr) only for the last."""

    pair_id: str
    repeat: int
    workflow: str
    change: str
    row: dict[str, Any]
    similarity: dict[str, float] | None = None


@dataclass
class Changes:
    status_changes: list[CaseChange] = field(default_factory=list)
    status_changes_total: int = 0
    output_changes: list[CaseChange] = field(default_factory=list)
    # ok/ok cases with different output bytes, and how many of them were compared.
    ok_ok_different: int = 0
    compared: int = 0
    # (workflow, kind) -> (count, example message) over the candidate's errors, and the baseline's.
    candidate_kinds: dict[tuple[str, str], tuple[int, str | None]] = field(default_factory=dict)


def _label(row: dict[str, Any]) -> str:
    if row["b_status"] == "ok":
        return "ok -> error"
    if row["c_status"] == "error":
        return "error kind changed"
    return "error -> ok"


def _similarity(db: Store, row: dict[str, Any]) -> dict[str, float] | None:
    from vton_eval.checks import similarity  # numpy/scikit-image work: loaded only when a report needs it

    try:
        return similarity(decoded(db.artifacts.abspath(row["b_output"])),
                          decoded(db.artifacts.abspath(row["c_output"])))
    except Exception:  # an output that no longer decodes (or was deleted) cannot be ranked
        return None


def dissimilarity(sim: dict[str, float]) -> float:
    """0 = same, 1 = nothing alike. SSIM (on lightness) misses a garment that changed colour, the
    changed share misses a re-rendered texture of the same colours: the larger of the two counts."""
    return max(1.0 - sim["ssim"], sim["changed_share"])


def find_changes(db: Store, candidate: str, baseline: str, limit: int = 10, max_compare: int = 200) -> Changes:
    """Gather the report's "cases that changed most" (reads the database once, then the images)."""
    out = Changes()
    with reading(db) as read:
        rows = read.rows(_STATUS_CHANGES, [candidate, baseline, limit])
        ok_ok = read.rows(_OK_OK, [candidate, baseline, max_compare])
        for r in read.rows(_KIND_EXAMPLES, [candidate]):
            out.candidate_kinds[(r["workflow"], r["error_kind"] or "unknown")] = (int(r["n"]), r["example"])
    # `total` is the count before LIMIT (a window over the filtered rows).
    out.status_changes_total = int(rows[0]["total"]) if rows else 0
    out.status_changes = [CaseChange(r["pair_id"], int(r["repeat"]), r["workflow"], _label(r), r) for r in rows]
    out.ok_ok_different = int(ok_ok[0]["total"]) if ok_ok else 0
    scored = []
    for r in ok_ok:
        sim = _similarity(db, r)
        out.compared += 1
        if sim is not None:
            scored.append(CaseChange(r["pair_id"], int(r["repeat"]), r["workflow"], "output changed", r, sim))
    scored.sort(key=lambda c: (-dissimilarity(c.similarity), c.pair_id, c.repeat))  # type: ignore[arg-type]
    out.output_changes = scored[:limit]
    return out


def thumbnail(db: Store, relpath: str | None, folder: Path, size: int = 160) -> str | None:
    """Copy a stored image, resized to fit `size` px, into `folder` as JPEG; return its file name
    (None when there is no image or it does not decode). Content-addressed names: written once."""
    if not relpath:
        return None
    source = db.artifacts.abspath(relpath)
    name = f"{Path(relpath).stem}_{size}.jpg"
    target = folder / name
    if target.exists():
        return name
    try:
        rgb = load_rgb(source)
        rgb.thumbnail((size, size))
    except Exception:
        return None
    folder.mkdir(parents=True, exist_ok=True)
    tmp = target.with_suffix(".tmp")
    rgb.save(tmp, "JPEG", quality=85)
    tmp.replace(target)
    return name
