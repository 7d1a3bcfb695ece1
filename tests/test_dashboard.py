"""The dashboard pages, run headless with AppTest against real databases seeded through the engine."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading

import pytest
from PIL import Image
from streamlit.proto.Metric_pb2 import Metric
from streamlit.testing.v1 import AppTest

from vton_eval.runner import RunSettings, create_run, execute_run
from vton_eval.store import Database
from vton_eval.store.runs import get_run, list_runs

from .conftest import REPO, SAMPLE, wait_for

APP = str(REPO / "dashboard" / "app.py")


def open_page(db_path, page: str | None = None) -> AppTest:
    import os

    os.environ["VTON_EVAL_DB"] = str(db_path)
    at = AppTest.from_file(APP, default_timeout=60)
    at.run()
    if page:
        at.switch_page(f"pages/{page}.py")
        at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def texts(at: AppTest) -> str:
    parts = [e.value for kind in ("info", "warning", "error", "success", "markdown", "caption", "text", "code")
             for e in getattr(at, kind)]
    return "\n".join(str(p) for p in parts)


@pytest.fixture(scope="module")
def seeded(tmp_path_factory, sandbox):
    """Two runs of the sample dataset: v1 clean, v2 with injected server errors and silent failures."""
    db = Database(tmp_path_factory.mktemp("dash") / "results.duckdb")
    ids = []
    for label, error_rate, noop in (("v1", 0.0, 0.0), ("v2", 0.3, 0.1)):
        sandbox.config.error_rate, sandbox.config.noop_rate, sandbox.config.seed = error_rate, noop, 11
        run_id = create_run(db, RunSettings(dataset=str(SAMPLE), endpoint=sandbox.url, label=label, retries=0,
                                            concurrency=4))
        assert execute_run(db, run_id).status == "finished"
        ids.append(run_id)
    sandbox.config.error_rate = sandbox.config.noop_rate = 0.0
    return db, ids


def _sql(db, sql, params=()):
    with db.connect(read_only=True) as con:
        return con.execute(sql, list(params)).fetchall()


@pytest.mark.parametrize("page", [None, "failures", "runs"])
def test_no_database_yet_gets_a_useful_screen(tmp_path, page):
    at = open_page(tmp_path / "none.duckdb", page)
    shown = texts(at)
    if page == "runs":
        assert "No runs yet" in shown
    else:
        assert "No results yet" in shown and "vton-eval run" in shown


def test_empty_database(tmp_path):
    db = Database(tmp_path / "empty.duckdb")
    db.ensure()
    for page in (None, "failures"):
        assert "no runs yet" in texts(open_page(db.path, page))


def test_a_locked_database_gets_a_message_not_a_traceback(tmp_path, seeded):
    db = Database(tmp_path / "locked.duckdb")
    db.ensure()
    holder = subprocess.Popen([sys.executable, "-c", f"import duckdb, time; c = duckdb.connect({str(db.path)!r}); "
                               "print('locked', flush=True); time.sleep(30)"], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        at = open_page(db.path)
        assert any("busy" in w.value for w in at.warning)
        assert at.button(key="retry_busy")
    finally:
        holder.kill()
        holder.wait()


def _metric(at: AppTest, label: str):
    return next(m for m in at.metric if m.label.startswith(label))


def _spec(at: AppTest, key: str) -> dict:
    """The plotly figure a chart element carries, as JSON."""
    chart = next(c for c in at.get("plotly_chart") if c.proto.id and key in c.proto.id)
    return json.loads(chart.proto.spec)


def test_overview_headline_matches_the_database_and_compares_with_the_previous_run(seeded):
    db, (v1, v2) = seeded
    at = open_page(db.path)
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
    assert "No earlier finished run" in texts(at)


def test_overview_charts_show_every_workflow_with_counts_and_a_box_per_workflow(seeded):
    db, (_, v2) = seeded
    at = open_page(db.path)
    counts = {w: (e, n) for w, e, n in _sql(db, "SELECT workflow, count(*) FILTER (WHERE status = 'error'), "
                                                "count(*) FROM results WHERE run_id = ? GROUP BY 1", [v2])}
    labels = next(t for t in _spec(at, "errors_chart")["data"] if t.get("mode") == "text")
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
    table = next(f for f in at.dataframe if "p50_ms" in f.value.columns)  # the data; people read these names:
    names = {column: config.get("label") for column, config in json.loads(table.proto.columns).items()}
    assert names["p50_ms"] == "Median (p50)" and names["mean_queue_ms"] == "Mean queue wait"


def _stopped_run(db: Database, sandbox, stop_after: int) -> str:
    """A run of the sample dataset stopped (interrupted) once `stop_after` results are in the database.

    One call at a time, a second each: the stop lands long before the last case, however loaded the
    machine is."""
    run_id = create_run(db, RunSettings(dataset=str(SAMPLE), endpoint=sandbox.url, label="stopped", retries=0,
                                        concurrency=1))
    stop = threading.Event()
    worker = threading.Thread(target=lambda: execute_run(db, run_id, stop=stop))
    sandbox.config.latency = 1.0
    try:
        worker.start()
        wait_for(lambda: (get_run(db, run_id) or {}).get("done", 0) >= stop_after, what="the first results")
        stop.set()
        worker.join(60)
    finally:
        sandbox.config.latency = 0.0
    return run_id


def _order(at: AppTest) -> list[str]:
    """The main area's node types, in page order."""
    return [node.type for node in at.main]


