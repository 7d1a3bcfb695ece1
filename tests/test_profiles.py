"""Endpoint profiles: the TOML format and its errors, a run per built-in profile against the sandbox's
copy of that service's signature, a user's TOML for a shape no built-in has, and a workflow the
endpoint's dropdown lists that we did not know."""

from __future__ import annotations

import shutil

import pytest
from PIL import Image

from vton_eval import workflows
from vton_eval.runner import RunSettings, create_run, execute_run
from vton_eval.runner.create import RunError
from vton_eval.sandbox import SandboxConfig, start_sandbox
from vton_eval.services.profiles import BUILT_IN, ProfileError, load_profile, parse_profile

from .helpers.paths import SAMPLE
from .helpers.services import CustomShapeApp

# One pair of each workflow the sample has, masked and unmasked dresses and tops.
PAIRS = ["eyewear-01", "top-01", "top-02", "dress-01", "dress-04", "footwear-01"]


def _rows(db, sql, params=()):
    with db.connect(read_only=True) as con:
        cur = con.execute(sql, list(params))
        cols = [d[0] for d in cur.description]
        return [dict(zip(cols, r, strict=True)) for r in cur.fetchall()]


def _run(db, url, **kw):
    settings = RunSettings(dataset=str(kw.pop("dataset", SAMPLE)), endpoint=url, backoff_s=0.05, retries=0, **kw)
    run_id = create_run(db, settings)
    return run_id, execute_run(db, run_id)


# -- the format ---------------------------------------------------------------------------------


def test_every_built_in_profile_loads_and_names_its_call():
    for name in BUILT_IN:
        profile = load_profile(name)
        assert profile.name == name and profile.text and profile.call.api_name.startswith("/")
        assert "{person}" in profile.summary() and "{product}" in profile.summary()
    assert load_profile(None).name == "sm4ll"


@pytest.mark.parametrize(("text", "expected"), [
    ('name = "x"\napi_name = /a\nargs = ["{person}", "{product}"]\n', "not valid TOML: line 2, column"),
    ('name = "x"\napi_name = "/a"\nargs = ["{person}", "{product}"]\nouput = 1\n[workflows]\ntop = "t"\n',
     "line 4: unknown field 'ouput' (did you mean output?)"),
    ('name = "x"\napi_name = "/a"\nargs = ["{person}", "{product}"]\n[workflows]\ntop = "t"\nhat = "h"\n',
     "line 6: unknown workflow 'hat'"),
    ('name = "x"\napi_name = "/a"\nargs = ["{person}", "{garment}"]\n[workflows]\ntop = "t"\n',
     "line 3: argument 2: unknown placeholder '{garment}'"),
    ('name = "x"\napi_name = "/a"\nargs = ["{person}"]\n[workflows]\ntop = "t"\n', "args has no {product}"),
    ('name = "x"\napi_name = "a"\nargs = ["{person}", "{product}"]\n[workflows]\ntop = "t"\n',
     'line 2: api_name must be'),
    ('name = "x"\napi_name = "/a"\nargs = ["{person}", "{product}"]\n', "[workflows] is empty"),
    ('name = "x"\napi_name = "/a"\nargs = ["{person}", "{product}"]\nmax_megapixels = -1\n[workflows]\ntop = 1\n',
     "line 4: max_megapixels must be"),
])
def test_a_bad_profile_is_refused_with_its_line_and_reason(text, expected):
    with pytest.raises(ProfileError) as caught:
        parse_profile(text, "mine.toml")
    assert expected in str(caught.value) and "mine.toml" in str(caught.value)


def test_a_profile_name_that_is_neither_built_in_nor_a_file_is_refused(tmp_path):
    with pytest.raises(ProfileError, match="did you mean catvton"):
        load_profile("catvtn")
    with pytest.raises(ProfileError, match="cannot read profile"):
        load_profile(str(tmp_path / "missing.toml"))
    with pytest.raises(ProfileError, match="not a regular file"):
        load_profile("/dev/zero")  # read for ever if it were read
    big = tmp_path / "big.toml"
    big.write_text("# " + "x" * 70_000)
    with pytest.raises(ProfileError, match="larger than 64 KB"):
        load_profile(str(big))
    (tmp_path / "bin.toml").write_bytes(b"\xff\xfe name")
    with pytest.raises(ProfileError, match="not UTF-8"):
        load_profile(str(tmp_path / "bin.toml"))
    with pytest.raises(RunError, match="no profile"):
        create_run(None, RunSettings(dataset=str(SAMPLE), endpoint="http://127.0.0.1:9", profile="nope"))


# -- a run per built-in profile against its signature --------------------------------------------


