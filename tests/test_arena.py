"""The arena: picks drawn from known strengths, recorded as reviewers record them, come back as the right ranking
with intervals that cover the truth at their stated rate; the gate asks people; the Leaderboard page draws it."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

from vton_eval.access import local_actor
from vton_eval.arena import leaderboard
from vton_eval.arena.model import CENTRE, SCALE, Picks, expected_share, fit
from vton_eval.arena.schedule import rank_pairs
from vton_eval.arena.simulate import draw, outcome, win_probability
from vton_eval.cli import main
from vton_eval.preferences import left_run_for, record_preference
from vton_eval.runner import RunSettings, create_run
from vton_eval.store.judgements import canonical
from vton_eval.store.reads import reading

from .helpers.pages import sql
from .helpers.paths import SAMPLE
from .helpers.suites import ENDPOINT

THETA = np.array([-1.4, -0.7, 0.0, 0.7, 1.4])  # 122 points between neighbours: 67 % of the picks
PROFILES = ("sm4ll", "catvton", "idm-vton", "leffa", "ootdiffusion")


def truth(theta: np.ndarray) -> np.ndarray:
    return CENTRE + SCALE * (theta - theta.mean())


def make_runs(db, n: int, dataset: str = str(SAMPLE)) -> list[str]:
    """n planned runs of one dataset through different systems (no outputs are needed to hold picks)."""
    return [create_run(db, RunSettings(dataset=dataset, endpoint=ENDPOINT, label=f"sys-{i}", profile=PROFILES[i]),
                       discover=False) for i in range(n)]


def cases_of(db, run_id: str) -> list[tuple[str, str]]:
    with reading(db) as read:
        return [(r["pair_id"], r["workflow"]) for r in read.rows("SELECT pair_id, workflow FROM cases WHERE run_id = ? "
                                                                 "ORDER BY pair_id", [run_id])]


def record_drawn(db, runs: list[str], theta: np.ndarray, cases: list[tuple[str, str, int]], reviewers: list[str],
                 per_case: int, tie_rate: float, seed: int) -> int:
    """Each case judged by `per_case` reviewers, each on a random pair of systems, outcome drawn from the strengths,
    stored through `record_preference` as the blind view stores a click (side, left run)."""
    rng = np.random.default_rng(seed)
    n = 0
    for pair_id, workflow, repeat in cases:
        for reviewer in rng.choice(reviewers, per_case, replace=False):
            i, j = rng.choice(len(runs), 2, replace=False)
            s = float(outcome(win_probability(theta[i], theta[j]), tie_rate, rng))
            left = left_run_for(runs[i], runs[j], pair_id, repeat, str(reviewer))
            preferred = runs[i] if s == 1.0 else runs[j]
            choice = "tie" if s == 0.5 else ("left" if preferred == left else "right")
            record_preference(db, runs[i], runs[j], pair_id, repeat, workflow, local_actor(str(reviewer)), choice, left)
            n += 1
    return n


def test_picks_from_known_strengths_give_their_ranking(file_db):
    """Five systems, five reviewers, ties: the ranking is the strengths' order and each interval holds the truth."""
    runs = make_runs(file_db, 5)
    cases = [(p, w, r) for p, w in cases_of(file_db, runs[0]) for r in range(1, 11)]  # 200 cases
    n = record_drawn(file_db, runs, THETA, cases, ["ana", "bo", "cy", "dee", "eli"], 2, 0.3, seed=7)
    assert sql(file_db, "SELECT count(*), count(*) FILTER (WHERE choice = 'tie') FROM preferences")[0][0] == n
    board = leaderboard(file_db)
    assert board.dataset == "sample" and board.picks == n and board.reviewers == 5
    assert [r["run_id"] for r in board.rows] == runs[::-1], "the strongest system first"
    expected = dict(zip(runs, truth(THETA), strict=True))
    for row in board.rows:
        assert row["ci_low"] <= expected[row["run_id"]] <= row["ci_high"], row
        assert row["ci_low"] < row["score"] < row["ci_high"]
    assert sum(r["picks"] for r in board.rows) == 2 * n
    assert all(nb.status == "separated" for nb in board.neighbours) and board.settled
    # The command prints the same board as JSON, in the documented shape.
    out = CliRunner().invoke(main, ["arena", "--json", "--db", file_db.location])
    assert out.exit_code == 0, out.output
    rows = json.loads(out.stdout)
    assert [set(r) for r in rows] == [{"run_id", "label", "system", "score", "ci_low", "ci_high", "picks"}] * 5
    assert [r["run_id"] for r in rows] == runs[::-1] and rows[0]["system"] == f"{PROFILES[4]} @ {ENDPOINT}"
    # Per workflow: only that workflow's picks.
    top = leaderboard(file_db, workflow="top")
    assert top.picks == sql(file_db, "SELECT count(*) FROM preferences WHERE workflow = 'top'")[0][0] < n
    out = CliRunner().invoke(main, ["arena", "--dataset", "nope", "--db", file_db.location])
    assert out.exit_code == 1 and "no dataset 'nope'" in out.output


