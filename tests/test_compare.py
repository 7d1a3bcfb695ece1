"""The Compare page and its engine: shared cases side by side, what changed, similarity, blind preferences.

Page tests run the real app headless (AppTest) against runs of datasets/sample written as runs through
the sandbox write them (the `runs` fixture, tests/helpers/seed.py); the expected numbers come from SQL on
the same file.
"""

from __future__ import annotations

import math
import re

import pandas as pd
import pytest
import streamlit as st
from PIL import Image
from streamlit.testing.v1 import AppTest

from dashboard import data, side_by_side
from vton_eval.access import local_actor
from vton_eval.analytics.blind import win_table
from vton_eval.analytics.compare import CaseFilter, missing_similarities, shared_page
from vton_eval.checks.likeness import similarity
from vton_eval.clock import utcnow
from vton_eval.preferences import left_run_for, record_preference, win_rates
from vton_eval.similarity_cache import case_similarity, fill_similarities
from vton_eval.stats import wilson
from vton_eval.store import Database
from vton_eval.store.runs import insert_run
from vton_eval.store.writes import insert_results

from .helpers.pages import as_read, sql, table_with, visible_text


def choose(at: AppTest, baseline: str, others: list[str]) -> AppTest:
    at.selectbox(key="cmp_base").set_value(baseline).run()
    at.multiselect(key=f"cmp_others_{baseline}").set_value(others).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def shown_pair(block) -> str:
    """The pair id a row's heading names (markdown-escaped on the page)."""
    return re.match(r"\*\*(.+?)\*\*", block.markdown[0].value).group(1).replace("\\", "")


def _rows(at: AppTest) -> list:
    """The grid's row containers, in page order."""
    blocks = []
    for pos in range(12):
        try:
            blocks.append(at.main.get_by_key(f"cmp_row_{pos}"))
        except KeyError:
            break
    return blocks


# --- engine: statistics ------------------------------------------------------------------------------------------


def test_wilson_interval_matches_known_values():
    assert wilson(8, 10) == pytest.approx((0.4902, 0.9433), abs=1e-4)
    assert wilson(0, 10) == pytest.approx((0.0, 0.2775), abs=1e-4)
    assert wilson(10, 10) == pytest.approx((0.7225, 1.0), abs=1e-4)
    assert wilson(50, 100) == pytest.approx((0.4038, 0.5962), abs=1e-4)
    assert wilson(0, 0) == (0.0, 1.0)  # no observation: the whole range (one Wilson function, the gate's)
    with pytest.raises(ValueError):
        wilson(11, 10)


def test_win_table_leaves_ties_out_of_the_win_share():
    table = win_table(pd.DataFrame([{"workflow": "top", "judgements": 10, "candidate_wins": 3, "baseline_wins": 1,
                                     "ties": 6, "left_picks": 2, "reviewers": 2}]))
    row = table.iloc[0]
    assert row["decisive"] == 4 and row["win_share"] == pytest.approx(0.75)
    assert (row["ci_low"], row["ci_high"]) == pytest.approx(wilson(3, 4))
    assert row["left_share"] == pytest.approx(0.5)


def test_left_side_is_stable_per_case_and_reviewer_and_about_half_each_way():
    first = left_run_for("run-b", "run-a", "top-01", 1, "ana")
    assert first == left_run_for("run-a", "run-b", "top-01", 1, "ana")  # whichever run is the baseline
    lefts = [left_run_for("run-a", "run-b", f"case-{i}", 1, "ana") for i in range(400)]
    assert 150 < lefts.count("run-a") < 250
    assert lefts != [left_run_for("run-a", "run-b", f"case-{i}", 1, "bo") for i in range(400)]


def test_a_later_pick_replaces_the_earlier_one_in_either_run_order(db):
    db.ensure()
    record_preference(db, "run-b", "run-a", "top-01", 1, "top", local_actor("ana"), "left", "run-b")
    record_preference(db, "run-a", "run-b", "top-01", 1, "top", local_actor(" ana "), "right", "run-b")
    rows = sql(db, 'SELECT run_a, run_b, reviewer, choice, left_run FROM preferences')
    assert rows == [("run-a", "run-b", "ana", "right", "run-b")]
    record_preference(db, "run-a", "run-b", "top-02", 1, "top", local_actor("bo"), "tie", "run-a")
    rates = win_rates(db, baseline="run-b", candidate="run-a").set_index("workflow")
    # "right" with run-b on the left: run-a won. Ties are counted apart, not in the share.
    assert rates.loc["top", ["judgements", "candidate_wins", "baseline_wins", "ties"]].tolist() == [2, 1, 0, 1]
    assert rates.loc["(all)", "win_share"] == 1.0 and rates.loc["(all)", "reviewers"] == 2
    with pytest.raises(ValueError):
        record_preference(db, "run-a", "run-b", "top-01", 1, "top", local_actor("ana"), "both", "run-a")
    with pytest.raises(ValueError):
        local_actor("  ")


