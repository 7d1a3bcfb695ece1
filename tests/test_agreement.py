"""Reviewers who agree: Krippendorff's alpha and agreement checked against a hand-computed example, the queue of
disagreements a lead settles (through roles and the audit trail), exports with who judged, gate --preference."""

from __future__ import annotations

import csv
import io

import pytest
from click.testing import CliRunner

from vton_eval import reviews, settlements
from vton_eval.access import AccessDenied, Actor, Role, local_actor
from vton_eval.agreement import agreement
from vton_eval.cli import main
from vton_eval.preferences import export_picks_csv, left_run_for, record_preference
from vton_eval.store.judgements import canonical

from .helpers.pages import sql, table_with, texts, visible_text
from .helpers.seed import record_sample_run
from .test_arena import make_runs


def pick(db, x: str, y: str, pair_id: str, who: str, preferred: str | None, workflow: str = "top") -> None:
    left = left_run_for(x, y, pair_id, 1, who)
    choice = "tie" if preferred is None else ("left" if preferred == left else "right")
    record_preference(db, x, y, pair_id, 1, workflow, local_actor(who), choice, left)


@pytest.fixture()
def judged(db):
    """Hand-computed example. Verdicts on run X (reviewers A, B, C):
        top-01: pass pass pass · top-02: pass fail - · top-03: fail fail unsure · top-04: unsure - -
    Nominal alpha: coincidences o_pp=3, o_pf=o_fp=1, o_ff=1, o_fu=o_uf=1; n_p=4, n_f=3, n_u=1, n=8;
    D_o = 4/8, D_e = 2(4·3 + 4·1 + 3·1)/(8·7) = 38/56, alpha = 1 - (1/2)/(38/56) = 5/19 = 0.2632.
    Agreement: 4 agreeing of 7 pairs. C alone, paired with each other reviewer: (pass,pass) x2,
    (unsure,fail) x2: D_o = 4/8, D_e = 2(4·2 + 4·2 + 2·2)/56 = 40/56, alpha = 1 - 0.7 = 0.3; agreement 2/4.
    Picks between runs X and Y: top-01: X X · top-02: X Y · top-03: tie X X. Agreement 2 of 5 pairs;
    alpha (nominal, first/tie/second): n_X=5, n_Y=1, n_T=1, n=7, D_o = 4/7, D_e = 22/42, alpha = -1/11."""
    x, y = make_runs(db, 2)
    verdicts = {"top-01": "ppp", "top-02": "pf.", "top-03": "ffu", "top-04": "u.."}
    names = {"p": "pass", "f": "fail", "u": "unsure"}
    for pair, given in verdicts.items():
        for who, v in zip("ABC", given, strict=True):
            if v != ".":
                reviews.save_verdict(db, x, pair, 1, local_actor(who), names[v])
    for pair, given in {"top-01": "XX.", "top-02": "XY.", "top-03": "TXX"}.items():
        for who, v in zip("ABC", given, strict=True):
            if v != ".":
                pick(db, x, y, pair, who, {"X": x, "Y": y, "T": None}[v])
    return db, x, y


def test_agreement_matches_the_hand_computed_example(judged):
    db, x, y = judged
    result = agreement(db, "sample")
    run = result.verdict_runs.set_index("run_id").loc[x]
    assert run["alpha"] == pytest.approx(5 / 19) and run["agreement"] == pytest.approx(4 / 7)
    assert (run["units"], run["multi"], run["reviewers"]) == (4, 3, 3)
    people = result.verdict_reviewers.set_index("reviewer")
    assert people.loc["C", "alpha"] == pytest.approx(0.3) and people.loc["C", "agreement"] == pytest.approx(0.5)
    assert people.loc["A", "agreement"] == pytest.approx(3 / 5) and people.loc["A", "shared_pairs"] == 5
    assert result.picks_overall["agreement"] == pytest.approx(2 / 5)
    assert result.picks_overall["alpha"] == pytest.approx(-1 / 11)
    # The overlap target counts the cases judged by k reviewers; a lead sets it (operator), audited.
    assert result.overlap == 1 and result.verdicts_overall["at_target"] == 4
    with pytest.raises(AccessDenied):
        settlements.set_overlap_target(db, "sample", 3, Actor("rita", Role.REVIEWER))
    settlements.set_overlap_target(db, "sample", 3, local_actor("lead"))
    assert agreement(db, "sample").verdicts_overall["at_target"] == 2
    out = CliRunner().invoke(main, ["agreement", "--db", db.location])
    assert out.exit_code == 0 and "overlap target 3" in out.output and "0.26" in out.output


