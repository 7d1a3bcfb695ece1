"""Which cases a run contains: the selected pairs of a dataset, times the repeats, maybe one shard."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from vton_eval import workflows as registry
from vton_eval.datasets import Dataset, Pair
from vton_eval.errors import VtonEvalError
from vton_eval.services import Profile
from vton_eval.shards import in_shard


class SelectionError(VtonEvalError, ValueError):
    """The selection asks for something the dataset does not have, or selects nothing."""


def parse_list(text: str | Sequence[str] | None, sep: str = ",") -> list[str] | None:
    """'a,b' or ['a', 'b'] -> ['a', 'b']; empty -> None (meaning: no filter)."""
    if text is None:
        return None
    items = text.split(sep) if isinstance(text, str) else list(text)
    cleaned = [i.strip() for i in items if i and i.strip()]
    return cleaned or None


def select_pairs(
    ds: Dataset,
    workflows: Sequence[str] | None = None,
    pair_ids: Sequence[str] | None = None,
    tags: Sequence[str] | None = None,
    shard: tuple[int, int] | None = None,
) -> list[Pair]:
    """Filter a dataset's pairs. Tags match when a pair has any of them. Raises SelectionError."""
    if workflows:
        unknown = [w for w in workflows if not registry.is_known(w)]
        if unknown:
            raise SelectionError(f"unknown workflow(s) {', '.join(unknown)} (use {', '.join(registry.names())})")
    if pair_ids:
        known = {p.pair_id for p in ds.pairs}
        unknown = [p for p in pair_ids if p not in known]
        if unknown:
            shown = ", ".join(unknown[:5]) + (" ..." if len(unknown) > 5 else "")
            raise SelectionError(f"{len(unknown)} pair id(s) not in dataset {ds.name}: {shown}")
    if tags:
        unknown = [t for t in tags if t not in set(ds.tags)]
        if unknown:
            raise SelectionError(f"tag(s) {', '.join(unknown)} not used in dataset {ds.name}")
    chosen = [
        p for p in ds.pairs
        if (not workflows or p.workflow in workflows)
        and (not pair_ids or p.pair_id in pair_ids)
        and (not tags or set(p.tags) & set(tags))
        and in_shard(p.pair_id, shard)
    ]
    if not chosen:
        raise SelectionError("the selection contains no pair")
    return chosen


def profile_refusals(profile: Profile, pairs: Sequence[Pair], offered: list[str] | None = None) -> Counter[str]:
    """How many of `pairs` a run through `profile` would not send, by reason (`offered`: what a live endpoint
    lists, for a profile that reads its workflows from it); what the launch form says before a start."""
    return Counter(reason for p in pairs if (reason := profile.unsupported_reason(p.workflow, offered)))
