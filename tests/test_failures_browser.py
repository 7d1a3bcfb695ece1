"""The Failures table fits the page in a real browser: every column, first and last seen included, is in view
without sideways scrolling in the window widths reviewers use (the grid draws on a canvas, so only a browser can
tell)."""

from __future__ import annotations

from pathlib import Path

import pytest

from vton_eval.store import Database

from .helpers.browser import CHROMIUM, SETTLED, chromium, dashboard_process
from .helpers.seed import record_sample_run
from .helpers.servers import free_port

pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian's chromium is not installed (make test "
                                                                    "installs it)")

_WIDTHS = """el => { const s = el.querySelector('.dvn-scroller') || el; return [s.scrollWidth, s.clientWidth]; }"""


def test_the_failures_table_fits_the_page_with_first_and_last_seen(tmp_path):
    db = Database(tmp_path / "results.duckdb")
    # Server errors and unchanged persons: both kinds of cause, so the table has rows of each.
    record_sample_run(db, "worse", error_rate=0.4, noop_rate=0.3, seed=5)
    with dashboard_process(free_port(), "--db", str(db.path)) as url, chromium() as browser:
        for width in (1400, 1280):
            tab = browser.new_context(viewport={"width": width, "height": 1600}).new_page()
            tab.set_default_timeout(60_000)
            tab.goto(url.rstrip("/") + "/failures")
            tab.get_by_role("heading", name="Failures").first.wait_for()
            table = tab.get_by_test_id("stDataFrame").first
            table.locator("tr").filter(has_text="server_error").first.wait_for(state="attached")
            tab.wait_for_function(SETTLED)
            headers = table.locator("th").all_inner_texts()
            assert "first seen" in headers and "last seen" in headers, headers
            scroll, room = table.evaluate(_WIDTHS)
            assert scroll <= room, f"the Failures table scrolls sideways in a {width} px window ({scroll} > {room} px)"
            tab.context.close()
