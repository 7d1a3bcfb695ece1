"""The arena: blind picks across any number of systems turned into one ranking with intervals, which
comparison to show next, and the release gate's question to people (did the candidate lose?).

Modules: `model` (Bradley-Terry fit and bootstrap, the readable scale), `board` (the leaderboard of a
dataset), `schedule` (the next comparison for a reviewer), `simulate` (picks drawn from known strengths,
for the tests and the bench). The gate's preference criterion is `vton_eval.gate.preference`.
"""

from vton_eval.arena.board import ALIKE, OPEN, SEPARATED, ArenaError, Board, Neighbours, leaderboard

__all__ = ["ALIKE", "OPEN", "SEPARATED", "ArenaError", "Board", "Neighbours", "leaderboard"]
