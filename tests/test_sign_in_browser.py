"""Sign-in through a real OpenID Connect provider in a real browser (Debian's chromium, through Playwright).

The provider is oidc-provider-mock, a real OIDC server on loopback (it plays Google or Entra ID here:
the outside world); the dashboard is `vton-eval dashboard` with `[auth]` in a secrets file and a roles
file. A visitor who is not signed in sees only the sign-in screen (also on the first request a fresh
server gets, for a page's own URL); two reviewers sign in, judge the same case, and each sees their own
verdict; a viewer is offered no launch and the engine refuses the launch when it is asked for it
anyway; signing out ends the session.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from vton_eval import access, launch
from vton_eval.runner import RunSettings
from vton_eval.store import Database
from vton_eval.store.runs import list_runs

from .helpers.browser import CHROMIUM, SETTLED, chromium, dashboard_process
from .helpers.paths import SAMPLE
from .helpers.seed import record_sample_run
from .helpers.servers import free_port
from .helpers.wait import wait_until

pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian's chromium is not installed (make test "
                                                                    "installs it)")

PEOPLE = {
    "alice": {"email": "alice@example.com", "email_verified": True, "name": "Alice", "groups": ["vton-reviewers"]},
    "bob": {"email": "bob@example.com", "email_verified": True, "name": "Bob", "groups": ["vton-reviewers"]},
    "vic": {"email": "vic@example.org", "email_verified": True, "name": "Vic", "groups": ["vton-viewers"]},
}
ROLES = """
[roles]
operator = ["olga@example.com"]
reviewer = ["group:vton-reviewers"]
viewer = ["group:vton-viewers"]
"""


@pytest.fixture(scope="module")
def provider():
    import oidc_provider_mock

    users = [oidc_provider_mock.User(sub=sub, claims=claims) for sub, claims in PEOPLE.items()]
    with oidc_provider_mock.run_server_in_thread(port=0, user_claims=users) as server:
        yield f"http://localhost:{server.server_port}"


@pytest.fixture()
def team_dashboard(tmp_path, provider, sandbox):
    db = Database(tmp_path / "results.duckdb")
    run_id = record_sample_run(db, "v1")
    port = free_port()
    secrets = tmp_path / "secrets.toml"
    secrets.write_text(f"""
[auth]
redirect_uri = "http://127.0.0.1:{port}/oauth2callback"
cookie_secret = "{os.urandom(24).hex()}"
client_id = "vton-eval-test"
client_secret = "unused-by-the-mock"
server_metadata_url = "{provider}/.well-known/openid-configuration"
""", encoding="utf-8")
    roles = tmp_path / "access.toml"
    roles.write_text(ROLES, encoding="utf-8")
    with dashboard_process(port, "--db", str(db.path), "--secrets", str(secrets), "--access", str(roles),
                           env={"VTON_EVAL_SANDBOX_URL": sandbox.url}) as url:
        yield url, db, run_id, roles


@pytest.fixture()
def browser():
    with chromium() as launched:
        yield launched


def _tab(browser):
    """A tab of its own browser context: its own cookie jar, so its own person."""
    tab = browser.new_context(viewport={"width": 1400, "height": 1800}).new_page()
    tab.set_default_timeout(60_000)  # as the other browser tests: a click under two CPU burners took over 30 s
    return tab


def _sign_in(tab, sub: str) -> None:
    tab.get_by_role("button", name="Sign in").click()
    tab.get_by_placeholder("sub").fill(sub)  # the provider's own page
    tab.get_by_role("button", name="Authorize", exact=True).click()
    tab.get_by_text(f"Signed in as {PEOPLE[sub]['email']}").wait_for()


def _goto(tab, title: str) -> None:
    tab.wait_for_function(SETTLED)  # not while the app reruns after a sign-in or a click: the sidebar is redrawn
    tab.get_by_test_id("stSidebarNav").get_by_text(title, exact=True).click()
    tab.get_by_role("heading", name=title).first.wait_for()


def _gate_only(tab) -> None:
    tab.get_by_text("Sign in to see the results").wait_for()
    tab.get_by_role("button", name="Sign in").wait_for()
    tab.wait_for_function("() => !document.querySelector('[data-testid=\"stStatusWidget\"]')")  # the run ended
    assert tab.get_by_test_id("stSidebarNav").count() == 0 and tab.get_by_test_id("stDataFrame").count() == 0


def _verdict_button(card, verdict: str):
    """One of the card's verdict choices (st.segmented_control draws a radio group)."""
    return card.get_by_role("radio", name=verdict, exact=True)


