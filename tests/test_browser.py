"""One real browser: Debian's chromium driven by Playwright through the whole dashboard.

Opens the app, launches a run of the sample dataset against the in-process sandbox, watches it
finish, opens each page, records a fail verdict with a reason on the Review page (and finds it in
DuckDB), and saves a screenshot of every page to the folder it prints.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from vton_eval.runner import RunSettings, create_run, execute_run
from vton_eval.store import Database
from vton_eval.store.runs import list_runs

from .conftest import REPO, SAMPLE

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
SHOTS = REPO / "test-output" / "screenshots"

pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian's chromium is not installed (make test "
                                                                    "installs it)")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture()
def dashboard(tmp_path, sandbox):
    db_path = tmp_path / "results.duckdb"
    port = _free_port()
    env = {**os.environ, "VTON_EVAL_SANDBOX_URL": sandbox.url}
    proc = subprocess.Popen([sys.executable, "-m", "vton_eval", "dashboard", "--db", str(db_path), "--port", str(port)],
                            cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 60
    while True:
        try:
            if httpx.get(f"{url}/_stcore/health", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        assert proc.poll() is None and time.time() < deadline, "the dashboard did not start"
        time.sleep(0.3)
    yield url, Database(db_path)
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()


@pytest.fixture()
def page():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=CHROMIUM, headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage"])
        context = browser.new_context(viewport={"width": 1440, "height": 2400})
        tab = context.new_page()
        tab.set_default_timeout(30_000)
        yield tab
        browser.close()


def _shot(tab, name: str) -> Path:
    SHOTS.mkdir(parents=True, exist_ok=True)
    path = SHOTS / f"{name}.png"
    tab.wait_for_timeout(1200)  # let charts and images settle
    # Streamlit scrolls inside its own container, so a tall window, not full_page, shows the whole page.
    tab.screenshot(path=str(path))
    return path


def _goto(tab, url: str, title: str) -> None:
    tab.get_by_test_id("stSidebarNav").get_by_text(title, exact=True).click()
    tab.get_by_role("heading", name=title).first.wait_for()


def test_the_dashboard_in_a_real_browser(dashboard, page, sandbox):
    url, db = dashboard
    shots = []
    page.goto(url)
    page.get_by_text("No results yet").wait_for()
    shots.append(_shot(page, "0-overview-empty"))

    _goto(page, url, "Runs")
    page.get_by_role("tab", name="Launch a run").click()
    page.get_by_text("20 case(s)").wait_for()
    page.get_by_label("Label (e.g. the model version)").fill("browser")
    page.get_by_label("Label (e.g. the model version)").press("Enter")
    page.get_by_role("button", name="Start run").click()
    page.get_by_text("started in its own process").wait_for()
    deadline = time.time() + 120
    while not (runs := list_runs(db)) or runs[0]["status"] == "running":
        assert time.time() < deadline, "the run did not finish"
        time.sleep(0.5)
    assert runs[0]["status"] == "finished" and runs[0]["done"] == 20 and runs[0]["label"] == "browser"
    page.reload()
    page.get_by_role("tab", name="Runs").first.wait_for()
    shots.append(_shot(page, "1-runs"))

    _goto(page, url, "Overview")
    page.get_by_test_id("stMetric").first.wait_for()
    assert page.get_by_test_id("stMetric").count() >= 6
    page.locator(".js-plotly-plot").first.wait_for()
    shots.append(_shot(page, "2-overview"))

    _goto(page, url, "Failures")
    shots.append(_shot(page, "3-failures"))

    _goto(page, url, "Review")
    page.get_by_label("Your name").fill("playwright")
    page.get_by_label("Your name").press("Enter")
    page.get_by_role("button", name="Start reviewing").click()
    page.get_by_role("button", name="Details").first.click()
    form = page.get_by_test_id("stForm")
    form.get_by_text("fail", exact=True).click()
    form.get_by_test_id("stMultiSelect").click()
    page.get_by_role("option", name="artifacts").click()
    page.keyboard.press("Escape")
    form.get_by_role("button", name="Save verdict").click()
    page.get_by_text("Saved:").wait_for()
    shots.append(_shot(page, "4-review"))
    with db.connect(read_only=True) as con:
        rows = con.execute("SELECT reviewer, verdict, reasons FROM reviews").fetchall()
    assert rows == [("playwright", "fail", "artifacts")]

    # A second run of the same dataset, from a worse build of the service, to compare with the first.
    sandbox.config.error_rate, sandbox.config.seed = 0.3, 4
    try:
        second = create_run(db, RunSettings(dataset=str(SAMPLE), endpoint=sandbox.url, label="worse", retries=0))
        assert execute_run(db, second).status == "finished"
    finally:
        sandbox.config.error_rate = 0.0
    _goto(page, url, "Compare")
    page.get_by_text("ok → error").first.wait_for()
    assert page.get_by_test_id("stImage").count() >= 8  # inputs and both runs' outputs, side by side
    shots.append(_shot(page, "5-compare"))
    print(f"\nscreenshots in {SHOTS}: " + ", ".join(p.name for p in shots))
    assert all(p.stat().st_size > 10_000 for p in shots)
