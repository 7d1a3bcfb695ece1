"""The Runs page (its list, the launch form, tries) and `vton-eval runs`, headless with AppTest against real
databases and a sandbox (the session's, or the test's own where it holds calls); the launched runs are real
`vton-eval` processes."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from PIL import Image
from streamlit.testing.v1 import AppTest

from vton_eval.store import Database
from vton_eval.store.runs import get_run, list_runs

from .helpers.pages import errors, texts
from .helpers.pages import spec as _spec
from .helpers.paths import REPO, SAMPLE
from .helpers.seed import record_sample_run
from .helpers.wait import wait_until


def test_runs_page_lists_runs_and_refuses_bad_settings(seeded, sandbox, open_page):
    db, (v1, v2) = seeded
    at = open_page(db, "runs")
    frame = at.dataframe[0].value
    assert set(frame["run"]) == {v1, v2} and set(frame["label"]) == {"v1", "v2"}
    at.number_input(key="launch_concurrency").set_value(0).run()
    assert any("concurrency must be at least 1" in e for e in errors(at))
    assert at.button(key="launch_start").disabled
    at.number_input(key="launch_concurrency").set_value(2)
    at.selectbox(key="launch_endpoint").set_value("Other URL or Space…").run()
    at.text_input(key="launch_endpoint_text").set_value("not a url").run()
    assert any("neither an http(s) URL" in e for e in errors(at))
    at.text_input(key="launch_endpoint_text").set_value(sandbox.url)
    at.radio(key="launch_mode").set_value("Pick pairs by hand").run()
    assert any("No pair is selected" in e for e in errors(at))
    at.radio(key="launch_mode").set_value("Filter by workflow and tags").run()
    at.multiselect(key="launch_wf").set_value(["eyewear"]).run()
    at.text_input(key="launch_rate_False").set_value("30/h").run()
    said = next(i.value for i in at.info if i.value.startswith("5 cases:"))
    assert "not known yet" in said and "at least" not in said, said  # no run of this endpoint: no made-up number


def test_launch_a_run_from_the_page_then_cancel_and_resume(seeded, live_sandbox, tmp_path, open_page):
    db = Database(tmp_path / "launch.duckdb")
    at = open_page(db, "runs")
    at.selectbox(key="launch_endpoint").set_value("Other URL or Space…").run()
    at.text_input(key="launch_endpoint_text").set_value(live_sandbox.url).run()
    at.radio(key="launch_mode").set_value("Pick pairs by hand").run()
    at.checkbox(key="launch_pick_top-01").check()
    at.checkbox(key="launch_pick_dress-02").check().run()
    at.text_input(key="launch_label").set_value("from the page").run()
    # Checks are on unless unchecked; off here, as this is about the run's process and calls (a checked run's
    # check process alone kept it past a minute under load).
    assert at.checkbox(key="launch_checks").value is True
    at.checkbox(key="launch_checks").uncheck()
    at.button(key="launch_start").click().run()
    assert not at.error, [e.value for e in at.error]
    run_id = at.session_state["launched_run"]
    # The same page run that started it lists it (no reload), on the Runs tab, and polls while it goes.
    assert at.session_state["runs_tab"] == "Runs"
    listed = runs_table(at)
    assert listed.loc[run_id, "label"] == "from the page" and listed.loc[run_id, "recorded"].endswith("of 2")
    if listed.loc[run_id, "status"] == "running":
        assert any("Updating every" in c.value for c in at.caption)
    run = wait_until(lambda: (r := get_run(db, run_id))["status"] != "running" and r, what="the launched run to end",
                     interval=0.1)
    assert run["status"] == "finished" and run["done"] == 2 and run["label"] == "from the page"
    assert json.loads(run["settings"])["checks"] is False and run["checks_config"] is None
    assert run["pid"] != os.getpid()  # it ran in its own process
    at.run()
    assert runs_table(at).loc[run_id, ["status", "recorded"]].tolist() == ["finished", "2 of 2"]

    live_sandbox.hold_after(1)  # one answer, then every call waits: the run is still going when it is cancelled
    try:
        at.radio(key="launch_mode").set_value("All pairs").run()
        at.button(key="launch_start").click().run()
        slow = at.session_state["launched_run"]
        assert json.loads(get_run(db, slow)["settings"])["checks"] is False  # as the box says
        assert runs_table(at).loc[slow, "status"] == "running"
        wait_until(lambda: get_run(db, slow)["done"] >= 1, what="a first result", interval=0.1)
        action_on(open_page, db, slow, "cancel_run").click().run()
        wait_until(lambda: get_run(db, slow)["status"] != "running", what="the cancel", interval=0.1)
        assert get_run(db, slow)["status"] == "cancelled"
        live_sandbox.hold_after(None)
        # The list is cached for a second: a page opened meanwhile may still offer Cancel.
        wait_until(lambda: action_on(open_page, db, slow, "resume_run"), what="the Resume button",
                   interval=0.1).click().run()
        wait_until(lambda: get_run(db, slow)["status"] == "finished", timeout=90, what="the resumed run",
                   interval=0.1)
        assert get_run(db, slow)["done"] == 20
    finally:
        live_sandbox.hold_after(None)


def action_on(open_page, db: Database, run_id: str, button: str):
    """The Runs page's action button for a run, on a freshly opened page (None when not offered)."""
    at = open_page(db, "runs")
    at.selectbox(key="runs_action_run").set_value(run_id).run()
    found = [b for b in at.button if b.key == button]
    return found[0] if found else None


