"""Release gates: bless, compare two runs with honest intervals, JUnit and Markdown reports, CLI exit codes.

Runs are seeded through the store's own writers into real DuckDB files, with real image files for
the outputs the Markdown report shows.
"""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys

import numpy as np
import pytest
from click.testing import CliRunner
from lxml import etree
from PIL import Image

from vton_eval.access import local_actor
from vton_eval.cli import main
from vton_eval.gate import (
    CANNOT_JUDGE,
    OVERALL,
    PASS,
    REGRESSION,
    BlessError,
    GateThresholds,
    bless,
    blessed_run,
    gate,
    list_baselines,
    write_junit,
    write_markdown,
)
from vton_eval.gate.text import md_escape
from vton_eval.stats import bootstrap_quantile_ratio, bootstrap_quantiles, newcombe_difference, wilson

from .helpers.paths import REPO
from .helpers.suites import ENDPOINT, T0, seed_run, suite
from .helpers.suites import png as _png


def _crit(result, workflow: str, name: str):
    return next(w for w in result.workflows if w.workflow == workflow).criterion(name)


# --- statistics -----------------------------------------------------------------------------------

def test_newcombe_matches_the_published_examples():
    # Newcombe (1998), Table II, method 10: the interval for the difference of two proportions.
    expected = {(56, 70, 48, 80): (0.0524, 0.3339), (9, 10, 3, 10): (0.1705, 0.8090), (6, 7, 2, 7): (0.0582, 0.8062),
                (5, 56, 0, 29): (-0.0381, 0.1926), (0, 10, 0, 20): (-0.1611, 0.2775), (10, 10, 0, 20): (0.6791, 1.0)}
    for counts, (lo, hi) in expected.items():
        _, got_lo, got_hi = newcombe_difference(*counts)
        assert (round(got_lo, 4), round(got_hi, 4)) == (lo, hi), counts
    assert tuple(round(x, 4) for x in wilson(81, 263)) == (0.2553, 0.3662)
    assert wilson(0, 20)[0] == 0.0 and wilson(20, 20)[1] == 1.0


def test_bootstrap_is_deterministic_and_separates_shift_from_noise():
    rng = np.random.default_rng(7)
    base, same, slow = rng.gamma(9, 110, 40), rng.gamma(9, 110, 40), rng.gamma(9, 110, 40) * 1.8
    assert bootstrap_quantile_ratio(slow, base) == bootstrap_quantile_ratio(slow[::-1], base)  # order-free
    _, lo, _ = bootstrap_quantile_ratio(slow, base)
    assert lo > 1.2
    _, lo, hi = bootstrap_quantile_ratio(same, base)
    assert lo < 1.2 and hi > 1.0 > lo


def test_order_statistic_bootstrap_matches_resampling():
    # The shortcut draws a resample's p95 without building it; it must agree with brute force.
    x = np.random.default_rng(5).gamma(3, 100, 23)
    exact = bootstrap_quantiles(x, 0.95, 50_000, np.random.default_rng(1))
    naive = np.quantile(x[np.random.default_rng(2).integers(0, 23, size=(50_000, 23))], 0.95, axis=1)
    assert exact.mean() == pytest.approx(naive.mean(), rel=0.01)
    for p in (0.025, 0.25, 0.5, 0.975):
        assert np.quantile(exact, p) == pytest.approx(np.quantile(naive, p), rel=0.03), p


# --- bless ----------------------------------------------------------------------------------------

