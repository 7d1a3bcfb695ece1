"""Team access in the engine (vton_eval.access): roles from the roles file, every act refused to a role below it
(whatever the page offered) and written to the audit trail, nobody changing another person's verdict or pick,
and where the dashboard may listen. Where the token may go: test_token_rules.py."""

from __future__ import annotations

import os
import socket
import subprocess
import sys

import pytest

from vton_eval import access, binding, launch
from vton_eval.access import AccessConfigError, AccessDenied, actor_from_claims, local_actor, parse_config
from vton_eval.analytics.audit import audit_log, run_acts
from vton_eval.datasets import load_dataset
from vton_eval.gate import bless
from vton_eval.preferences import record_preference
from vton_eval.reviews import clear_verdict, save_verdict
from vton_eval.runner import RunSettings
from vton_eval.store.runs import get_run, list_runs

from .helpers.pages import sql
from .helpers.paths import REPO, SAMPLE
from .helpers.seed import record_sample_run
from .helpers.team import ISSUER, TOKEN, person, write_roles
from .helpers.wait import wait_until


@pytest.fixture()
def roles(tmp_path, monkeypatch):
    return write_roles(tmp_path, monkeypatch)


def test_roles_come_from_the_roles_file_by_email_domain_group_or_subject(roles):
    olga = actor_from_claims(person("o1", "Olga@Example.com"))
    assert (olga.name, olga.role, olga.identity) == ("olga@example.com", access.Role.OPERATOR, f"{ISSUER}#o1")
    assert actor_from_claims(person("r1", "rita@example.com")).role == access.Role.REVIEWER  # @domain
    assert actor_from_claims(person("g1", "gus@other.org", ("vton-operators",))).role == access.Role.OPERATOR
    assert actor_from_claims(person("v1", "vic@other.org", ("vton-viewers",))).role == access.Role.VIEWER
    robot = actor_from_claims(person("robot-7"))  # no e-mail at all: named by its subject
    assert (robot.name, robot.role) == ("sub:robot-7", access.Role.REVIEWER)
    # An address the provider says is unverified matches no e-mail rule, and is not used as the name.
    fake = actor_from_claims(person("x1", "olga@example.com", ("vton-viewers",), email_verified=False))
    assert (fake.name, fake.role) == ("sub:x1", access.Role.VIEWER)
    with pytest.raises(AccessDenied, match="has no role here"):
        actor_from_claims(person("n1", "nemo@other.org"))
    with pytest.raises(AccessDenied, match="has no role here"):
        actor_from_claims(person("n2", "nemo@evil-example.com"))  # not @example.com
    assert parse_config({"roles": {"others": "viewer"}}).others == access.Role.VIEWER


@pytest.mark.parametrize("flag", ["<missing>", "no", "FALSE", "false", "true", "True", 1, "yes", None, [True]])
def test_an_email_counts_only_when_the_provider_says_it_is_verified(roles, flag):
    """An account at the provider carrying the operator's address, without `email_verified` exactly true, is not
    the operator: it is `sub:ID`, matched by group and subject rules only."""
    claims = {k: v for k, v in person("x1", "olga@example.com", ("vton-viewers",)).items() if k != "email_verified"}
    if flag != "<missing>":
        claims["email_verified"] = flag
    fake = actor_from_claims(claims)
    assert (fake.name, fake.role) == ("sub:x1", access.Role.VIEWER)
    with pytest.raises(AccessDenied, match="has no role here"):  # no group either: no role at all
        actor_from_claims({**claims, "groups": []})
    assert actor_from_claims({**claims, "email_verified": True}).role == access.Role.OPERATOR


