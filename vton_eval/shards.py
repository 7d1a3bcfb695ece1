"""Which runs are shards of one suite, and what the run merged from them looks like.

Runs recorded with `--shard K/N` are shards of one suite when they have the same dataset (name),
endpoint, N and settings: every setting but the shard and the dataset's path on disk (which
differs between the machines of a CI matrix). The label is a setting, so the shards of two builds
(labelled with their commit) never mix. A suite is complete when shards 1..N are each present once.
`vton_eval.store.merge` does the copying; this module only decides.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from vton_eval.clock import utcnow
from vton_eval.errors import InvalidValue


def parse_shard(text: str | None) -> tuple[int, int] | None:
    """'2/4' -> (2, 4): the second of four shards."""
    if not text:
        return None
    try:
        index, count = (int(p) for p in text.split("/"))
    except ValueError:
        raise InvalidValue(f"shard {text!r} is not of the form K/N (e.g. 2/4)") from None
    if count < 1 or not 1 <= index <= count:
        raise InvalidValue(f"shard {text!r}: K must be between 1 and N")
    return index, count


def in_shard(pair_id: str, shard: tuple[int, int] | None) -> bool:
    """Deterministic and independent of order: a pair's shard comes from a hash of its id."""
    if shard is None:
        return True
    index, count = shard
    digest = hashlib.sha256(pair_id.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") % count == index - 1



# Identity of a suite for runs recorded without a settings JSON.
_KEY_FALLBACK = ("label", "pairs_filter", "tags_filter", "concurrency", "rate_limit", "repeats", "retries",
                 "timeout_s")


def _settings(run: dict[str, Any]) -> dict[str, Any]:
    try:
        return json.loads(run.get("settings") or "{}")
    except ValueError:
        return {}


def shard_of(run: dict[str, Any]) -> tuple[int, int] | None:
    """A run's shard (K, N), from the `shard` column or, for older runs, its settings."""
    text = run.get("shard") or _settings(run).get("shard")
    try:
        return parse_shard(text)
    except InvalidValue:
        return None


def suite_key(run: dict[str, Any]) -> str:
    """What shards of one suite have in common (see the module docstring): equal keys, one suite."""
    settings = _settings(run)
    if settings:
        settings = {k: v for k, v in settings.items() if k not in ("shard", "dataset")}
    else:
        settings = {k: run.get(k) for k in _KEY_FALLBACK}
    shard = shard_of(run)
    body = {"dataset": run["dataset"], "endpoint": run["endpoint"], "of": shard[1] if shard else None,
            "settings": settings}
    return json.dumps(body, sort_keys=True, default=str)


def merged_run_id(runs: list[dict[str, Any]]) -> str:
    """Deterministic: the same shard runs always merge into the same id (so re-merging is a no-op)."""
    ids = sorted(r["run_id"] for r in runs)
    first = min(r["created_at"] for r in runs)
    return first.strftime("%Y%m%d-%H%M%S-m") + hashlib.sha256(",".join(ids).encode()).hexdigest()[:6]


def plan_suite(runs: list[dict[str, Any]], allow_partial: bool) -> tuple[dict[str, Any], list[str]]:
    """Check one suite's shards; return (the merged run's row, problems that refuse the merge)."""
    count = shard_of(runs[0])[1]  # type: ignore[index]
    by_k: dict[int, list[dict[str, Any]]] = {}
    for r in runs:
        by_k.setdefault(shard_of(r)[0], []).append(r)  # type: ignore[index]
    # Two runs of one shard are ambiguous (which one counts?): refused even with allow_partial.
    fatal = [f"shard {k}/{count} was recorded by several runs ({', '.join(r['run_id'] for r in v)}): merge the "
             "databases of one build only (or label builds differently)" for k, v in sorted(by_k.items()) if len(v) > 1]
    problems = []
    missing = [f"{k}/{count}" for k in range(1, count + 1) if k not in by_k]
    if missing:
        problems.append(f"missing shard(s) {', '.join(missing)}")
    ordered = [by_k[k][0] for k in sorted(by_k)]
    for r in ordered:
        if r["status"] != "finished":
            problems.append(f"shard {shard_of(r)[0]}/{count} (run {r['run_id']}) is {r['status']}: "  # type: ignore[index]
                            f"{r['done']} of {r['total_cases']} cases recorded")
    first = ordered[0]
    now = utcnow()
    row = dict(first)
    settings = _settings(first)
    if settings:
        settings["shard"] = None
    row.update({
        "run_id": merged_run_id(ordered), "shard": None, "merged_from": ",".join(r["run_id"] for r in ordered),
        "status": "interrupted" if problems else "finished",
        "message": ("merged incomplete suite: " + "; ".join(problems)) if problems else None,
        "created_at": min(r["created_at"] for r in ordered),
        "started_at": min((r["started_at"] for r in ordered if r.get("started_at")), default=None),
        "finished_at": None if problems else max((r["finished_at"] for r in ordered if r.get("finished_at")),
                                                 default=now),
        "updated_at": now, "pid": None, "host": None,
        "total_cases": sum(int(r["total_cases"] or 0) for r in ordered),
        "workflows": ",".join(sorted({w for r in ordered for w in (r.get("workflows") or "").split(",") if w})),
        "settings": json.dumps(settings, sort_keys=True) if settings else first.get("settings"),
    })
    return row, fatal + ([] if allow_partial else problems)