def test_a_lead_settles_the_disagreements(judged):
    db, x, y = judged
    queue = settlements.disagreements(db, "sample")
    keys = [(q["kind"], q["pair_id"]) for q in queue.to_dict("records")]
    # Strong first (pass against fail; opposite picks), then an unsure or a tie against an answer.
    assert set(keys[:2]) == {("verdict", "top-02"), ("pick", "top-02")} and len(keys) == 4
    assert set(keys[2:]) == {("verdict", "top-03"), ("pick", "top-03")}
    with pytest.raises(AccessDenied):
        settlements.settle_verdict(db, x, "top-02", 1, Actor("rita", Role.REVIEWER), "fail")
    settlements.settle_verdict(db, x, "top-02", 1, local_actor("lead"), "fail", "the sleeve is wrong")
    settlements.settle_pick(db, y, x, "top-02", 1, local_actor("lead"), x)
    left = settlements.disagreements(db, "sample")
    assert {(q["kind"], q["pair_id"]) for q in left.to_dict("records")} == set(keys[2:])
    audit = sql(db, "SELECT actor, action, outcome, run_id, subject FROM audit WHERE action = 'settle' "
                    "ORDER BY acted_at")
    assert audit == [("rita", "settle", "refused", x, "top-02#1"), ("lead", "settle", "done", x, "top-02#1"),
                     ("lead", "settle", "done", canonical(x, y)[0], "top-02#1")]
    # Exports say who judged, and the ruling.
    rows = list(csv.DictReader(io.StringIO(reviews.export_csv(db, x))))
    settled = [r for r in rows if r["pair_id"] == "top-02"]
    assert {r["reviewer"] for r in settled} == {"A", "B"} and {r["settled_verdict"] for r in settled} == {"fail"}
    assert all("identity" in r for r in rows)
    picks = list(csv.DictReader(io.StringIO(export_picks_csv(db, "sample"))))
    assert len(picks) == 7 and {p["reviewer"] for p in picks} == {"A", "B", "C"}
    two = [p for p in picks if p["pair_id"] == "top-02"]
    assert {p["preferred"] for p in two} == {x, y} and {p["settled_preferred"] for p in two} == {x}


def test_the_leaderboard_page_draws_the_ranking_and_lets_a_lead_settle(judged, open_page):
    db, x, y = judged
    at = open_page(db, "leaderboard")
    table = table_with(at, "ci_low")
    assert list(table["run_id"]) == [x, y]  # X took 5 of the 7 picks, a tie counting half
    assert table.iloc[0]["ci_low"] <= table.iloc[0]["score"] <= table.iloc[0]["ci_high"]
    assert any(c.proto.id and "lb_chart" in c.proto.id for c in at.get("plotly_chart"))
    assert "Not settled" in texts(at) or "not settled" in texts(at)
    at.text_input(key="lb_reviewer_input").set_value("lead")
    at.button(key="FormSubmitter:lb_reviewer_form-Start").click().run()
    assert "Disagreements to settle (4)" in visible_text(at)
    at.button(key="lb_settle_0_tie").click().run()  # the first in the queue: the opposite picks on top-02
    assert not at.exception, [e.value for e in at.exception]
    assert sql(db, "SELECT kind, pair_id, decision, settled_by FROM settlements") == [("pick", "top-02", "tie", "lead")]
    assert "Disagreements to settle (3)" in visible_text(at)


def test_the_gate_asks_people(file_db):
    base = record_sample_run(file_db, "base")
    cand = record_sample_run(file_db, "cand", seed=3)
    gate = ["gate", "--candidate", cand, "--baseline", base, "--preference", "--db", file_db.location]
    out = CliRunner().invoke(main, gate)
    assert out.exit_code == 2 and "too few to judge" in out.output  # no pick yet: cannot judge
    pairs = [p for (p,) in sql(file_db, "SELECT pair_id FROM results WHERE run_id = ? ORDER BY pair_id", [base])]
    for k, pair_id in enumerate(pairs):
        workflow = sql(file_db, "SELECT workflow FROM results WHERE run_id = ? AND pair_id = ?", [base, pair_id])[0][0]
        for who in ("ana", "bo"):
            preferred = cand if k % 10 == 0 else None if k % 10 == 1 else base  # the candidate mostly loses
            pick(file_db, base, cand, pair_id, who, preferred, workflow)
    out = CliRunner().invoke(main, gate)
    assert out.exit_code == 1, out.output
    assert "preference" in out.output and "people prefer the baseline beyond noise" in out.output
    # The same picks the other way round: the candidate wins, and the gate passes.
    out = CliRunner().invoke(main, ["gate", "--candidate", base, "--baseline", cand, "--preference",
                                    "--db", file_db.location])
    assert out.exit_code == 0, out.output


def test_the_overlap_target_brings_cases_to_k_reviewers_first(file_db):
    """With k = 2, a second reviewer is offered the cases one other reviewer judged before fresh ones."""
    x = record_sample_run(file_db, "x", noop_rate=0.5, seed=21)
    y = record_sample_run(file_db, "y", noop_rate=0.5, seed=22)
    from vton_eval.preferences import blind_state

    seen = []
    for _ in range(3):
        case, _, counts = blind_state(file_db, x, y, "ana")
        assert counts["total"] >= 6, "the two runs should differ on enough cases"
        seen.append(case["pair_id"])
        pick(file_db, x, y, case["pair_id"], "ana", None, case["workflow"])
    fresh, _, _ = blind_state(file_db, x, y, "bo")  # target 1: ana's cases are done, bo gets another
    assert fresh["pair_id"] not in seen
    settlements.set_overlap_target(file_db, "sample", 2, local_actor("lead"))
    for _ in range(3):
        case, _, _ = blind_state(file_db, x, y, "bo")
        assert case["pair_id"] in seen, (case["pair_id"], seen)
        pick(file_db, x, y, case["pair_id"], "bo", x, case["workflow"])
    case, _, _ = blind_state(file_db, x, y, "bo")
    assert case["pair_id"] not in seen  # all three at the target: a fresh case
    assert sql(file_db, "SELECT count(*) FROM preferences WHERE reviewer = 'bo'")[0][0] == 3
