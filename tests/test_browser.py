"""One real browser: Debian's chromium driven by Playwright through the whole dashboard.

Opens the app, launches a run of the sample dataset against the in-process sandbox and watches it
appear and finish in the Runs list without a reload, checks that list fits a 1400 px window, opens
each page, judges a case on the Review page with a keyboard shortcut and with a button, reasons and a note
(finding both in DuckDB), sees Next and a turned page brought into view,
picks a side in the blind preference view (stored as clicked), and saves a screenshot of every page to the
folder it prints.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from vton_eval.store import Database
from vton_eval.store.runs import list_runs

from .helpers.browser import CHROMIUM, SETTLED, SETTLED_WITH_IMAGES, chromium, dashboard_process
from .helpers.paths import REPO
from .helpers.seed import record_sample_run
from .helpers.servers import free_port
from .helpers.wait import wait_until

SHOTS = REPO / "test-output" / "screenshots"

pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian's chromium is not installed (make test "
                                                                    "installs it)")


@pytest.fixture()
def dashboard(tmp_path, sandbox):
    db_path = tmp_path / "results.duckdb"
    with dashboard_process(free_port(), "--db", str(db_path), env={"VTON_EVAL_SANDBOX_URL": sandbox.url}) as url:
        yield url, Database(db_path)


@pytest.fixture()
def page():
    with chromium() as browser:
        # 1400 px wide: the Runs table must fit without sideways scrolling.
        context = browser.new_context(viewport={"width": 1400, "height": 2400})
        tab = context.new_page()
        tab.set_default_timeout(60_000)  # a ceiling, not a wait: clicks under two CPU burners took over 30 s
        yield tab


# Settled: no script run going (the status widget is shown only then), no element left stale from the
# previous run, every image loaded (or failed).


def _shot(tab, name: str) -> Path:
    SHOTS.mkdir(parents=True, exist_ok=True)
    path = SHOTS / f"{name}.png"
    tab.wait_for_function(SETTLED_WITH_IMAGES)
    # Streamlit scrolls inside its own container, so a tall window, not full_page, shows the whole page.
    tab.screenshot(path=str(path))
    return path


def _goto(tab, url: str, title: str) -> None:
    tab.get_by_test_id("stSidebarNav").get_by_text(title, exact=True).click()
    tab.get_by_role("heading", name=title).first.wait_for()


# The top of a container (by its key) near the top of the window: brought into view, not left where it was.
_NEAR_TOP = """key => { const e = document.querySelector('.st-key-' + key);
                        if (!e || e.closest('[data-stale="true"]')) return false;
                        const top = e.getBoundingClientRect().top; return top > -10 && top < 300; }"""


# The element's top is inside the window (Streamlit scrolls its own container, not the page).
_IN_VIEW = """key => { const e = document.querySelector('.st-key-' + key);
                       if (!e || e.closest('[data-stale="true"]')) return false;
                       const top = e.getBoundingClientRect().top; return top >= 0 && top < window.innerHeight; }"""


def test_the_dashboard_in_a_real_browser(dashboard, page, sandbox):
    url, db = dashboard
    shots = []
    page.goto(url)
    page.get_by_text("No results yet").wait_for()
    shots.append(_shot(page, "0-overview-empty"))

    # Launch a run; it is listed at once and updates live, without reloading the page.
    _goto(page, url, "Runs")
    page.get_by_role("tab", name="Launch a run").click()
    page.get_by_text("20 cases:").wait_for()
    page.get_by_label("Label (e.g. the model version)").fill("browser")
    page.get_by_role("button", name="Start run").click()
    run_id = wait_until(lambda: list_runs(db) and list_runs(db)[0]["run_id"], what="the run to be recorded",
                        interval=0.1)
    table = page.get_by_test_id("stDataFrame").first
    row = table.locator("tr").filter(has_text=run_id)  # the grid's accessible twin (it draws on a canvas)
    row.filter(has_text="browser").wait_for(state="attached")  # listed in this page load
    row.filter(has_text="finished").wait_for(state="attached", timeout=120_000)  # the list polls: no reload
    runs = list_runs(db)
    assert runs[0]["status"] == "finished" and runs[0]["done"] == 20 and runs[0]["label"] == "browser"
    width, room = table.evaluate("el => { const s = el.querySelector('.dvn-scroller') || el; "
                                 "return [s.scrollWidth, s.clientWidth]; }")
    assert width <= room, f"the runs table scrolls sideways in a 1400 px window ({width} > {room} px)"
    shots.append(_shot(page, "1-runs"))

    _goto(page, url, "Overview")
    page.get_by_test_id("stMetric").first.wait_for()
    assert page.get_by_test_id("stMetric").count() >= 6
    page.locator(".js-plotly-plot").first.wait_for()
    shots.append(_shot(page, "2-overview"))

    _goto(page, url, "Failures")
    shots.append(_shot(page, "3-failures"))

    # Review: the name is taken without pressing Enter; Details opens where the card is; keys judge.
    _goto(page, url, "Review")
    page.get_by_label("Your name (stored with each verdict and pick)").fill("playwright")
    page.get_by_role("button", name="Start reviewing").click()
    details = page.get_by_role("button", name="Details")
    details.nth(5).wait_for()
    details.nth(5).click()
    opened_box = page.locator(".st-key-review_opened")
    form = opened_box  # the reasons and note beside the verdict buttons
    form.get_by_role("textbox", name="Note").wait_for()
    # The page scrolls once its render has drawn the case, which under load is after the form shows: wait for it.
    page.wait_for_function(_IN_VIEW, arg="review_next")  # the opened case is in sight
    opened = page.get_by_role("heading").filter(has_text=" · repeat 1").first.inner_text()
    pair = opened.split(" · ")[0].strip()
    page.keyboard.press("u")  # Unsure, by its shortcut
    wait_until(lambda: _rows(db, "SELECT pair_id, verdict FROM reviews") == [(pair, "unsure")],
               what="the verdict from the keyboard", interval=0.1)
    # The verdict is stored before the app's rerun ends: a list opened during that rerun is redrawn closed and
    # the reason picked in it lost (seen under load), so pick once the page has settled, and see it picked.
    page.wait_for_function(SETTLED)
    # One way to judge: the buttons; the reasons and note beside them go with the verdict.
    assert form.get_by_role("button", name="Save verdict").count() == 0
    form.get_by_test_id("stMultiSelect").click()
    page.get_by_role("option", name="artifacts").click()
    page.keyboard.press("Escape")
    page.wait_for_function(SETTLED)
    form.get_by_test_id("stMultiSelect").get_by_text("artifacts").wait_for()
    # Typing in the note does not fire the P / F / U / N shortcuts.
    form.get_by_role("textbox", name="Note").fill("fun, plus a nap")
    opened_box.locator(".st-key-review_fail button").click()
    wait_until(lambda: _rows(db, "SELECT reviewer, verdict, reasons, note FROM reviews") == [
        ("playwright", "fail", "artifacts", "fun, plus a nap")], what="the verdict with its words", interval=0.1)
    shots.append(_shot(page, "4-review"))
    # Next: the case it opens is brought to the top of the view, not left below the fold.
    opened_box.locator(".st-key-review_next button").click()
    page.get_by_role("heading").filter(has_text=" · repeat 1").filter(has_not_text=pair).first.wait_for()
    page.wait_for_function(_NEAR_TOP, arg="review_opened")
    # A page turned from the pager under the cards shows from its first card; a pager is above them too.
    page.locator(".st-key-review_close button").click()
    page.locator(".st-key-review_opened").wait_for(state="detached")
    page.wait_for_function(SETTLED_WITH_IMAGES)  # a rerun under an open list closes it
    size = page.locator(".st-key-rv_page_size input")
    size.click()
    size.fill("12")
    page.keyboard.press("Enter")
    bottom = page.locator(".st-key-rv_pager_bottom")
    bottom.get_by_text("2", exact=True).click()
    page.wait_for_function(_NEAR_TOP, arg="rv_grid")
    page.locator(".st-key-rv_pager_top").get_by_text("1", exact=True).wait_for()

    # A second run of the same dataset, from a worse build of the service, to compare with the first: data for
    # the Compare page, written as such a run writes it (tests/helpers/seed.py).
    record_sample_run(db, "worse", error_rate=0.3, noop_rate=0.3, seed=4, endpoint=sandbox.url)
    _goto(page, url, "Compare")
    page.get_by_text("ok → error").first.wait_for()
    page.get_by_test_id("stImage").nth(7).wait_for()  # inputs and both runs' outputs, side by side
    shots.append(_shot(page, "5-compare"))

    # Blind preference: the pick stored is the button clicked.
    page.get_by_text("Blind preference", exact=True).click()
    page.get_by_role("button", name="Right is better").click()
    wait_until(lambda: _rows(db, "SELECT reviewer, choice FROM preferences") == [("playwright", "right")],
               what="the blind pick", interval=0.1)
    page.get_by_text("You picked").wait_for()
    shots.append(_shot(page, "6-blind"))
    print(f"\nscreenshots in {SHOTS}: " + ", ".join(p.name for p in shots))
    assert all(p.stat().st_size > 10_000 for p in shots)

    # A page opened by its own URL (a reload, a shared link) is still inside the app's navigation: its
    # groups, not a list of file names (Streamlit serves a folder named pages/ that way).
    page.goto(f"{url}/runs")
    nav = page.get_by_test_id("stSidebarNav")
    nav.get_by_text("Work", exact=True).wait_for()
    assert "app" not in nav.inner_text().split("\n")
    page.get_by_role("heading", name="Runs").wait_for()


def _rows(db, sql: str) -> list[tuple]:
    with db.connect(read_only=True) as con:
        return con.execute(sql).fetchall()