def test_a_stopped_or_failed_run_says_so_before_any_number(seeded, sandbox, tmp_path):
    db = Database(tmp_path / "stopped.duckdb")
    stopped = _stopped_run(db, sandbox, stop_after=1)
    run = get_run(db, stopped)
    assert run["status"] == "interrupted" and 1 <= run["done"] < 20
    failed = create_run(db, RunSettings(dataset=str(SAMPLE), endpoint="http://127.0.0.1:9", label="unreachable"))
    assert execute_run(db, failed).status == "failed"
    for run_id, status, recorded in ((stopped, "interrupted", run["done"]), (failed, "failed", 0)):
        at = open_page(db.path)
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
        labels = next(t for t in _spec(at, "errors_chart")["data"] if t.get("mode") == "text")
        assert sorted(labels["x"]) == ["dress", "eyewear", "footwear", "top"]  # planned workflows, even unrecorded
        fl = open_page(db.path, "failures")
        fl.selectbox(key="fl_run").set_value(run_id).run()
        assert not fl.success, [s.value for s in fl.success]  # never "No failures" in green for a partial run
        assert any("partial" in t for t in texts(fl).split("\n"))
        rv = open_page(db.path, "review")
        rv.session_state["reviewer"] = "ann"
        rv.run()
        rv.selectbox(key="rv_run").set_value(run_id).run()
        order = _order(rv)
        assert status in getattr(rv, kind)[0].value and order.index(kind) < order.index("metric")


def test_overview_filters(seeded):
    db, (v1, v2) = seeded
    at = open_page(db.path)
    at.multiselect(key="ov_labels").set_value(["v1"]).run()
    assert at.selectbox(key="ov_run").value == v1 and len(at.selectbox(key="ov_run").options) == 1
    at.multiselect(key="ov_labels").set_value(["v2"])
    at.multiselect(key="ov_workflows").set_value(["top"]).run()
    top_cases = _sql(db, "SELECT count(*) FROM results WHERE run_id = ? AND workflow = 'top'", [v2])[0][0]
    assert {m.label: m.value for m in at.metric}["Cases"] == str(top_cases)


def test_failures_page_groups_causes_and_drills_down(seeded):
    db, (_, v2) = seeded
    at = open_page(db.path, "failures")
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


def test_runs_page_lists_runs_and_refuses_bad_settings(seeded, sandbox):
    db, (v1, v2) = seeded
    at = open_page(db.path, "runs")
    frame = at.dataframe[0].value
    assert set(frame["run"]) == {v1, v2} and set(frame["label"]) == {"v1", "v2"}
    at.number_input(key="launch_concurrency").set_value(0).run()
    assert any("concurrency must be at least 1" in e.value for e in at.error)
    assert at.button(key="launch_start").disabled
    at.number_input(key="launch_concurrency").set_value(2)
    at.selectbox(key="launch_endpoint").set_value("Other URL or Space…").run()
    at.text_input(key="launch_endpoint_text").set_value("not a url").run()
    assert any("neither an http(s) URL" in e.value for e in at.error)
    at.text_input(key="launch_endpoint_text").set_value(sandbox.url)
    at.radio(key="launch_mode").set_value("Pick pairs by hand").run()
    assert any("No pair is selected" in e.value for e in at.error)
    at.radio(key="launch_mode").set_value("Filter by workflow and tags").run()
    at.multiselect(key="launch_wf").set_value(["eyewear"]).run()
    at.text_input(key="launch_rate_False").set_value("30/h").run()
    assert any("5 case(s)" in i.value for i in at.info)