def _rows(db, sql: str) -> list[tuple]:
    with db.connect(read_only=True) as con:
        return con.execute(sql).fetchall()


def test_two_reviewers_and_a_viewer_sign_in_and_out(team_dashboard, browser, provider):
    base, db, run_id, _ = team_dashboard
    alice, bob, vic = _tab(browser), _tab(browser), _tab(browser)

    # The first request this fresh server gets is a page's own URL, from someone not signed in: the gate only.
    alice.goto(base + "/runs")
    _gate_only(alice)
    assert run_id not in alice.content()
    _sign_in(alice, "alice")

    # Alice judges the first case of the run on the Review page: as herself, no name to type.
    _goto(alice, "Review")
    alice.get_by_text("Reviewing as alice@example.com").wait_for()
    assert alice.get_by_label("Your name (stored with each verdict and pick)").count() == 0
    first_card = alice.locator(".st-key-card_dress-01_1")
    _verdict_button(first_card, "pass").click()
    wait_until(lambda: _rows(db, "SELECT reviewer, verdict FROM reviews") == [("alice@example.com", "pass")],
               what="alice's verdict", interval=0.1)

    # Bob, in his own browser context, judges the same case otherwise.
    bob.goto(base + "/")
    _sign_in(bob, "bob")
    _goto(bob, "Review")
    _verdict_button(bob.locator(".st-key-card_dress-01_1"), "fail").click()
    wait_until(lambda: len(_rows(db, "SELECT * FROM reviews")) == 2, what="bob's verdict", interval=0.1)
    stored = _rows(db, "SELECT reviewer, verdict, identity FROM reviews ORDER BY reviewer")
    assert stored == [("alice@example.com", "pass", f"{provider}#alice"),
                      ("bob@example.com", "fail", f"{provider}#bob")]

    # Each sees their own verdict as theirs (the selected one on the card), and the other's beside it.
    for tab, mine in ((alice, "pass"), (bob, "fail")):
        tab.reload()
        card = tab.locator(".st-key-card_dress-01_1")
        card.get_by_text("alice@example.com: pass").wait_for()
        selected = card.get_by_role("radio", checked=True)
        assert selected.inner_text().strip() == mine
    assert _rows(db, "SELECT actor, action FROM audit ORDER BY acted_at") == [
        ("alice@example.com", "verdict"), ("bob@example.com", "verdict")]

    # A viewer reads, and is offered no launch, no bless, no verdict.
    vic.goto(base + "/")
    _sign_in(vic, "vic")
    _goto(vic, "Runs")
    vic.get_by_role("tab", name="Tries").wait_for()
    assert vic.get_by_role("tab", name="Launch a run").count() == 0
    assert vic.get_by_role("button", name="Start run").count() == 0
    assert vic.get_by_role("button", name="Bless as baseline").count() == 0
    _goto(vic, "Review")
    vic.get_by_text("a viewer: verdicts and picks need the reviewer role").wait_for()
    assert _verdict_button(vic.locator(".st-key-card_dress-01_1"), "pass").count() == 0
    # A launch asked of the engine for vic anyway (as a forged request would reach it, around the page), with the
    # identity the provider gave him: refused, nothing started, and the refusal is in the audit trail.
    vic_actor = access.actor_from_claims({"sub": "vic", "iss": provider, **PEOPLE["vic"]},
                                         access.load_config(team_dashboard[3]))
    with pytest.raises(access.AccessDenied, match="launching runs needs the operator role"):
        launch.start_run(db, RunSettings(dataset=str(SAMPLE), endpoint=base), vic_actor)
    assert [r["run_id"] for r in list_runs(db)] == [run_id]
    assert _rows(db, "SELECT actor, identity, action, outcome FROM audit WHERE outcome = 'refused'") == [
        ("vic@example.org", f"{provider}#vic", "launch", "refused")]

    # Signing out ends alice's session (at the provider too); bob's goes on.
    alice.get_by_role("button", name="Sign out").click()
    alice.get_by_role("button", name="End session").click()  # the provider's own page
    _gate_only(alice)
    alice.reload()
    _gate_only(alice)
    alice.goto(base + "/review")
    _gate_only(alice)
    assert "_streamlit_user" not in {c["name"] for c in alice.context.cookies()}
    bob.reload()
    bob.get_by_text("Signed in as bob@example.com").wait_for()
