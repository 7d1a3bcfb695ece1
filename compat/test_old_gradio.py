"""Every built-in profile against the sandbox's signatures served by the Gradio versions the services pin.

`make compat` builds the old Gradio environments and runs this suite (`.ci/run` runs it after `make test`).
The servers are real Gradio of each version (conftest.py); the calls go through our runner and
gradio_client, as a run against the real service would.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from vton_eval.datasets import load_dataset
from vton_eval.runner import RunSettings, create_run, execute_run
from vton_eval.services.inspection import inspect_endpoint
from vton_eval.services.profiles import load_profile
from vton_eval.store import Database

from .conftest import PROFILES, REPO, SERVED, TABLE, VERSIONS

SAMPLE = REPO / "datasets" / "sample"
JPEG_PERSONS = {"top-01", "top-05"}  # persons/cameraman.jpg, persons/astronaut.jpg: JPEGs in CatVTON's editor


def _rows(db: Database, run_id: str) -> list[dict]:
    with db.connect(read_only=True) as con:
        cur = con.execute("SELECT pair_id, workflow, status, error_kind, error_message, attempts FROM results "
                          "WHERE run_id = ?", [run_id])
        cols = [d[0] for d in cur.description]
        return [dict(zip(cols, r, strict=True)) for r in cur.fetchall()]


def _run(db: Database, url: str, profile: str, pairs: list[str] | None = None) -> tuple[str, object]:
    run_id = create_run(db, RunSettings(dataset=str(SAMPLE), endpoint=url, profile=profile, pairs=pairs, retries=0,
                                        checks=False, concurrency=4, backoff_s=0.05))
    return run_id, execute_run(db, run_id)


@pytest.mark.parametrize(("version", "profile"), [(v, p) for v in VERSIONS for p in PROFILES])
def test_every_sample_case_comes_back_or_is_not_sent_as_the_profile_says(servers, version, profile, tmp_path):
    server = servers[version].wait()
    SERVED[version] = (server.gradio, server.ready_s)
    db = Database(tmp_path / "results.duckdb")
    run_id, report = _run(db, server.urls[profile], profile)
    rows = _rows(db, run_id)
    not_sent = {r["pair_id"] for r in rows if r["attempts"] == 0}
    ok = {r["pair_id"] for r in rows if r["status"] == "ok"}
    failed = [(r["pair_id"], r["error_kind"], r["error_message"]) for r in rows
              if r["attempts"] and r["status"] != "ok"]
    TABLE[(version, profile)] = {"ok": len(ok), "not_sent": len(not_sent), "failed": len(failed)}

    assert report.status == "finished", report.message
    assert not failed, failed
    supported = load_profile(profile)
    pairs = load_dataset(SAMPLE).pairs
    assert not_sent == {p.pair_id for p in pairs if not supported.supports(p.workflow) and profile != "sm4ll"}
    assert len(ok) + len(not_sent) == len(pairs)
    if profile == "catvton":
        assert ok >= JPEG_PERSONS  # JPEG persons in its ImageEditor (sent as PNG)


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("profile", ["catvton", "ootdiffusion", "leffa", "omnitry", "kolors"])
def test_the_profile_inspect_suggests_runs(servers, version, profile, tmp_path):
    server = servers[version].wait()
    inspection = inspect_endpoint(server.urls[profile], open_timeout_s=60)
    assert inspection.suggestion, inspection.notes
    path = tmp_path / "suggested.toml"
    path.write_text(inspection.suggestion, encoding="utf-8")
    suggested = load_profile(str(path))
    assert suggested.call.api_name == load_profile(profile).call.api_name
    assert not any(a.kind == "literal" and a.value == "" for a in suggested.call.args), inspection.suggestion
    db = Database(tmp_path / "results.duckdb")
    run_id, report = _run(db, server.urls[profile], str(path), pairs=["top-02", "dress-04"])
    assert report.status == "finished", report.message
    sent = [r for r in _rows(db, run_id) if r["attempts"]]
    assert sent and all(r["status"] == "ok" for r in sent), [r["error_message"] for r in sent]


@pytest.mark.parametrize("version", VERSIONS)
def test_what_gradio_itself_answers_and_refuses(servers, version):
    """The facts the fixes rest on, asked of each Gradio directly (gradio_client, no vton-eval in between): a
    file answer has a URL from 4.17 on and only a path before; a JPEG in CatVTON's editor fails in Gradio."""
    from gradio_client import Client, handle_file

    server = servers[version].wait()
    person, product = SAMPLE / "persons" / "cameraman.jpg", SAMPLE / "products" / "top_tank_orange.png"
    client = Client(server.urls["ootdiffusion"], download_files=False, verbose=False)
    try:
        gallery = client.predict(handle_file(str(person)), handle_file(str(product)), "Upper-body", 1, 20, 2.0, 42,
                                 api_name="/process_dc")
    finally:
        client.close()
    item = gallery[0]["image"]
    assert item["path"] and (item.get("url") is None) == (version == "4.16.0"), item
    client = Client(server.urls["catvton"], download_files=False, verbose=False)
    try:
        with pytest.raises(Exception, match="cannot write mode RGBA as JPEG"):
            client.predict({"background": handle_file(str(person)), "layers": [], "composite": None},
                           handle_file(str(product)), "upper", 50, 2.5, 42, "result only", api_name="/submit_function")
    finally:
        client.close()


@pytest.mark.parametrize("version", VERSIONS)
def test_calls_to_a_gradio_4_server_each_have_a_client_of_their_own(servers, version):
    """Gradio 4 servers end a session's event stream under calls that share it (lost calls, calls held to their
    deadline): there each call in flight leases its own client; from Gradio 5 on, one client serves them all."""
    from vton_eval.services import CallInputs
    from vton_eval.services.gradio import GradioService

    server = servers[version].wait()
    service = GradioService(server.urls["omnitry"], profile=load_profile("omnitry")).open()
    try:
        inputs = CallInputs(SAMPLE / "persons" / "figure_01.png", SAMPLE / "products" / "top_tank_orange.png", "top")
        with ThreadPoolExecutor(4) as pool:
            outcomes = list(pool.map(lambda _: service.call(inputs, timeout_s=120), range(12)))
        assert [o.status for o in outcomes] == ["ok"] * 12, [o.error_message for o in outcomes]
        conn = service._conn
        old = version.startswith("4.")
        assert conn.one_call_per_client == old
        assert 1 < len(conn._all) <= 4 if old else len(conn._all) == 1
    finally:
        service.close()