def test_launch_a_run_from_the_page_then_cancel_and_resume(seeded, sandbox, tmp_path):
    db = Database(tmp_path / "launch.duckdb")
    at = open_page(db.path, "runs")
    at.selectbox(key="launch_endpoint").set_value("Other URL or Space…").run()
    at.text_input(key="launch_endpoint_text").set_value(sandbox.url).run()
    at.radio(key="launch_mode").set_value("Pick pairs by hand").run()
    at.checkbox(key="launch_pick_top-01").check()
    at.checkbox(key="launch_pick_dress-02").check().run()
    at.text_input(key="launch_label").set_value("from the page").run()
    at.button(key="launch_start").click().run()
    assert not at.error, [e.value for e in at.error]
    run_id = at.session_state["launched_run"]
    # The same page run that started it lists it (no reload), on the Runs tab, and polls while it goes.
    assert at.session_state["runs_tab"] == "Runs"
    listed = runs_table(at)
    assert listed.loc[run_id, "label"] == "from the page" and listed.loc[run_id, "recorded"].endswith("of 2")
    if listed.loc[run_id, "status"] == "running":
        assert any("Updating every" in c.value for c in at.caption)
    run = wait_for(lambda: (r := get_run(db, run_id))["status"] != "running" and r, what="the launched run to end")
    assert run["status"] == "finished" and run["done"] == 2 and run["label"] == "from the page"
    assert run["pid"] != os.getpid()  # it ran in its own process
    at.run()
    assert runs_table(at).loc[run_id, ["status", "recorded"]].tolist() == ["finished", "2 of 2"]

    sandbox.config.latency = 2.0
    try:
        at.radio(key="launch_mode").set_value("All pairs").run()
        at.button(key="launch_start").click().run()
        slow = at.session_state["launched_run"]
        assert runs_table(at).loc[slow, "status"] == "running"
        wait_for(lambda: get_run(db, slow)["done"] >= 1, what="a first result")
        action_on(db, slow, "cancel_run").click().run()
        wait_for(lambda: get_run(db, slow)["status"] != "running", what="the cancel")
        assert get_run(db, slow)["status"] == "cancelled"
        sandbox.config.latency = 0.0
        # The list is cached for a second: a page opened meanwhile may still offer Cancel.
        wait_for(lambda: action_on(db, slow, "resume_run"), what="the Resume button").click().run()
        wait_for(lambda: get_run(db, slow)["status"] == "finished", timeout=90, what="the resumed run")
        assert get_run(db, slow)["done"] == 20
    finally:
        sandbox.config.latency = 0.0


def action_on(db: Database, run_id: str, button: str):
    """The Runs page's action button for a run, on a freshly opened page (None when not offered)."""
    at = open_page(db.path, "runs")
    at.selectbox(key="runs_action_run").set_value(run_id).run()
    found = [b for b in at.button if b.key == button]
    return found[0] if found else None


def runs_table(at: AppTest):
    """The Runs table as a frame indexed by run id."""
    return next(f.value for f in at.dataframe if "recorded" in f.value.columns).set_index("run")


def test_the_runs_table_shows_progress_once_and_fits_a_1400_px_window(seeded):
    db, (v1, _) = seeded
    at = open_page(db.path, "runs")
    table = next(f for f in at.dataframe if "recorded" in f.value.columns)
    config = json.loads(table.proto.columns)
    shown = [c for c in table.value.columns if c in config]
    assert len(shown) == len(table.value.columns)
    assert not any(c["type_config"]["type"] == "progress" for c in config.values() if "type_config" in c)
    assert table.value.set_index("run").loc[v1, "recorded"] == "20 of 20"
    # Column widths in px: the main area beside the sidebar in a 1400 px window is about 940 px wide
    # (the browser test measures the real table).
    assert sum(c["width"] for c in config.values() if isinstance(c.get("width"), int)) <= 920


def test_try_one_pair_from_the_dataset_and_from_uploads(sandbox, tmp_path):
    db = Database(tmp_path / "try.duckdb")
    at = open_page(db.path, "runs")
    at.selectbox(key="try_endpoint").set_value("Other URL or Space…").run()
    at.text_input(key="try_endpoint_text").set_value(sandbox.url).run()
    at.selectbox(key="try_ds_pair").set_value("eyewear-01").run()
    at.button(key="try_go").click().run()
    assert any("ok in" in s.value for s in at.success), texts(at)
    assert len(at.image) >= 3
    assert [r["label"] for r in list_runs(db)] == ["try one pair"]

    at.radio(key="try_source").set_value("Upload images").run()
    gif = tmp_path / "p.gif"
    Image.open(SAMPLE / "persons" / "astronaut.jpg").save(gif)
    # A GIF renamed .png: the uploader lets it through by name, our validation reads the bytes.
    at.file_uploader(key="try_up_base").set_value(("person.png", gif.read_bytes(), "image/png"))
    at.file_uploader(key="try_up_product").set_value(
        ("p.png", (SAMPLE / "products" / "glasses_rect_red.png").read_bytes(), "image/png")).run()
    assert any("person image cannot be used" in e.value and "GIF" in e.value for e in at.error)
    at.file_uploader(key="try_up_base").set_value(
        ("person.jpg", (SAMPLE / "persons" / "astronaut.jpg").read_bytes(), "image/jpeg")).run()
    at.selectbox(key="try_up_workflow").set_value("eyewear").run()
    at.button(key="try_go").click().run()
    assert any("ok in" in s.value for s in at.success), texts(at)
    assert len(list_runs(db)) == 2