def test_a_roles_file_with_mistakes_is_refused_saying_what_is_wrong(tmp_path, monkeypatch):
    for text, message in [
        ('[roles]\noperater = ["a@b.c"]', "unknown key 'operater' in [roles] (did you mean 'operator'?)"),
        ('[roles]\nreviewer = ["bob"]', "'bob' is not an e-mail address, @domain, group:NAME or sub:ID"),
        ('[roles]\nothers = "operator"', "roles.others must be"),
        ('[token]\nallow = ["ftp://x"]', "token.allow"),
        ('[token]\nothers = "maybe"', "token.others must be"),
        ('[tokens]\nallow = []', "unknown table [tokens] (did you mean 'token'?)"),
        ("[roles\n", "cannot be read"),
    ]:
        path = tmp_path / "access.toml"
        path.write_text(text, encoding="utf-8")
        os.utime(path, ns=(len(text), len(text)))  # a new stamp each time: read again
        with pytest.raises(AccessConfigError) as caught:
            access.load_config(path)
        assert message in str(caught.value), (text, str(caught.value))
    monkeypatch.setenv(access.ACCESS_ENV, str(tmp_path / "missing.toml"))
    with pytest.raises(AccessConfigError, match="does not exist"):
        access.load_config()
    proc = subprocess.run([sys.executable, "-m", "vton_eval", "dashboard", "--port", "1"], cwd=REPO,
                          capture_output=True, text=True, timeout=60, env={**os.environ})
    assert proc.returncode == 1 and "missing.toml" in proc.stderr and "Traceback" not in proc.stderr


@pytest.fixture()
def finished(db):
    return record_sample_run(db, "v1")


def test_every_act_is_refused_to_a_role_below_it_and_the_refusal_is_in_the_audit_trail(db, finished, roles):
    """As a forged request would reach the engine (around a page that offers no such button)."""
    viewer = actor_from_claims(person("v1", "vic@other.org", ("vton-viewers",)))
    dataset = load_dataset(SAMPLE)
    attempts = {
        "launch": lambda: launch.start_run(db, RunSettings(dataset=str(SAMPLE), endpoint="http://127.0.0.1:9"),
                                           viewer, token=TOKEN),
        "try": lambda: launch.try_one(db, dataset, "top-01", "http://127.0.0.1:9", viewer, token=TOKEN),
        "resume": lambda: launch.resume_run(db, finished, viewer),
        "cancel": lambda: launch.cancel_run(db, finished, viewer),
        "bless": lambda: bless(db, finished, viewer),
        "verdict": lambda: save_verdict(db, finished, "top-01", 1, viewer, "pass"),
        "pick": lambda: record_preference(db, finished, "other", "top-01", 1, "top", viewer, "left", finished),
    }
    for attempt in attempts.values():
        with pytest.raises(AccessDenied, match="needs the (operator|reviewer) role"):
            attempt()
    with pytest.raises(AccessDenied):
        clear_verdict(db, finished, "top-01", 1, viewer)
    assert [r["run_id"] for r in list_runs(db)] == [finished]  # nothing launched or tried
    assert not sql(db, "SELECT * FROM baselines") and not sql(db, "SELECT * FROM reviews")
    assert not sql(db, "SELECT * FROM preferences")
    refused = audit_log(db)
    assert {r["action"] for r in refused} == set(attempts)
    assert all(r["outcome"] == "refused" and r["actor"] == "vic@other.org" and r["role"] == "viewer"
               and r["identity"] == f"{ISSUER}#v1" for r in refused)

    reviewer = actor_from_claims(person("r1", "rita@example.com"))
    save_verdict(db, finished, "top-01", 1, reviewer, "fail", ["artifacts"])
    with pytest.raises(AccessDenied, match="blessing baselines needs the operator role"):
        bless(db, finished, reviewer)
    operator = actor_from_claims(person("o1", "olga@example.com"))
    bless(db, finished, operator)
    assert [(a["actor"], a["action"]) for a in run_acts(db, finished)] == [("olga@example.com", "bless")]
    done = [(r["actor"], r["action"], r["subject"]) for r in audit_log(db) if r["outcome"] == "done"]
    assert done == [("olga@example.com", "bless", None), ("rita@example.com", "verdict", "top-01#1")]
    with pytest.raises(TypeError, match="Actor"):
        save_verdict(db, finished, "top-01", 1, "rita@example.com", "pass")  # a name is no actor