def test_bless_refuses_unfinished_and_empty_runs_and_resolves_the_blessing(db):
    seed_run(db, "run-a", suite(3), status="interrupted")
    seed_run(db, "run-b", [], status="finished")
    seed_run(db, "run-c", suite(3))
    seed_run(db, "run-d", suite(3), endpoint="sm4ll-VTON/sm4ll-VTON-Demo", created=T0 + dt.timedelta(hours=1))
    with pytest.raises(BlessError, match="interrupted, not finished"):
        bless(db, "run-a", local_actor(via="cli"))
    with pytest.raises(BlessError, match="no results"):
        bless(db, "run-b", local_actor(via="cli"))
    with pytest.raises(BlessError, match="no run matches"):
        bless(db, "nope", local_actor(via="cli"))
    assert blessed_run(db, "sample", ENDPOINT) is None
    assert bless(db, "run-c", local_actor(via="cli"))["previous_run_id"] is None
    assert blessed_run(db, "sample", ENDPOINT) == "run-c"
    # No blessing for a new endpoint: the latest blessing of the dataset serves.
    assert blessed_run(db, "sample", "https://new.example") == "run-c"
    assert bless(db, "latest", local_actor(via="cli"))["run_id"] == "run-d"
    assert blessed_run(db, "sample", "https://new.example") == "run-d"
    assert blessed_run(db, "sample", ENDPOINT) == "run-c"
    assert blessed_run(db, "other", ENDPOINT) is None
    rows = list_baselines(db)
    assert [r["run_id"] for r in rows] == ["run-d", "run-c"] and rows[0]["results"] == 6


# --- verdicts -------------------------------------------------------------------------------------

def test_a_clear_error_regression_fails(db):
    seed_run(db, "base", suite(20, errors={"top-000": "timeout"}))
    bless(db, "base", local_actor(via="cli"))
    bad = {f"top-{i:03d}": "server_error" for i in range(10)}
    seed_run(db, "cand", suite(20, errors=bad), created=T0 + dt.timedelta(days=1))
    result = gate(db, "cand")
    assert result.verdict == REGRESSION and result.exit_code == 1
    assert result.baseline_id == "base" and result.baseline_source == "blessed"
    top = next(w for w in result.workflows if w.workflow == "top")
    err = top.criterion("error_rate")
    assert err.verdict == REGRESSION and err.interval[0] > 0.02
    assert (err.baseline_count, err.candidate_count, err.candidate_n) == (1, 10, 20)
    assert top.new_error_kinds == {"server_error": 10}
    assert next(w for w in result.workflows if w.workflow == "dress").verdict == PASS
    assert result.workflows[-1].workflow == OVERALL
    assert any("top error_rate" in r for r in result.reasons)


def test_one_flaky_case_in_a_small_suite_passes(db):
    seed_run(db, "base", suite(10))
    seed_run(db, "cand", suite(10, errors={"top-004": "timeout"}))
    result = gate(db, "cand", baseline="base")
    assert result.verdict == PASS and result.exit_code == 0, result.reasons
    err = _crit(result, "top", "error_rate")
    assert err.change == pytest.approx(0.1) and err.interval[0] < 0.02 < err.change
    assert "within noise" in err.reason
    # The new kind is reported, not failed on.
    assert result.new_error_kinds == {"timeout": 1}
    assert any("new error kind" in w for w in result.warnings)


def test_a_latency_regression_fails_and_latency_noise_passes(db):
    rng = np.random.default_rng(3)
    seed_run(db, "base", suite(30, latency=rng.gamma(9, 110, 60)))
    seed_run(db, "slow", suite(30, latency=rng.gamma(9, 110, 60) * 1.7))
    seed_run(db, "same", suite(30, latency=rng.gamma(9, 110, 60)))
    slow = gate(db, "slow", baseline="base")
    assert slow.verdict == REGRESSION
    p95 = _crit(slow, "top", "p95_latency")
    assert p95.verdict == REGRESSION and p95.interval[0] > 0.2 and p95.change > 0.2
    assert all(c.verdict != REGRESSION for c in slow.criteria if c.name == "error_rate")
    assert gate(db, "same", baseline="base").verdict == PASS
    # Too few ok calls: the p95 is not judged, and says why.
    few = gate(db, "slow", baseline="base", thresholds=GateThresholds(min_ok_calls=31))
    crit = _crit(few, "top", "p95_latency")
    assert crit.verdict == "not_judged" and "too few ok calls" in crit.reason