@pytest.mark.parametrize("name", BUILT_IN)
def test_a_run_per_built_in_profile_against_its_sandbox_signature(name, db):
    profile = load_profile(name)
    with start_sandbox(SandboxConfig(profile=name, concurrency=4)) as sandbox:
        run_id, report = _run(db, sandbox.url, profile=name, pairs=PAIRS)
        calls = sandbox.calls
    assert report.status == "finished"
    run = _rows(db, "SELECT profile, profile_text FROM runs WHERE run_id = ?", [run_id])[0]
    assert run["profile"] == name and run["profile_text"] == profile.text
    rows = {r["pair_id"]: r for r in _rows(db, "SELECT r.*, c.sent_note FROM results r JOIN cases c USING "
                                               "(run_id, pair_id) WHERE r.run_id = ?", [run_id])}
    assert set(rows) == set(PAIRS)
    store = db.artifacts
    sent = 0
    for pair_id, row in rows.items():
        workflow = row["workflow"]
        if profile.supports(workflow) or name == "sm4ll":
            sent += 1
            # The sandbox's composite came back through the signature's output shape (tuple, gallery...).
            assert row["error_kind"] in (None, "silent_failure"), (pair_id, row["error_message"])
            with Image.open(store.abspath(row["output_path"])) as out, \
                    Image.open(SAMPLE / "persons" / "figure_01.png") as person:
                assert out.size[0] > 0 and (name != "catvton" or out.size[0] < 2 * person.size[0])
        else:
            assert row["error_kind"] == "invalid_input" and row["attempts"] == 0
            assert f"does not support the workflow '{workflow}'" in row["error_message"]
    assert len(calls) == sent


def test_sm4ll_sends_the_person_as_mask_for_an_unmasked_dress_and_records_it(db, live_sandbox):
    run_id, report = _run(db, live_sandbox.url, pairs=["dress-04", "dress-01", "top-02"])
    assert report.status == "finished"
    notes = {r["pair_id"]: r["sent_note"] for r in _rows(db, "SELECT pair_id, sent_note FROM cases WHERE run_id = ?",
                                                          [run_id])}
    assert "person image is sent as the mask" in notes["dress-04"]
    assert notes["dress-01"] is None and notes["top-02"] is None
    dresses = [c for c in live_sandbox.calls if c["workflow"] == "dress"][-2:]
    # The unmasked dress went with the person image as its mask; the masked one with its own mask.
    assert len(dresses) == 2 and all(c["mask"] for c in dresses)
    assert sorted(c["mask"] == c["base"] for c in dresses) == [False, True]


def test_idm_vton_drops_a_mask_it_cannot_take_and_records_it(db):
    with start_sandbox(SandboxConfig(profile="idm-vton")) as sandbox:
        run_id, report = _run(db, sandbox.url, profile="idm-vton", pairs=["top-01"])
    assert report.status == "finished"
    note = _rows(db, "SELECT sent_note FROM cases WHERE run_id = ?", [run_id])[0]["sent_note"]
    assert "mask not sent" in note


def test_a_run_says_up_front_how_many_cases_its_profile_does_not_support(tmp_path):
    from click.testing import CliRunner

    from vton_eval.cli import main

    with start_sandbox(SandboxConfig(profile="kolors")) as sandbox:
        result = CliRunner().invoke(main, ["run", "--dataset", str(SAMPLE), "--endpoint", sandbox.url,
                                           "--profile", "kolors", "--pairs", ",".join(PAIRS), "--retries", "0",
                                           "--db", str(tmp_path / "r.duckdb")])
    text = " ".join(result.output.split())
    assert "profile kolors" in text, text
    assert "1 of 6 case(s) not sent" in text and "workflow 'eyewear'" in text and "workflow 'footwear'" in text, text


# -- a user's profile for a shape no built-in has ---------------------------------------------------

CUSTOM = """
name = "custom-swap"
api_name = "/swap"
args = ["{workflow}", "{product}", "{person}:editor+mask", 0.8]
output = 1                      # the second output, a gallery: its first image
max_megapixels = 0.05

[workflows]
top = "TOP"
dress = "ONE-PIECE"
bottom = "LEGS"
"""


