"""The pages' part of team access, headless with AppTest: the sign-in gate shows nothing else, each role is
offered only its buttons, the reviewer is the signed-in identity, the token note in the forms, and the
refusal to show anything when the dashboard listens beyond loopback without sign-in.

A signed-in person is `at.user` (what Streamlit reads from its signed cookie); the roles file is real.
The browser test (tests/test_sign_in_browser.py) signs in through a real provider.
"""

from __future__ import annotations

import pytest
from streamlit import config as st_config
from streamlit.testing.v1 import AppTest

from vton_eval.access import ACCESS_ENV
from vton_eval.binding import UNSAFE_LISTEN_ENV
from vton_eval.store import Database

from .helpers.pages import as_read, sql, visible_text
from .helpers.paths import APP
from .helpers.seed import record_sample_run

ISSUER = "http://localhost:1"
AUTH = {"redirect_uri": "http://127.0.0.1:8501/oauth2callback", "cookie_secret": "test-cookie-secret-0123456789",
        "client_id": "vton-eval-test", "client_secret": "unused",
        "server_metadata_url": f"{ISSUER}/.well-known/openid-configuration"}
ROLES = """
[roles]
operator = ["olga@example.com"]
reviewer = ["@example.com"]
viewer = ["group:vton-viewers"]
others = "none"

[token]
allow = ["sm4ll-VTON/sm4ll-VTON-Demo"]
"""
PEOPLE = {
    "olga": {"email": "olga@example.com", "groups": []},
    "rita": {"email": "rita@example.com", "groups": []},
    "vic": {"email": "vic@elsewhere.org", "groups": ["vton-viewers"]},
    "nemo": {"email": "nemo@elsewhere.org", "groups": []},
}
TOKEN = "hf_PageTokenShouldNeverShow0123456789"


def claims(sub: str) -> dict:
    return {"is_logged_in": True, "sub": sub, "iss": ISSUER, "email_verified": True, **PEOPLE[sub]}


@pytest.fixture()
def team(tmp_path, monkeypatch):
    """A database with a finished run, a roles file, and `open_as(sub | None, page)`: the app with sign-in
    configured, as that person (None: nobody signed in)."""
    db = Database(tmp_path / "results.duckdb")
    run_id = record_sample_run(db, "v1")
    roles = tmp_path / "access.toml"
    roles.write_text(ROLES, encoding="utf-8")
    monkeypatch.setenv("VTON_EVAL_DB", str(db.path))
    monkeypatch.setenv(ACCESS_ENV, str(roles))
    monkeypatch.setenv("HF_TOKEN", TOKEN)

    def open_as(sub: str | None, page: str | None = None) -> AppTest:
        at = AppTest.from_file(APP, default_timeout=60)
        at.secrets["auth"] = AUTH
        at.user = claims(sub) if sub else {"is_logged_in": False}
        at.run()
        if page:
            at.switch_page(f"views/{page}.py")
            at.run()
        assert not at.exception, [e.value for e in at.exception]
        return at

    return db, run_id, roles, open_as


def _button_keys(at: AppTest) -> set[str]:
    return {b.key for b in at.button if b.key}


def test_before_sign_in_the_sign_in_screen_is_all_there_is(team):
    db, _, _, open_as = team
    at = open_as(None)
    assert [b.label for b in at.button] == ["Sign in"]
    text = visible_text(at)
    assert "Sign in to see the results" in text
    # Nothing of the app: no run, no database path, no sidebar, no other page's heading.
    assert str(db.path) not in text and "v1" not in text and not at.dataframe and not at.sidebar.children
    assert [t.value for t in at.title] == ["vton-eval"]
    # No page of the app is in this session's navigation, so none can be opened (the browser test opens their
    # URLs and lands on this screen).
    for page in ("runs", "review", "compare", "overview", "failures"):
        with pytest.raises(ValueError, match="Could not find a navigation page"):
            at.switch_page(f"views/{page}.py")


def test_a_page_run_without_the_app_entry_still_shows_only_the_gate(team):
    """AppTest runs a page file by itself (without app.py) after switch_page: the page's own render stops it too."""
    db, _, roles, open_as = team
    at = open_as("rita", "review")
    assert at.segmented_control  # reviewing
    at.user = {"is_logged_in": False}  # the session ends (signed out elsewhere, cookie gone)
    at.run()
    assert [b.label for b in at.button] == ["Sign in"] and not at.segmented_control and not at.dataframe
    at = open_as("rita", "runs")
    roles.write_text(ROLES.replace('reviewer = ["@example.com"]', "reviewer = []"), encoding="utf-8")
    at.run()  # rita is named by no rule any more: the page she had open shows nothing
    assert "has no role here" in visible_text(at).replace("\\", "") and not at.dataframe
    assert str(db.path) not in visible_text(at)


