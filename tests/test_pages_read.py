"""What the pages say to the people who read them: the evidence of a silent failure and a readable cause on
Failures, the baseline beside each workflow and checks explained on Overview, one percentage style, Compare's
latency table for people with the blessed baseline marked."""

from __future__ import annotations

import json
import re

import pytest

from vton_eval.access import local_actor
from vton_eval.checks.meanings import meaning
from vton_eval.gate import bless

from .conftest import make_store
from .helpers.pages import metric, spec, sql, texts
from .helpers.seed import record_sample_run


@pytest.fixture(scope="module")
def shipped(request, tmp_path_factory):
    """model-v1 (blessed, clean), then model-v2 with server errors and silent failures (the person unchanged)."""
    db = make_store("file", tmp_path_factory.mktemp("read"), request)
    base = record_sample_run(db, "model-v1", error_rate=0.1, seed=1)
    bless(db, base, local_actor("ann"))
    worse = record_sample_run(db, "model-v2", error_rate=0.25, noop_rate=0.4, seed=7)
    return db, base, worse


def test_a_silent_failure_shows_its_output_and_why_and_causes_read_as_words(shipped, open_page):
    db, base, worse = shipped
    at = open_page(db, "failures")
    at.selectbox(key="fl_run").set_value(worse).run()
    table = next(f.value for f in at.dataframe if "cause" in f.value.columns)
    # Causes read as words: no folding marks (<n>, <id>...) in the table or the picker.
    assert not any("<" in c for c in table["cause"]), list(table["cause"])
    picker = at.selectbox(key="fl_group")
    for label in picker.options:
        assert "<" not in label, label
        # A long cause is cut at a word, with an ellipsis: never mid-token.
        assert len(label) < 130 and (not label.endswith("…") or label[-2].isalnum() or label[-2] in "%)"), label
    silent = next(i for i, label in enumerate(picker.options) if label.startswith("silent_failure"))
    at.selectbox(key="fl_group").set_value(silent).run()
    assert not at.exception
    shown = int(picker.options[silent].split(" · ")[1])  # the cases of this cause
    outputs = [img for img in at.image if "output (what came back)" in img.captions]
    assert shown and len(outputs) == shown  # the evidence, on every card of the cause
    said = texts(at)
    assert f"noop: {meaning('noop')}" in said
    assert "measured: the output is the person image unchanged" in said


def test_the_failed_checks_are_read_from_the_message_each_with_its_detail():
    from vton_eval.analytics.failures import failed_checks

    message = "placement: the product region changed (3%); 80% of the changed pixels lie outside; blank: flat grey"
    assert failed_checks("blank;placement", message) == [
        {"name": "placement", "detail": "the product region changed (3%); 80% of the changed pixels lie outside",
         "meaning": meaning("placement")},
        {"name": "blank", "detail": "flat grey", "meaning": meaning("blank")}]
    assert failed_checks(None, message) == []
    assert failed_checks("noop", "something else") == [{"name": "noop", "detail": "", "meaning": meaning("noop")}]


def test_readable_causes_cut_at_a_word():
    from vton_eval.analytics.failures import normalize_message, readable_cause

    folded = normalize_message("noop: the output is the person image unchanged: 0.012% of the pixels changed "
                               "(limit 0.50%), 0.00% of the product region (limit 5.0%)")
    assert "<n>" in folded
    short = readable_cause(folded, 90)
    assert short.endswith("…") and len(short) <= 90 and "<" not in short
    assert re.search(r"N%\)?…$|[a-z]…$", short), short
    assert readable_cause(normalize_message("HTTP 503 from https://a.example/x after 12 s")) == \
        "HTTP 503 from URL after N s"


def test_overview_sets_each_workflows_error_rate_beside_the_baseline(shipped, open_page):
    db, v1, v2 = shipped
    at = open_page(db)
    assert at.selectbox(key="ov_run").value == v2
    traces = spec(at, "errors_chart")["data"]
    compared = next(t for t in traces if t.get("meta") == "compared counts")
    before = {w: (e, n) for w, e, n in sql(db, "SELECT workflow, count(*) FILTER (WHERE status = 'error'), "
                                                "count(*) FROM results WHERE run_id = ? GROUP BY 1", [v1])}
    assert dict(zip(compared["x"], compared["text"], strict=True)) == {w: f"{e} of {n}" for w, (e, n) in before.items()}
    assert compared["name"] == "blessed baseline" and compared["offsetgroup"] != "run"
    assert {t["offsetgroup"] for t in traces if t is not compared} == {"run"}  # this run's stack, beside it
    assert "grey bar beside it: the blessed baseline" in texts(at)
    at.selectbox(key="ov_run").set_value(v1).run()  # nothing earlier to compare with: no grey bar
    assert not [t for t in spec(at, "errors_chart")["data"] if t.get("meta") == "compared counts"]


