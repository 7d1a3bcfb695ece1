"""Reads for agreement between reviewers: every verdict and every pick over one dataset's suite runs,
and the lead's rulings on them."""

from __future__ import annotations

import pandas as pd

from vton_eval.store.reads import Reader

_SUITE = "coalesce(r.kind, 'suite') = 'suite'"


def verdicts(read: Reader, dataset: str) -> pd.DataFrame:
    """run_id, label, pair_id, repeat, workflow, reviewer, identity, verdict, created_at."""
    return read.frame(f"""SELECT v.run_id, r.label, v.pair_id, v."repeat", v.workflow, v.reviewer, v.identity,
                                 v.verdict, v.created_at
                          FROM reviews v JOIN runs r USING (run_id) WHERE r.dataset = ? AND {_SUITE}
                          ORDER BY v.run_id, v.pair_id, v."repeat", v.reviewer""", [dataset])


def settlements(read: Reader, dataset: str) -> pd.DataFrame:
    """The lead's rulings on cases of the dataset's runs: kind, run_a, run_b, pair_id, repeat, workflow,
    decision, note, settled_by, identity, settled_at."""
    return read.frame(f"""SELECT s.kind, s.run_a, s.run_b, s.pair_id, s."repeat", s.workflow, s.decision, s.note,
                                 s.settled_by, s.identity, s.settled_at
                          FROM settlements s JOIN runs r ON r.run_id = s.run_a WHERE r.dataset = ? AND {_SUITE}
                          ORDER BY s.settled_at""", [dataset])
