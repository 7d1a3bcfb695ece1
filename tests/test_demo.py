"""`make demo`'s first impression: two real runs, a blessing and a regression every page can show."""

from __future__ import annotations

import io

from rich.console import Console

from vton_eval.cli.dashboard_cmd import gate_the_candidate
from vton_eval.demo import BASELINE, CANDIDATE, has_sample_runs, record_demo
from vton_eval.gate import REGRESSION, blessed_run, gate
from vton_eval.provenance import tool_version
from vton_eval.runner import execute_run
from vton_eval.store.runs import get_run, list_runs

from .helpers.pages import blind_view
from .helpers.pages import metric as _metric
from .helpers.pages import spec as _spec


def test_the_demo_records_a_blessed_baseline_and_a_regressed_candidate_every_page_can_show(db, live_sandbox, open_page,
                                                                                           open_compare):
    assert not has_sample_runs(db)
    baseline, candidate = record_demo(db, live_sandbox, execute_run)
    assert has_sample_runs(db)
    assert live_sandbox.config.error_rate == 0.0 and not live_sandbox.config.latency_by_workflow  # restored
    runs = {r["run_id"]: r for r in list_runs(db)}
    assert [runs[baseline]["label"], runs[candidate]["label"]] == [BASELINE.label, CANDIDATE.label]
    assert runs[candidate]["errors"] > runs[baseline]["errors"]
    assert blessed_run(db, "sample", live_sandbox.url) == baseline
    assert {runs[baseline]["tool_version"], runs[candidate]["tool_version"]} == {tool_version()}  # provenance

    # `vton-eval gate --candidate latest`: the candidate, against the blessed baseline, fails.
    result = gate(db, "latest")
    assert result.candidate_id == candidate and result.baseline_id == baseline
    assert result.verdict == REGRESSION and result.exit_code == 1
    dress = next(w for w in result.workflows if w.workflow == "dress").criterion("p95_latency")
    assert dress.verdict == REGRESSION and dress.candidate > dress.baseline  # the slower workflow
    assert any(c.name == "error_rate" for c in result.regressions)
    # What `make demo` prints under it: the FAIL is the regression the demo recorded on purpose.
    out = io.StringIO()
    gate_the_candidate(db, Console(file=out, width=160, highlight=False))
    said = " ".join(out.getvalue().split())
    assert "GATE FAIL" in said and "This GATE FAIL is the demo working as intended" in said
    assert said.index("GATE FAIL") < said.index("working as intended") and "model-v2" in said

    # Overview: the candidate by default, with changes against the baseline and a trend of two runs.
    at = open_page(db)
    assert at.selectbox(key="ov_run").value == candidate
    assert _metric(at, "Error rate").delta.startswith("+") and _metric(at, "p95 latency").delta.startswith("+")
    trend = _spec(at, "trend_chart")
    assert {i for t in trend["data"] for i, *_ in t["customdata"]} == {baseline, candidate}
    # Compare: the baseline against the candidate, with cases that broke.
    cmp = open_compare(db)
    assert cmp.selectbox(key="cmp_base").value == baseline
    assert int(next(m for m in cmp.metric if m.label == "ok → error").value) > 0
    # Blind preference: cases with two different outputs to judge.
    blind = blind_view(open_compare, db, baseline, candidate)
    assert "of" in blind.markdown[0].value and "judged" in blind.markdown[0].value
    assert get_run(db, candidate)["status"] == "finished"
