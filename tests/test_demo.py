"""`make demo`'s first impression: two real runs, a blessing and a regression every page can show."""

from __future__ import annotations

import io
import os
import socket
import subprocess
import sys

import httpx
from rich.console import Console

from vton_eval.cli.dashboard_cmd import gate_the_candidate
from vton_eval.demo import BASELINE, CANDIDATE, has_sample_runs, record_demo
from vton_eval.gate import REGRESSION, blessed_run, gate
from vton_eval.provenance import tool_version
from vton_eval.runner import execute_run
from vton_eval.store import Database
from vton_eval.store.runs import get_run, list_runs

from .helpers.pages import blind_view
from .helpers.pages import metric as _metric
from .helpers.pages import spec as _spec
from .helpers.paths import REPO
from .helpers.seed import record_sample_run
from .helpers.servers import free_port
from .helpers.wait import wait_until


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


def _listening(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def test_the_demo_process_starts_its_dashboard_beside_the_sandbox_and_stops_both(tmp_path):
    """`vton-eval demo` (what `make demo` runs) on a store that has the demo's runs already: the dashboard, started
    before the sandbox so it comes up meanwhile, answers and was told the sandbox's address; Streamlit's banner is
    held back until after the demo's own lines; SIGTERM stops the dashboard and the sandbox with it."""
    db_path = tmp_path / "results.duckdb"
    record_sample_run(Database(db_path), "v1")
    port, sandbox_port = free_port(), free_port()
    log = tmp_path / "demo.log"
    with log.open("w") as sink:
        proc = subprocess.Popen([sys.executable, "-m", "vton_eval", "demo", "--db", str(db_path), "--port", str(port),
                                 "--sandbox-port", str(sandbox_port)], cwd=REPO, stdout=sink, stderr=subprocess.STDOUT)
    try:
        def up() -> bool:
            assert proc.poll() is None, log.read_text()
            return "You can now view" in log.read_text() and _answers(f"http://127.0.0.1:{port}/_stcore/health")

        wait_until(up, what="the demo's dashboard", timeout=120)
        assert _listening(sandbox_port)
        said = log.read_text()
        assert "not recording the demo runs again" in said
        assert said.index(f"dashboard at http://127.0.0.1:{port}") < said.index("You can now view"), said
        with open(f"/proc/{proc.pid}/task/{proc.pid}/children", encoding="ascii") as f:
            (dashboard,) = (int(pid) for pid in f.read().split())
        with open(f"/proc/{dashboard}/environ", "rb") as f:
            assert f"VTON_EVAL_SANDBOX_URL=http://127.0.0.1:{sandbox_port}".encode() in f.read().split(b"\0")
    finally:
        proc.terminate()
        proc.wait(timeout=60)
    wait_until(lambda: not _listening(port) and not _listening(sandbox_port), what="the demo's servers to stop")
    assert not os.path.exists(f"/proc/{dashboard}")  # reaped by the demo before it exited, not orphaned
