"""Reading the person parse cache (`person_parses`; written by `writes.save_parses`)."""

from __future__ import annotations

from collections.abc import Iterable

from vton_eval.store.base import Store
from vton_eval.store.reads import reading


def load_parses(store: Store, shas: Iterable[str], parser: str) -> dict[str, str]:
    """The cached parses (JSON) of these person images by this parser version, by SHA-256."""
    wanted = sorted(set(shas))
    if not wanted or not store.exists():
        return {}
    with reading(store) as read:
        rows = read.rows("SELECT image_sha256, parse FROM person_parses WHERE parser = ? "
                         "AND list_contains(?, image_sha256)", [parser, wanted])
    return {row["image_sha256"]: row["parse"] for row in rows}