def test_nobody_replaces_or_clears_another_persons_verdict_or_pick(db, finished, roles):
    rita = actor_from_claims(person("r1", "rita@example.com"))
    save_verdict(db, finished, "top-02", 1, rita, "pass")
    record_preference(db, finished, "zz-other", "top-02", 1, "top", rita, "left", finished)
    # The same name typed on a dashboard without sign-in, or the same address at another provider: not rita.
    impostors = [local_actor("rita@example.com"),
                 actor_from_claims({**person("r1", "rita@example.com"), "iss": "https://evil.example.org"})]
    for impostor in impostors:
        with pytest.raises(AccessDenied, match="only they can change it"):
            save_verdict(db, finished, "top-02", 1, impostor, "fail")
        with pytest.raises(AccessDenied, match="only they can change it"):
            clear_verdict(db, finished, "top-02", 1, impostor)
        with pytest.raises(AccessDenied, match="only they can change it"):
            record_preference(db, finished, "zz-other", "top-02", 1, "top", impostor, "right", finished)
    assert sql(db, "SELECT reviewer, verdict, identity FROM reviews") == [("rita@example.com", "pass", f"{ISSUER}#r1")]
    assert sql(db, "SELECT reviewer, choice FROM preferences") == [("rita@example.com", "left")]
    # Their own: replaced, then cleared.
    save_verdict(db, finished, "top-02", 1, rita, "fail")
    clear_verdict(db, finished, "top-02", 1, rita)
    assert not sql(db, "SELECT * FROM reviews")
    trail = [(r["actor"], r["action"], r["outcome"]) for r in reversed(audit_log(db))]
    assert trail[:2] == [("rita@example.com", "verdict", "done"), ("rita@example.com", "pick", "done")]
    assert trail[-2:] == [("rita@example.com", "verdict", "done"), ("rita@example.com", "verdict_cleared", "done")]
    assert sum(1 for t in trail if t[2] == "refused") == 6


def test_launch_and_cancel_are_recorded_with_who_and_when(db, roles, live_sandbox):
    operator = actor_from_claims(person("o1", "olga@example.com"))
    live_sandbox.hold_after(0)  # every call waits: the run is still going when it is cancelled
    try:
        run_id = launch.start_run(db, RunSettings(dataset=str(SAMPLE), endpoint=live_sandbox.url, pairs=["top-01"]),
                                  operator)
        wait_until(lambda: live_sandbox.held_now >= 1, what="the run's call to be held", timeout=90)
        viewer = actor_from_claims(person("v1", "vic@other.org", ("vton-viewers",)))
        with pytest.raises(AccessDenied):
            launch.cancel_run(db, run_id, viewer)
        launch.cancel_run(db, run_id, operator)
        wait_until(lambda: get_run(db, run_id)["status"] == "cancelled", what="the run to be cancelled", interval=0.1)
    finally:
        live_sandbox.hold_after(None)
    acts = run_acts(db, run_id)
    assert [(a["actor"], a["action"]) for a in acts] == [("olga@example.com", "launch"), ("olga@example.com", "cancel")]
    assert acts[0]["acted_at"] <= acts[1]["acted_at"]