def test_a_user_profile_for_a_shape_no_built_in_has(db, tmp_path):
    path = tmp_path / "custom.toml"
    path.write_text(CUSTOM, encoding="utf-8")
    with CustomShapeApp() as app:
        run_id, report = _run(db, app.url, profile=str(path), pairs=["top-01", "top-02", "dress-04", "eyewear-01"])
        received = list(app.received)
    assert report.status == "finished"
    rows = {r["pair_id"]: r for r in _rows(db, "SELECT r.*, c.sent_note FROM results r JOIN cases c USING "
                                               "(run_id, pair_id) WHERE r.run_id = ?", [run_id])}
    assert rows["eyewear-01"]["error_kind"] == "invalid_input"
    for pair_id in ("top-01", "top-02", "dress-04"):
        assert rows[pair_id]["output_path"], rows[pair_id]["error_message"]
        assert "person resized" in rows[pair_id]["sent_note"]
    # Every person image arrived within the profile's 0.05 MP (resized, aspect kept), with its mask as a layer.
    assert len(received) == 3 and all(r["size"][0] * r["size"][1] <= 50_000 for r in received)
    assert sorted(r["category"] for r in received) == ["ONE-PIECE", "TOP", "TOP"]
    assert sum(r["mask"] for r in received) == 1 and {r["strength"] for r in received} == {0.8}
    run = _rows(db, "SELECT profile, profile_text FROM runs WHERE run_id = ?", [run_id])[0]
    assert run["profile"] == "custom-swap" and run["profile_text"] == CUSTOM


# -- a workflow the endpoint lists that we did not know ----------------------------------------------


def test_a_workflow_the_endpoint_dropdown_lists_that_we_did_not_know(db, tmp_path):
    root = tmp_path / "ds"
    shutil.copytree(SAMPLE, root)
    manifest = root / "manifest.csv"
    lines = manifest.read_text().splitlines()
    lines.append("swim-01,swimwear,persons/figure_02.png,products/top_tank_orange.png,,,drawn")
    lines.append("look-01,lookbook,persons/figure_03.png,products/dress_sheath_teal.png,,,drawn")
    manifest.write_text("\n".join(lines) + "\n")
    assert not workflows.is_known("swimwear")
    offered = ["top", "dress", "lookbook", "swimwear"]
    try:
        with start_sandbox(SandboxConfig(workflows=offered)) as sandbox:
            run_id, report = _run(db, sandbox.url, dataset=root, pairs=["swim-01", "look-01", "top-02", "eyewear-01"])
            calls = sandbox.calls
        assert report.status == "finished"
        rows = {r["pair_id"]: r for r in _rows(db, "SELECT * FROM results WHERE run_id = ?", [run_id])}
        assert rows["swim-01"]["output_path"] and rows["swim-01"]["error_kind"] in (None, "silent_failure")
        assert rows["look-01"]["output_path"]
        # Known to us, not offered by the endpoint: not sent, with the endpoint's list as the reason.
        assert rows["eyewear-01"]["error_kind"] == "invalid_input"
        assert "does not offer the workflow 'eyewear'" in rows["eyewear-01"]["error_message"]
        assert sorted(c["workflow"] for c in calls) == ["lookbook", "swimwear", "top"]
        # The check worker ran on the new workflow with its generic entry.
        assert _rows(db, "SELECT count(*) AS n FROM checks WHERE run_id = ? AND pair_id = 'swim-01'", [run_id])[0]["n"]
    finally:
        if workflows.is_known("swimwear"):
            workflows.unregister("swimwear")


# -- endpoints inspect ------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["catvton", "ootdiffusion", "kolors", "omnitry"])
def test_the_profile_inspect_suggests_runs_against_that_endpoint(name, db, tmp_path):
    from click.testing import CliRunner

    from vton_eval.cli import main

    with start_sandbox(SandboxConfig(profile=name)) as sandbox:
        shown = CliRunner().invoke(main, ["endpoints", "inspect", sandbox.url])
        assert shown.exit_code == 0 and "looks like a try-on" in shown.output, shown.output
        suggested = CliRunner().invoke(main, ["endpoints", "inspect", sandbox.url, "--toml-only"])
        assert suggested.exit_code == 0, suggested.output
        path = tmp_path / "suggested.toml"
        path.write_text(suggested.output, encoding="utf-8")
        assert load_profile(str(path)).call.api_name == load_profile(name).call.api_name
        run_id, report = _run(db, sandbox.url, profile=str(path), pairs=["top-02", "dress-04"])
    assert report.status == "finished"
    # What the suggestion sends comes back as a try-on (a guess without a category argument lists `top` only).
    sent = [r for r in _rows(db, "SELECT * FROM results WHERE run_id = ?", [run_id]) if r["attempts"]]
    assert sent and all(r["output_path"] for r in sent), [r["error_message"] for r in sent]


@pytest.mark.parametrize(("endpoint", "message"), [
    ("http://127.0.0.1:9", "cannot connect to http://127.0.0.1:9"),
    ("file:///etc/passwd", "is neither an http(s) URL nor a Space id"),
])
def test_inspect_of_a_bad_endpoint_is_one_clear_line(endpoint, message):
    from click.testing import CliRunner

    from vton_eval.cli import main

    result = CliRunner().invoke(main, ["endpoints", "inspect", endpoint])
    assert result.exit_code == 1 and message in result.output and "Traceback" not in result.output