def test_a_signed_in_person_without_a_role_is_told_so_and_sees_nothing_else(team):
    db, _, roles, open_as = team
    at = open_as("nemo")
    at.run()  # a rerun of the same session: recorded once
    # The attempt is in the audit trail: who, with which identity, refused, and why.
    assert sql(db, "SELECT actor, identity, role, action, outcome FROM audit") == [
        ("nemo@elsewhere.org", f"{ISSUER}#nemo", None, "sign_in", "refused")]
    assert "has no role here" in sql(db, "SELECT detail FROM audit")[0][0]
    assert "nemo@elsewhere.org is signed in but has no role here" in visible_text(at).replace("\\", "")
    assert str(roles) in visible_text(at)
    assert _button_keys(at) == {"sign_out_refused"} and not at.dataframe and not at.sidebar.children
    with pytest.raises(ValueError, match="Could not find a navigation page"):
        at.switch_page("views/runs.py")


def test_a_viewer_reads_but_is_offered_no_act(team):
    db, run_id, _, open_as = team
    at = open_as("vic")  # (AppTest keeps the sidebar of the first page only)
    assert as_read(at.sidebar.caption[0].value) == "Signed in as **vic@elsewhere.org** · viewer"
    assert "sign_out" in _button_keys(at)
    at.switch_page("views/runs.py").run()
    assert at.dataframe[0].value["run"].tolist() == [run_id]  # reading: yes
    assert [t.label for t in at.tabs] == ["Runs", "Tries"]  # no launch form, no Try one pair
    keys = _button_keys(at)
    assert not keys & {"launch_start", "try_go", "cancel_run", "resume_run", "bless_run"}
    assert "need the operator role" in visible_text(at)

    at.switch_page("views/review.py").run()
    assert not at.text_input  # no name to type: the reviewer is the signed-in person
    assert not at.segmented_control and "verdicts and picks need the reviewer role" in visible_text(at)
    first = next(b for b in at.button if b.key and b.key.startswith("open_"))
    first.click().run()
    assert not {"review_pass", "review_fail", "review_unsure"} & _button_keys(at) and not at.get("form")
    assert not sql(db, "SELECT * FROM reviews")


def test_a_reviewer_judges_as_themself_and_may_not_launch(team):
    db, run_id, _, open_as = team
    at = open_as("rita", "review")
    assert not at.text_input and "Reviewing as **rita@example.com**" in [as_read(c.value) for c in at.caption]
    quick = next(s for s in at.segmented_control if s.key and s.key.startswith(f"quick_{run_id}_"))
    pair = quick.key.removeprefix(f"quick_{run_id}_").rsplit("_", 1)[0]
    quick.set_value("fail").run()
    assert not at.exception
    rows = sql(db, "SELECT pair_id, reviewer, verdict, identity FROM reviews")
    assert rows == [(pair, "rita@example.com", "fail", f"{ISSUER}#rita")]
    audit = sql(db, "SELECT actor, identity, role, action, outcome, run_id, subject FROM audit")
    assert audit == [("rita@example.com", f"{ISSUER}#rita", "reviewer", "verdict", "done", run_id, f"{pair}#1")]
    at.switch_page("views/runs.py").run()
    assert [t.label for t in at.tabs] == ["Runs", "Tries"] and "bless_run" not in _button_keys(at)


def test_an_operator_launches_and_blesses_and_the_runs_page_says_who(team):
    db, run_id, _, open_as = team
    at = open_as("olga", "runs")
    assert [t.label for t in at.tabs] == ["Runs", "Launch a run", "Try one pair"]
    assert {"launch_start", "try_go", "bless_run"} <= _button_keys(at)
    at.button(key="bless_run").click().run()
    assert sql(db, "SELECT run_id FROM baselines") == [(run_id,)]
    assert sql(db, "SELECT actor, action, run_id FROM audit") == [("olga@example.com", "bless", run_id)]
    assert any("blessed by olga@example.com at " in as_read(c.value) for c in at.caption)


