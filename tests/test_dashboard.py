"""The dashboard pages, run headless with AppTest against real databases seeded through the engine."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from streamlit.proto.Metric_pb2 import Metric
from streamlit.testing.v1 import AppTest

from vton_eval.runner import RunSettings, create_run, execute_run
from vton_eval.store import Database
from vton_eval.store.runs import get_run

from .helpers.pages import metric as _metric
from .helpers.pages import spec as _spec
from .helpers.pages import texts
from .helpers.paths import SAMPLE
from .helpers.seed import record_sample_run


def _sql(db, sql, params=()):
    with db.connect(read_only=True) as con:
        return con.execute(sql, list(params)).fetchall()


@pytest.mark.parametrize("page", [None, "failures", "runs"])
def test_no_database_yet_gets_a_useful_screen(tmp_path, page, open_page):
    at = open_page(tmp_path / "none.duckdb", page)
    shown = texts(at)
    if page == "runs":
        assert "No runs yet" in shown
    else:
        assert "No results yet" in shown and "vton-eval run" in shown


def test_empty_database(tmp_path, open_page):
    db = Database(tmp_path / "empty.duckdb")
    db.ensure()
    for page in (None, "failures"):
        assert "no runs yet" in texts(open_page(db, page))


def test_a_locked_database_gets_a_message_not_a_traceback(tmp_path, seeded, open_page):
    db = Database(tmp_path / "locked.duckdb")
    db.ensure()
    holder = subprocess.Popen([sys.executable, "-c", f"import duckdb, time; c = duckdb.connect({db.location!r}); "
                               "print('locked', flush=True); time.sleep(30)"], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        at = open_page(db)
        assert any("busy" in w.value for w in at.warning)
        assert at.button(key="retry_busy")
    finally:
        holder.kill()
        holder.wait()


def test_overview_headline_matches_the_database_and_compares_with_the_previous_run(seeded, open_page):
    db, (v1, v2) = seeded
    at = open_page(db)
    assert at.selectbox(key="ov_run").value == v2  # the latest finished run by default
    rates = dict(_sql(db, "SELECT run_id, avg((status = 'error')::INT) FROM results GROUP BY 1"))
    cases = _sql(db, "SELECT count(*) FROM results WHERE run_id = ?", [v2])[0][0]
    assert _metric(at, "Cases").value == str(cases)
    assert _metric(at, "Error rate").value == f"{rates[v2] * 100:.1f}%"
    change = f"{(rates[v2] - rates[v1]) * 100:+.1f} pts"
    assert _metric(at, "Error rate").delta == change and change != "+0.0 pts"
    assert _metric(at, "Error rate").proto.color == Metric.MetricColor.RED  # more errors: red, arrow up
    assert _metric(at, "Error rate").proto.direction == Metric.MetricDirection.UP
    # Both runs have 20 cases: a zero change has no arrow and no colour.
    flat = _metric(at, "Cases")
    assert flat.delta == "no change"
    assert flat.proto.direction == Metric.MetricDirection.NONE and flat.proto.color == Metric.MetricColor.GRAY
    assert v1 in texts(at)  # "change against the previous comparable run v1"
    assert at.download_button[0].label.startswith("Download")
    at.selectbox(key="ov_run").set_value(v1).run()
    assert _metric(at, "Error rate").value == f"{rates[v1] * 100:.1f}%"
    assert "No blessed baseline and no earlier finished run" in texts(at)


def test_overview_charts_show_every_workflow_with_counts_and_a_box_per_workflow(seeded, open_page):
    db, (_, v2) = seeded
    at = open_page(db)
    counts = {w: (e, n) for w, e, n in _sql(db, "SELECT workflow, count(*) FILTER (WHERE status = 'error'), "
                                                "count(*) FROM results WHERE run_id = ? GROUP BY 1", [v2])}
    labels = next(t for t in _spec(at, "errors_chart")["data"] if t.get("meta") == "counts")
    shown = dict(zip(labels["x"], labels["text"], strict=True))
    assert shown == {w: f"{e} of {n}" for w, (e, n) in counts.items()}  # all four, "0 of 5" too
    boxes = [t for t in _spec(at, "latency_chart")["data"] if t["type"] == "box"]
    assert len(boxes) == 1 and sorted(boxes[0]["y"]) == sorted(counts)
    p50 = dict(_sql(db, "SELECT workflow, quantile_cont(latency_ms, 0.5) FROM results WHERE run_id = ? "
                        "AND status = 'ok' GROUP BY 1", [v2]))
    for workflow, median in zip(boxes[0]["y"], boxes[0]["median"], strict=True):
        assert median == pytest.approx(p50[workflow] / 1000)
    heat = _spec(at, "heatmap_chart")["data"][0]
    tagged = _sql(db, "SELECT count(*) FILTER (WHERE r.status = 'error'), count(*) FROM results r JOIN cases c "
                      "USING (run_id, pair_id) WHERE r.run_id = ? AND r.workflow = 'top' AND c.tags LIKE '%drawn%'",
                  [v2])[0]
    row = heat["y"].index("top")
    assert heat["text"][row][heat["x"].index("drawn")] == f"{tagged[0]} of {tagged[1]}"
    table = next(f for f in at.dataframe if "p50_s" in f.value.columns)  # the data; people read these names:
    names = {column: config.get("label") for column, config in json.loads(table.proto.columns).items()}
    assert names["p50_s"] == "p50" and names["mean_queue_s"] == "Mean queue"
    medians = dict(zip(table.value["workflow"], table.value["p50_s"], strict=True))
    assert medians == pytest.approx({w: p50[w] / 1000 for w in medians})  # in seconds


def _stopped_run(db: Database, stop_after: int) -> str:
    """A run of the sample dataset stopped (interrupted) with `stop_after` results in the database, as a
    stopped run leaves it (tests/helpers/seed.py). Stopping real runs is tests/test_resume.py's business;
    this page test only needs one to show."""
    return record_sample_run(db, "stopped", recorded=stop_after, status="interrupted", concurrency=1)


def _order(at: AppTest) -> list[str]:
    """The main area's node types, in page order."""
    return [node.type for node in at.main]