def test_cancel_signals_only_the_live_vton_eval_process_of_that_run(db, roles, live_sandbox):
    """A forged run row (anyone who writes the store can write one) names an unrelated process, or the process of
    another run: nothing is signalled, by the dashboard's engine or by `vton-eval cancel`."""
    from vton_eval.store.runs import update_run

    operator = actor_from_claims(person("o1", "olga@example.com"))
    bystander = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    live_sandbox.hold_after(0)
    try:
        real = launch.start_run(db, RunSettings(dataset=str(SAMPLE), endpoint=live_sandbox.url, pairs=["top-01"]),
                                operator)
        wait_until(lambda: live_sandbox.held_now >= 1, what="the run's call to be held", timeout=90)
        forged = record_sample_run(db, "forged")
        for pid in (bystander.pid, get_run(db, real)["pid"], os.getpid()):
            db.write(lambda w, pid=pid: update_run(w, forged, status="running", pid=pid, host=socket.gethostname()))
            with pytest.raises(access.VtonEvalError, match="nothing was signalled"):
                launch.cancel_run(db, forged, operator)
            cli = subprocess.run([sys.executable, "-m", "vton_eval", "cancel", forged, "--db", db.location], cwd=REPO,
                                 capture_output=True, text=True, timeout=60)
            assert cli.returncode == 1 and "nothing was signalled" in cli.stderr and "Traceback" not in cli.stderr
        assert bystander.poll() is None and get_run(db, real)["status"] == "running"
        launch.cancel_run(db, real, operator)  # the run's own process: stopped
        wait_until(lambda: get_run(db, real)["status"] == "cancelled", what="the run to be cancelled", interval=0.1)
    finally:
        live_sandbox.hold_after(None)
        bystander.kill()
        bystander.wait()


def test_the_command_line_records_its_acts_as_the_unverified_local_user(db, finished):
    out = subprocess.run([sys.executable, "-m", "vton_eval", "bless", finished, "--db", db.location], cwd=REPO,
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    shown = subprocess.run([sys.executable, "-m", "vton_eval", "audit", "--db", db.location], cwd=REPO,
                           capture_output=True, text=True, timeout=60)
    assert shown.returncode == 0 and "bless" in shown.stdout and finished in shown.stdout
    row = audit_log(db)[0]
    assert row["identity"] == "unverified:cli" and row["role"] == "operator" and "@" in row["actor"]


def _non_loopback_address() -> str | None:
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.connect(("192.0.2.1", 9))  # no packet is sent: this only picks the outgoing interface
            address = s.getsockname()[0]
    except OSError:
        return None
    return None if binding.is_loopback(address) else address


def test_the_dashboard_listens_beyond_loopback_only_with_sign_in_or_the_loud_flag(tmp_path):
    port = 1  # refused before anything listens
    refused = subprocess.run([sys.executable, "-m", "vton_eval", "dashboard", "--host", "0.0.0.0", "--port",
                              str(port), "--db", str(tmp_path / "r.duckdb")], cwd=REPO, capture_output=True,
                             text=True, timeout=60)
    assert refused.returncode == 1 and "refusing to listen on 0.0.0.0 without sign-in" in refused.stderr
    assert "--unsafe-listen-without-sign-in" in refused.stderr
    secrets = tmp_path / "secrets.toml"
    secrets.write_text('[auth]\nredirect_uri = "https://dash.example.com/oauth2callback"\ncookie_secret = "x"\n'
                       'client_id = "c"\nclient_secret = "s"\n'
                       'server_metadata_url = "https://id.example.com/.well-known/openid-configuration"\n')
    assert binding.sign_in_configured([tmp_path / "none.toml", secrets])
    assert not binding.sign_in_configured([tmp_path / "none.toml"])
    assert all(binding.is_loopback(h) for h in ("127.0.0.1", "127.0.0.2", "::1", "localhost", "[::1]"))
    assert not any(binding.is_loopback(h) for h in ("0.0.0.0", "::", "", "10.1.2.3", "dash.example.com"))

    address = _non_loopback_address()
    if address is None:
        pytest.skip("this machine has no address beyond loopback to listen on")
    with socket.socket() as s:
        s.bind((address, 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([sys.executable, "-m", "vton_eval", "dashboard", "--host", address, "--port", str(port),
                             "--db", str(tmp_path / "r.duckdb"), "--unsafe-listen-without-sign-in"], cwd=REPO,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        import httpx

        def up() -> bool:
            assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
            try:
                return httpx.get(f"http://{address}:{port}/_stcore/health", timeout=1).status_code == 200
            except httpx.HTTPError:
                return False

        wait_until(up, what="the dashboard on a non-loopback address", interval=0.2)
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=20)
    assert "WITHOUT SIGN-IN" in err
