"""The dashboard pages, run headless with AppTest against real databases seeded through the engine."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest
from PIL import Image
from streamlit.testing.v1 import AppTest

from vton_eval.runner import RunSettings, create_run, execute_run
from vton_eval.store import Database
from vton_eval.store.runs import get_run, list_runs

from .conftest import REPO, SAMPLE

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


def test_overview_headline_matches_the_database_and_compares_with_the_previous_run(seeded):
    db, (v1, v2) = seeded
    at = open_page(db.path)
    assert at.selectbox(key="ov_run").value == v2  # the latest finished run by default
    metrics = {m.label: m for m in at.metric}
    cases, errors = _sql(db, "SELECT count(*), count(*) FILTER (WHERE status = 'error') FROM results "
                             "WHERE run_id = ?", [v2])[0]
    assert metrics["Cases"].value == str(cases)
    assert metrics["Error rate"].value == f"{errors / cases * 100:.1f}%"
    assert metrics["Error rate"].delta == f"{errors / cases * 100:+.1f} pts"  # v1 had no error
    assert v1 in texts(at)  # "change against the previous comparable run v1"
    assert at.download_button[0].label.startswith("Download")
    at.selectbox(key="ov_run").set_value(v1).run()
    assert {m.label: m.value for m in at.metric}["Error rate"] == "0.0%"
    assert "No earlier run" in texts(at)



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
    deadline = time.time() + 60
    while get_run(db, run_id)["status"] == "running":
        assert time.time() < deadline
        time.sleep(0.2)
    run = get_run(db, run_id)
    assert run["status"] == "finished" and run["done"] == 2 and run["label"] == "from the page"
    assert run["pid"] != __import__("os").getpid()  # it ran in its own process

    sandbox.config.latency = 2.0
    try:
        at.radio(key="launch_mode").set_value("All pairs").run()
        at.button(key="launch_start").click().run()
        slow = at.session_state["launched_run"]
        deadline = time.time() + 30
        while get_run(db, slow)["done"] < 1:
            assert time.time() < deadline
            time.sleep(0.2)
        at = open_page(db.path, "runs")
        at.selectbox(key="runs_action_run").set_value(slow).run()
        at.button(key="cancel_run").click().run()
        while get_run(db, slow)["status"] == "running":
            assert time.time() < deadline + 30
            time.sleep(0.2)
        assert get_run(db, slow)["status"] == "cancelled"
        sandbox.config.latency = 0.0
        at = open_page(db.path, "runs")
        at.selectbox(key="runs_action_run").set_value(slow).run()
        at.button(key="resume_run").click().run()
        deadline = time.time() + 90
        while get_run(db, slow)["status"] != "finished":
            assert time.time() < deadline
            time.sleep(0.3)
        assert get_run(db, slow)["done"] == 20
    finally:
        sandbox.config.latency = 0.0


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