# --- the page ------------------------------------------------------------------------------------------------------


def test_what_changed_matches_sql(runs, open_compare):
    db, (base, cand, _) = runs
    at = open_compare(db)
    choose(at, base, [cand])
    expected = dict(sql(db, """
        SELECT a.status || '>' || b.status, count(*) FROM results a
        JOIN results b ON b.pair_id = a.pair_id AND b."repeat" = a."repeat" AND b.run_id = ?
        WHERE a.run_id = ? GROUP BY 1""", [cand, base]))
    assert expected.get("ok>error"), f"the candidate's seeded errors should show: {expected}"
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["ok → error"] == str(expected["ok>error"])
    assert metrics["error → ok"] == str(expected.get("error>ok", 0))
    assert metrics["Shared cases"] == str(sum(expected.values()))
    kinds = table_with(at, "error_kind").set_index("error_kind")
    for kind, count in sql(db, "SELECT error_kind, count(*) FROM results WHERE run_id = ? AND status = 'error' "
                               "GROUP BY 1", [cand]):
        assert kinds.loc[kind, "candidate"] == count
    # "new" when the baseline had none (read, not assumed).
    baseline_silent = sql(db, "SELECT count(*) FROM results WHERE run_id = ? AND error_kind = 'silent_failure'",
                          [base])[0][0]
    assert bool(kinds.loc["silent_failure", "new"]) == (baseline_silent == 0)
    latency = table_with(at, "p50_baseline_ms")
    assert latency["workflow"].tolist() == ["dress", "eyewear", "footwear", "top", "(all)"]
    p50 = sql(db, "SELECT quantile_cont(latency_ms, 0.5) FROM results WHERE run_id = ? AND status = 'ok' "
                  "AND workflow = 'top' AND pair_id IN (SELECT pair_id FROM results WHERE run_id = ?)",
              [base, cand])[0][0]
    assert latency.set_index("workflow").loc["top", "p50_baseline_ms"] == pytest.approx(p50)
    # The other way round, every ok -> error is an error -> ok.
    choose(at, cand, [base])
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["error → ok"] == str(expected["ok>error"])
    assert metrics["ok → error"] == str(expected.get("error>ok", 0))


def test_rows_show_each_runs_output_or_its_error_as_text(runs, open_compare):
    db, (base, cand, _) = runs
    at = choose(open_compare(db), base, [cand])
    results = {(run, pair): (status, path, message) for run, pair, status, path, message in sql(
        db, "SELECT run_id, pair_id, status, output_path, error_message FROM results")}
    total = sql(db, "SELECT count(*) FROM results WHERE run_id = ?", [base])[0][0]
    assert f"Cases 1–12 of {total} shared" in visible_text(at)
    assert at.pagination(key="cmp_page").num_pages == math.ceil(total / 12)
    seen_error = False
    rows = _rows(at)
    assert len(rows) == 12
    for row in rows:
        pair = shown_pair(row)
        cols = row.columns
        assert len(cols) == 6  # person | product | mask | baseline | candidate | difference
        assert len(cols[0].image) == 1 and len(cols[1].image) == 1
        for col, run in ((cols[3], base), (cols[4], cand)):
            status, path, message = results[(run, pair)]
            assert len(col.image) == (1 if path else 0), (pair, run)
            if status == "error":
                assert message in col.code[0].value  # the server's words, as text
                seen_error = True
    assert seen_error
    assert not any("Internal server error" in m.value for m in at.markdown)
    at.pagination(key="cmp_page").set_value(2).run()
    assert shown_pair(at.main.get_by_key("cmp_row_0")) != shown_pair(row)


def test_filters_and_most_changed_order(runs, open_compare):
    db, (base, cand, _) = runs
    at = choose(open_compare(db), base, [cand])
    changed = sql(db, """SELECT a.pair_id FROM results a JOIN results b ON b.pair_id = a.pair_id AND b.run_id = ?
                         WHERE a.run_id = ? AND (a.status <> b.status OR coalesce(a.error_kind, '') <>
                         coalesce(b.error_kind, ''))""", [cand, base])
    at.selectbox(key="cmp_sort").set_value("most_changed").run()
    flags = [":orange[outcome changed" in at.main.get_by_key(f"cmp_row_{i}").markdown[0].value
             for i in range(min(12, len(changed) + 1))]
    assert flags == [True] * min(12, len(changed)) + [False] * (len(flags) - min(12, len(changed)))
    at.toggle(key="cmp_changed").set_value(True).run()
    assert f"of {len(changed)} shared" in visible_text(at)
    at.toggle(key="cmp_changed").set_value(False)
    at.multiselect(key="cmp_wf").set_value(["dress"])
    at.selectbox(key="cmp_tag").set_value("masked").run()
    masked = sql(db, "SELECT count(*) FROM cases WHERE run_id = ? AND workflow = 'dress' AND tags LIKE '%masked%'",
                 [base])[0][0]
    assert f"Cases 1–{masked} of {masked} shared" in visible_text(at)


