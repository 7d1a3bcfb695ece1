"""Which two runs a reviewer judges next, among the runs in the arena, so the ranking narrows fastest.

For every pair of runs the reviewer still has a case for, its value is p·(1-p) · sd(score_i - score_j):
p·(1-p) is how much one pick between two systems tells (most between close neighbours, almost nothing
between a clear winner and a clear loser), and the spread of their difference over the bootstrap is
how much is still unknown about it. A pair whose order is already decided (apart with confidence, or
alike within the equivalence margin) counts a tenth. A run with no pick yet, or a pair never judged
by anyone, comes first: the ranking knows nothing about it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from vton_eval.arena.board import OPEN, Board
from vton_eval.arena.model import EQUIVALENCE, SCALE

UNKNOWN_SPREAD = 400.0  # points: the spread assumed for a run or pair with no pick yet
DECIDED_WEIGHT = 0.1


@dataclass(frozen=True)
class Choice:
    run_a: str
    run_b: str
    value: float
    why: str


def _decided(board: Board, i: int, j: int) -> bool:
    if board.fit is None:
        return False
    _, lo, hi = board.fit.difference(i, j)
    return lo > 0 or hi < 0 or (lo > -EQUIVALENCE and hi < EQUIVALENCE)


def rank_pairs(board: Board, candidates: list[tuple[str, str]], judged: dict[tuple[str, str], int]) -> list[Choice]:
    """The candidate pairs (run_a < run_b), most useful first. `judged`: picks so far per pair, by anyone."""
    choices = []
    open_neighbours = {frozenset((n.upper, n.lower)) for n in board.neighbours if n.status == OPEN}
    for a, b in candidates:
        i, j = board.index.get(a), board.index.get(b)
        if i is None or j is None or board.fit is None:
            choices.append(Choice(a, b, UNKNOWN_SPREAD, "a run with no pick yet"))
            continue
        if not judged.get((a, b)):
            choices.append(Choice(a, b, UNKNOWN_SPREAD * 0.5, "a pair nobody has compared yet"))
            continue
        d = board.fit.draws[:, i] - board.fit.draws[:, j]
        spread = float(np.std(d))
        gap = (board.fit.scores[i] - board.fit.scores[j]) / SCALE
        p = 1.0 / (1.0 + np.exp(-gap))
        value = p * (1.0 - p) * spread
        if frozenset((a, b)) in open_neighbours:
            why = "neighbours in the ranking that could still swap"
        elif _decided(board, i, j):
            value *= DECIDED_WEIGHT
            why = "already decided; nothing more useful is left"
        else:
            why = "close, with a wide interval"
        choices.append(Choice(a, b, value, why))
    return sorted(choices, key=lambda c: (-c.value, c.run_a, c.run_b))


def next_pair(board: Board, open_cases: dict[tuple[str, str], int],
              judged: dict[tuple[str, str], int]) -> Choice | None:
    """The most useful pair among those with a case left for this reviewer (`open_cases`), or None."""
    candidates = [pair for pair, n in open_cases.items() if n > 0]
    ranked = rank_pairs(board, candidates, judged)
    return ranked[0] if ranked else None