def test_a_try_is_a_try_listed_apart_and_never_the_default_the_trend_or_latest(sandbox, tmp_path):
    db = Database(tmp_path / "tries.duckdb")
    suites = []
    for label in ("suite-1", "suite-2"):
        suites.append(create_run(db, RunSettings(dataset=str(SAMPLE), endpoint=sandbox.url, label=label,
                                                 retries=0, concurrency=4)))
        assert execute_run(db, suites[-1]).status == "finished"
    at = open_page(db.path, "runs")
    at.selectbox(key="try_endpoint").set_value("Other URL or Space…").run()
    at.text_input(key="try_endpoint_text").set_value(sandbox.url).run()
    at.selectbox(key="try_ds_pair").set_value("top-02").run()
    at.button(key="try_go").click().run()
    tried = next(r for r in list_runs(db) if r["kind"] == "try")
    assert tried["dataset"] == "sample" and tried["created_at"] > get_run(db, suites[1])["created_at"]
    # Listed apart: its own table on the Try tab, not in the Runs table.
    tries = next(f.value for f in at.dataframe if "outcome" in f.value.columns)
    assert tries["run"].tolist() == [tried["run_id"]] and tries["pair"].tolist() == ["top-02"]
    assert tried["run_id"] not in runs_table(at).index
    # Out of every picker and default, of the trend and of "previous comparable run".
    ov = open_page(db.path)
    assert ov.selectbox(key="ov_run").value == suites[1]
    assert not mentions(ov.selectbox(key="ov_run").options, tried["run_id"])
    assert suites[0] in texts(ov)  # compared with suite-1, not with the try
    trend = _spec(ov, "trend_chart")
    assert {i for t in trend["data"] for i, *_ in t["customdata"]} == set(suites)
    fl = open_page(db.path, "failures")
    assert mentions(fl.selectbox(key="fl_run").options, suites[0])
    assert not mentions(fl.selectbox(key="fl_run").options, tried["run_id"])
    rv = open_page(db.path, "review")
    rv.session_state["reviewer"] = "tester"
    rv.run()
    assert rv.selectbox(key="rv_run").value == suites[1]
    assert not mentions(rv.selectbox(key="rv_run").options, tried["run_id"])
    cmp = open_page(db.path, "compare")
    assert cmp.selectbox(key="cmp_base").value == suites[0]
    assert not mentions(cmp.selectbox(key="cmp_base").options, tried["run_id"])
    others = cmp.multiselect(key=f"cmp_others_{suites[0]}").options
    assert mentions(others, suites[1]) and not mentions(others, tried["run_id"])
    # `latest` in the gate and in bless: the latest finished suite run, not the newer try.
    cli = subprocess.run([sys.executable, "-m", "vton_eval", "bless", "latest", "--db", str(db.path)],
                         capture_output=True, text=True, cwd=REPO, timeout=120)
    assert cli.returncode == 0 and suites[1] in cli.stdout, cli.stderr
    listed = subprocess.run([sys.executable, "-m", "vton_eval", "runs", "--kind", "try", "--db", str(db.path)],
                            capture_output=True, text=True, cwd=REPO, timeout=120)
    assert tried["run_id"] in listed.stdout and suites[0] not in listed.stdout


def mentions(options: list[str], run_id: str) -> bool:
    """Whether a picker offers the run (its options are labels that end with the run id)."""
    return any(run_id in str(option) for option in options)


@pytest.mark.parametrize("width", ["30", "80", "100", "250"])
def test_vton_eval_runs_prints_whole_run_ids_at_any_width(seeded, width):
    db, ids = seeded
    listed = subprocess.run([sys.executable, "-m", "vton_eval", "runs", "--db", str(db.path)], capture_output=True,
                            text=True, cwd=REPO, timeout=120, env={**os.environ, "COLUMNS": width})
    assert listed.returncode == 0, listed.stderr
    for run_id in ids:
        assert run_id in listed.stdout