def runs_table(at: AppTest):
    """The Runs table as a frame indexed by run id."""
    return next(f.value for f in at.dataframe if "recorded" in f.value.columns).set_index("run")


def test_the_runs_table_shows_progress_once_and_fits_a_1400_px_window(seeded, open_page):
    db, (v1, _) = seeded
    at = open_page(db, "runs")
    table = next(f for f in at.dataframe if "recorded" in f.value.columns)
    config = json.loads(table.proto.columns)
    shown = [c for c in table.value.columns if c in config]
    assert len(shown) == len(table.value.columns)
    assert not any(c["type_config"]["type"] == "progress" for c in config.values() if "type_config" in c)
    assert table.value.set_index("run").loc[v1, "recorded"] == "20 of 20"
    # Column widths in px: the main area beside the sidebar in a 1400 px window is about 940 px wide
    # (the browser test measures the real table).
    assert sum(c["width"] for c in config.values() if isinstance(c.get("width"), int)) <= 920


def test_try_one_pair_from_the_dataset_and_from_uploads(sandbox, tmp_path, open_page):
    db = Database(tmp_path / "try.duckdb")
    at = open_page(db, "runs")
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
    assert any("person image" in e and "cannot be used" in e and "GIF" in e for e in errors(at))
    at.file_uploader(key="try_up_base").set_value(
        ("person.jpg", (SAMPLE / "persons" / "astronaut.jpg").read_bytes(), "image/jpeg")).run()
    at.selectbox(key="try_up_workflow").set_value("eyewear").run()
    at.button(key="try_go").click().run()
    assert any("ok in" in s.value for s in at.success), texts(at)
    assert len(list_runs(db)) == 2


def test_a_try_is_a_try_listed_apart_and_never_the_default_the_trend_or_latest(sandbox, tmp_path, open_page):
    db = Database(tmp_path / "tries.duckdb")
    # The two suite runs are data to pick from (tests/helpers/seed.py); the try is a real call from the page.
    suites = [record_sample_run(db, label, endpoint=sandbox.url) for label in ("suite-1", "suite-2")]
    at = open_page(db, "runs")
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
    ov = open_page(db)
    assert ov.selectbox(key="ov_run").value == suites[1]
    assert not mentions(ov.selectbox(key="ov_run").options, tried["run_id"])
    assert suites[0] in texts(ov)  # compared with suite-1, not with the try
    trend = _spec(ov, "trend_chart")
    assert {i for t in trend["data"] for i, *_ in t["customdata"]} == set(suites)
    fl = open_page(db, "failures")
    assert mentions(fl.selectbox(key="fl_run").options, suites[0])
    assert not mentions(fl.selectbox(key="fl_run").options, tried["run_id"])
    rv = open_page(db, "review")
    rv.session_state["reviewer"] = "tester"
    rv.run()
    assert rv.selectbox(key="rv_run").value == suites[1]
    assert not mentions(rv.selectbox(key="rv_run").options, tried["run_id"])
    cmp = open_page(db, "compare")
    assert cmp.selectbox(key="cmp_base").value == suites[0]
    assert not mentions(cmp.selectbox(key="cmp_base").options, tried["run_id"])
    others = cmp.multiselect(key=f"cmp_others_{suites[0]}").options
    assert mentions(others, suites[1]) and not mentions(others, tried["run_id"])
    # `latest` in the gate and in bless: the latest finished suite run, not the newer try.
    cli = subprocess.run([sys.executable, "-m", "vton_eval", "bless", "latest", "--db", db.location],
                         capture_output=True, text=True, cwd=REPO, timeout=120)
    assert cli.returncode == 0 and suites[1] in cli.stdout, cli.stderr
    listed = subprocess.run([sys.executable, "-m", "vton_eval", "runs", "--kind", "try", "--db", db.location],
                            capture_output=True, text=True, cwd=REPO, timeout=120)
    assert tried["run_id"] in listed.stdout and suites[0] not in listed.stdout


def mentions(options: list[str], run_id: str) -> bool:
    """Whether a picker offers the run (its options are labels that end with the run id)."""
    return any(run_id in str(option) for option in options)


@pytest.mark.parametrize("width", ["30", "80", "100", "250"])
def test_vton_eval_runs_prints_whole_run_ids_at_any_width(seeded, width):
    db, ids = seeded
    listed = subprocess.run([sys.executable, "-m", "vton_eval", "runs", "--db", db.location], capture_output=True,
                            text=True, cwd=REPO, timeout=120, env={**os.environ, "COLUMNS": width})
    assert listed.returncode == 0, listed.stderr
    for run_id in ids:
        assert run_id in listed.stdout
