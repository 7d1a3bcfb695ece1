"""The token goes only where the roles file allows (vton_eval.token_rules, asked through access): the real run
processes the dashboard starts, try one pair in the dashboard's own process, the command line's run, resume and
endpoints inspect, and the environment a run process inherits; a server on loopback records what reaches it."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from vton_eval import access, launch, token_rules
from vton_eval.access import AccessDenied, actor_from_claims
from vton_eval.analytics.audit import audit_log
from vton_eval.datasets import load_dataset
from vton_eval.runner import RunSettings
from vton_eval.store.runs import get_run, list_runs

from .helpers.paths import SAMPLE
from .helpers.recorder import start_recorder
from .helpers.team import ROLES, TOKEN, person, write_roles
from .helpers.wait import wait_until


@pytest.fixture()
def roles(tmp_path, monkeypatch):
    return write_roles(tmp_path, monkeypatch)


@pytest.fixture()
def recorder():
    rec = start_recorder("127.0.0.2")
    yield rec
    rec.close()


def _tokens_seen(recorder) -> list[str | None]:
    return [r["headers"].get("x-hf-authorization") for r in recorder.requests]


def test_the_token_goes_only_to_endpoints_on_the_allow_list(db, roles, recorder, monkeypatch):
    """Real run processes started as the dashboard starts them, against a server that records what reaches it."""
    monkeypatch.delenv("HF_TOKEN", raising=False)
    operator = actor_from_claims(person("o1", "olga@example.com"))
    settings = RunSettings(dataset=str(SAMPLE), endpoint=recorder.url, pairs=["top-01"], retries=0, label="tok")

    def launched_and_ended() -> str:
        run_id = launch.start_run(db, settings, operator, token=TOKEN)
        wait_until(lambda: get_run(db, run_id)["status"] not in ("running", "planned", "created"), timeout=90,
                   what="the run against the recorder to end", interval=0.1)
        return run_id

    # Not on the list (the default list: the SM4LL Space only): the run process has no token at all.
    assert not access.token_use(recorder.url, True).allowed
    first = launched_and_ended()
    assert recorder.requests and _tokens_seen(recorder) == [None] * len(recorder.requests)
    assert get_run(db, first)["status"] == "failed"  # not a Gradio app: that is all the run learns

    # On the list: it is sent (to that origin only).
    roles.write_text(ROLES + f'[token]\nallow = ["{recorder.url}/some/path"]\n', encoding="utf-8")
    recorder.requests.clear()
    second = launched_and_ended()
    assert recorder.requests and set(_tokens_seen(recorder)) == {f"Bearer {TOKEN}"}

    # Try one pair runs in the dashboard's own process: the same rule.
    recorder.requests.clear()
    dataset = load_dataset(SAMPLE)
    assert launch.try_one(db, dataset, "top-01", recorder.url, operator, timeout_s=20, token=TOKEN).status == "failed"
    assert set(_tokens_seen(recorder)) == {f"Bearer {TOKEN}"}
    roles.write_text(ROLES, encoding="utf-8")
    recorder.requests.clear()
    assert launch.try_one(db, dataset, "top-01", recorder.url, operator, timeout_s=20, token=TOKEN).status == "failed"
    assert recorder.requests and _tokens_seen(recorder) == [None] * len(recorder.requests)

    # Refused: nothing starts, nothing reaches the endpoint, and the refusal is recorded.
    roles.write_text(ROLES + '[token]\nothers = "refuse"\n', encoding="utf-8")
    recorder.requests.clear()
    with pytest.raises(AccessDenied, match="not on the token allow-list"):
        launch.start_run(db, settings, operator, token=TOKEN)
    with pytest.raises(AccessDenied, match="not on the token allow-list"):
        launch.try_one(db, dataset, "top-01", recorder.url, operator, token=TOKEN)
    with pytest.raises(AccessDenied, match="not on the token allow-list"):
        launch.resume_run(db, first, operator, token=TOKEN)
    assert not recorder.requests and len(list_runs(db, kind="suite")) == 2

    # Where the token went is in the audit trail; the token itself is nowhere: not in the database, the runs'
    # settings, their logs, their journals.
    sent = {r["run_id"]: r["detail"] for r in audit_log(db, action="launch")}
    assert '"token_sent": false' in sent[first] and '"token_sent": true' in sent[second]
    assert [r["outcome"] for r in audit_log(db, action="try")][:1] == ["refused"]
    for path in [*([db.path] if hasattr(db, "path") else []), *db.artifacts.root.rglob("*")]:
        if path.is_file():
            assert TOKEN.encode() not in path.read_bytes(), path


def test_the_command_line_follows_the_token_rules_of_a_configured_roles_file(db, roles, recorder, tmp_path):
    """`vton-eval run`, `resume` and `endpoints inspect`, against a server that records what reaches it."""
    env = {**os.environ, "HF_TOKEN": TOKEN}
    env.pop(access.ACCESS_ENV)

    def cli(*args: str, rules: str | None = None) -> subprocess.CompletedProcess:
        where = ["--access", str(roles)] if rules is not None else []
        if rules is not None:
            roles.write_text(ROLES + rules, encoding="utf-8")
        return subprocess.run([sys.executable, "-m", "vton_eval", *args, *where], cwd=tmp_path, env=env,
                              capture_output=True, text=True, timeout=120)

    run = ["run", "--dataset", str(SAMPLE), "--endpoint", recorder.url, "--pairs", "top-01", "--retries", "0",
           "--db", db.location]
    inspect = ["endpoints", "inspect", recorder.url, "--timeout", "20"]
    # Off the list (the default list, or one naming others): no token reaches the endpoint.
    for args in (run, inspect):
        recorder.requests.clear()
        done = cli(*args, rules="")
        assert "not on the token allow-list" in done.stderr and "Traceback" not in done.stderr, done.stderr
        assert recorder.requests and _tokens_seen(recorder) == [None] * len(recorder.requests)
    # On the list: it goes there (the control).
    recorder.requests.clear()
    cli(*inspect, rules=f'[token]\nallow = ["{recorder.url}"]\n')
    assert recorder.requests and set(_tokens_seen(recorder)) == {f"Bearer {TOKEN}"}
    # Refused: nothing starts, nothing reaches it; the refusal is in the audit trail.
    first = list_runs(db)[0]["run_id"]
    recorder.requests.clear()
    for args in (run, inspect, ["resume", first, "--db", db.location]):
        done = cli(*args, rules='[token]\nothers = "refuse"\n')
        assert done.returncode == 1 and "endpoints off the list are refused" in done.stderr, done.stderr
    assert not recorder.requests and len(list_runs(db)) == 1
    assert [(r["action"], r["outcome"]) for r in audit_log(db) if r["outcome"] == "refused"] == [
        ("resume", "refused"), ("launch", "refused")]
    # $VTON_EVAL_ACCESS names the file as well as --access does.
    env[access.ACCESS_ENV] = str(roles)
    recorder.requests.clear()
    done = subprocess.run([sys.executable, "-m", "vton_eval", *inspect], cwd=tmp_path, env=env, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 1 and not recorder.requests


def test_a_run_process_inherits_no_token_for_an_endpoint_off_the_list():
    use = access.token_use("http://127.0.0.1:7860", have_token=True)
    base = {"HF_TOKEN": TOKEN, "HUGGING_FACE_HUB_TOKEN": TOKEN, "HF_API_TOKEN": TOKEN, "PATH": "/bin"}
    assert token_rules.run_environment(base, use, TOKEN) == {"PATH": "/bin"}
    allowed = access.token_use("sm4ll-VTON/sm4ll-VTON-Demo", have_token=True)
    assert allowed.send and token_rules.run_environment(base, allowed, TOKEN) == {"PATH": "/bin", "HF_TOKEN": TOKEN}
    assert access.token_use("SM4LL-vton/SM4LL-VTON-Demo", True).allowed  # Space ids: case-insensitive
    assert not access.token_use("https://sm4ll-vton-sm4ll-vton-demo.hf.space", True).allowed  # a URL is not the id