def test_a_role_taken_away_mid_session_is_refused_by_the_engine_at_the_next_click(team):
    """The page drew the Bless button for an operator; before the click, the roles file makes her a viewer.
    The click's callback acts as she is now: the engine refuses, says so, and records the refusal."""
    db, run_id, roles, open_as = team
    at = open_as("olga", "runs")
    bless_button = at.button(key="bless_run")
    roles.write_text(ROLES.replace('operator = ["olga@example.com"]', 'viewer = ["olga@example.com"]\noperator = []')
                     .replace('viewer = ["group:vton-viewers"]', ""), encoding="utf-8")
    bless_button.click().run()
    assert not sql(db, "SELECT * FROM baselines")
    assert any("blessing baselines needs the operator role" in e.value for e in at.error)
    # (olga is still a reviewer, by the rule for her domain)
    assert sql(db, "SELECT actor, role, action, outcome, run_id FROM audit") == [
        ("olga@example.com", "reviewer", "bless", "refused", run_id)]
    assert "bless_run" not in _button_keys(at)  # and from now on, not offered


def test_the_launch_form_says_whether_the_token_goes_to_the_endpoint(team, sandbox):
    _, _, roles, open_as = team
    at = open_as("olga", "runs")
    at.selectbox(key="launch_endpoint").set_value("sm4ll-VTON/sm4ll-VTON-Demo").run()
    assert any("HF_TOKEN is sent to this endpoint" in c.value for c in at.caption)
    at.selectbox(key="launch_endpoint").set_value("Other URL or Space…").run()
    at.text_input(key="launch_endpoint_text").set_value(sandbox.url).run()
    assert any("not on the token allow-list: it runs without the HF_TOKEN" in w.value for w in at.warning)
    assert not at.button(key="launch_start").disabled
    # An administrator refuses endpoints off the list: said before starting, and the button is disabled.
    roles.write_text(ROLES.replace('allow = ["sm4ll-VTON/sm4ll-VTON-Demo"]',
                                   'allow = ["sm4ll-VTON/sm4ll-VTON-Demo"]\nothers = "refuse"'), encoding="utf-8")
    at.run()
    assert any("endpoints off the list are refused here" in e.value for e in at.error)
    assert at.button(key="launch_start").disabled
    at.tabs[2].run()
    assert at.button(key="try_go").disabled
    assert TOKEN not in visible_text(at)


def test_sign_out_is_offered_and_signing_out_shows_the_gate(team):
    _, _, _, open_as = team
    at = open_as("rita")
    at.sidebar.button(key="sign_out").click().run()
    assert at.user == {"is_logged_in": False} or not at.user.get("is_logged_in")
    at.run()
    assert [b.label for b in at.button] == ["Sign in"] and not at.sidebar.children


def test_a_half_written_auth_table_shows_what_it_lacks_and_nothing_else(team):
    _, _, _, open_as = team
    at = AppTest.from_file(APP, default_timeout=60)
    at.secrets["auth"] = {"redirect_uri": AUTH["redirect_uri"]}
    at.user = claims("olga")
    at.run()
    assert "configured only in part" in visible_text(at) and "no cookie_secret" in visible_text(at)
    assert not at.button and not at.dataframe and not at.sidebar.children


@pytest.fixture()
def listening_on_all_interfaces():
    previous = st_config.get_option("server.address")
    st_config.set_option("server.address", "0.0.0.0")
    yield
    st_config.set_option("server.address", previous)


def test_without_sign_in_beyond_loopback_the_app_shows_nothing(tmp_path, monkeypatch, listening_on_all_interfaces):
    db = Database(tmp_path / "results.duckdb")
    record_sample_run(db, "v1")
    monkeypatch.setenv("VTON_EVAL_DB", str(db.path))
    monkeypatch.delenv(UNSAFE_LISTEN_ENV, raising=False)
    at = AppTest.from_file(APP, default_timeout=60).run()
    assert "listens on 0.0.0.0 without sign-in" in visible_text(at) and not at.dataframe and not at.button
    with pytest.raises(ValueError, match="Could not find a navigation page"):
        at.switch_page("views/runs.py")
    monkeypatch.setenv(UNSAFE_LISTEN_ENV, "1")  # `vton-eval dashboard --unsafe-listen-without-sign-in`
    at = AppTest.from_file(APP, default_timeout=60).run()
    at.switch_page("views/runs.py").run()
    assert at.dataframe and "launch_start" in _button_keys(at)