def test_overview_checks_table_counts_what_it_names_and_says_what_each_check_means(shipped, open_page):
    db, _, v2 = shipped  # the person sent back unchanged: silent failures
    at = open_page(db)
    table = next(f for f in at.dataframe if "flag_pct" in f.value.columns)
    config = json.loads(table.proto.columns)
    assert config["flag_pct"]["label"] == "Flagged for a look" and config["silent_failure_pct"]["label"] == (
        "Silent failures")
    silent = dict(sql(db, "SELECT workflow, count(*) FROM results WHERE run_id = ? AND error_kind = 'silent_failure' "
                           "GROUP BY 1", [v2]))
    assert silent, "the seeded run has silent failures"
    for row in table.value.to_dict("records"):
        # A rate of 0 stands beside no check's name; each name's count is within the count beside it.
        for pct, names, outputs in (("flag_pct", "flags", round(row["flag_pct"] * row["outputs"] / 100)),
                                    ("silent_failure_pct", "silent_flags", silent.get(row["workflow"], 0))):
            named = {n.rsplit(" ", 1)[0]: int(n.rsplit(" ", 1)[1]) for n in (row[names] or "").split(", ") if n}
            assert (row[pct] == 0) == (not named), row
            assert all(1 <= c <= outputs for c in named.values()), row
    explained = next(f for f in at.dataframe if "meaning" in f.value.columns).value
    named = {n.rsplit(" ", 1)[0] for r in table.value.to_dict("records") for c in ("flags", "silent_flags")
             for n in (r[c] or "").split(", ") if n}
    assert set(explained["check"]) == named and "change_in_region" in named  # the person sent back: nothing changed
    said = dict(zip(explained["check"], explained["meaning"], strict=True))
    assert said["change_in_region"] == meaning("change_in_region") and "product is probably missing" in said[
        "change_in_region"]
    assert all(said[n] == meaning(n) for n in named)  # every check on the page is explained


def test_overview_states_every_percentage_in_one_style(shipped, open_page):
    db, _, _ = shipped
    at = open_page(db)
    for label in ("Success rate", "Error rate"):
        assert re.fullmatch(r"\d+\.\d%", metric(at, label).value), metric(at, label).value
    table = next(f for f in at.dataframe if "flag_pct" in f.value.columns)
    formats = {c: v.get("type_config", {}).get("format") for c, v in json.loads(table.proto.columns).items()
               if c.endswith("_pct")}
    assert set(formats.values()) == {"%.1f%%"}, formats
    stated = [t.get("hovertemplate", "") + t.get("texttemplate", "") for key in ("errors_chart", "heatmap_chart")
              for t in spec(at, key)["data"]]
    percentages = {m for text in stated for m in re.findall(r"%\{[a-z]:([^}]*%)\}", text)}
    assert percentages == {".1%"}, percentages


def test_compares_latency_table_names_its_columns_for_people_and_pins_the_change(shipped, open_compare):
    import json

    db, base, worse = shipped
    at = open_compare(db)
    # The baseline picker marks the blessed run, whichever is picked.
    picker = at.selectbox(key="cmp_base")
    assert picker.value == base
    marked = [label for label in picker.options if label.startswith("★ blessed baseline")]
    assert len(marked) == 1 and base in marked[0] and not any(worse in label for label in marked)
    table = next(f for f in at.dataframe if "p95_change_ms" in f.value.columns)
    config = json.loads(table.proto.columns)
    labels = [config[c]["label"] for c in table.value.columns]
    assert labels[:3] == ["Workflow", "p95 change", "p50 change"]
    assert not any("_" in label for label in labels), labels  # no raw names (n_baseline, p50_baseline (ms))
    assert [c for c in table.value.columns if config[c].get("pinned")] == ["workflow", "p95_change_ms",
                                                                            "p50_change_ms"]
