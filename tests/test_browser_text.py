"""Text that reads right, in a real browser: URLs and other values from services and datasets are shown as the
text they are (no backslashes left by escaping, no links made of them) where they used to break: the Runs page's
baseline line, Overview's box of a failed run, Compare's column titles and the launch form's errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from vton_eval.access import local_actor
from vton_eval.gate import bless
from vton_eval.store import Database
from vton_eval.store.runs import update_run

from .helpers.browser import CHROMIUM, SETTLED, chromium, dashboard_process
from .helpers.seed import record_sample_run
from .helpers.servers import free_port

pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian's chromium is not installed (make test "
                                                                    "installs it)")
URL = "http://127.0.0.1:7911"
DEAD = "http://127.0.0.1:9"
MESSAGE = f"cannot connect to {URL}: [Errno 111] Connection refused (see https://status.example/x_y?a=1)"



def _main_text(tab) -> str:
    tab.wait_for_function(SETTLED)
    return tab.get_by_test_id("stMain").inner_text()


def _links(tab) -> list[str]:
    """The links on the page's main area that lead off the page (headings' own anchors aside)."""
    hrefs = [a.get_attribute("href") or "" for a in tab.get_by_test_id("stMain").locator("a").all()]
    return [h for h in hrefs if not h.startswith("#")]


def _pick(tab, label: str, text: str) -> None:
    """Choose the option containing `text` in the selectbox labelled `label`."""
    # Not while the app reruns: a rerun redraws the selectbox and closes a list opened just before it (under load
    # the option then never showed and the click waited out its 60 s).
    tab.wait_for_function(SETTLED)
    tab.get_by_test_id("stSelectbox").filter(has_text=label).first.click()
    tab.get_by_role("option").filter(has_text=text).first.click()
    tab.wait_for_function(SETTLED)


def _goto(tab, title: str) -> None:
    tab.get_by_test_id("stSidebarNav").get_by_text(title, exact=True).click()
    tab.get_by_role("heading", name=title).first.wait_for()


def _reads_right(text: str, where: str) -> None:
    assert "\\" not in text, f"{where}: backslashes shown: {text!r}"


def test_urls_and_service_text_read_as_they_are_in_the_browser(tmp_path):
    db = Database(tmp_path / "results.duckdb")
    base = record_sample_run(db, "model-v1", endpoint=URL, seed=1)
    record_sample_run(db, "model-v2", endpoint=URL, error_rate=0.3, seed=2)
    failed = record_sample_run(db, "broken", endpoint=URL, recorded=4, status="failed", seed=3)
    db.write(lambda w: update_run(w, failed, message=MESSAGE))
    bless(db, base, local_actor("ann"))
    with dashboard_process(free_port(), "--db", str(db.path)) as url, chromium() as browser:
        tab = browser.new_context(viewport={"width": 1400, "height": 2000}).new_page()
        tab.set_default_timeout(60_000)
        tab.goto(url)
        tab.get_by_test_id("stMetric").first.wait_for()

        # Overview, the failed run: its box says the message as it is.
        _pick(tab, "Run", failed)
        tab.get_by_text("failed", exact=False).first.wait_for()
        box = tab.get_by_test_id("stAlertContentError").first.inner_text()
        assert MESSAGE in box, box
        _reads_right(box, "Overview's failed-run box")
        assert not [h for h in _links(tab) if "127.0.0.1" in h or "status.example" in h], _links(tab)

        # Runs: the baseline line of the blessed run.
        _goto(tab, "Runs")
        _pick(tab, "Run", base)
        tab.get_by_text("The baseline for").wait_for()
        line = tab.get_by_text("The baseline for").inner_text()
        assert line == f"The baseline for sample at {URL}", line
        assert not _links(tab)

        # Compare: each column is titled by its system, URL and all.
        _goto(tab, "Compare")
        tab.get_by_text("baseline: sm4ll @").first.wait_for()
        titles = _main_text(tab)
        assert f"baseline: sm4ll @ {URL} · model-v1 · {base}" in titles
        assert f"run 2: sm4ll @ {URL}" in titles
        _reads_right(titles, "Compare")
        assert not [h for h in _links(tab) if "127.0.0.1" in h], _links(tab)

        # The launch form: an endpoint that does not answer, inspected; its error names it as it is.
        _goto(tab, "Runs")
        tab.get_by_role("tab", name="Launch a run").click()
        _pick(tab, "Endpoint", "Other URL or Space")
        tab.get_by_label("URL or Space id").fill(DEAD)
        tab.get_by_label("URL or Space id").press("Enter")
        tab.get_by_role("button", name="Inspect endpoint").click()
        error = tab.get_by_test_id("stAlertContentError").filter(has_text="cannot connect").first
        error.wait_for()
        assert error.inner_text().startswith(f"cannot connect to {DEAD}:"), error.inner_text()
        _reads_right(error.inner_text(), "the launch form's error")
        assert not [h for h in _links(tab) if "127.0.0.1" in h], _links(tab)
