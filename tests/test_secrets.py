"""The token never reaches the database, the journal, the logs or an error message."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from streamlit.testing.v1 import AppTest

from vton_eval.secrets import redact
from vton_eval.services import check_endpoint_text
from vton_eval.store.reads import reading

from .helpers.paths import REPO, SAMPLE

TOKEN = "hf_SeCrEtToKeN0123456789abcdef"


def test_redact_scrubs_the_token_and_anything_shaped_like_one(monkeypatch):
    monkeypatch.setenv("HF_TOKEN", TOKEN)
    text = redact(f"401 for Authorization: Bearer {TOKEN}; also hf_OtherToken987654321 and {TOKEN}")
    assert TOKEN not in text and "hf_OtherToken987654321" not in text and "***" in text


def test_credentials_in_an_endpoint_url_are_refused():
    with pytest.raises(ValueError, match="HF_TOKEN"):
        check_endpoint_text(f"https://user:{TOKEN}@example.hf.space")


def test_a_run_with_a_token_leaves_no_trace_of_it(tmp_path, live_sandbox, db):
    live_sandbox.config.error_rate = 0.5
    live_sandbox.config.seed = 2
    # A shared store keeps this machine's journal in a cache folder: keep it where the test looks.
    env = {**os.environ, "HF_TOKEN": TOKEN, "VTON_EVAL_CACHE": str(tmp_path / "cache")}
    proc = subprocess.run([sys.executable, "-m", "vton_eval", "run", "--dataset", str(SAMPLE), "--endpoint",
                           live_sandbox.url, "--workflows", "top", "--retries", "0", "--db", db.location],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    dead = subprocess.run([sys.executable, "-m", "vton_eval", "run", "--dataset", str(SAMPLE), "--endpoint",
                           "http://127.0.0.1:9", "--workflows", "top", "--db", db.location],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    assert dead.returncode == 1 and "cannot connect" in dead.stderr
    # Every file of the store (a database file, or a shared store's data path), its artifacts and the cache.
    files = [path for path in tmp_path.rglob("*") if path.is_file()]
    assert any("objects" in path.parts for path in files)  # the images are among them
    for path in files:
        assert TOKEN.encode() not in path.read_bytes(), path
    # A shared store's rows may sit in PostgreSQL rather than in files: read every table back.
    # Every catalog the reader sees: the store's own, and a shared store reader's in-process copies of hot tables.
    with reading(db) as read:
        tables = [(r["table_catalog"], r["table_schema"], r["table_name"]) for r in read.rows(
            "SELECT table_catalog, table_schema, table_name FROM information_schema.tables "
            "WHERE table_catalog NOT IN ('system', 'temp') AND table_catalog NOT LIKE '__ducklake_metadata%'")]
        assert "results" in {name for _, _, name in tables}
        for catalog, schema, table in tables:
            assert TOKEN not in read.frame(f'SELECT * FROM "{catalog}"."{schema}"."{table}"').to_csv()
    for stream in (proc.stdout, proc.stderr, dead.stdout, dead.stderr):
        assert TOKEN not in stream


def test_the_dashboard_takes_the_token_from_streamlit_secrets_but_keeps_it_out_of_its_environment(tmp_path,
                                                                                                  monkeypatch):
    """The token from secrets is used (the launch form says where it goes), yet it is never put into the
    dashboard's environment, from where every process the dashboard starts would inherit it."""
    monkeypatch.delenv("HF_TOKEN", raising=False)
    monkeypatch.setenv("VTON_EVAL_DB", str(tmp_path / "none.duckdb"))
    at = AppTest.from_file(str(REPO / "dashboard" / "app.py"), default_timeout=30)
    at.secrets["HF_TOKEN"] = TOKEN
    at.run()
    at.switch_page("views/runs.py").run()
    assert not at.exception
    assert "HF_TOKEN" not in os.environ
    notes = [w.value for w in at.warning]  # the sandbox is not on the token allow-list
    assert any("not on the token allow-list: it runs without the HF_TOKEN" in n for n in notes), notes
    page_text = " ".join(str(getattr(e, "value", "")) for e in at.main)
    assert TOKEN not in page_text
    assert redact(f"echo {TOKEN}") == "echo ***"  # scrubbed although not in the environment
