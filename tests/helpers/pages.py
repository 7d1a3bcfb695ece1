"""Driving the dashboard headless with AppTest, and reading what it shows.

A page reads its database from VTON_EVAL_DB, set here through the test's `monkeypatch` (undone when
the test ends). Tests get `open_page` / `open_compare` as fixtures (tests/conftest.py) with their
monkeypatch bound, and call them with a database.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from streamlit.testing.v1 import AppTest

from .paths import APP


def location(db: Any) -> str:
    """What `--db` / VTON_EVAL_DB says for a store (a Store, a file path or a store URL)."""
    return db.location if hasattr(db, "location") else str(db)


def open_page(monkeypatch: pytest.MonkeyPatch, db: Any, page: str | None = None) -> AppTest:
    """The app on `db`, on its first page or on `views/<page>.py`, after one run without exceptions."""
    monkeypatch.setenv("VTON_EVAL_DB", location(db))
    at = AppTest.from_file(APP, default_timeout=60)
    at.run()
    if page:
        at.switch_page(f"views/{page}.py")
        at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def open_compare(monkeypatch: pytest.MonkeyPatch, db: Any, state: dict | None = None) -> AppTest:
    """The Compare page on `db` (a Database), with `state` put in the session before it first renders."""
    monkeypatch.setenv("VTON_EVAL_DB", location(db))
    at = AppTest.from_file(APP, default_timeout=60)
    at.run()
    for key, value in (state or {}).items():
        at.session_state[key] = value
    at.switch_page("views/compare.py")
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


_CODE_SPAN = re.compile(r"(`+) ?(.*?) ?\1")


def as_read(markdown: object) -> str:
    """Markdown source as a reader sees the text: escapes (dashboard.text.md) taken off, and a URL or an
    address md() set as code shown as its text."""
    out, last, text = [], 0, str(markdown)
    for match in _CODE_SPAN.finditer(text):
        out.append(re.sub(r"\\(.)", r"\1", text[last:match.start()]))
        out.append(match.group(2))
        last = match.end()
    out.append(re.sub(r"\\(.)", r"\1", text[last:]))
    return "".join(out)


def texts(at: AppTest) -> str:
    """The page's text as a reader sees it (`as_read`)."""
    parts = [e.value for kind in ("info", "warning", "error", "success", "markdown", "caption", "text", "code")
             for e in getattr(at, kind)]
    return "\n".join(as_read(p) for p in parts)


def errors(at: AppTest) -> list[str]:
    """The error boxes as a reader sees them: pages escape engine text for markdown (dashboard.text.md)."""
    return [as_read(e.value) for e in at.error]


def visible_text(at: AppTest) -> str:
    parts = [str(e.value) for kind in ("title", "subheader", "markdown", "caption", "text", "code", "info",
                                       "warning", "error", "success") for e in getattr(at, kind)]
    for kind in ("selectbox", "multiselect", "segmented_control", "text_input", "button", "toggle"):
        for widget in getattr(at, kind):
            parts += [str(widget.label), str(getattr(widget, "options", "")), str(widget.value)]
    parts += [frame.value.to_string() for frame in at.dataframe]
    return as_read("\n".join(parts))  # markdown escapes off: "base\-build" is "base-build"


def metric(at: AppTest, label: str):
    return next(m for m in at.metric if m.label.startswith(label))


def spec(at: AppTest, key: str) -> dict:
    """The plotly figure a chart element carries, as JSON."""
    chart = next(c for c in at.get("plotly_chart") if c.proto.id and key in c.proto.id)
    return json.loads(chart.proto.spec)


def table_with(at: AppTest, column: str):
    """The first st.dataframe on the page with this column (as a DataFrame)."""
    return next(f.value for f in at.dataframe if column in f.value.columns)


def sql(db: Any, query: str, params=()) -> list[tuple]:
    """Rows of a read-only query on `db` (a Database): the numbers a page must show."""
    with db.connect(read_only=True) as con:
        return con.execute(query, list(params)).fetchall()


def blind_view(open_compare, db: Any, run_a: str, run_b: str, name: str = "ana") -> AppTest:
    """The blind view with two runs pinned, its own pickers set to runs A and B, signed in as `name` (typed, then
    Start: no Enter needed). `open_compare` is the test's fixture."""
    at = open_compare(db)
    at.segmented_control(key="cmp_mode").set_value("Blind preference").run()
    at.text_input(key="cmp_reviewer_input").set_value(name)
    at.button(key="FormSubmitter:cmp_reviewer_form-Start judging").click().run()
    assert at.session_state["reviewer"] == name
    at.segmented_control(key="cmp_blind_how").set_value("Two runs I pin").run()
    at.selectbox(key="cmp_blind_a").set_value(run_a).run()
    at.selectbox(key="cmp_blind_b").set_value(run_b).run()
    assert not at.exception, [e.value for e in at.exception]
    return at
