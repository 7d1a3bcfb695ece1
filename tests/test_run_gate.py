"""`vton-eval run --gate` in one step, as a pipeline calls it: pass against a clean baseline, fail on a regression."""

from __future__ import annotations

import subprocess
import sys

from lxml import etree

from .helpers.paths import REPO, SAMPLE


def _run(db, url, *extra):
    return subprocess.run([sys.executable, "-m", "vton_eval", "run", "--dataset", str(SAMPLE), "--endpoint", url,
                           "--retries", "0", "--db", db, *extra],
                          cwd=REPO, capture_output=True, text=True, timeout=180)


def test_run_then_gate_in_one_command(tmp_path, live_sandbox, db):
    db = db.location
    assert _run(db, live_sandbox.url, "--label", "v1").returncode == 0
    blessed = subprocess.run([sys.executable, "-m", "vton_eval", "bless", "latest", "--db", db],
                             cwd=REPO, capture_output=True, text=True, timeout=60)
    assert blessed.returncode == 0, blessed.stderr

    # The latency of two runs on a loaded machine differs by noise alone: this test is about the exit
    # codes of `run --gate`, so it leaves latency out of the verdict (the gate tests judge p95 itself).
    same = _run(db, live_sandbox.url, "--label", "v2", "--gate", "--junit", str(tmp_path / "ok.xml"),
                "--max-p95-increase", "100")
    assert same.returncode == 0, same.stdout + same.stderr
    assert "GATE PASS" in same.stdout

    live_sandbox.config.error_rate = 1.0
    broken = _run(db, live_sandbox.url, "--label", "v3", "--gate", "--junit", str(tmp_path / "bad.xml"),
                  "--markdown", str(tmp_path / "bad.md"))
    assert broken.returncode == 1, broken.stdout + broken.stderr
    assert "GATE FAIL" in broken.stdout
    suite = etree.parse(str(tmp_path / "bad.xml")).getroot()
    assert int(suite.get("failures") or suite[0].get("failures")) >= 1
    assert "FAIL" in (tmp_path / "bad.md").read_text()
