"""The blind preference view of the Compare page: the pick stored is the button clicked, the runs named and
chosen apart, byte-identical outputs left out. AppTest over the session's three Compare runs."""

from __future__ import annotations

import re

from streamlit.testing.v1 import AppTest

from vton_eval.preferences import left_run_for
from vton_eval.provenance import tool_version
from vton_eval.store.judgements import canonical

from .helpers.pages import blind_view, errors, sql, table_with, visible_text
from .helpers.seed import COMPARE_LABELS as LABELS


def shown_case(at: AppTest) -> str:
    return re.match(r"\*\*(.+?)\*\*", at.markdown[0].value).group(1).replace("\\", "")


def test_blind_preference_hides_the_runs_until_the_pick_and_a_new_pick_replaces_it(runs, open_compare):
    db, (base, cand, _) = runs
    at = open_compare(db)
    at.segmented_control(key="cmp_mode").set_value("Blind preference").run()
    at.button(key="FormSubmitter:cmp_reviewer_form-Start judging").click().run()
    assert any("enter your name" in e for e in errors(at))
    at = blind_view(open_compare, db, base, cand)
    pair = shown_case(at)
    shown = "\n".join(str(m.value) for m in at.markdown[:1])
    for secret in (base, cand, *LABELS[:2]):
        assert secret not in shown, f"{secret} is visible on the case before the pick"
    left = left_run_for(base, cand, pair, 1, "ana")
    assert at.image[-2].value != at.image[-1].value  # two different outputs side by side
    at.button(key="cmp_pick_left").click().run()
    rows = sql(db, "SELECT run_a, run_b, reviewer, choice, left_run FROM preferences WHERE pair_id = ?", [pair])
    assert rows == [(*canonical(base, cand), "ana", "left", left)]
    revealed = [s.value.replace("\\", "") for s in at.success]
    assert any(LABELS[0] in s and LABELS[1] in s for s in revealed)  # named after the pick
    assert shown_case(at) != pair  # the next case
    at.button(key="cmp_rejudge_btn").click().run()
    assert "your earlier pick: left is better" in at.markdown[0].value
    at.button(key="cmp_pick_right").click().run()
    rows = sql(db, "SELECT reviewer, choice, left_run FROM preferences WHERE pair_id = ?", [pair])
    assert rows == [("ana", "right", left)]
    workflow = sql(db, "SELECT workflow FROM results WHERE run_id = ? AND pair_id = ?", [base, pair])[0][0]
    table = table_with(at, "candidate_wins").set_index("workflow")
    assert table.loc[workflow, "judgements"] == 1 and table.loc["(all)", "judgements"] == 1
    winner = cand if left == base else base  # "right" = the run that was not on the left
    assert table.loc[workflow, "candidate_wins"] == (1 if winner == cand else 0)
    assert table.loc[workflow, "baseline_wins"] == (1 if winner == base else 0)


def test_each_blind_button_stores_the_pick_it_names(runs, open_compare):
    db, (base, cand, _) = runs
    at = blind_view(open_compare, db, base, cand, name="bea")
    labels = {b.key: b.label for b in at.button if b.key and b.key.startswith("cmp_pick_")}
    assert labels == {"cmp_pick_left": "Left is better", "cmp_pick_tie": "Tie", "cmp_pick_right": "Right is better"}
    for choice in ("right", "tie", "left"):
        pair = shown_case(at)
        left = left_run_for(base, cand, pair, 1, "bea")
        at.button(key=f"cmp_pick_{choice}").click().run()
        stored = sql(db, "SELECT choice, left_run, tool_version FROM preferences WHERE reviewer = 'bea' AND "
                         "pair_id = ?", [pair])
        assert stored == [(choice, left, tool_version())], (labels[f"cmp_pick_{choice}"], stored)
        revealed = at.success[0].value.replace("\\", "")
        assert f"You picked **{labels[f'cmp_pick_{choice}'].lower()}**" in revealed
        assert f"Left was {'run A' if left == base else 'run B'}" in revealed


def test_the_blind_view_names_its_two_runs_has_its_own_pickers_and_skips_identical_outputs(runs, open_compare):
    db, (base, cand, third) = runs
    at = blind_view(open_compare, db, base, cand, name="cy")
    caption = next(c.value for c in at.caption if c.value.startswith("Comparing run A")).replace("\\", "")
    assert f"run A ({LABELS[0]} · {base})" in caption and f"run B ({LABELS[1]} · {cand})" in caption
    both = sql(db, """SELECT count(*) FILTER (WHERE a.output_sha256 <> b.output_sha256),
                             count(*) FILTER (WHERE a.output_sha256 = b.output_sha256)
                      FROM results a JOIN results b ON b.pair_id = a.pair_id AND b."repeat" = a."repeat"
                      WHERE a.run_id = ? AND b.run_id = ? AND a.output_path IS NOT NULL
                        AND b.output_path IS NOT NULL""", [base, cand])[0]
    differ, identical = both
    assert identical > 0 and differ > 0, "the fixture's runs should share some identical outputs and differ on some"
    assert f"{identical} case(s) where both runs returned the very same file are not offered" in visible_text(at)
    assert f"of {differ} judged" in at.markdown[0].value
    offered = set()
    for _ in range(differ):  # every offered case has two different files
        pair = shown_case(at)
        paths = sql(db, "SELECT output_sha256 FROM results WHERE pair_id = ? AND run_id IN (?, ?)", [pair, base, cand])
        assert len({p for (p,) in paths}) == 2, pair
        offered.add(pair)
        at.button(key="cmp_pick_tie").click().run()
    assert len(offered) == differ and any("You have judged all" in s.value for s in at.success)
    # Its own pickers: another run B, named as such; the side-by-side view's choice is untouched.
    at.selectbox(key="cmp_blind_b").set_value(third).run()
    caption = next(c.value for c in at.caption if c.value.startswith("Comparing run A")).replace("\\", "")
    assert f"run B ({LABELS[2]} · {third})" in caption
    assert "cmp_base" not in at.session_state or at.session_state["cmp_base"] != third