def test_a_run_calls_with_the_profile_text_it_recorded_even_after_the_file_changes(db, tmp_path):
    from vton_eval.services.profiles import built_in_text

    path = tmp_path / "mine.toml"
    path.write_text(built_in_text("catvton").replace('name = "catvton"', 'name = "mine"'), encoding="utf-8")
    with start_sandbox(SandboxConfig(profile="catvton")) as sandbox:
        run_id = create_run(db, RunSettings(dataset=str(SAMPLE), endpoint=sandbox.url, profile=str(path),
                                            pairs=["top-02", "dress-04"], retries=0))
        # Edited (broken, even) between planning and sending, as between a stop and a resume.
        path.write_text('name = "mine"\napi_name = "/nothing"\n', encoding="utf-8")
        report = execute_run(db, run_id)
    assert report.status == "finished"
    assert {r["status"] for r in _rows(db, "SELECT status FROM results WHERE run_id = ?", [run_id])} == {"ok"}
    assert _rows(db, "SELECT profile FROM runs WHERE run_id = ?", [run_id])[0]["profile"] == "mine"


# -- what the services' own Gradio does with what we send ---------------------------------------------


def _jpeg_dataset(tmp_path):
    """The sample plus two JPEG persons for an ImageEditor: one with a JPEG mask, one without a mask."""
    root = tmp_path / "ds"
    shutil.copytree(SAMPLE, root)
    Image.open(root / "masks" / "top-01.png").convert("RGB").save(root / "masks" / "top-01.jpg", quality=95)
    with (root / "manifest.csv").open("a", encoding="utf-8") as manifest:
        manifest.write("jpeg-masked,top,persons/cameraman.jpg,products/top_tshirt_yellow.png,masks/top-01.jpg,,photo\n")
        manifest.write("jpeg-plain,top,persons/astronaut.jpg,products/top_tank_wine.png,,,photo\n")
    return root


def test_a_jpeg_in_an_image_editor_is_sent_as_png_as_the_browser_sends_it(db, tmp_path):
    from gradio_client import Client, handle_file

    root = _jpeg_dataset(tmp_path)
    with start_sandbox(SandboxConfig(profile="catvton")) as sandbox:
        # The control: the JPEG itself in the editor fails inside Gradio's own preprocessing, as with CatVTON's app.
        client = Client(sandbox.url, download_files=False, verbose=False)
        with pytest.raises(Exception, match="cannot write mode RGBA as JPEG"):
            client.predict({"background": handle_file(str(root / "persons" / "cameraman.jpg")), "layers": [],
                            "composite": None}, handle_file(str(root / "products" / "top_tshirt_yellow.png")),
                           "upper", 50, 2.5, 42, "result only", api_name="/submit_function")
        client.close()
        run_id, report = _run(db, sandbox.url, dataset=root, profile="catvton", pairs=["jpeg-masked", "jpeg-plain"],
                              repeats=2)
        calls = sandbox.calls
    assert report.status == "finished"
    rows = _rows(db, "SELECT * FROM results WHERE run_id = ?", [run_id])
    assert sorted((r["pair_id"], r["status"], r["attempts"]) for r in rows) == [
        ("jpeg-masked", "ok", 1), ("jpeg-masked", "ok", 1), ("jpeg-plain", "ok", 1), ("jpeg-plain", "ok", 1)], rows
    # The JPEG mask arrived as the editor's layer (drawn: the app masks with it); the plain case's layer was empty.
    assert sorted(c["mask"] is not None for c in calls) == [False, False, True, True]
    # Each call's editor files are its own (Gradio re-saves byte-identical uploads in place, where a call in
    # flight may be reading them): the two repeats of a case reach the app as different files.
    assert len({c["base"] for c in calls}) == 4


@pytest.mark.parametrize(("name", "old", "new", "says"), [
    ("catvton", '"{workflow}", 50,', '"{workflow}", "",', 'sends \'\' as argument 4 of /submit_function'),
    ("idm-vton", '"{workflow}", true,', '"{workflow}", "yes",', "true or false is expected"),
    ("catvton", '42, "result only"', '42, "everything"', "it must be one of its choices ('result only'"),
])
def test_a_literal_the_parameter_cannot_take_fails_the_run_before_anything_is_sent(db, tmp_path, name, old, new,
                                                                                   says):
    from vton_eval.services.profiles import built_in_text

    text = built_in_text(name)
    assert old in text
    path = tmp_path / "mine.toml"
    path.write_text(text.replace(old, new), encoding="utf-8")
    with start_sandbox(SandboxConfig(profile=name)) as sandbox:
        run_id, report = _run(db, sandbox.url, profile=str(path), pairs=["top-02"])
        calls = len(sandbox.calls)
    assert report.status == "failed" and says in report.message and "nothing was sent" in report.message, \
        report.message
    assert calls == 0