def test_similarity_of_outputs_computed_in_the_background(runs, open_compare):
    db, (base, cand, _) = runs
    side_by_side.wait_for_similarities()  # earlier tests' pages may still be computing
    with db.connect() as con:  # start with nothing cached (the table itself always exists: migration 2)
        con.execute("DELETE FROM pair_similarity")
    st.cache_data.clear()  # pages cached in earlier tests knew the similarities just dropped
    differ = {p for (p,) in sql(db, """SELECT a.pair_id FROM results a JOIN results b ON b.pair_id = a.pair_id
                                     AND b.run_id = ? WHERE a.run_id = ? AND a.output_sha256 <> b.output_sha256""",
                                [cand, base])}
    same = sql(db, """SELECT a.pair_id, a.output_path, b.output_path FROM results a
                      JOIN results b ON b.pair_id = a.pair_id AND b.run_id = ?
                      WHERE a.run_id = ? AND a.status = 'ok' AND b.status = 'ok'
                        AND a.output_sha256 = b.output_sha256 ORDER BY 1""", [cand, base])
    assert differ and same, "the candidate should send back some person images (silent failures)"
    at = open_compare(db, {"cmp_base": base, f"cmp_others_{base}": [cand], "cmp_sort": "most_changed"})
    shown = visible_text(at)
    assert "computing the similarity…" in shown  # the page did not wait for it
    assert "Similarity joins the order once" in shown  # not known for every case yet
    at.button(key="cmp_fill").click().run()  # compute them all, in the background
    side_by_side.wait_for_similarities()
    assert missing_similarities(db, base, cand)[1] == 0
    data.compare_view.clear()  # on a server the progress fragment does this when the fill ends
    at.run()
    assert "then lowest similarity" in visible_text(at)
    stored = dict(sql(db, """SELECT a.pair_id, s.ssim FROM results a JOIN results b ON b.pair_id = a.pair_id
                             JOIN pair_similarity s ON s.output_a = a.output_sha256 AND s.output_b = b.output_sha256
                             WHERE a.run_id = ? AND b.run_id = ?""", [base, cand]))
    compared = [(shown_pair(block), block.columns[5]) for block in _rows(at) if shown_pair(block) in differ]
    assert compared, "changed rows come first, and some have two different outputs"
    for pair, cell in compared:
        assert len(cell.image) == 1  # the difference image
        value = float(re.search(r"SSIM (\d\.\d+)", cell.caption[0].value).group(1))
        assert value == pytest.approx(stored[pair], abs=5e-4) and stored[pair] < 1.0
    page = shared_page(db, [base, cand], CaseFilter(), sort="most_changed")
    assert page.similarity_known == page.both_outputs
    assert fill_similarities(db, base, cand) == 0  # nothing left to do
    # The same files are identical by definition: the shortcut agrees with the real measure.
    pair, path_a, path_b = same[0]
    result = case_similarity(db, base, cand, pair)
    assert result["identical"] and result["ssim"] == 1.0
    store = db.artifacts
    measured = similarity(Image.open(store.abspath(path_a)), Image.open(store.abspath(path_b)))
    assert measured["ssim"] == pytest.approx(1.0)


def test_three_runs_side_by_side(runs, open_compare):
    db, (base, cand, third) = runs
    at = choose(open_compare(db), base, [cand, third])
    cols = at.main.get_by_key("cmp_row_0").columns
    assert len(cols) == 6  # person | product | mask | three outputs, no difference column
    # Each column names its system (profile @ endpoint) first, then the run.
    titles = [as_read(c.value) for c in at.caption]
    assert any(t.startswith("run 3: sm4ll @ ") and "third-build" in t for t in titles), titles
    assert not at.metric  # the change summary is for two runs


def test_a_run_with_nothing_to_compare_is_refused_clearly(tmp_path, open_compare):
    db = Database(tmp_path / "single.duckdb")
    db.ensure()
    now = utcnow()

    def seed(w):
        insert_run(w, {"run_id": "only-run", "label": "alone", "endpoint": "http://x", "dataset": "solo",
                       "status": "finished", "created_at": now})
        insert_results(w, [{"run_id": "only-run", "pair_id": "p1", "workflow": "top", "repeat": 1, "status": "ok",
                            "latency_ms": 10.0}])

    db.write(seed)
    at = open_compare(db)
    assert any("No other run over the dataset solo" in w.value for w in at.warning)
    assert not at.metric and not at.image


@pytest.mark.parametrize("create", [False, True])
def test_no_database_or_no_runs_gets_a_useful_screen(tmp_path, create, open_compare):
    db = Database(tmp_path / "results.duckdb")
    if create:
        db.ensure()
    at = open_compare(db)
    assert any(("no runs yet" if create else "No results yet") in i.value for i in at.info)
