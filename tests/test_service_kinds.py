"""The seam for kinds of service: a plain REST endpoint becomes usable with one module (tests/helpers/rest_kind.py)
and one line in the kinds table; a profile names it, and planning, the runner, the store and resume follow
unchanged."""

from __future__ import annotations

import pytest

from vton_eval.runner import RunSettings, create_run, execute_run
from vton_eval.services import make_service
from vton_eval.services.gradio import GradioService
from vton_eval.services.kinds import KINDS
from vton_eval.services.profiles import ProfileError, load_profile, parse_profile

from .helpers import rest_kind
from .helpers.paths import SAMPLE

PROFILE = """name = "rest-vton"
kind = "rest"
path = "/tryon"
max_megapixels = 0
[workflows]
top = "upper"
dress = "refuse"
"""


@pytest.fixture()
def rest(monkeypatch):
    monkeypatch.setitem(KINDS, "rest", rest_kind.KIND)  # the one table line
    service = rest_kind.RestTryOn()
    yield service
    service.close()


def test_a_profile_of_another_kind_is_parsed_by_that_kind(rest):
    profile = parse_profile(PROFILE)
    assert profile.kind == "rest" and profile.call.path == "/tryon"
    assert profile.summary() == "POST /tryon (person, product, category) -> PNG"
    with pytest.raises(ProfileError, match="line 3: unknown field 'api_name'"):
        parse_profile(PROFILE.replace('path = "/tryon"', 'api_name = "/tryon"'))
    with pytest.raises(ProfileError, match="line 2: kind must be one of gradio, rest"):
        parse_profile(PROFILE.replace('kind = "rest"', 'kind = "grpc"'))


def test_without_its_table_line_a_kind_is_refused_clearly():
    with pytest.raises(ProfileError, match="kind must be one of gradio "):
        parse_profile(PROFILE)
    assert isinstance(make_service("http://127.0.0.1:9", profile=load_profile("sm4ll")), GradioService)


def test_a_run_of_another_kind_goes_through_the_unchanged_runner(rest, file_db, tmp_path):
    db = file_db  # the store is not what is tested here (the runner is): one store kind is enough
    path = tmp_path / "rest.toml"
    path.write_text(PROFILE, encoding="utf-8")
    # Checks off: what the calls answered is the point here, not how the checks judge the stand-in's composite
    # (top-01's flat T-shirt covers the cameraman's face, which `identity` rightly fails).
    settings = RunSettings(dataset=str(SAMPLE), endpoint=rest.url, profile=str(path), backoff_s=0.05, retries=0,
                           pairs=["top-01", "top-02", "dress-01", "eyewear-01"], checks=False)
    run_id = create_run(db, settings)
    report = execute_run(db, run_id)
    assert report.status == "finished"
    with db.connect(read_only=True) as con:
        rows = dict(con.execute("SELECT pair_id, coalesce(error_kind, status) FROM results WHERE run_id = ?",
                                [run_id]).fetchall())
        profile = con.execute("SELECT profile FROM runs WHERE run_id = ?", [run_id]).fetchone()[0]
    # The service's own category values were sent; its refusal is an error kind; eyewear was never sent.
    assert sorted(rest.calls) == ["refuse", "upper", "upper"]
    assert rows["top-01"] == rows["top-02"] == "ok" and rows["dress-01"] == "server_error"
    assert rows["eyewear-01"] == "invalid_input" and profile == "rest-vton"
