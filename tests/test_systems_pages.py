"""Systems side by side on the pages (AppTest): runs of one dataset through different profiles compare
like runs of one service, labelled by profile and endpoint; the launch form offers the profiles, says
what a profile will not send, and inspects the endpoint."""

from __future__ import annotations

import pytest

from vton_eval.preferences import win_rates
from vton_eval.store import Database

from .helpers.pages import as_read, blind_view, visible_text
from .helpers.seed import record_sample_run

SYSTEMS = (("sm4ll", "http://127.0.0.1:7860"), ("catvton", "http://127.0.0.1:7861"),
           ("ootdiffusion", "http://127.0.0.1:7862"))


@pytest.fixture(scope="module")
def systems(tmp_path_factory):
    db = Database(tmp_path_factory.mktemp("systems") / "results.duckdb")
    # Outputs that differ between systems (some come back as the person unchanged), so a blind pick has a case.
    ids = [record_sample_run(db, f"{profile}-run", profile=profile, endpoint=endpoint, seed=i, noop_rate=0.5 * (i > 0))
           for i, (profile, endpoint) in enumerate(SYSTEMS)]
    return db, ids


def test_compare_shows_one_column_per_system(systems, open_compare):
    db, (sm4ll, catvton, ootd) = systems
    at = open_compare(db)
    assert any("catvton @ http://127.0.0.1:7861" in o for o in at.selectbox(key="cmp_base").options)
    at.selectbox(key="cmp_base").set_value(sm4ll).run()
    at.multiselect(key=f"cmp_others_{sm4ll}").set_value([catvton, ootd]).run()
    assert not at.exception, [e.value for e in at.exception]
    assert len(at.main.get_by_key("cmp_row_0").columns) == 6  # person | product | mask | three systems
    titles = [as_read(c.value) for c in at.caption]
    for prefix, (profile, endpoint) in zip(("baseline: ", "run 2: ", "run 3: "), SYSTEMS, strict=True):
        assert any(t.startswith(f"{prefix}{profile} @ {endpoint}") for t in titles), titles


def test_blind_preference_works_across_systems(systems, open_compare):
    db, (sm4ll, catvton, _) = systems
    at = blind_view(open_compare, db, sm4ll, catvton, name="sys")
    at.button(key="cmp_pick_left").click().run()
    assert not at.exception, [e.value for e in at.exception]
    rates = win_rates(db, sm4ll, catvton).set_index("workflow")
    assert rates.loc["(all)", "judgements"] == 1, rates


def test_overview_labels_runs_by_system(systems, open_page):
    db, _ = systems
    at = open_page(db.path)
    options = at.selectbox(key="ov_run").options
    assert any("ootdiffusion @ http://127.0.0.1:7862" in o for o in options), options
    assert any("sm4ll @ http://127.0.0.1:7860" in o for o in options), options


def test_the_launch_form_offers_the_profiles_says_what_is_not_sent_and_inspects(sandbox, tmp_path, open_page):
    at = open_page(tmp_path / "launch.duckdb", "runs")
    profile = at.selectbox(key="launch_profile")
    # The default first, then the TOML files present, by name.
    assert [o.split(":")[0] for o in profile.options[:7]] == ["sm4ll", "catvton", "idm-vton", "kolors", "leffa",
                                                                "omnitry", "ootdiffusion"]
    at.selectbox(key="launch_endpoint").set_value("Other URL or Space…").run()
    at.text_input(key="launch_endpoint_text").set_value(sandbox.url).run()
    at.radio(key="launch_mode").set_value("Filter by workflow and tags").run()
    at.multiselect(key="launch_wf").set_value(["eyewear", "top"]).run()
    at.selectbox(key="launch_profile").set_value("catvton").run()
    warnings = " ".join(as_read(w.value) for w in at.warning)
    assert "case(s) will not be sent" in warnings and "'eyewear'" in warnings, warnings
    # Inspect: the sandbox's named APIs, the try-on one marked, and a suggested profile.
    at.button(key="launch_inspect").click().run()
    assert not at.exception, [e.value for e in at.exception]
    text = visible_text(at)
    assert "/generate (looks like a try-on)" in text, text
    assert any('api_name = "/generate"' in c.value for c in at.code)
    # A profile file that is not one: a clear error, the start refused.
    at.selectbox(key="launch_profile").set_value("Profile file…").run()
    bad = tmp_path / "bad.toml"
    bad.write_text('name = "x"\napi_name = "/a"\nargs = ["{person}"]\n[workflows]\ntop = "t"\n')
    at.text_input(key="launch_profile_file").set_value(str(bad)).run()
    errors = " ".join(e.value for e in at.error)
    assert "args has no {product}" in errors.replace("\\", ""), errors
    assert at.button(key="launch_start").disabled


def test_a_run_launched_from_the_page_calls_through_the_chosen_profile(tmp_path, open_page):
    from vton_eval.sandbox import SandboxConfig, start_sandbox
    from vton_eval.store.runs import get_run

    from .helpers.wait import wait_until

    db = Database(tmp_path / "launch.duckdb")
    with start_sandbox(SandboxConfig(profile="catvton")) as sandbox:
        at = open_page(db.path, "runs")
        at.selectbox(key="launch_endpoint").set_value("Other URL or Space…").run()
        at.text_input(key="launch_endpoint_text").set_value(sandbox.url).run()
        at.selectbox(key="launch_profile").set_value("catvton").run()
        at.radio(key="launch_mode").set_value("Pick pairs by hand").run()
        at.checkbox(key="launch_pick_top-02").check()
        at.checkbox(key="launch_pick_eyewear-01").check().run()
        at.button(key="launch_start").click().run()
        assert not at.exception, [e.value for e in at.exception]
        run_id = at.session_state["launched_run"]
        run = wait_until(lambda: (r := get_run(db, run_id))["status"] != "running" and r, timeout=120,
                         what="the launched run to end", interval=0.2)
        calls = len(sandbox.calls)
    assert run["status"] == "finished" and run["profile"] == "catvton", run["message"]
    with db.connect(read_only=True) as con:
        rows = dict(con.execute("SELECT pair_id, coalesce(error_kind, status) FROM results WHERE run_id = ?",
                                [run_id]).fetchall())
    assert rows == {"top-02": "ok", "eyewear-01": "invalid_input"} and calls == 1
