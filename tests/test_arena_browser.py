"""The blind view in a real browser (Debian's chromium through Playwright) choosing among four runs: each click
stores one pick, the comparisons walk every pair of runs before repeating one, no case is shown twice to the
same reviewer for the same two runs, and no run is named before the pick."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from vton_eval.store import Database

from .helpers.browser import CHROMIUM, SETTLED_WITH_IMAGES, chromium, dashboard_process
from .helpers.paths import REPO
from .helpers.seed import record_sample_run
from .helpers.servers import free_port
from .helpers.wait import wait_until

pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian's chromium is not installed (make test "
                                                                    "installs it)")

SHOTS = REPO / "test-output" / "screenshots"


def _rows(db, query: str) -> list[tuple]:
    with db.connect(read_only=True) as con:
        return con.execute(query).fetchall()


def test_the_blind_view_chooses_among_four_runs(tmp_path):
    db = Database(tmp_path / "results.duckdb")
    # Four builds of one service: different cases come back as the person unchanged, so every two differ somewhere.
    runs = [record_sample_run(db, f"build-{i}", noop_rate=0.5, seed=40 + i) for i in range(4)]
    with dashboard_process(free_port(), "--db", str(db.path)) as url, chromium() as browser:
        page = browser.new_context(viewport={"width": 1400, "height": 2000}).new_page()
        page.set_default_timeout(90_000)  # a loaded 2-core machine: the first render imports the whole stack
        page.goto(f"{url}/compare")
        page.get_by_text("Blind preference", exact=True).click()
        page.get_by_label("Your name (stored with each verdict and pick)").fill("pia")
        page.get_by_role("button", name="Start judging").click()
        page.get_by_text("Why this comparison").wait_for()
        for clicks in range(1, 8):
            page.wait_for_function(SETTLED_WITH_IMAGES)
            shown = page.get_by_test_id("stMarkdown").filter(has_text=" · repeat ").first.inner_text()
            assert not any(run in shown for run in runs), "a run is named before the pick"
            page.get_by_role("button", name="Left is better").click()
            wait_until(lambda n=clicks: len(_rows(db, "SELECT 1 FROM preferences")) == n,
                       what=f"pick {clicks} to be stored", interval=0.1)
            page.get_by_text("You picked").wait_for()
        # The Leaderboard draws the four runs with their intervals (error bars on the plotly figure).
        page.get_by_test_id("stSidebarNav").get_by_text("Leaderboard", exact=True).click()
        page.get_by_role("heading", name="Leaderboard").wait_for()
        page.locator(".js-plotly-plot .errorbar").first.wait_for(state="attached")
        assert page.locator(".js-plotly-plot .errorbar").count() == 4
        page.wait_for_function(SETTLED_WITH_IMAGES)
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SHOTS / "7-leaderboard.png"))
        picks = _rows(db, 'SELECT run_a, run_b, pair_id, "repeat", reviewer, choice FROM preferences '
                          "ORDER BY created_at")
    assert len(picks) == 7 and {p[4] for p in picks} == {"pia"} and {p[5] for p in picks} == {"left"}
    # Never the same case of the same two runs twice (a replaced pick would leave fewer rows than clicks).
    assert len({p[:4] for p in picks}) == 7
    # A pair nobody has compared comes before any second look at a pair: the first six are the six pairs.
    pairs = [tuple(sorted(p[:2])) for p in picks]
    assert set(pairs[:6]) == set(itertools.combinations(sorted(runs), 2)), pairs