def test_flag_rate_is_judged_only_when_both_runs_were_checked(db):
    seed_run(db, "base", suite(30), checked=True)
    seed_run(db, "cand", suite(30, flags={f"dress-{i:03d}" for i in range(12)}), checked=True)
    seed_run(db, "unchecked", suite(30))
    result = gate(db, "cand", baseline="base")
    flag = _crit(result, "dress", "flag_rate")
    assert result.verdict == REGRESSION and flag.verdict == REGRESSION and flag.candidate_count == 12
    # A silent failure's soft-check flags are not counted again: it already is an error.
    silent = {f"dress-{i:03d}" for i in range(12)}
    seed_run(db, "silent", suite(30, errors=dict.fromkeys(silent, "silent_failure"), flags=silent), checked=True)
    flag = _crit(gate(db, "silent", baseline="base"), "dress", "flag_rate")
    assert flag.candidate_count == 0 and flag.verdict == PASS
    other = gate(db, "cand", baseline="unchecked")
    flag = _crit(other, "dress", "flag_rate")
    assert flag.verdict == "not_judged" and "baseline recorded no automatic checks" in flag.reason
    assert other.verdict == PASS


@pytest.mark.parametrize("case, message", [
    ("no_blessing", "no blessed baseline"),
    ("datasets", "different datasets"),
    ("running", "still running"),
    ("few", "only 4 case(s) in common"),
    ("same", "same run"),
    ("missing", "no candidate run"),
])
def test_cannot_judge_exits_2(db, case, message):
    seed_run(db, "base", suite(12))
    if case == "datasets":
        seed_run(db, "cand", suite(12), dataset="other")
    elif case == "running":
        seed_run(db, "cand", suite(12), status="running")
    elif case == "few":
        seed_run(db, "cand", suite(2))
    else:
        seed_run(db, "cand", suite(12))
    baseline = {"no_blessing": "blessed", "same": "cand"}.get(case, "base")
    result = gate(db, "nope" if case == "missing" else "cand", baseline=baseline)
    assert result.verdict == CANNOT_JUDGE and result.exit_code == 2
    assert message in " ".join(result.reasons)


# --- reports --------------------------------------------------------------------------------------

def test_junit_validates_and_counts(db, tmp_path):
    seed_run(db, "base", suite(20))
    bad = {f"top-{i:03d}": "server_error" for i in range(10)}
    seed_run(db, "cand", suite(20, errors=bad))
    result = gate(db, "cand", baseline="base")
    path = write_junit(result, tmp_path / "out" / "report.xml")
    root = etree.parse(str(path)).getroot()
    assert root.tag == "testsuites"
    suite_el = root.find("testsuite")
    cases = suite_el.findall("testcase")
    # 2 workflows + overall, 3 criteria each.
    assert len(cases) == 9 == int(suite_el.get("tests")) == int(root.get("tests"))
    failures = [c for c in cases if c.find("failure") is not None]
    skipped = [c for c in cases if c.find("skipped") is not None]
    assert int(suite_el.get("failures")) == len(failures) >= 2  # top and overall error_rate
    assert int(suite_el.get("skipped")) == len(skipped) == 3  # flag_rate: no checks recorded
    names = {(c.get("classname"), c.get("name")) for c in failures}
    assert ("vton-eval.gate.top", "error_rate") in names and ("vton-eval.gate.overall", "error_rate") in names
    assert "above the allowed" in failures[0].find("failure").get("message")

    stuck = gate(db, "cand", baseline="blessed")
    root = etree.parse(str(write_junit(stuck, tmp_path / "stuck.xml"))).getroot()
    assert root.get("errors") == "1" and root.find("testsuite/testcase/error") is not None