@pytest.mark.parametrize("reviewers", [3])
def test_intervals_cover_the_truth_at_their_stated_rate(reviewers):
    """60 seeded draws of 400 picks (30 % ties between equals) over five systems: 300 intervals, 95 % stated."""
    theta = np.array([-0.6, -0.2, 0.1, 0.3, 0.7])
    hits, widths = [], []
    for replicate in range(60):
        rng = np.random.default_rng(5000 + replicate)
        result = fit(Picks.of(5, **draw(theta, 400, 0.3, rng, reviewers=reviewers)), resamples=200, seed=replicate)
        hits += list((result.ci_low <= truth(theta)) & (truth(theta) <= result.ci_high))
        widths += list(result.ci_high - result.ci_low)
    coverage = float(np.mean(hits))
    assert 0.91 <= coverage <= 0.985, coverage
    assert 60 < np.median(widths) < 200  # informative, not everything-covers-everything


def test_the_scale_reads_as_a_share_of_picks():
    assert expected_share(0) == 0.5 and round(expected_share(100), 2) == 0.64 and round(expected_share(200), 2) == 0.76
    # A system that won every pick keeps a finite score (regularised), far above the other.
    result = fit(Picks.of(2, [0] * 30, [1] * 30, [1.0] * 30, range(30), [0] * 30), resamples=100)
    assert np.isfinite(result.scores).all() and result.scores[0] - result.scores[1] > 200


def test_the_next_comparison_is_the_least_certain_pair(file_db):
    """Never-compared pairs first; then close neighbours with wide intervals before a decided pair."""
    runs = make_runs(file_db, 3)
    theta = np.array([0.0, 0.1, 2.5])
    cases = [(p, w, r) for p, w in cases_of(file_db, runs[0]) for r in range(1, 5)]
    rng = np.random.default_rng(3)
    for k, (pair_id, workflow, repeat) in enumerate(cases):
        i, j = [(0, 1), (0, 2), (1, 2)][k % 3]
        s = float(outcome(win_probability(theta[i], theta[j]), 0.2, rng))
        left = left_run_for(runs[i], runs[j], pair_id, repeat, "ana")
        choice = "tie" if s == 0.5 else ("left" if (runs[i] if s == 1.0 else runs[j]) == left else "right")
        record_preference(file_db, runs[i], runs[j], pair_id, repeat, workflow, local_actor("ana"), choice, left)
    board = leaderboard(file_db)
    pairs = [canonical(runs[a], runs[b]) for a, b in ((0, 1), (0, 2), (1, 2))]
    judged = {p: 10 for p in pairs}
    ranked = rank_pairs(board, pairs, judged)
    assert {ranked[0].run_a, ranked[0].run_b} == {runs[0], runs[1]}, ranked  # the close pair
    ranked = rank_pairs(board, pairs, {**judged, pairs[1]: 0})
    assert (ranked[0].run_a, ranked[0].run_b) == pairs[1] and "nobody" in ranked[0].why