def test_a_stopped_or_failed_run_says_so_before_any_number(seeded, tmp_path, open_page):
    db = Database(tmp_path / "stopped.duckdb")
    stopped = _stopped_run(db, stop_after=1)
    run = get_run(db, stopped)
    assert run["status"] == "interrupted" and 1 <= run["done"] < 20
    failed = create_run(db, RunSettings(dataset=str(SAMPLE), endpoint="http://127.0.0.1:9", label="unreachable"))
    assert execute_run(db, failed).status == "failed"
    for run_id, status, recorded in ((stopped, "interrupted", run["done"]), (failed, "failed", 0)):
        at = open_page(db)
        at.selectbox(key="ov_run").set_value(run_id).run()
        kind = "warning" if status == "interrupted" else "error"
        box = getattr(at, kind)[0]
        assert status in box.value
        assert f"{recorded} of 20 cases recorded" in box.value and "partial" in box.value
        order = _order(at)
        assert order.index(kind) < order.index("metric")  # the status comes first
        assert all("(partial)" in m.label for m in at.metric)
        assert not at.success and "No errors" not in texts(at)
        if recorded:
            assert _metric(at, "Cases").value == f"{recorded} of 20"
        labels = next(t for t in _spec(at, "errors_chart")["data"] if t.get("meta") == "counts")
        assert sorted(labels["x"]) == ["dress", "eyewear", "footwear", "top"]  # planned workflows, even unrecorded
        fl = open_page(db, "failures")
        fl.selectbox(key="fl_run").set_value(run_id).run()
        assert not fl.success, [s.value for s in fl.success]  # never "No failures" in green for a partial run
        assert any("partial" in t for t in texts(fl).split("\n"))
        rv = open_page(db, "review")
        rv.session_state["reviewer"] = "ann"
        rv.run()
        rv.selectbox(key="rv_run").set_value(run_id).run()
        order = _order(rv)
        assert status in getattr(rv, kind)[0].value and order.index(kind) < order.index("metric")


def test_overview_filters(seeded, open_page):
    db, (v1, v2) = seeded
    at = open_page(db)
    at.multiselect(key="ov_labels").set_value(["v1"]).run()
    assert at.selectbox(key="ov_run").value == v1 and len(at.selectbox(key="ov_run").options) == 1
    at.multiselect(key="ov_labels").set_value(["v2"])
    at.multiselect(key="ov_workflows").set_value(["top"]).run()
    top_cases = _sql(db, "SELECT count(*) FROM results WHERE run_id = ? AND workflow = 'top'", [v2])[0][0]
    assert {m.label: m.value for m in at.metric}["Cases"] == str(top_cases)


def test_failures_page_groups_causes_and_drills_down(seeded, open_page):
    db, (_, v2) = seeded
    at = open_page(db, "failures")
    kinds = dict(_sql(db, "SELECT error_kind, count(*) FROM results WHERE run_id = ? AND status = 'error' "
                          "GROUP BY 1", [v2]))
    assert {m.label: m.value for m in at.metric}["Failed cases"] == str(sum(kinds.values()))
    table = at.dataframe[0].value
    assert set(table["error_kind"]) == set(kinds)
    assert int(table[table["error_kind"] == "server_error"]["count"].sum()) == kinds["server_error"]
    labels = at.selectbox(key="fl_group").options
    index = next(i for i, label in enumerate(labels) if label.startswith("server_error"))
    at.selectbox(key="fl_group").set_value(index).run()
    assert "worker crashed" in texts(at)
    assert len(at.image) >= 2  # input thumbnails of the failed cases