def test_markdown_has_tables_thumbnails_and_escapes_service_text(db, tmp_path):
    cases_b = suite(12, workflows=("top",))
    cases_c = suite(12, workflows=("top",), errors={"top-001": "server_error"})
    cases_c[1]["message"] = "<img src=x onerror=alert(1)> | broken [link](http://evil) **bold**"
    for i in (5, 6):  # ok in both, different outputs: a small and a large change
        cases_b[i]["image"] = _png((100, 100, 100))
        cases_c[i]["image"] = _png((100, 100, 100), stripe=10 if i == 5 else None)
    cases_c[6]["image"] = _png((230, 30, 30))
    seed_run(db, "base", cases_b, label="v1 <b>")
    seed_run(db, "cand", cases_c, label="v2")
    result = gate(db, "cand", baseline="base")
    path = write_markdown(result, tmp_path / "report.md", db)
    text = path.read_text()
    assert text.startswith("# vton-eval gate: PASS")
    assert "| criterion | baseline | candidate | change | 95 % interval | allowed | verdict |" in text
    assert "### Workflow top" in text and "### All workflows" in text
    assert "## New error kinds" in text and "server\\_error" in text
    assert "## Cases that changed most" in text and "| ok -> error |" in text
    # Escaped: no raw HTML, no live link, the table cell not split.
    assert "<img" not in text and "&lt;img src=x onerror=alert(1)&gt;" in text
    assert "\\| broken \\[link\\](http://evil) \\*\\*bold\\*\\*" in text and "v1 &lt;b&gt;" in text
    links = [p for line in text.splitlines() for p in line.split("![")[1:]]
    assert len(links) == 2 + 3 * 2  # the error case has no candidate output; two ok/ok cases have three
    for link in links:
        rel = link.split("](", 1)[1].split(")", 1)[0]
        assert rel.startswith("report_files/") and (tmp_path / rel).is_file()
        with Image.open(tmp_path / rel) as img:
            assert max(img.size) <= 160
    # The most different ok/ok output is listed first among the output changes.
    section = text.split("### Outputs least similar", 1)[1]
    assert section.index("top-006") < section.index("top-005")


def test_md_escape_neutralises_markup():
    got = md_escape("a|b<c>&d\nline2 `x` ![i](u) ~~s~~")
    assert got == "a\\|b&lt;c&gt;&amp;d line2 \\`x\\` !\\[i\\](u) \\~\\~s\\~\\~"
    assert len(md_escape("x" * 1000, limit=50)) == 50


# --- CLI ------------------------------------------------------------------------------------------

def test_cli_bless_gate_and_exit_codes(db, tmp_path):
    seed_run(db, "base", suite(20))
    seed_run(db, "good", suite(20), created=T0 + dt.timedelta(days=1))
    seed_run(db, "bad", suite(20, errors={f"dress-{i:03d}": "silent_failure" for i in range(9)}),
             created=T0 + dt.timedelta(days=2))
    seed_run(db, "open", suite(20), status="running")
    runner = CliRunner()
    args = ["--db", db.location]
    out = runner.invoke(main, ["gate", "--candidate", "good", *args])
    assert out.exit_code == 2 and "no blessed baseline" in out.output
    out = runner.invoke(main, ["bless", "open", *args])
    assert out.exit_code == 1 and "not finished" in out.output
    out = runner.invoke(main, ["bless", "base", *args])
    assert out.exit_code == 0 and "blessed run base" in out.output
    out = runner.invoke(main, ["bless", "--list", *args])
    assert out.exit_code == 0 and "base" in out.output
    out = runner.invoke(main, ["baselines", "--json", *args])
    assert json.loads(out.output)[0]["run_id"] == "base"
    out = runner.invoke(main, ["gate", "--candidate", "good", *args])
    assert out.exit_code == 0 and "GATE PASS" in out.output
    junit, md = tmp_path / "r.xml", tmp_path / "r.md"
    out = runner.invoke(main, ["gate", "--candidate", "latest", "--junit", str(junit), "--markdown", str(md), *args])
    assert out.exit_code == 1 and "GATE FAIL" in out.output and "dress error_rate" in out.output
    assert junit.is_file() and md.read_text().startswith("# vton-eval gate: FAIL")
    # A looser threshold lets the same run through; a nonsensical one is a usage error (exit 2).
    out = runner.invoke(main, ["gate", "--candidate", "bad", "--max-error-rate-increase", "0.5", *args])
    assert out.exit_code == 0, out.output
    out = runner.invoke(main, ["gate", "--candidate", "bad", "--max-error-rate-increase", "2", *args])
    assert out.exit_code == 2


def test_python_dash_m_gate_in_a_subprocess(db):
    seed_run(db, "base", suite(12))
    seed_run(db, "cand", suite(12))
    proc = subprocess.run([sys.executable, "-m", "vton_eval", "gate", "--candidate", "cand", "--baseline", "base",
                           "--db", db.location], capture_output=True, text=True, cwd=REPO, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "GATE PASS" in proc.stdout and "error_rate" in proc.stdout
